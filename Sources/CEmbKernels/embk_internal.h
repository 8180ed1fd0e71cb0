// Private to CEmbKernels: the packed weight blob's layout, shared by the packer and every GEMM path.
#ifndef EMBK_INTERNAL_H
#define EMBK_INTERNAL_H

// `target_clones` has the loader call a compiler-generated resolver (an ifunc) while it relocates,
// before any sanitizer runtime is initialized. Clang instruments that resolver like any function, so
// under -fsanitize=thread (or address) the test binary crashed in __tsan_func_entry before main
// (Scripts/sanitize). Sanitizer builds therefore compile the baseline copy only (EMBK_SANITIZED);
// release builds keep their clones. Delete when clang stops instrumenting ifunc resolvers.
#if defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define EMBK_SANITIZED 1
#endif
#endif
#include "CEmbKernels.h"

// Portable loops built three times (x86-64-v4, v3, baseline), the loader picking the CPU's copy.
#if defined(__x86_64__) && defined(__clang__) && !defined(EMBK_SANITIZED)
#define EMBK_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define EMBK_CLONES
#endif

// Blob layout (all offsets from the blob start, each section 64-byte aligned):
//   header   embk_packed_header
//   weights  int8 [npanels][k4][EMBK_PANEL][4]  quad q of column c of panel p: 4 consecutive k bytes,
//            so one 64-byte load feeds vpdpbusd 16 columns × 4 k; k padded with zeros to 4·k4,
//            columns padded with zero weights to a whole panel
//   colsum   float [npanels][ngroups][EMBK_PANEL]  Σ_{k∈g} q[n][k], to undo the activation zero point
//   scale    float [npanels][ngroups][EMBK_PANEL]  sw[n][g] (0 for padding columns)
// Integers stay below 2^24 for group ≤ 512 (255·127·512 < 2^24), so the float epilogue
// t = (float)sum − (float)zp·colsum is exact and every path computes the same t.
typedef struct {
    int32_t n, k, group, ngroups, npanels, k4;
    int64_t weights_offset, colsum_offset, scale_offset;
    int32_t reserved[4];
} embk_packed_header;

_Static_assert(sizeof(embk_packed_header) == 64, "the header fills one cache line");

enum { EMBK_MAX_GROUP = 512 };

static inline int embk_ngroups(int k, int group) { return (k + group - 1) / group; }
static inline int embk_k4(int k) { return (k + 3) / 4; }

static inline const int8_t *embk_panel_weights(const embk_packed_header *h, int panel) {
    return (const int8_t *)h + h->weights_offset + (size_t)panel * h->k4 * EMBK_PANEL * 4;
}
static inline const float *embk_panel_colsum(const embk_packed_header *h, int panel) {
    return (const float *)((const char *)h + h->colsum_offset) + (size_t)panel * h->ngroups * EMBK_PANEL;
}
static inline const float *embk_panel_scale(const embk_packed_header *h, int panel) {
    return (const float *)((const char *)h + h->scale_offset) + (size_t)panel * h->ngroups * EMBK_PANEL;
}

// embk_quantize_weights for rows with a stride (ldw floats apart; qw stays k bytes a row): symmetric
// int8, ±127, one scale per (row, group) — the weights' quantizer, and the int8 attention twin's for
// Q and K (group = the head width).
void embk_quantize_rows_symmetric(const float *w, int n, int k, int ldw, int group, int8_t *qw, float *w_scale);

// Per-path GEMM entry points (same contract as embk_gemm / embk_gemm_group_sums).
void embk_gemm_scalar(int m, int k, const uint8_t *a, int lda, const float *a_scale, const int32_t *a_zp,
                      const embk_packed_header *h, const float *bias, float *c, int ldc, int n_begin, int n_end);
void embk_gemm_avx2(int m, int k, const uint8_t *a, int lda, const float *a_scale, const int32_t *a_zp,
                    const embk_packed_header *h, const float *bias, float *c, int ldc, int n_begin, int n_end);
void embk_gemm_avx512(int m, int k, const uint8_t *a, int lda, const float *a_scale, const int32_t *a_zp,
                      const embk_packed_header *h, const float *bias, float *c, int ldc, int n_begin, int n_end);
void embk_sums_scalar(int m, const uint8_t *a, int lda, const embk_packed_header *h, int32_t *s);
void embk_sums_avx2(int m, const uint8_t *a, int lda, const embk_packed_header *h, int32_t *s);
void embk_sums_avx512(int m, const uint8_t *a, int lda, const embk_packed_header *h, int32_t *s);

// The portable copies (target_clones), for embk_attention's portable path.
void embk_sgemm_nn_portable(int m, int n, int k, float alpha, const float *a, int lda, const float *b, int ldb,
                            float *c, int ldc, int accumulate);
void embk_softmax_rows_portable(float *x, int m, int n, int ld);
void embk_attention_avx512(int t, int d, float scale, const float *q, const float *k, const float *v, int ld,
                           const float *bias, int ldb, float *out, int ldo, float *scratch);
void embk_attention_q8_avx512(int t, int d, float scale, const float *q, const float *k, const float *v, int ld,
                              const float *bias, int ldb, float *out, int ldo, void *scratch);
void embk_sgemm_nn_avx512(int m, int n, int k, float alpha, const float *a, int lda, const float *b, int ldb,
                          float *c, int ldc, int accumulate);
void embk_softmax_rows_avx512(float *x, int m, int n, int ld);
void embk_add_layernorm_avx512(const float *a, const float *b, float *out, int m, int n,
                               const float *gamma, const float *beta, float eps);

#endif
