// The AVX-512 VNNI int8 GEMM: a register-blocked micro-kernel of up to 6 rows × 32 columns.
//
// vpdpbusd multiplies 64 unsigned activation bytes by 64 signed weight bytes and adds each group of
// four products into one of 16 int32 lanes: with the weights packed as [column][4 k-bytes] (one
// 64-byte load = 16 columns × 4 k) and the 4 activation bytes of a row broadcast to all lanes, one
// instruction does 64 multiply-adds. Per k-quad the tile does 2 weight loads and 12 vpdpbusd, with
// 12 int32 group accumulators and 12 float accumulators in zmm registers (24 of 32).
// At the end of each quantization group the int32 sums are folded into the float accumulators:
// t = sum − zp·colsum (exact, see embk_internal.h), acc += t · (sa·sw). Same order as the scalar twin,
// so the outputs are bit-identical to it.
// Blocking: rows in blocks of 96 (a block's activations, 36 KiB for k = 384, stay close: in L1 for
// MiniLM's k = 384) and, inside, every 32-column strip of the weights is reused by all row tiles of
// the block. The whole weight matrix is read once per block, which is cheap while it stays in L2;
// a matrix larger than 1 MiB (a 768-wide model's QKV and FFN, 1.8-2.4 MB) gets blocks whose
// activations fill 512 KiB instead (170 rows for k = 3072), so it comes from L3 a third as often.
// Prefetch: in a block of a few rows (batch 1: the weights are read once and used by one or two
// tiles, so the GEMM waits on memory), the block's first tile of a strip prefetches the next strip's
// weights line by line as it consumes its own, so the next strip's loads find them in L1 (768x12
// short batch 1: +5-11%). Taller blocks reuse each strip over many tiles and the hardware
// prefetcher keeps up; prefetching there cost 4% (Docs/benchmarks.md, issue 19).
#include "embk_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#define T512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))
enum { MR = 6, MB = 96, L2_WEIGHTS = 1 << 20, BLOCK_BYTES = 512 * 1024, PREFETCH_ROWS = 3 * MR };

static inline __attribute__((always_inline)) T512 void tile(const int R, const int NP, const uint8_t *a, int lda,
                                                            const float *sa, const int32_t *zp,
                                                            const embk_packed_header *h, int panel,
                                                            const float *bias, float *c, int ldc, int ncols,
                                                            const int8_t *next) {
    const int ng = h->ngroups, k4 = h->k4, gq = h->group / 4;
    const int8_t *w0 = embk_panel_weights(h, panel);
    const size_t pstride = (size_t)k4 * EMBK_PANEL * 4;
    const float *cs = embk_panel_colsum(h, panel), *sw = embk_panel_scale(h, panel);
    const size_t gstride = (size_t)ng * EMBK_PANEL;
    __m512 f[MR][2];
    for (int r = 0; r < R; r++)
        for (int p = 0; p < NP; p++) f[r][p] = _mm512_setzero_ps();

    for (int g = 0; g < ng; g++) {
        __m512i s[MR][2];
        for (int r = 0; r < R; r++)
            for (int p = 0; p < NP; p++) s[r][p] = _mm512_setzero_si512();
        const int q0 = g * gq, q1 = q0 + gq < k4 ? q0 + gq : k4;
        for (int q = q0; q < q1; q++) {
            const __m512i b0 = _mm512_load_si512((const void *)(w0 + (size_t)q * 64));
            const __m512i b1 = NP > 1 ? _mm512_load_si512((const void *)(w0 + pstride + (size_t)q * 64)) : b0;
            if (next) {  // the next strip's two panels, at the same k (a prefetch past its end is harmless)
                _mm_prefetch((const char *)(next + (size_t)q * 64), _MM_HINT_T0);
                _mm_prefetch((const char *)(next + pstride + (size_t)q * 64), _MM_HINT_T0);
            }
            for (int r = 0; r < R; r++) {
                int32_t quad;
                memcpy(&quad, a + (size_t)r * lda + 4 * (size_t)q, 4);
                const __m512i av = _mm512_set1_epi32(quad);
                s[r][0] = _mm512_dpbusd_epi32(s[r][0], av, b0);
                if (NP > 1) s[r][1] = _mm512_dpbusd_epi32(s[r][1], av, b1);
            }
        }
        for (int p = 0; p < NP; p++) {
            const __m512 csv = _mm512_load_ps(cs + p * gstride + (size_t)g * EMBK_PANEL);
            const __m512 swv = _mm512_load_ps(sw + p * gstride + (size_t)g * EMBK_PANEL);
            for (int r = 0; r < R; r++) {
                __m512 t = _mm512_cvtepi32_ps(s[r][p]);
                t = _mm512_fnmadd_ps(_mm512_set1_ps((float)zp[(size_t)r * ng + g]), csv, t);
                const __m512 scale = _mm512_mul_ps(_mm512_set1_ps(sa[(size_t)r * ng + g]), swv);
                f[r][p] = _mm512_fmadd_ps(t, scale, f[r][p]);
            }
        }
    }
    for (int p = 0; p < NP; p++) {
        int cnt = ncols - p * EMBK_PANEL;
        cnt = cnt > EMBK_PANEL ? EMBK_PANEL : cnt;
        const __mmask16 mask = (__mmask16)((1u << cnt) - 1u);
        const __m512 bv = bias ? _mm512_maskz_loadu_ps(mask, bias + p * EMBK_PANEL) : _mm512_setzero_ps();
        for (int r = 0; r < R; r++) {
            const __m512 v = bias ? _mm512_add_ps(f[r][p], bv) : f[r][p];
            _mm512_mask_storeu_ps(c + (size_t)r * ldc + p * EMBK_PANEL, mask, v);
        }
    }
}

#define TILE(R, NP) \
    static T512 void tile_##R##_##NP(const uint8_t *a, int lda, const float *sa, const int32_t *zp, \
                                     const embk_packed_header *h, int panel, const float *bias, float *c, int ldc, \
                                     int ncols, const int8_t *next) { \
        tile(R, NP, a, lda, sa, zp, h, panel, bias, c, ldc, ncols, next); \
    }
TILE(1, 1) TILE(2, 1) TILE(3, 1) TILE(4, 1) TILE(5, 1) TILE(6, 1)
TILE(1, 2) TILE(2, 2) TILE(3, 2) TILE(4, 2) TILE(5, 2) TILE(6, 2)

typedef void (*tile_fn)(const uint8_t *, int, const float *, const int32_t *, const embk_packed_header *, int,
                        const float *, float *, int, int, const int8_t *);
static const tile_fn tiles[2][MR] = {
    {tile_1_1, tile_2_1, tile_3_1, tile_4_1, tile_5_1, tile_6_1},
    {tile_1_2, tile_2_2, tile_3_2, tile_4_2, tile_5_2, tile_6_2},
};

T512 void embk_gemm_avx512(int m, int k, const uint8_t *a, int lda, const float *a_scale, const int32_t *a_zp,
                           const embk_packed_header *h, const float *bias, float *c, int ldc, int n_begin, int n_end) {
    (void)k;
    const int ng = h->ngroups;
    int mb = MB;
    if ((size_t)h->npanels * EMBK_PANEL * 4 * h->k4 > L2_WEIGHTS) {
        const int big = BLOCK_BYTES / (4 * h->k4) / MR * MR;
        mb = big > MB ? big : MB;
    }
    for (int i0 = 0; i0 < m; i0 += mb) {
        const int i1 = i0 + mb < m ? i0 + mb : m;
        for (int j = n_begin; j < n_end; j += 2 * EMBK_PANEL) {
            const int ncols = n_end - j < 2 * EMBK_PANEL ? n_end - j : 2 * EMBK_PANEL;
            const tile_fn *row = tiles[ncols > EMBK_PANEL ? 1 : 0];
            const int8_t *next = i1 - i0 <= PREFETCH_ROWS && j + 2 * EMBK_PANEL < n_end
                ? embk_panel_weights(h, j / EMBK_PANEL + 2) : NULL;
            for (int i = i0; i < i1; i += MR) {
                const int R = i1 - i < MR ? i1 - i : MR;
                row[R - 1](a + (size_t)i * lda, lda, a_scale + (size_t)i * ng, a_zp + (size_t)i * ng, h,
                           j / EMBK_PANEL, bias ? bias + j : NULL, c + (size_t)i * ldc + j, ldc, ncols,
                           i == i0 ? next : NULL);
            }
        }
    }
}

T512 void embk_sums_avx512(int m, const uint8_t *a, int lda, const embk_packed_header *h, int32_t *s) {
    const int ng = h->ngroups, gq = h->group / 4;
    for (int i = 0; i < m; i++) {
        for (int panel = 0; panel < h->npanels; panel++) {
            const int8_t *w = embk_panel_weights(h, panel);
            for (int g = 0; g < ng; g++) {
                __m512i acc = _mm512_setzero_si512();
                const int q0 = g * gq, q1 = q0 + gq < h->k4 ? q0 + gq : h->k4;
                for (int q = q0; q < q1; q++) {
                    int32_t quad;
                    memcpy(&quad, a + (size_t)i * lda + 4 * (size_t)q, 4);
                    acc = _mm512_dpbusd_epi32(acc, _mm512_set1_epi32(quad), _mm512_load_si512((const void *)(w + (size_t)q * 64)));
                }
                int32_t lanes[EMBK_PANEL];
                _mm512_storeu_si512(lanes, acc);
                for (int col = 0; col < EMBK_PANEL && panel * EMBK_PANEL + col < h->n; col++)
                    s[((size_t)i * h->n + panel * EMBK_PANEL + col) * ng + g] = lanes[col];
            }
        }
    }
}
#endif
