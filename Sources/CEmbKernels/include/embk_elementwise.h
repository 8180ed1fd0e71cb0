// Element-wise float kernels of the encoder: LayerNorm with the residual add fused, exact-erf GELU,
// row softmax. Each is one plain C loop that the compiler vectorizes; `target_clones` builds an
// AVX-512, an AVX2 and a baseline copy and the loader picks one at start (ifunc), so there are no
// per-path twins to keep in step here. erf and exp are our own polynomials (not libm) so every copy
// computes the same formula; tests check them against libm.
#ifndef EMBK_ELEMENTWISE_H
#define EMBK_ELEMENTWISE_H
#include <stddef.h>

// out[r] = LayerNorm(a[r] + b[r]) * gamma + beta, rows of n floats; b may be NULL; out may alias a or b.
// a, b, out: (m, n) with row stride n.
void embk_add_layernorm(const float *a, const float *b, float *out, int m, int n,
                        const float *gamma, const float *beta, float eps);

// x = x * 0.5 * (1 + erf(x / sqrt(2))), in place (BERT's exact "gelu", not the tanh approximation).
void embk_gelu(float *x, size_t count);

// Each of m rows (n floats, stride ld): x = exp(x - max) / sum, in place.
void embk_softmax_rows(float *x, int m, int n, int ld);

// dst (cols, ldd) = srcᵀ where src is (rows, cols) with row stride lds.
void embk_transpose(const float *src, int rows, int cols, int lds, float *dst, int ldd);

// Our erf and exp, exposed for tests (max abs error vs libm: erf 4e-7, exp 1e-7 relative).
float embk_erf(float x);
float embk_exp(float x);

#endif
