// One head of self-attention: the dispatch and the portable path (transpose, float GEMM, softmax,
// float GEMM: the steps the AVX-512 kernel fuses, in their portable copies).
#include "embk_internal.h"

size_t embk_attention_scratch(int t, int d) {
    // Kᵀ (d, t), then the scores: all t rows here; in the AVX-512 kernel a block of 8 rows, with
    // rows padded to a multiple of 16 floats.
    const size_t tp = (size_t)(t + 15) & ~(size_t)15;
    return (d + (tp > 8 ? tp : 8)) * tp;
}

void embk_attention(embk_path path, int t, int d, float scale, const float *q, const float *k, const float *v, int ld,
                    const float *bias, int ldb, float *out, int ldo, float *scratch) {
    if (t <= 0) return;
#if defined(__x86_64__)
    if (path == EMBK_PATH_AVX512VNNI) return embk_attention_avx512(t, d, scale, q, k, v, ld, bias, ldb, out, ldo, scratch);
#endif
    float *kt = scratch, *scores = scratch + (size_t)d * t;
    embk_transpose(k, t, d, ld, kt, t);
    embk_sgemm_nn_portable(t, t, d, scale, q, ld, kt, t, scores, t, 0);
    if (bias)  // after the scaling, as MPNet adds it: scale·(q·k) + b
        for (int i = 0; i < t; i++)
            for (int j = 0; j < t; j++) scores[(size_t)i * t + j] += bias[(size_t)i * ldb + j];
    embk_softmax_rows_portable(scores, t, t, t);
    embk_sgemm_nn_portable(t, d, t, 1, scores, t, v, ld, out, ldo, 0);
}
