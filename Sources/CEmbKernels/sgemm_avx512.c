// Float GEMM "NN" for attention (Q·Kᵀ with Kᵀ stored (d, t), and P·V): register-blocked AVX-512
// tiles of up to 4 rows × 32 columns, accumulators in 8 zmm, one pass over k. The plain loop in
// gemm.c (a C row updated per k) is bound by L1 loads and stores; attention is about 5% of this
// model's multiply-adds but ran at a quarter of the int8 rate, so it was half the time of long texts.
#include "embk_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#define T512F __attribute__((target("avx512f,avx512vl,fma")))
enum { SMR = 4, SNR = 32 };

static inline __attribute__((always_inline)) T512F void stile(const int R, int ncols, int k, float alpha,
                                                              const float *a, int lda, const float *b, int ldb,
                                                              float *c, int ldc, int accumulate) {
    const __mmask16 m0 = (__mmask16)(ncols >= 16 ? 0xFFFF : (1u << ncols) - 1u);
    const __mmask16 m1 = (__mmask16)(ncols >= 32 ? 0xFFFF : ncols > 16 ? (1u << (ncols - 16)) - 1u : 0);
    __m512 acc[SMR][2];
    for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (int p = 0; p < k; p++) {
        const __m512 b0 = _mm512_maskz_loadu_ps(m0, b + (size_t)p * ldb);
        const __m512 b1 = _mm512_maskz_loadu_ps(m1, b + (size_t)p * ldb + 16);
        for (int r = 0; r < R; r++) {
            const __m512 av = _mm512_set1_ps(a[(size_t)r * lda + p]);
            acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);
        }
    }
    const __m512 al = _mm512_set1_ps(alpha);
    for (int r = 0; r < R; r++) {
        float *cr = c + (size_t)r * ldc;
        __m512 v0 = _mm512_mul_ps(acc[r][0], al), v1 = _mm512_mul_ps(acc[r][1], al);
        if (accumulate) {
            v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, cr));
            v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, cr + 16));
        }
        _mm512_mask_storeu_ps(cr, m0, v0);
        _mm512_mask_storeu_ps(cr + 16, m1, v1);
    }
}

T512F void embk_sgemm_nn_avx512(int m, int n, int k, float alpha, const float *a, int lda, const float *b, int ldb,
                                float *c, int ldc, int accumulate) {
    for (int j = 0; j < n; j += SNR) {
        const int ncols = n - j < SNR ? n - j : SNR;
        int i = 0;
        for (; i + SMR <= m; i += SMR)
            stile(SMR, ncols, k, alpha, a + (size_t)i * lda, lda, b + j, ldb, c + (size_t)i * ldc + j, ldc, accumulate);
        switch (m - i) {
        case 3: stile(3, ncols, k, alpha, a + (size_t)i * lda, lda, b + j, ldb, c + (size_t)i * ldc + j, ldc, accumulate); break;
        case 2: stile(2, ncols, k, alpha, a + (size_t)i * lda, lda, b + j, ldb, c + (size_t)i * ldc + j, ldc, accumulate); break;
        case 1: stile(1, ncols, k, alpha, a + (size_t)i * lda, lda, b + j, ldb, c + (size_t)i * ldc + j, ldc, accumulate); break;
        default: break;
        }
    }
}
#endif
