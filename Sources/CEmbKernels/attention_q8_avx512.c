// One head of self-attention with int8 operands on AVX-512 VNNI (scheme v3): QKᵀ as `vpdpbusd` (64
// multiply-adds an instruction where the float kernel, attention_avx512.c, does 16) and P·V as
// `vpdpwssd` (32: the probabilities need 15 bits, attention_q8.h). Per head: Q to uint8 (q + 128,
// per-row scales), K to int8 packed as VNNI panels (16 keys × 4 dimensions a 64-byte line, with
// 128·Σk to undo Q's offset), V to int8 per column, widened to int16 and packed as panels (16 columns
// × 2 keys). Then per block of 8 query rows, as in the float kernel: scores from exact integer sums
// (8 × 32 register tiles, scaled, biased and their row maxima taken on the way out), probabilities
// u = rint(32767·e) as int16 with their exact integer sum, and P·V (8 × 32 tiles).
// Every float operation is the portable twin's (attention_q8.c), in its order, on the same
// integers, so the two give the same bits (AttentionQ8Tests).
#include "attention_q8.h"

#include "embk_internal.h"

#if defined(__x86_64__)
#include "embk_avx512.h"

#define T512Q8 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,fma")))

typedef struct {
    int t, d, tp, t2, d4, d16;  // tp: t to a multiple of 16; t2: to 2; d4: d to 4; d16: d to 16
    uint8_t *qu;   // [t][d4]     Q + 128 (1..255; 128 past d)
    int8_t *kr;    // [tp][d4]    K row-major (zeros past t and d), the source of kp
    int8_t *kp;    // [tp/16][d4/4][16 keys][4 dimensions]
    int16_t *vp;   // [d16/16][t2/2][16 columns][2 keys]
    float *sq, *sk, *sv;  // per query row, key row (0 past t), column; sq and sk with room for tp rows
    int32_t *ks;   // [tp]        128·Σ_p k[j][p]
    float *s;      // [RB][tp]    the block's scores
    int16_t *pu;   // [RB][tp]    the block's u (zeros past t)
} q8_work;

// The largest magnitude in each of the n ≤ 16 rows at x (w columns, row stride ld), lane r for row r
// (0 past n): per row a vector of maxima over its columns, then the 16 vectors folded into one by a
// transposing tree (15 maxima) instead of 16 horizontal reductions, whose latency chains and the
// scalar divisions after them were most of a short text's attention.
static inline T512Q8 __m512 rows_amax16(const float *x, int ld, int w, int n) {
    __m512 v[16];
    for (int r = 0; r < 16; r++) {
        __m512 m = _mm512_setzero_ps();
        for (int c = 0; r < n && c < w; c += 16)
            m = _mm512_max_ps(m, _mm512_abs_ps(_mm512_maskz_loadu_ps(tail_mask(w - c), x + (size_t)r * ld + c)));
        v[r] = m;
    }
    for (int i = 0; i < 8; i++)  // lanes 0-7: row i, 8-15: row i + 8
        v[i] = _mm512_max_ps(_mm512_shuffle_f32x4(v[i], v[i + 8], 0x44), _mm512_shuffle_f32x4(v[i], v[i + 8], 0xEE));
    for (int i = 0; i < 4; i++)  // quarters: rows i, i + 8, i + 4, i + 12
        v[i] = _mm512_max_ps(_mm512_shuffle_f32x4(v[i], v[i + 4], 0x88), _mm512_shuffle_f32x4(v[i], v[i + 4], 0xDD));
    for (int i = 0; i < 2; i++)
        v[i] = _mm512_max_ps(_mm512_shuffle_ps(v[i], v[i + 2], 0x44), _mm512_shuffle_ps(v[i], v[i + 2], 0xEE));
    const __m512 m = _mm512_max_ps(_mm512_shuffle_ps(v[0], v[1], 0x88), _mm512_shuffle_ps(v[0], v[1], 0xDD));
    // Lane L now holds row perm[L]; the permutation is its own inverse.
    return _mm512_permutexvar_ps(_mm512_setr_epi32(0, 2, 1, 3, 8, 10, 9, 11, 4, 6, 5, 7, 12, 14, 13, 15), m);
}

// rint(x·inv) clamped to ±127, as embk_quantize_rows_symmetric (pack.c) does it.
static inline T512Q8 __m512i quantize16(__m512 x, __m512 inv) {
    const __m512i r = _mm512_cvtps_epi32(_mm512_mul_ps(x, inv));
    return _mm512_max_epi32(_mm512_set1_epi32(-127), _mm512_min_epi32(_mm512_set1_epi32(127), r));
}

// Rows [0, rows) of x to int8 plus `offset` (Q: 128, as uint8; K: 0) in dst (row stride d4, zeros
// past d), one scale per row into scale[] (16 at a time: scale has room for rows rounded up to 16).
static T512Q8 void quantize_rows(const float *x, int ld, int rows, const q8_work *w, int offset, uint8_t *dst, float *scale) {
    for (int i0 = 0; i0 < rows; i0 += 16) {
        const int n = rows - i0 < 16 ? rows - i0 : 16;
        const __m512 amax = rows_amax16(x + (size_t)i0 * ld, ld, w->d, n);
        _mm512_storeu_ps(scale + i0, _mm512_div_ps(amax, _mm512_set1_ps(127.0f)));  // q8_scale, 16 at once
        float inv[16];  // q8_inverse, 16 at once
        _mm512_storeu_ps(inv, _mm512_maskz_div_ps(_mm512_cmp_ps_mask(amax, _mm512_setzero_ps(), _CMP_GT_OQ), _mm512_set1_ps(127.0f), amax));
        for (int r = 0; r < n; r++) {
            const float *row = x + (size_t)(i0 + r) * ld;
            for (int c = 0; c < w->d4; c += 16) {
                const __m512i v = quantize16(_mm512_maskz_loadu_ps(tail_mask(w->d - c), row + c), _mm512_set1_ps(inv[r]));
                _mm512_mask_cvtepi32_storeu_epi8(dst + (size_t)(i0 + r) * w->d4 + c, tail_mask(w->d4 - c),
                                                 _mm512_add_epi32(v, _mm512_set1_epi32(offset)));
            }
        }
    }
}

static T512Q8 void prepare_queries(const float *q, int ld, const q8_work *w) {
    quantize_rows(q, ld, w->t, w, 128, w->qu, w->sq);
}

static T512Q8 void prepare_keys(const float *k, int ld, const q8_work *w) {
    quantize_rows(k, ld, w->t, w, 0, (uint8_t *)w->kr, w->sk);  // sk past t: 0 (rows_amax16's empty lanes)
    memset(w->kr + (size_t)w->t * w->d4, 0, (size_t)(w->tp - w->t) * w->d4);
    // Panels: line (strip, quad) holds dimensions 4·quad.. of keys 16·strip.., one 32-bit word each;
    // 128·Σ_p k[j][p] from the same lines (vpdpbusd by ones: exact).
    const __m512i rows = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                            _mm512_set1_epi32(w->d4));
    const int quads = w->d4 / 4;
    for (int strip = 0; strip < w->tp / 16; strip++) {
        __m512i sum = _mm512_setzero_si512();
        for (int quad = 0; quad < quads; quad++) {
            const __m512i line = _mm512_i32gather_epi32(rows, w->kr + (size_t)strip * 16 * w->d4 + 4 * quad, 1);
            _mm512_store_si512(w->kp + ((size_t)strip * quads + quad) * 64, line);
            sum = _mm512_dpbusd_epi32(sum, _mm512_set1_epi8(1), line);
        }
        _mm512_store_si512(w->ks + 16 * strip, _mm512_slli_epi32(sum, 7));
    }
}

static T512Q8 void prepare_values(const float *v, int ld, const q8_work *w) {
    const int pairs = w->t2 / 2;
    for (int c = 0; c < w->d16; c += 16) {
        const __mmask16 m = tail_mask(w->d - c);
        __m512 amax = _mm512_setzero_ps();
        for (int j = 0; j < w->t; j++) amax = _mm512_max_ps(amax, _mm512_abs_ps(_mm512_maskz_loadu_ps(m, v + (size_t)j * ld + c)));
        _mm512_storeu_ps(w->sv + c, _mm512_div_ps(amax, _mm512_set1_ps(127.0f)));
        const __m512 inv = _mm512_maskz_div_ps(_mm512_cmp_ps_mask(amax, _mm512_setzero_ps(), _CMP_GT_OQ), _mm512_set1_ps(127.0f), amax);
        int16_t *panel = w->vp + (size_t)(c / 16) * pairs * 32;
        for (int pair = 0; pair < pairs; pair++) {
            // Column c's keys 2·pair (low half) and 2·pair + 1 (high half) in one 32-bit lane.
            const int j = 2 * pair;
            const __m512i lo = quantize16(_mm512_maskz_loadu_ps(m, v + (size_t)j * ld + c), inv);
            const __m512i hi = j + 1 < w->t ? quantize16(_mm512_maskz_loadu_ps(m, v + (size_t)(j + 1) * ld + c), inv)
                                            : _mm512_setzero_si512();
            _mm512_store_si512(panel + (size_t)pair * 32,
                               _mm512_or_si512(_mm512_and_si512(lo, _mm512_set1_epi32(0xFFFF)), _mm512_slli_epi32(hi, 16)));
        }
    }
}

// q8_exp (attention_q8.h) on 16 lanes, operation for operation.
static inline T512Q8 __m512 exp16(__m512 x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(-87.0f));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fmadd_ps(n, _mm512_set1_ps(2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(Q8_EXP_C5);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(Q8_EXP_C4));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(Q8_EXP_C3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(Q8_EXP_C2));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(Q8_EXP_C1));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(Q8_EXP_C0));
    const __m512i two_n = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(p, _mm512_castsi512_ps(two_n));
}

// acc + Σ pairs a·b on int16 (vpdpwssd). Written as asm: clang's generic tuning splits the intrinsic
// into vpmaddwd + vpaddd (two instructions for one), which cost P·V a quarter of its time.
static inline T512Q8 __m512i dpwssd(__m512i acc, __m512i a, __m512i b) {
    __asm__("vpdpwssd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
    return acc;
}

static inline T512Q8 __m512i broadcast4(const void *p) {
    int32_t x;
    memcpy(&x, p, 4);
    return _mm512_set1_epi32(x);
}

// Scores of the block's rows for keys [j, j + NB·16): Σ (q+128)·k − 128·Σk, then ·(sq·scale)·sk (+ bias).
static inline __attribute__((always_inline)) T512Q8 void score_strip(const int NB, const q8_work *w, const uint8_t *const *qr,
                                                                   const float *cq, const float *const *br, int j, __m512 *vmax) {
    const int quads = w->d4 / 4;
    const int8_t *k0 = w->kp + (size_t)(j / 16) * quads * 64, *k1 = k0 + (size_t)quads * 64;
    __m512i acc[Q8_RB][2];
    for (int r = 0; r < Q8_RB; r++) acc[r][0] = acc[r][1] = _mm512_setzero_si512();
    for (int quad = 0; quad < quads; quad++) {
        const __m512i b0 = _mm512_load_si512(k0 + (size_t)quad * 64);
        const __m512i b1 = NB > 1 ? _mm512_load_si512(k1 + (size_t)quad * 64) : b0;
        for (int r = 0; r < Q8_RB; r++) {
            const __m512i a = broadcast4(qr[r] + 4 * quad);
            acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], a, b0);
            if (NB > 1) acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], a, b1);
        }
    }
    for (int n = 0; n < NB; n++) {
        const int jn = j + 16 * n;
        const __mmask16 m = tail_mask(w->t - jn);
        const __m512i ks = _mm512_load_si512(w->ks + jn);
        const __m512 sk = _mm512_load_ps(w->sk + jn);
        for (int r = 0; r < Q8_RB; r++) {
            __m512 x = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r][n], ks)), _mm512_set1_ps(cq[r]));
            x = _mm512_mul_ps(x, sk);
            if (br) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(m, br[r] + jn));
            vmax[r] = _mm512_mask_max_ps(vmax[r], m, vmax[r], x);
            _mm512_store_ps(w->s + (size_t)r * w->tp + jn, x);
        }
    }
}

// Output columns [c, c + NB·16) of the block's rows: (Σ u·v)·(sv·(1/Σu)).
static inline __attribute__((always_inline)) T512Q8 void pv_strip(const int NB, const q8_work *w, const float *inv, int c,
                                                                float *const *orow) {
    const int pairs = w->t2 / 2;
    const int16_t *v0 = w->vp + (size_t)(c / 16) * pairs * 32, *v1 = v0 + (size_t)pairs * 32;
    __m512i acc[Q8_RB][2];
    for (int r = 0; r < Q8_RB; r++) acc[r][0] = acc[r][1] = _mm512_setzero_si512();
    for (int pair = 0; pair < pairs; pair++) {
        const __m512i b0 = _mm512_load_si512(v0 + (size_t)pair * 32);
        const __m512i b1 = NB > 1 ? _mm512_load_si512(v1 + (size_t)pair * 32) : b0;
        for (int r = 0; r < Q8_RB; r++) {
            const __m512i a = broadcast4(w->pu + (size_t)r * w->tp + 2 * pair);
            acc[r][0] = dpwssd(acc[r][0], a, b0);
            if (NB > 1) acc[r][1] = dpwssd(acc[r][1], a, b1);
        }
    }
    for (int n = 0; n < NB; n++) {
        const __mmask16 m = tail_mask(w->d - c - 16 * n);
        const __m512 sv = _mm512_loadu_ps(w->sv + c + 16 * n);
        for (int r = 0; r < Q8_RB; r++) {
            if (!orow[r]) continue;  // a padding row of the last block
            const __m512 wt = _mm512_mul_ps(sv, _mm512_set1_ps(inv[r]));
            _mm512_mask_storeu_ps(orow[r] + c + 16 * n, m, _mm512_mul_ps(_mm512_cvtepi32_ps(acc[r][n]), wt));
        }
    }
}

T512Q8 void embk_attention_q8_avx512(int t, int d, float scale, const float *q, const float *k, const float *v, int ld,
                                     const float *bias, int ldb, float *out, int ldo, void *scratch) {
    q8_work w = {.t = t, .d = d, .tp = q8_round_up(t, 16), .t2 = q8_round_up(t, 2), .d4 = q8_round_up(d, 4),
                 .d16 = q8_round_up(d, 16)};
    char *at = scratch;
    w.qu = q8_carve(&at, (size_t)t * w.d4);
    w.kr = q8_carve(&at, (size_t)w.tp * w.d4);
    w.kp = q8_carve(&at, (size_t)w.tp * w.d4);
    w.vp = q8_carve(&at, 2 * (size_t)w.d16 * w.t2);
    w.sq = q8_carve(&at, 4 * (size_t)w.tp);
    w.sk = q8_carve(&at, 4 * (size_t)w.tp);
    w.ks = q8_carve(&at, 4 * (size_t)w.tp);
    w.sv = q8_carve(&at, 4 * (size_t)w.d16);
    w.s = q8_carve(&at, 4 * (size_t)Q8_RB * w.tp);
    w.pu = q8_carve(&at, 2 * (size_t)Q8_RB * w.tp);
    prepare_queries(q, ld, &w);
    prepare_keys(k, ld, &w);
    prepare_values(v, ld, &w);

    for (int i0 = 0; i0 < t; i0 += Q8_RB) {
        // The last block repeats row t-1 in its padding rows; their outputs are not stored.
        const uint8_t *qr[Q8_RB];
        const float *br[Q8_RB];
        float cq[Q8_RB], *orow[Q8_RB];
        __m512 vmax[Q8_RB];
        for (int r = 0; r < Q8_RB; r++) {
            const int i = i0 + r < t ? i0 + r : t - 1;
            qr[r] = w.qu + (size_t)i * w.d4;
            cq[r] = w.sq[i] * scale;
            br[r] = bias ? bias + (size_t)i * ldb : NULL;
            orow[r] = i0 + r < t ? out + (size_t)(i0 + r) * ldo : NULL;
            vmax[r] = _mm512_set1_ps(-INFINITY);
        }
        int j = 0;
        for (; j + 16 < t; j += 32) score_strip(2, &w, qr, cq, bias ? br : NULL, j, vmax);
        if (j < t) score_strip(1, &w, qr, cq, bias ? br : NULL, j, vmax);

        // u = rint(32767·e) as int16, e = exp(s − max); lanes past t give 0.
        __m512 mx[Q8_RB];
        __m512i total[Q8_RB];
        for (int r = 0; r < Q8_RB; r++) {
            mx[r] = _mm512_set1_ps(_mm512_reduce_max_ps(vmax[r]));
            total[r] = _mm512_setzero_si512();
        }
        for (j = 0; j < w.tp; j += 16) {
            const __mmask16 m = tail_mask(t - j);
            for (int r = 0; r < Q8_RB; r++) {
                const __m512 e = exp16(_mm512_sub_ps(_mm512_load_ps(w.s + (size_t)r * w.tp + j), mx[r]));
                const __m512i u = _mm512_maskz_cvtps_epi32(m, _mm512_mul_ps(e, _mm512_set1_ps(Q8_P_ONE)));
                total[r] = _mm512_add_epi32(total[r], u);
                _mm256_store_si256((__m256i *)(w.pu + (size_t)r * w.tp + j), _mm512_cvtepi32_epi16(u));
            }
        }
        float inv[Q8_RB];
        for (int r = 0; r < Q8_RB; r++) inv[r] = 1.0f / (float)_mm512_reduce_add_epi32(total[r]);

        int c = 0;
        for (; c + 16 < d; c += 32) pv_strip(2, &w, inv, c, orow);
        if (c < d) pv_strip(1, &w, inv, c, orow);
    }
}
#endif
