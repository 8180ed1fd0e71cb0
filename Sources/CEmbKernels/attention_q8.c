// One head of self-attention with int8 operands (scheme v3; see embk_attention_q8 in CEmbKernels.h):
// the dispatch and the portable twin, which spells out the arithmetic the VNNI kernel
// (attention_q8_avx512.c) does with the same operations in the same order, so both give the same bits.
#include "attention_q8.h"

#include "embk_internal.h"

size_t embk_attention_q8_scratch(int t, int d) {
    const size_t a = q8_vnni_bytes(t, d), b = q8_twin_bytes(t, d);
    return ((a > b ? a : b) + 64 + 3) / 4;  // floats, +64 bytes to align the start
}

// Built per CPU level (EMBK_CLONES) so its integer dot products vectorize on AVX2 hosts; the float
// steps are element by element with no contraction, and fmaf is one rounding on every level.
EMBK_CLONES static void attention_q8_twin(int t, int d, float scale, const float *q, const float *k, const float *v, int ld,
                              const float *bias, int ldb, float *out, int ldo, void *scratch) {
    char *at = scratch;
    int8_t *qi = q8_carve(&at, (size_t)t * d), *ki = q8_carve(&at, (size_t)t * d), *vi = q8_carve(&at, (size_t)t * d);
    float *sq = q8_carve(&at, 4 * (size_t)t), *sk = q8_carve(&at, 4 * (size_t)t), *sv = q8_carve(&at, 4 * (size_t)d);
    float *s = q8_carve(&at, 4 * (size_t)t);
    int32_t *u = q8_carve(&at, 4 * (size_t)t), *dots = q8_carve(&at, 4 * (size_t)d);
    embk_quantize_rows_symmetric(q, t, d, ld, d, qi, sq);  // one scale per (row, head), as the weights'
    embk_quantize_rows_symmetric(k, t, d, ld, d, ki, sk);
    // V: one scale per column over the text's rows.
    for (int c = 0; c < d; c++) {
        float amax = 0.0f;
        for (int j = 0; j < t; j++) amax = fmaxf(amax, fabsf(v[(size_t)j * ld + c]));
        const float inv = q8_inverse(amax);
        sv[c] = q8_scale(amax);
        for (int j = 0; j < t; j++) {
            const float r = rintf(v[(size_t)j * ld + c] * inv);
            vi[(size_t)j * d + c] = (int8_t)(r > 127.0f ? 127.0f : (r < -127.0f ? -127.0f : r));
        }
    }
    for (int i = 0; i < t; i++) {
        const float cq = sq[i] * scale;
        float mx = -INFINITY;
        for (int j = 0; j < t; j++) {
            int32_t dot = 0;
            for (int p = 0; p < d; p++) dot += (int32_t)qi[(size_t)i * d + p] * ki[(size_t)j * d + p];
            float x = (float)dot * cq;
            x = x * sk[j];
            if (bias) x = x + bias[(size_t)i * ldb + j];
            s[j] = x;
            mx = fmaxf(mx, x);
        }
        int32_t total = 0;
        for (int j = 0; j < t; j++) {
            u[j] = (int32_t)rintf(q8_exp(s[j] - mx) * Q8_P_ONE);
            total += u[j];
        }
        const float inv = 1.0f / (float)total;  // total ≥ Q8_P_ONE: the row's largest score gives e = 1
        for (int c = 0; c < d; c++) dots[c] = 0;
        for (int j = 0; j < t; j++)
            for (int c = 0; c < d; c++) dots[c] += u[j] * vi[(size_t)j * d + c];
        for (int c = 0; c < d; c++) {
            const float w = sv[c] * inv;
            out[(size_t)i * ldo + c] = (float)dots[c] * w;
        }
    }
}

void embk_attention_q8(embk_path path, int t, int d, float scale, const float *q, const float *k, const float *v, int ld,
                       const float *bias, int ldb, float *out, int ldo, float *scratch) {
    if (t <= 0) return;
#if defined(__x86_64__)
    if (path == EMBK_PATH_AVX512VNNI) return embk_attention_q8_avx512(t, d, scale, q, k, v, ld, bias, ldb, out, ldo, scratch);
#endif
    attention_q8_twin(t, d, scale, q, k, v, ld, bias, ldb, out, ldo, scratch);
}
