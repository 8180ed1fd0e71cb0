// The int8 GEMM's dispatch, the scalar twin every SIMD path is tested against, and the float GEMM.
#include "embk_internal.h"
#include <math.h>
#include <string.h>

// Σ over the quads of group g of column `col` of `panel`, for one activation row.
static int32_t group_sum(const uint8_t *ar, const embk_packed_header *h, int panel, int col, int g) {
    const int8_t *w = embk_panel_weights(h, panel);
    const int q0 = g * h->group / 4, q1 = (g + 1) * h->group / 4 < h->k4 ? (g + 1) * h->group / 4 : h->k4;
    int32_t s = 0;
    for (int q = q0; q < q1; q++)
        for (int b = 0; b < 4; b++) s += (int32_t)ar[4 * q + b] * (int32_t)w[((size_t)q * EMBK_PANEL + col) * 4 + b];
    return s;
}

void embk_sums_scalar(int m, const uint8_t *a, int lda, const embk_packed_header *h, int32_t *s) {
    for (int i = 0; i < m; i++)
        for (int j = 0; j < h->n; j++)
            for (int g = 0; g < h->ngroups; g++)
                s[((size_t)i * h->n + j) * h->ngroups + g] = group_sum(a + (size_t)i * lda, h, j / EMBK_PANEL, j % EMBK_PANEL, g);
}

// The epilogue every path computes, in this order: t = (float)sum − (float)zp·colsum (exact), then
// acc = fma(t, sa·sw, acc) per group, then acc + bias.
void embk_gemm_scalar(int m, int k, const uint8_t *a, int lda, const float *a_scale, const int32_t *a_zp,
                      const embk_packed_header *h, const float *bias, float *c, int ldc, int n_begin, int n_end) {
    (void)k;
    const int ng = h->ngroups;
    for (int i = 0; i < m; i++) {
        for (int j = n_begin; j < n_end; j++) {
            const int panel = j / EMBK_PANEL, col = j % EMBK_PANEL;
            const float *colsum = embk_panel_colsum(h, panel), *scale = embk_panel_scale(h, panel);
            float acc = 0.0f;
            for (int g = 0; g < ng; g++) {
                const int32_t s = group_sum(a + (size_t)i * lda, h, panel, col, g);
                const float t = (float)s - (float)a_zp[(size_t)i * ng + g] * colsum[g * EMBK_PANEL + col];
                acc = fmaf(t, a_scale[(size_t)i * ng + g] * scale[g * EMBK_PANEL + col], acc);
            }
            c[(size_t)i * ldc + j] = bias ? acc + bias[j] : acc;
        }
    }
}

void embk_gemm(embk_path path, int m, int n, int k, int group, const uint8_t *a, int lda,
               const float *a_scale, const int32_t *a_zp, const void *packed, const float *bias,
               float *c, int ldc, int n_begin, int n_end) {
    const embk_packed_header *h = packed;
    (void)n; (void)group;
    if (n_end > h->n) n_end = h->n;
    if (m <= 0 || n_begin >= n_end) return;
#if defined(__x86_64__)
    if (path == EMBK_PATH_AVX512VNNI) return embk_gemm_avx512(m, k, a, lda, a_scale, a_zp, h, bias, c, ldc, n_begin, n_end);
    if (path == EMBK_PATH_AVX2) return embk_gemm_avx2(m, k, a, lda, a_scale, a_zp, h, bias, c, ldc, n_begin, n_end);
#endif
    embk_gemm_scalar(m, k, a, lda, a_scale, a_zp, h, bias, c, ldc, n_begin, n_end);
}

void embk_gemm_group_sums(embk_path path, int m, int n, int k, int group, const uint8_t *a, int lda,
                          const void *packed, int32_t *s) {
    (void)n; (void)k; (void)group;
    const embk_packed_header *h = packed;
#if defined(__x86_64__)
    if (path == EMBK_PATH_AVX512VNNI) return embk_sums_avx512(m, a, lda, h, s);
    if (path == EMBK_PATH_AVX2) return embk_sums_avx2(m, a, lda, h, s);
#endif
    embk_sums_scalar(m, a, lda, h, s);
}

#if defined(__x86_64__) && defined(__clang__) && !defined(EMBK_SANITIZED)
__attribute__((target_clones("arch=x86-64-v3", "default")))
#endif
void embk_sgemm_nn_portable(int m, int n, int k, float alpha, const float *a, int lda, const float *b, int ldb,
                            float *c, int ldc, int accumulate) {
    // Row by row, as axpys over C's row: vectorizes over j with no horizontal sums, and a C row
    // (≤ 1536 floats) stays in L1 across the k updates.
    for (int i = 0; i < m; i++) {
        float *cr = c + (size_t)i * ldc;
        if (!accumulate) memset(cr, 0, sizeof(float) * (size_t)n);
        for (int p = 0; p < k; p++) {
            const float av = alpha * a[(size_t)i * lda + p];
            const float *br = b + (size_t)p * ldb;
            for (int j = 0; j < n; j++) cr[j] += av * br[j];
        }
    }
}

void embk_sgemm_nn(int m, int n, int k, float alpha, const float *a, int lda, const float *b, int ldb,
                   float *c, int ldc, int accumulate) {
#if defined(__x86_64__)
    if (embk_best_path() == EMBK_PATH_AVX512VNNI)
        return embk_sgemm_nn_avx512(m, n, k, alpha, a, lda, b, ldb, c, ldc, accumulate);
#endif
    embk_sgemm_nn_portable(m, n, k, alpha, a, lda, b, ldb, c, ldc, accumulate);
}
