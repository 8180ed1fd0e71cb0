// The AVX2 int8 GEMM, for x86 machines without AVX-512 VNNI. Exact: activations are zero-extended and
// weights sign-extended to int16 and multiplied with vpmaddwd (int16 pairs summed into int32).
// vpmaddubsw would be faster but saturates at ±32767 (255·127·2 overflows it), which would make this
// path disagree with the others. Tiles of 2 rows × 16 columns; same epilogue order as the scalar twin.
#include "embk_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#define T256 __attribute__((target("avx2,fma")))

// The int32 sums of one group for up to 2 rows × 16 columns, in column order (8 + 8 lanes per row).
static inline __attribute__((always_inline)) T256 void group_sums(int R, const uint8_t *a, int lda, const int8_t *w,
                                                                  int q0, int q1, __m256i out[2][2]) {
    __m256i acc[2][4];
    for (int r = 0; r < 2; r++)
        for (int x = 0; x < 4; x++) acc[r][x] = _mm256_setzero_si256();
    for (int q = q0; q < q1; q++) {
        __m256i wv[4];  // columns 4x..4x+3, 4 k each, as int16
        for (int x = 0; x < 4; x++)
            wv[x] = _mm256_cvtepi8_epi16(_mm_load_si128((const __m128i *)(w + (size_t)q * 64 + 16 * x)));
        for (int r = 0; r < R; r++) {
            int32_t quad;
            memcpy(&quad, a + (size_t)r * lda + 4 * (size_t)q, 4);
            const __m256i av = _mm256_broadcastq_epi64(_mm_cvtepu8_epi16(_mm_cvtsi32_si128(quad)));
            for (int x = 0; x < 4; x++) acc[r][x] = _mm256_add_epi32(acc[r][x], _mm256_madd_epi16(wv[x], av));
        }
    }
    // Lanes hold (k0k1, k2k3) pairs per column; hadd sums the pairs, and the permute restores column order.
    for (int r = 0; r < R; r++) {
        out[r][0] = _mm256_permute4x64_epi64(_mm256_hadd_epi32(acc[r][0], acc[r][1]), 0xD8);
        out[r][1] = _mm256_permute4x64_epi64(_mm256_hadd_epi32(acc[r][2], acc[r][3]), 0xD8);
    }
}

T256 void embk_gemm_avx2(int m, int k, const uint8_t *a, int lda, const float *a_scale, const int32_t *a_zp,
                         const embk_packed_header *h, const float *bias, float *c, int ldc, int n_begin, int n_end) {
    (void)k;
    const int ng = h->ngroups, gq = h->group / 4;
    for (int j = n_begin; j < n_end; j += EMBK_PANEL) {
        const int panel = j / EMBK_PANEL, ncols = n_end - j < EMBK_PANEL ? n_end - j : EMBK_PANEL;
        const int8_t *w = embk_panel_weights(h, panel);
        const float *cs = embk_panel_colsum(h, panel), *sw = embk_panel_scale(h, panel);
        for (int i = 0; i < m; i += 2) {
            const int R = m - i < 2 ? m - i : 2;
            __m256 f[2][2] = {{_mm256_setzero_ps(), _mm256_setzero_ps()}, {_mm256_setzero_ps(), _mm256_setzero_ps()}};
            for (int g = 0; g < ng; g++) {
                __m256i s[2][2];
                const int q0 = g * gq, q1 = q0 + gq < h->k4 ? q0 + gq : h->k4;
                group_sums(R, a + (size_t)i * lda, lda, w, q0, q1, s);
                for (int half = 0; half < 2; half++) {
                    const __m256 csv = _mm256_load_ps(cs + (size_t)g * EMBK_PANEL + 8 * half);
                    const __m256 swv = _mm256_load_ps(sw + (size_t)g * EMBK_PANEL + 8 * half);
                    for (int r = 0; r < R; r++) {
                        const size_t rg = (size_t)(i + r) * ng + g;
                        __m256 t = _mm256_cvtepi32_ps(s[r][half]);
                        t = _mm256_fnmadd_ps(_mm256_set1_ps((float)a_zp[rg]), csv, t);
                        f[r][half] = _mm256_fmadd_ps(t, _mm256_mul_ps(_mm256_set1_ps(a_scale[rg]), swv), f[r][half]);
                    }
                }
            }
            for (int r = 0; r < R; r++) {
                float tmp[EMBK_PANEL];
                _mm256_storeu_ps(tmp, f[r][0]);
                _mm256_storeu_ps(tmp + 8, f[r][1]);
                float *cr = c + (size_t)(i + r) * ldc + j;
                for (int col = 0; col < ncols; col++) cr[col] = bias ? tmp[col] + bias[j + col] : tmp[col];
            }
        }
    }
}

T256 void embk_sums_avx2(int m, const uint8_t *a, int lda, const embk_packed_header *h, int32_t *s) {
    const int ng = h->ngroups, gq = h->group / 4;
    for (int i = 0; i < m; i++) {
        for (int panel = 0; panel < h->npanels; panel++) {
            for (int g = 0; g < ng; g++) {
                __m256i out[2][2];
                const int q0 = g * gq, q1 = q0 + gq < h->k4 ? q0 + gq : h->k4;
                group_sums(1, a + (size_t)i * lda, lda, embk_panel_weights(h, panel), q0, q1, out);
                int32_t lanes[EMBK_PANEL];
                _mm256_storeu_si256((__m256i *)lanes, out[0][0]);
                _mm256_storeu_si256((__m256i *)(lanes + 8), out[0][1]);
                for (int col = 0; col < EMBK_PANEL && panel * EMBK_PANEL + col < h->n; col++)
                    s[((size_t)i * h->n + panel * EMBK_PANEL + col) * ng + g] = lanes[col];
            }
        }
    }
}
#endif
