// Single-thread timings of the encoder's kernels at the shapes of one forward pass, for
// Scripts/bench-kernels (which builds this against two versions of Sources/CEmbKernels and runs
// them alternately). Prints the minimum of many short repetitions per kernel: on a shared machine
// the minimum is the figure least disturbed by other work.
#include "CEmbKernels.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}
static float frand(float lo, float hi) { return lo + (hi - lo) * (float)rand() / (float)RAND_MAX; }

#define BEST(reps, stmt) ({ double best_ = 1e9; for (int r_ = 0; r_ < (reps); r_++) { double t0_ = now(); stmt; \
    double dt_ = now() - t0_; if (dt_ < best_) best_ = dt_; } best_ * 1e6; })

// One forward pass's int8 GEMMs and quantizations for m token rows (hidden h, FFN f), in µs.
static void gemms(int m, int h, int f, int reps) {
    const int shapes[4][2] = {{3 * h, h}, {h, h}, {f, h}, {h, f}};
    const char *names[4] = {"qkv", "attn-out", "ffn-in", "ffn-out"};
    for (int s = 0; s < 4; s++) {
        const int n = shapes[s][0], k = shapes[s][1], g = 64, ng = (k + g - 1) / g;
        float *w = malloc(sizeof(float) * n * k), *x = malloc(sizeof(float) * m * k);
        for (int i = 0; i < n * k; i++) w[i] = frand(-0.5f, 0.5f);
        for (int i = 0; i < m * k; i++) x[i] = frand(-2, 2);
        int8_t *q = malloc((size_t)n * k);
        float *ws = malloc(sizeof(float) * n * ng), *sa = malloc(sizeof(float) * m * ng), *c = malloc(sizeof(float) * m * n);
        int32_t *zp = malloc(sizeof(int32_t) * m * ng);
        uint8_t *a = malloc((size_t)m * k);
        void *p = aligned_alloc(64, (embk_packed_size(n, k, g) + 63) / 64 * 64);
        embk_quantize_weights(w, n, k, g, q, ws);
        embk_pack_weights(q, ws, n, k, g, p);
        const embk_path path = embk_best_path();
        const double tq = BEST(reps, embk_quantize_rows(path, x, m, k, k, g, a, k, sa, zp));
        const double tg = BEST(reps, embk_gemm(path, m, n, k, g, a, k, sa, zp, p, NULL, c, n, 0, n));
        printf("gemm m=%d %-8s n=%4d k=%4d  quantize %8.1f us  gemm %8.1f us  %5.0f GOPS\n", m, names[s], n, k, tq, tg,
               2.0 * m * n * k / tg / 1e3);
        if (s == 3) {  // FFN2's input: GELU of FFN1's output, then the quantizer (one pass where fused)
            float *xg = malloc(sizeof(float) * m * k);
            memcpy(xg, x, sizeof(float) * m * k);  // repeated in-place GELU drifts the values; the time does not
#if EMBK_HAS_GELU_QUANTIZE
            const double tgq = BEST(reps, embk_gelu_quantize_rows(path, xg, m, k, k, g, a, k, sa, zp));
#else
            const double tgq = BEST(reps, embk_gelu(xg, (size_t)m * k); embk_quantize_rows(path, xg, m, k, k, g, a, k, sa, zp));
#endif
            printf("gelu+quantize m=%d k=%4d  %8.1f us\n", m, k, tgq);
            free(xg);
        }
        free(w); free(x); free(q); free(ws); free(sa); free(c); free(zp); free(a); free(p);
    }
}

// One head as the encoder runs it: the fused kernel, or (kernels before it) its four steps.
static void head(int t, int d, float scale, const float *q, const float *k, const float *v, int ld, float *out, int ldo,
                 float *scratch) {
#if EMBK_HAS_ATTENTION
#if EMBK_ATTENTION_BIAS
    embk_attention(embk_best_path(), t, d, scale, q, k, v, ld, NULL, 0, out, ldo, scratch);
#else
    embk_attention(embk_best_path(), t, d, scale, q, k, v, ld, out, ldo, scratch);
#endif
#else
    float *kt = scratch, *scores = scratch + (size_t)d * t;
    embk_transpose(k, t, d, ld, kt, t);
    embk_sgemm_nn(t, t, d, scale, q, ld, kt, t, scores, t, 0);
    embk_softmax_rows(scores, t, t, t);
    embk_sgemm_nn(t, d, t, 1, scores, t, v, ld, out, ldo, 0);
#endif
}

static void attention(int t, int d, int reps) {
    const int h = 12 * d, ld = 3 * h;
    float *qkv = malloc(sizeof(float) * t * ld), *out = malloc(sizeof(float) * t * h);
#if EMBK_HAS_ATTENTION
    float *scratch = malloc(sizeof(float) * embk_attention_scratch(t, d));
#else
    float *scratch = malloc(sizeof(float) * ((size_t)d * t + (size_t)t * t));
#endif
    for (int i = 0; i < t * ld; i++) qkv[i] = frand(-3, 3);
    const double us = BEST(reps, head(t, d, 1 / sqrtf((float)d), qkv, qkv + h, qkv + 2 * h, ld, out, h, scratch));
    printf("attention t=%d d=%d (one head)  %8.2f us\n", t, d, us);
    free(qkv); free(out); free(scratch);
}

#if EMBK_HAS_ATTENTION_Q8
// The int8 attention of scheme v3 (embk_attention_q8), on the same heads.
static void attention_q8(int t, int d, int reps) {
    const int h = 12 * d, ld = 3 * h;
    float *qkv = malloc(sizeof(float) * t * ld), *out = malloc(sizeof(float) * t * h);
    float *scratch = malloc(sizeof(float) * embk_attention_q8_scratch(t, d));
    for (int i = 0; i < t * ld; i++) qkv[i] = frand(-3, 3);
    const double us = BEST(reps, embk_attention_q8(embk_best_path(), t, d, 1 / sqrtf((float)d), qkv, qkv + h, qkv + 2 * h,
                                                   ld, NULL, 0, out, h, scratch));
    printf("attention q8 t=%d d=%d (one head) %8.2f us\n", t, d, us);
    free(qkv); free(out); free(scratch);
}
#endif

int main(int argc, char **argv) {
    const int reps = argc > 1 ? atoi(argv[1]) : 200;
    srand(1);
    gemms(13, 384, 1536, reps);
    gemms(115, 384, 1536, reps);
    gemms(416, 384, 1536, reps / 4 + 1);
    gemms(115, 768, 3072, reps / 4 + 1);
    attention(13, 32, reps);
    attention(115, 32, reps);
    attention(115, 64, reps);
    attention(512, 64, reps / 10 + 1);
#if EMBK_HAS_ATTENTION_Q8
    attention_q8(13, 32, reps);
    attention_q8(115, 32, reps);
    attention_q8(115, 64, reps);
    attention_q8(512, 64, reps / 10 + 1);
#endif
    return 0;
}
