// Private to CEmbKernels: what the int8 attention's two paths (attention_q8.c, the portable twin;
// attention_q8_avx512.c, the VNNI kernel) must share to give the same bits: the scratch carving, the
// quantizer's arithmetic and the exp polynomial's operation order.
#ifndef EMBK_ATTENTION_Q8_H
#define EMBK_ATTENTION_Q8_H
#include <math.h>
#include <stdint.h>
#include <string.h>

// No contraction of a·b + c into fma: every fused multiply-add here is written as one, so that each
// path does exactly the operations written.
#pragma STDC FP_CONTRACT OFF

enum { Q8_RB = 8 };  // query rows per block of the VNNI kernel

// Probabilities are integers u = rint(e·Q8_P_ONE), e = exp(s − max) ∈ (0, 1]: 15 bits, so P·V runs on
// vpdpwssd (int16 pairs). 8 bits (vpdpbusd) cost all-mpnet-base-v2 its accuracy (min cosine 0.9943 on
// the public texts, against 0.9970 with 15 bits; Docs/kernel.md). The sums Σ u·v stay below 2³¹ for
// t ≤ EMBK_ATTENTION_Q8_MAX_TOKENS: 32767·127·512 = 2 130 641 408.
#define Q8_P_ONE 32767.0f

static inline int q8_round_up(int x, int m) { return (x + m - 1) / m * m; }

// Sections of the scratch, each 64-byte aligned, handed out in order from `*at`.
static inline void *q8_carve(char **at, size_t bytes) {
    char *p = (char *)(((uintptr_t)*at + 63) & ~(uintptr_t)63);
    *at = p + bytes;
    return p;
}

// The VNNI kernel's sections (bytes), with tp = t rounded up to 16 keys, t2 to 2, d4 = d to 4 and
// d16 to 16: Q + 128 (t × d4), K int8 row-major (tp × d4), K packed (tp × d4), V packed as int16
// (d16 × t2 × 2), sq, sk and 128·Σk (tp each), sv (d16), one block's scores (RB × tp floats) and
// u (RB × tp int16).
static inline size_t q8_vnni_bytes(int t, int d) {
    const size_t tp = (size_t)q8_round_up(t, 16), t2 = (size_t)q8_round_up(t, 2);
    const size_t d4 = (size_t)q8_round_up(d, 4), d16 = (size_t)q8_round_up(d, 16);
    return (size_t)t * d4 + 2 * tp * d4 + 2 * d16 * t2 + 4 * (3 * tp + d16) + Q8_RB * tp * 6 + 11 * 64;
}
// The twin's: Q, K, V int8 (t × d each), sq, sk (t), sv (d), one row's scores (t floats), u (t int32)
// and P·V's sums (d int32).
static inline size_t q8_twin_bytes(int t, int d) {
    return 3 * (size_t)t * d + 4 * (4 * (size_t)t + 2 * (size_t)d) + 10 * 64;
}

// Symmetric int8 of a slice whose largest magnitude is `amax`: scale amax/127, values rint(x·127/amax)
// clamped to ±127 (a slice of zeros gets scale 0 and zeros): embk_quantize_weights' formulas, which
// the twin calls for Q and K (embk_quantize_rows_symmetric) and these spell out for V and the VNNI kernel.
static inline float q8_scale(float amax) { return amax / 127.0f; }
static inline float q8_inverse(float amax) { return amax > 0.0f ? 127.0f / amax : 0.0f; }

// e^x for x ≤ 0, as the probabilities need it (15 bits; scheme v3's own, cheaper than embk_exp: on Zen 4
// the float exp was a quarter of the int8 kernel's time): x = n·ln2 + r with n = rint(x·log2 e) and
// |r| ≤ ln2/2, a degree-5 polynomial fitted for relative error (≤ 1.9e-7 in float), times 2ⁿ built
// from its exponent bits (n ∈ [-126, 0]: a normal float; one correctly rounded product). The VNNI
// kernel does these operations in this order; the twin's loops vectorize (no libm call).
#define Q8_EXP_C5 0.00829764548689127f
#define Q8_EXP_C4 0.04191538318991661f
#define Q8_EXP_C3 0.16667574644088745f
#define Q8_EXP_C2 0.49998894333839417f
#define Q8_EXP_C1 0.9999997019767761f
#define Q8_EXP_C0 1.0000001192092896f
static inline float q8_exp(float x) {
    x = fmaxf(x, -87.0f);  // keeps n ≥ -126 and r in range whatever x is
    const float n = rintf(x * 1.44269504088896341f);
    float r = fmaf(-n, 0.693359375f, x);
    r = fmaf(n, 2.12194440e-4f, r);
    float p = Q8_EXP_C5;
    p = fmaf(p, r, Q8_EXP_C4);
    p = fmaf(p, r, Q8_EXP_C3);
    p = fmaf(p, r, Q8_EXP_C2);
    p = fmaf(p, r, Q8_EXP_C1);
    p = fmaf(p, r, Q8_EXP_C0);
    const int32_t bits = ((int32_t)n + 127) << 23;
    float two_n;
    memcpy(&two_n, &bits, sizeof two_n);
    return p * two_n;
}

#endif
