// AVX-512 versions of the element-wise kernels whose loops are reductions (softmax's max and sum,
// LayerNorm's mean and variance): without -ffast-math the compiler may not reorder float sums, so
// the portable loops in elementwise.c stay scalar. Same formulas (exp polynomial included); sums are
// reordered, so results differ from the portable copies in the last bits.
#include "embk_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <math.h>

#define T512F __attribute__((target("avx512f,avx512vl,fma")))

static inline T512F __m512 exp512(__m512 x) {
    x = _mm512_max_ps(_mm512_set1_ps(-87.0f), _mm512_min_ps(_mm512_set1_ps(88.0f), x));
    const __m512 n = _mm512_roundscale_ps(_mm512_fmadd_ps(x, _mm512_set1_ps(1.44269504088896341f), _mm512_set1_ps(0.5f)),
                                          _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fmadd_ps(n, _mm512_set1_ps(2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    const __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(p, _mm512_castsi512_ps(e));
}

static inline __mmask16 tail_mask(int remaining) {
    return (__mmask16)(remaining >= 16 ? 0xFFFF : (1u << remaining) - 1u);
}

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
