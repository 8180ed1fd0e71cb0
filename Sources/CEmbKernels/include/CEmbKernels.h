// CEmbKernels: the int8 encoder's hot loops, in C because they need SIMD intrinsics.
// Everything else of the encoder (layers, batching, pooling) is Swift in EmbModel.
//
// Quantization scheme (Docs/kernel.md has the essay and the accuracy study behind it):
//   weights      int8 symmetric, one scale per (output channel n, group g of `group` inputs)
//   activations  uint8 asymmetric, one scale and zero point per (row m, group g), made on the fly
//   C[m][n] = Σ_g sa[m][g]·sw[n][g]·(Σ_{k∈g} u[m][k]·q[n][k] − zp[m][g]·colsum[n][g]) + bias[n]
// The inner sums are exact int32 on every path; paths differ only in float rounding of the epilogue.
#ifndef CEMBKERNELS_H
#define CEMBKERNELS_H
#include <stddef.h>
#include <stdint.h>
#include "embk_elementwise.h"

/// The instruction-set path of the int8 GEMM and the activation quantizer.
typedef enum { EMBK_PATH_SCALAR = 0, EMBK_PATH_AVX2 = 1, EMBK_PATH_AVX512VNNI = 2 } embk_path;

/// The fastest path this CPU runs (cpuid probe, cached).
embk_path embk_best_path(void);
/// 1 when this CPU can run `path`.
int embk_path_available(embk_path path);
/// "scalar", "avx2" or "avx512-vnni".
const char *embk_path_name(embk_path path);

/// Columns are packed in panels of this many; thread splits of [n_begin, n_end) use multiples of it.
enum { EMBK_PANEL = 16 };

/// Symmetric per-(row, group) quantization of a float weight matrix w: (n, k) -> qw: (n, k), w_scale: (n, ngroups).
void embk_quantize_weights(const float *w, int n, int k, int group, int8_t *qw, float *w_scale);
/// Bytes of the packed form of an (n, k) weight matrix (64-byte aligned blob).
size_t embk_packed_size(int n, int k, int group);
/// Packs quantized weights (panels of EMBK_PANEL columns × 4 k-bytes, k padded with zeros), their
/// scales and the per-group column sums into `packed` (64-byte aligned, embk_packed_size bytes).
void embk_pack_weights(const int8_t *qw, const float *w_scale, int n, int k, int group, void *packed);

/// Asymmetric per-(row, group) uint8 quantization of activations x: (m, k) stride ldx -> q: (m, ldq),
/// ldq >= round_up(k, 4) (pad bytes are written as 0); a_scale, a_zp: (m, ngroups).
void embk_quantize_rows(embk_path path, const float *x, int m, int k, int ldx, int group,
                        uint8_t *q, int ldq, float *a_scale, int32_t *a_zp);

/// embk_quantize_rows of GELU(x), x left as it is: FFN2's input from FFN1's output in one pass (the AVX-512
/// path never writes GELU's floats). Same bytes, scales and zero points as embk_gelu on the rows followed
/// by embk_quantize_rows(path, ...). group <= 512, as for packed weights.
void embk_gelu_quantize_rows(embk_path path, const float *x, int m, int k, int ldx, int group,
                             uint8_t *q, int ldq, float *a_scale, int32_t *a_zp);

/// The grouped int8 GEMM with its float epilogue, writing columns [n_begin, n_end) of c: (m, ldc).
/// n_begin must be a multiple of EMBK_PANEL. bias may be NULL.
void embk_gemm(embk_path path, int m, int n, int k, int group, const uint8_t *a, int lda,
               const float *a_scale, const int32_t *a_zp, const void *packed, const float *bias,
               float *c, int ldc, int n_begin, int n_end);

/// Test hook: the raw per-group sums s[(i*n + j)*ngroups + g] = Σ_{k∈g} u[i][k]·q[j][k], exact on every path.
void embk_gemm_group_sums(embk_path path, int m, int n, int k, int group, const uint8_t *a, int lda,
                          const void *packed, int32_t *s);

/// Float GEMM, row-major, "NN": C[i][j] (+)= alpha · Σ_p A[i][p]·B[p][j].
/// A: (m, k) lda, B: (k, n) ldb, C: (m, n) ldc. For attention and the float reference pass.
void embk_sgemm_nn(int m, int n, int k, float alpha, const float *a, int lda, const float *b, int ldb,
                   float *c, int ldc, int accumulate);

/// A spin-wait hint (x86 `pause`): the encoder's thread pool calls it in its waiting loops, so a
/// waiting thread yields the core's resources and the memory bus instead of hammering a cache line.
static inline void embk_spin_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/// Floats of scratch embk_attention needs for t tokens and heads of d.
size_t embk_attention_scratch(int t, int d);
/// One head of self-attention for one text: out (t, d; row stride ldo) = softmax(scale·Q·Kᵀ + B)·V, where
/// q, k, v are (t, d) with row stride ld (columns of the fused QKV rows). B is an optional additive
/// score bias: `bias` points at this head's (t, t) block of a [heads][seq][seq] table with row stride
/// `ldb` (MPNet's relative position bias), or is NULL (BERT: no bias). `path` EMBK_PATH_AVX512VNNI
/// runs the fused AVX-512 kernel, any other the portable steps. scratch: embk_attention_scratch floats.
void embk_attention(embk_path path, int t, int d, float scale, const float *q, const float *k, const float *v, int ld,
                    const float *bias, int ldb, float *out, int ldo, float *scratch);

enum { EMBK_ATTENTION_Q8_MAX_TOKENS = 512 };
/// Floats of scratch embk_attention_q8 needs for t tokens and heads of d (any alignment: the kernel
/// aligns its sections itself).
size_t embk_attention_q8_scratch(int t, int d);
/// One head of self-attention with int8 operands (int8 scheme v3, Docs/kernel.md), same arguments and
/// result as embk_attention: Q and K quantized symmetric int8 per (row, head), scores
/// `(Σ q·k)·sq·scale·sk (+ B)` from exact integer dot products, e = exp(s − max) (embk_exp's
/// polynomial, fused multiply-adds in a fixed order), probabilities u = rint(32767·e) (15 bits)
/// normalized by their exact integer sum Σu, V int8 per (head, column) over the text's rows, and
/// out = (Σ u·v)·(sv·(1/Σu)). Every path gives the same bits (the AVX-512 VNNI kernel and the portable
/// twin do the same float operations in the same order on the same exact integers).
/// t ≤ EMBK_ATTENTION_Q8_MAX_TOKENS: beyond it the integer sums of P·V could overflow.
void embk_attention_q8(embk_path path, int t, int d, float scale, const float *q, const float *k, const float *v, int ld,
                       const float *bias, int ldb, float *out, int ldo, float *scratch);

/// The int8 multiply-add peak loop (peak.c): `iterations` rounds of the path's best int8 multiply-add
/// instruction on registers only, on the calling thread. Returns the MACs executed (0 when the CPU
/// cannot run `path`); MACs divided by the seconds it took is that thread's int8 peak.
int64_t embk_peak_macs(embk_path path, int64_t iterations);
/// MACs of one iteration of embk_peak_macs on `path`.
int64_t embk_peak_macs_per_iteration(embk_path path);
/// Reads every 64-byte line of `buffer` (64-byte aligned, `bytes` a multiple of 64) once, on the
/// calling thread, and returns a value that depends on every line (peak.c): bytes over seconds is
/// the thread's memory read bandwidth when the buffer is far larger than the last-level cache.
uint64_t embk_stream_read(const void *buffer, size_t bytes);

#endif
