// Private to CEmbKernels: AVX-512 helpers shared by the float kernels (softmax, LayerNorm, attention).
#ifndef EMBK_AVX512_H
#define EMBK_AVX512_H
#if defined(__x86_64__)
#include <immintrin.h>

#define T512F __attribute__((target("avx512f,avx512vl,fma")))

// e^x, the formula of exp_poly in elementwise.c on 16 lanes (range reduction x = n·ln2 + r, Cephes
// degree-6 polynomial, 2^n through the exponent bits); inputs below -87 flush to ~0.
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

// BERT's exact GELU, x·0.5·(1 + erf(x/√2)) with elementwise.c's rational erf on 16 lanes: the
// operations, and their order, of the x86-64-v4 copy of embk_gelu as clang builds it (its a·b + c
// steps contracted to fma), so the two give the same bits (KernelAgreementTests checks it).
static inline T512F __m512 gelu512(__m512 v) {
    const __m512 half = _mm512_mul_ps(v, _mm512_set1_ps(0.5f));
    __m512 x = _mm512_mul_ps(v, _mm512_set1_ps(0.70710678118654752f));
    const __mmask16 below = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-4.0f), _CMP_LT_OS);
    x = _mm512_min_ps(_mm512_set1_ps(4.0f), x);
    x = _mm512_mask_mov_ps(x, below, _mm512_set1_ps(-4.0f));
    const __m512 x2 = _mm512_mul_ps(x, x);
    __m512 p = _mm512_set1_ps(-2.72614225801306e-10f);
    p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(2.77068142495902e-08f));
    p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(-2.10102402082508e-06f));
    p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(-5.69250639462346e-05f));
    p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(-7.34990630326855e-04f));
    p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(-2.95459980854025e-03f));
    p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(-1.60960333262415e-02f));
    p = _mm512_mul_ps(p, x);
    __m512 q = _mm512_set1_ps(-1.45660718464996e-05f);
    q = _mm512_fmadd_ps(q, x2, _mm512_set1_ps(-2.13374055278905e-04f));
    q = _mm512_fmadd_ps(q, x2, _mm512_set1_ps(-1.68282697438203e-03f));
    q = _mm512_fmadd_ps(q, x2, _mm512_set1_ps(-7.37332916720468e-03f));
    q = _mm512_fmadd_ps(q, x2, _mm512_set1_ps(-1.42647390514189e-02f));
    return _mm512_mul_ps(half, _mm512_add_ps(_mm512_div_ps(p, q), _mm512_set1_ps(1.0f)));
}

// The first `remaining` of 16 lanes (all 16 when remaining >= 16, none when <= 0).
static inline __mmask16 tail_mask(int remaining) {
    return (__mmask16)(remaining >= 16 ? 0xFFFF : remaining <= 0 ? 0 : (1u << remaining) - 1u);
}

#endif
#endif
