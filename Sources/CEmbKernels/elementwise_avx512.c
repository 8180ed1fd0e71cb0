// AVX-512 versions of the element-wise kernels whose loops are reductions (softmax's max and sum,
// LayerNorm's mean and variance): without -ffast-math the compiler may not reorder float sums, so
// the portable loops in elementwise.c stay scalar. Same formulas (exp polynomial included); sums are
// reordered, so results differ from the portable copies in the last bits.
#include "embk_internal.h"

#if defined(__x86_64__)
#include <math.h>

#include "embk_avx512.h"

T512F void embk_softmax_rows_avx512(float *x, int m, int n, int ld) {
    for (int r = 0; r < m; r++) {
        float *row = x + (size_t)r * ld;
        __m512 vmax = _mm512_set1_ps(-INFINITY);
        for (int i = 0; i < n; i += 16) vmax = _mm512_max_ps(vmax, _mm512_mask_loadu_ps(vmax, tail_mask(n - i), row + i));
        const __m512 mx = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
        __m512 vsum = _mm512_setzero_ps();
        for (int i = 0; i < n; i += 16) {
            const __mmask16 k = tail_mask(n - i);
            const __m512 e = _mm512_maskz_mov_ps(k, exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, row + i), mx)));
            vsum = _mm512_add_ps(vsum, e);
            _mm512_mask_storeu_ps(row + i, k, e);
        }
        const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(vsum));
        for (int i = 0; i < n; i += 16) {
            const __mmask16 k = tail_mask(n - i);
            _mm512_mask_storeu_ps(row + i, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, row + i), inv));
        }
    }
}

T512F void embk_add_layernorm_avx512(const float *a, const float *b, float *out, int m, int n,
                                     const float *gamma, const float *beta, float eps) {
    for (int r = 0; r < m; r++) {
        const float *ar = a + (size_t)r * n;
        const float *br = b ? b + (size_t)r * n : NULL;
        float *o = out + (size_t)r * n;
        __m512 vsum = _mm512_setzero_ps();
        for (int i = 0; i < n; i += 16) {
            const __mmask16 k = tail_mask(n - i);
            __m512 v = _mm512_maskz_loadu_ps(k, ar + i);
            if (br) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(k, br + i));
            _mm512_mask_storeu_ps(o + i, k, v);
            vsum = _mm512_add_ps(vsum, v);
        }
        const __m512 mean = _mm512_set1_ps(_mm512_reduce_add_ps(vsum) / (float)n);
        __m512 vvar = _mm512_setzero_ps();
        for (int i = 0; i < n; i += 16) {
            const __mmask16 k = tail_mask(n - i);
            const __m512 d = _mm512_maskz_sub_ps(k, _mm512_maskz_loadu_ps(k, o + i), mean);
            vvar = _mm512_fmadd_ps(d, d, vvar);
        }
        const __m512 inv = _mm512_set1_ps(1.0f / sqrtf(_mm512_reduce_add_ps(vvar) / (float)n + eps));
        for (int i = 0; i < n; i += 16) {
            const __mmask16 k = tail_mask(n - i);
            const __m512 d = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, o + i), mean), inv);
            _mm512_mask_storeu_ps(o + i, k, _mm512_fmadd_ps(d, _mm512_maskz_loadu_ps(k, gamma + i), _mm512_maskz_loadu_ps(k, beta + i)));
        }
    }
}
#endif
