// Activation quantization, per (row, group), asymmetric uint8: x ≈ scale·(u − zp).
// Asymmetric because the inputs of this model's linear layers are lopsided (GELU outputs are ≥ −0.17;
// LayerNorm outputs carry a few large dimensions), and a zero point buys almost a bit of resolution
// there (Docs/kernel.md). One body, compiled three times (baseline, AVX2, AVX-512) and picked by
// `path`; the body has no a·b+c pattern the compiler could fuse differently per ISA, so every copy
// gives the same bytes (tests check it).
#include "embk_internal.h"
#include "embk_elementwise.h"
#include <math.h>
#include <string.h>

// GELU + quantize works through a buffer of this many floats (8 KiB, in L1): whole groups of a row at a time.
enum { GQ_BUFFER = 2048 };
_Static_assert(GQ_BUFFER >= EMBK_MAX_GROUP, "a group fits the buffer");

static inline __attribute__((always_inline)) void quantize_body(const float *x, int m, int k, int ldx, int group,
                                                                uint8_t *q, int ldq, float *a_scale, int32_t *a_zp) {
    const int ngroups = embk_ngroups(k, group);
    for (int r = 0; r < m; r++) {
        const float *xr = x + (size_t)r * ldx;
        uint8_t *qr = q + (size_t)r * ldq;
        for (int g = 0; g < ngroups; g++) {
            const int k0 = g * group, k1 = k0 + group < k ? k0 + group : k;
            float lo = 0.0f, hi = 0.0f;  // the range always includes 0, so 0 is exact
            for (int p = k0; p < k1; p++) {
                lo = xr[p] < lo ? xr[p] : lo;
                hi = xr[p] > hi ? xr[p] : hi;
            }
            const float range = hi - lo;
            if (range == 0.0f) {  // an all-zero group: u = zp = 0 dequantizes to exactly 0
                a_scale[(size_t)r * ngroups + g] = 0.0f;
                a_zp[(size_t)r * ngroups + g] = 0;
                for (int p = k0; p < k1; p++) qr[p] = 0;
                continue;
            }
            const float scale = range / 255.0f;
            const float inv = 255.0f / range;
            float zp = rintf(-lo * inv);
            zp = zp < 0.0f ? 0.0f : (zp > 255.0f ? 255.0f : zp);
            a_scale[(size_t)r * ngroups + g] = scale;
            a_zp[(size_t)r * ngroups + g] = (int32_t)zp;
            for (int p = k0; p < k1; p++) {
                float u = rintf(xr[p] * inv) + zp;
                u = u < 0.0f ? 0.0f : (u > 255.0f ? 255.0f : u);
                qr[p] = (uint8_t)u;
            }
        }
        for (int p = k; p < ldq; p++) qr[p] = 0;  // pad bytes meet zero weights
    }
}

static void quantize_scalar(const float *x, int m, int k, int ldx, int g, uint8_t *q, int ldq, float *s, int32_t *z) {
    quantize_body(x, m, k, ldx, g, q, ldq, s, z);
}
#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) static void quantize_avx2(const float *x, int m, int k, int ldx, int g,
                                                              uint8_t *q, int ldq, float *s, int32_t *z) {
    quantize_body(x, m, k, ldx, g, q, ldq, s, z);
}
#include "embk_avx512.h"
#define T512Q __attribute__((target("avx512f,avx512bw,avx512vl")))
#define T512GQ __attribute__((target("avx512f,avx512bw,avx512vl,fma")))  // gelu512 needs fma

// The body with explicit vectors: the compiler leaves the min/max reductions of quantize_body scalar.
// Same operations per element, so same bytes: min/max are exact, and rint(x·inv) + zp is an exact
// integer below 2^24, so converting first (round to nearest even, as rintf) and adding and clamping
// in int32 gives what the float formula gives. Each row runs in two phases over chunks of groups:
// first every group's range, then scales and bytes. One group at a time made each group a chain of
// dependent latencies (reduce, divide, round) that stalled the bytes behind it; this is 1.5-1.8x
// faster (m = 115, k = 1536).
enum { QCHUNK = 32 };

// Phase 2 of a chunk of groups [g0, g1) of one row: scales, zero points and bytes from each group's
// range (lo, hi indexed from g0); src[p - base] is the row's value at column p.
static inline T512Q __attribute__((always_inline)) void bytes_of_groups_avx512(
    const float *src, int base, int g0, int g1, int k, int group, const float *lo, const float *hi, uint8_t *qr,
    float *scale_row, int32_t *zp_row) {
    for (int g = g0; g < g1; g++) {
        const int k0 = g * group, k1 = k0 + group < k ? k0 + group : k;
        const float range = hi[g - g0] - lo[g - g0];
        // An all-zero group: inv = zp = 0 writes u = 0 and scale 0, as quantize_body does.
        float inv = 0.0f, zp = 0.0f;
        if (range != 0.0f) {
            inv = 255.0f / range;
            zp = rintf(-lo[g - g0] * inv);
            zp = zp < 0.0f ? 0.0f : (zp > 255.0f ? 255.0f : zp);
        }
        scale_row[g] = range / 255.0f;
        zp_row[g] = (int32_t)zp;
        const __m512 vinv = _mm512_set1_ps(inv);
        const __m512i vzp = _mm512_set1_epi32((int32_t)zp), vzero = _mm512_setzero_si512();
        for (int p = k0; p < k1; p += 16) {
            const __mmask16 mk = (__mmask16)(k1 - p >= 16 ? 0xFFFF : (1u << (k1 - p)) - 1u);
            const __m512i u = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(mk, src + (p - base)), vinv));
            // max with 0 here, min with 255 by the saturating narrow store
            _mm512_mask_cvtusepi32_storeu_epi8(qr + p, mk, _mm512_max_epi32(vzero, _mm512_add_epi32(u, vzp)));
        }
    }
}

static T512Q void quantize_avx512(const float *x, int m, int k, int ldx, int group, uint8_t *q, int ldq, float *a_scale,
                                  int32_t *a_zp) {
    const int ngroups = embk_ngroups(k, group);
    float lo[QCHUNK], hi[QCHUNK];
    for (int r = 0; r < m; r++) {
        const float *xr = x + (size_t)r * ldx;
        uint8_t *qr = q + (size_t)r * ldq;
        for (int g0 = 0; g0 < ngroups; g0 += QCHUNK) {
            const int g1 = g0 + QCHUNK < ngroups ? g0 + QCHUNK : ngroups;
            for (int g = g0; g < g1; g++) {
                const int k0 = g * group, k1 = k0 + group < k ? k0 + group : k;
                __m512 vlo = _mm512_setzero_ps(), vhi = _mm512_setzero_ps();
                for (int p = k0; p < k1; p += 16) {
                    const __mmask16 mk = (__mmask16)(k1 - p >= 16 ? 0xFFFF : (1u << (k1 - p)) - 1u);
                    const __m512 v = _mm512_maskz_loadu_ps(mk, xr + p);
                    vlo = _mm512_min_ps(vlo, v);
                    vhi = _mm512_max_ps(vhi, v);
                }
                lo[g - g0] = _mm512_reduce_min_ps(vlo);
                hi[g - g0] = _mm512_reduce_max_ps(vhi);
            }
            bytes_of_groups_avx512(xr, 0, g0, g1, k, group, lo, hi, qr, a_scale + (size_t)r * ngroups, a_zp + (size_t)r * ngroups);
        }
        for (int p = k; p < ldq; p++) qr[p] = 0;
    }
}

// GELU fused into the quantizer (FFN1's output is read once; GELU's floats never go back to memory):
// phase 1 computes GELU of a chunk of groups into an L1 buffer, taking each group's range as the values
// leave the registers, phase 2 is the quantizer's. gelu512 is embk_gelu's x86-64-v4 copy operation for
// operation (the one the loader picks on any CPU that runs this path), so the bytes are those of
// embk_gelu followed by embk_quantize_rows (test).
static T512GQ void gelu_quantize_avx512(const float *x, int m, int k, int ldx, int group, uint8_t *q, int ldq,
                                       float *a_scale, int32_t *a_zp) {
    const int ngroups = embk_ngroups(k, group);
    const int chunk = GQ_BUFFER / group < QCHUNK ? GQ_BUFFER / group : QCHUNK;
    float lo[QCHUNK], hi[QCHUNK];
    float buffer[GQ_BUFFER];
    for (int r = 0; r < m; r++) {
        const float *xr = x + (size_t)r * ldx;
        uint8_t *qr = q + (size_t)r * ldq;
        for (int g0 = 0; g0 < ngroups; g0 += chunk) {
            const int g1 = g0 + chunk < ngroups ? g0 + chunk : ngroups;
            const int base = g0 * group;
            for (int g = g0; g < g1; g++) {
                const int k0 = g * group, k1 = k0 + group < k ? k0 + group : k;
                __m512 vlo = _mm512_setzero_ps(), vhi = _mm512_setzero_ps();
                for (int p = k0; p < k1; p += 16) {
                    const __mmask16 mk = (__mmask16)(k1 - p >= 16 ? 0xFFFF : (1u << (k1 - p)) - 1u);
                    // masked-off lanes are GELU(0) = 0, which every range already includes
                    const __m512 v = gelu512(_mm512_maskz_loadu_ps(mk, xr + p));
                    _mm512_mask_storeu_ps(buffer + (p - base), mk, v);
                    vlo = _mm512_min_ps(vlo, v);
                    vhi = _mm512_max_ps(vhi, v);
                }
                lo[g - g0] = _mm512_reduce_min_ps(vlo);
                hi[g - g0] = _mm512_reduce_max_ps(vhi);
            }
            bytes_of_groups_avx512(buffer, base, g0, g1, k, group, lo, hi, qr, a_scale + (size_t)r * ngroups,
                                   a_zp + (size_t)r * ngroups);
        }
        for (int p = k; p < ldq; p++) qr[p] = 0;
    }
}
#endif

void embk_quantize_rows(embk_path path, const float *x, int m, int k, int ldx, int group,
                        uint8_t *q, int ldq, float *a_scale, int32_t *a_zp) {
#if defined(__x86_64__)
    if (path == EMBK_PATH_AVX512VNNI) return quantize_avx512(x, m, k, ldx, group, q, ldq, a_scale, a_zp);
    if (path == EMBK_PATH_AVX2) return quantize_avx2(x, m, k, ldx, group, q, ldq, a_scale, a_zp);
#endif
    quantize_scalar(x, m, k, ldx, group, q, ldq, a_scale, a_zp);
}

// The portable GELU + quantize: embk_gelu on a copy of a chunk of whole groups, then the path's quantizer
// on that chunk (groups are quantized independently, so chunk by chunk gives the bytes of whole rows):
// the very two steps, so the same bytes by construction. AVX2 and scalar CPUs.
static void gelu_quantize_steps(embk_path path, const float *x, int m, int k, int ldx, int group, uint8_t *q, int ldq,
                                float *a_scale, int32_t *a_zp) {
    float buffer[GQ_BUFFER];
    const int ngroups = embk_ngroups(k, group), chunk = GQ_BUFFER / group;
    for (int r = 0; r < m; r++) {
        for (int g0 = 0; g0 < ngroups; g0 += chunk) {
            const int base = g0 * group, last = g0 + chunk >= ngroups;
            const int width = last ? k - base : chunk * group;
            memcpy(buffer, x + (size_t)r * ldx + base, sizeof(float) * (size_t)width);
            embk_gelu(buffer, (size_t)width);
            // the last chunk also writes the row's pad bytes, up to ldq
            embk_quantize_rows(path, buffer, 1, width, width, group, q + (size_t)r * ldq + base, last ? ldq - base : width,
                               a_scale + (size_t)r * ngroups + g0, a_zp + (size_t)r * ngroups + g0);
        }
    }
}

// 1 when the loader picked embk_gelu's x86-64-v4 copy, the one gelu512 reproduces: AVX-512 F/BW/VL (the
// VNNI path's) and CD/DQ. Sanitizer builds have no copies (embk_internal.h): their GELU is the baseline
// one, without fma, so they take the portable steps.
static int gelu_is_v4(void) {
#if defined(__x86_64__) && !defined(EMBK_SANITIZED)
    static int cached = -1;  // benign race: every thread computes the same value
    if (cached < 0) {
        __builtin_cpu_init();
        cached = embk_path_available(EMBK_PATH_AVX512VNNI) && __builtin_cpu_supports("avx512cd")
              && __builtin_cpu_supports("avx512dq");
    }
    return cached;
#else
    return 0;
#endif
}

void embk_gelu_quantize_rows(embk_path path, const float *x, int m, int k, int ldx, int group,
                             uint8_t *q, int ldq, float *a_scale, int32_t *a_zp) {
#if defined(__x86_64__)
    if (path == EMBK_PATH_AVX512VNNI && gelu_is_v4()) return gelu_quantize_avx512(x, m, k, ldx, group, q, ldq, a_scale, a_zp);
#endif
    gelu_quantize_steps(path, x, m, k, ldx, group, q, ldq, a_scale, a_zp);
}
