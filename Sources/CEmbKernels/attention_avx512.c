// One head of self-attention on AVX-512, fused per block of 8 query rows so the block's scores never
// leave L1: S = scale·Q·Kᵀ (+ the optional bias row, MPNet's relative positions) (8 × t, the row maxima taken on the way out of the registers), softmax
// with the 8 rows interleaved, then P·V. The three separate steps it replaces ran at a quarter of
// the FMA rate: softmax one row at a time was a chain of dependent latencies (max, reduce, exp,
// sum, reduce, divide) that left the core idle, and was 7% of a long text's time on its own.
// Per element the arithmetic is that of embk_sgemm_nn_avx512 and embk_softmax_rows_avx512 in the
// same order (sums over k in order, then ·scale; exp, sum, ·1/sum), so the output is bit-identical
// to those three steps (tested).
#include "embk_internal.h"

#if defined(__x86_64__)
#include <math.h>

#include "embk_avx512.h"

enum { RB = 8 };  // query rows per block: 16 accumulators + 8 row maxima + operands fit 32 zmm

// Scores of the block's rows for columns [j, j + NB·16): acc = Σ_p q[r][p]·kᵀ[p][j..], then ·scale.
static inline __attribute__((always_inline)) T512F void score_strip(const int NB, const float *const *qr, int d,
                                                                  const float *kt, int t, int ldt, int j, float scale,
                                                                  const float *const *br, float *s, __m512 *vmax) {
    const __mmask16 m0 = tail_mask(t - j), m1 = tail_mask(t - j - 16);
    __m512 acc[RB][2];
    for (int r = 0; r < RB; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (int p = 0; p < d; p++) {
        const __m512 b0 = _mm512_maskz_loadu_ps(m0, kt + (size_t)p * ldt + j);
        const __m512 b1 = NB > 1 ? _mm512_maskz_loadu_ps(m1, kt + (size_t)p * ldt + j + 16) : b0;
        for (int r = 0; r < RB; r++) {
            const __m512 a = _mm512_set1_ps(qr[r][p]);
            acc[r][0] = _mm512_fmadd_ps(a, b0, acc[r][0]);
            if (NB > 1) acc[r][1] = _mm512_fmadd_ps(a, b1, acc[r][1]);
        }
    }
    const __m512 sc = _mm512_set1_ps(scale);
    for (int r = 0; r < RB; r++) {
        __m512 v0 = _mm512_mul_ps(acc[r][0], sc);
        if (br) v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, br[r] + j));
        vmax[r] = _mm512_mask_max_ps(vmax[r], m0, vmax[r], v0);
        _mm512_mask_storeu_ps(s + (size_t)r * ldt + j, m0, v0);
        if (NB > 1) {
            __m512 v1 = _mm512_mul_ps(acc[r][1], sc);
            if (br) v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, br[r] + j + 16));
            vmax[r] = _mm512_mask_max_ps(vmax[r], m1, vmax[r], v1);
            _mm512_mask_storeu_ps(s + (size_t)r * ldt + j + 16, m1, v1);
        }
    }
}

// Output columns [c, c + NB·16) of the block's rows: Σ_j p[r][j]·v[j][c..].
static inline __attribute__((always_inline)) T512F void pv_strip(const int NB, const float *s, int t, int ldt, const float *v,
                                                               int ld, int d, int c, float *const *orow) {
    const __mmask16 m0 = tail_mask(d - c), m1 = tail_mask(d - c - 16);
    __m512 acc[RB][2];
    for (int r = 0; r < RB; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (int j = 0; j < t; j++) {
        const __m512 b0 = _mm512_maskz_loadu_ps(m0, v + (size_t)j * ld + c);
        const __m512 b1 = NB > 1 ? _mm512_maskz_loadu_ps(m1, v + (size_t)j * ld + c + 16) : b0;
        for (int r = 0; r < RB; r++) {
            const __m512 a = _mm512_set1_ps(s[(size_t)r * ldt + j]);
            acc[r][0] = _mm512_fmadd_ps(a, b0, acc[r][0]);
            if (NB > 1) acc[r][1] = _mm512_fmadd_ps(a, b1, acc[r][1]);
        }
    }
    for (int r = 0; r < RB; r++) {
        if (!orow[r]) continue;  // a padding row of the last block
        _mm512_mask_storeu_ps(orow[r] + c, m0, acc[r][0]);
        if (NB > 1) _mm512_mask_storeu_ps(orow[r] + c + 16, m1, acc[r][1]);
    }
}

// Kᵀ (d, t) from K (t, d; row stride ld): each 16 keys' column c is one gather. The scalar loop
// (embk_transpose) took 7% of the head's time for t = 115, d = 32; this takes about a fifth of that.
static T512F void transpose_keys(const float *k, int t, int d, int ld, float *kt, int ldt) {
    const __m512i rows = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                            _mm512_set1_epi32(ld));
    for (int j = 0; j < t; j += 16) {
        const __mmask16 m = tail_mask(t - j);
        const float *base = k + (size_t)j * ld;
        for (int c = 0; c < d; c++)
            _mm512_mask_storeu_ps(kt + (size_t)c * ldt + j, m, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, rows, base + c, 4));
    }
}

T512F void embk_attention_avx512(int t, int d, float scale, const float *q, const float *k, const float *v, int ld,
                                 const float *bias, int ldb, float *out, int ldo, float *scratch) {
    // Rows of Kᵀ and of the scores padded to whole 64-byte lines: unaligned rows (t = 115) made
    // every vector load of the score and P·V loops a split load.
    const int ldt = (t + 15) & ~15;
    float *kt = scratch;                    // Kᵀ: (d, ldt)
    float *s = scratch + (size_t)d * ldt;  // the block's scores, then probabilities: (RB, ldt)
    transpose_keys(k, t, d, ld, kt, ldt);
    for (int i0 = 0; i0 < t; i0 += RB) {
        // The last block repeats row t-1 in its padding rows; their outputs are not stored.
        const float *qr[RB], *br[RB];
        float *orow[RB];
        for (int r = 0; r < RB; r++) {
            const int i = i0 + r < t ? i0 + r : t - 1;
            qr[r] = q + (size_t)i * ld;
            br[r] = bias ? bias + (size_t)i * ldb : NULL;
            orow[r] = i0 + r < t ? out + (size_t)(i0 + r) * ldo : NULL;
        }
        __m512 vmax[RB];
        for (int r = 0; r < RB; r++) vmax[r] = _mm512_set1_ps(-INFINITY);
        int j = 0;
        for (; j + 16 < t; j += 32) score_strip(2, qr, d, kt, t, ldt, j, scale, bias ? br : NULL, s, vmax);
        if (j < t) score_strip(1, qr, d, kt, t, ldt, j, scale, bias ? br : NULL, s, vmax);

        __m512 mx[RB], sum[RB];
        for (int r = 0; r < RB; r++) {
            mx[r] = _mm512_set1_ps(_mm512_reduce_max_ps(vmax[r]));
            sum[r] = _mm512_setzero_ps();
        }
        for (j = 0; j < t; j += 16) {
            const __mmask16 m = tail_mask(t - j);
            for (int r = 0; r < RB; r++) {
                float *sr = s + (size_t)r * ldt + j;
                const __m512 e = _mm512_maskz_mov_ps(m, exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, sr), mx[r])));
                sum[r] = _mm512_add_ps(sum[r], e);
                _mm512_mask_storeu_ps(sr, m, e);
            }
        }
        __m512 inv[RB];
        for (int r = 0; r < RB; r++) inv[r] = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(sum[r]));
        for (j = 0; j < t; j += 16) {
            const __mmask16 m = tail_mask(t - j);
            for (int r = 0; r < RB; r++) {
                float *sr = s + (size_t)r * ldt + j;
                _mm512_mask_storeu_ps(sr, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, sr), inv[r]));
            }
        }

        int c = 0;
        for (; c + 16 < d; c += 32) pv_strip(2, s, t, ldt, v, ld, d, c, orow);
        if (c < d) pv_strip(1, s, t, ldt, v, ld, d, c, orow);
    }
}
#endif
