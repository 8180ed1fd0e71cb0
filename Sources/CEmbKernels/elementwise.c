// Element-wise float kernels: LayerNorm(+residual), GELU, softmax. See embk_elementwise.h.
#include "embk_elementwise.h"
#include "embk_internal.h"
#include <math.h>
#include <string.h>

// erf as a rational function of x on [-4, 4] (erf is ±1 to float precision beyond), the minimax fit
// Eigen uses for its vectorized erf (Eigen/src/Core/arch/Default/GenericPacketMathFunctions.h,
// generic_fast_erf_float). Branch-free, so it vectorizes.
static inline float erf_rational(float x) {
    x = x < -4.0f ? -4.0f : (x > 4.0f ? 4.0f : x);
    const float x2 = x * x;
    float p = -2.72614225801306e-10f;
    p = p * x2 + 2.77068142495902e-08f;
    p = p * x2 + -2.10102402082508e-06f;
    p = p * x2 + -5.69250639462346e-05f;
    p = p * x2 + -7.34990630326855e-04f;
    p = p * x2 + -2.95459980854025e-03f;
    p = p * x2 + -1.60960333262415e-02f;
    p = p * x;
    float q = -1.45660718464996e-05f;
    q = q * x2 + -2.13374055278905e-04f;
    q = q * x2 + -1.68282697438203e-03f;
    q = q * x2 + -7.37332916720468e-03f;
    q = q * x2 + -1.42647390514189e-02f;
    return p / q;
}

// exp by range reduction x = n·ln2 + r, |r| ≤ ln2/2, and a degree-6 polynomial for e^r (Cephes expf
// coefficients), then scaling by 2^n through the exponent bits. Inputs below -87 flush to 0, which
// is all softmax needs (its inputs are ≤ 0).
static inline float exp_poly(float x) {
    x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    const float n = __builtin_floorf(x * 1.44269504088896341f + 0.5f);
    const float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int bits = ((int)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

float embk_erf(float x) { return erf_rational(x); }
float embk_exp(float x) { return exp_poly(x); }

EMBK_CLONES
void embk_gelu(float *x, size_t count) {
    for (size_t i = 0; i < count; i++) {
        const float v = x[i];
        x[i] = 0.5f * v * (1.0f + erf_rational(v * 0.70710678118654752f));
    }
}

EMBK_CLONES
static void add_layernorm_portable(const float *a, const float *b, float *out, int m, int n,
                                   const float *gamma, const float *beta, float eps) {
    for (int r = 0; r < m; r++) {
        const float *ar = a + (size_t)r * n;
        const float *br = b ? b + (size_t)r * n : NULL;
        float *o = out + (size_t)r * n;
        float sum = 0.0f;
        for (int i = 0; i < n; i++) {
            const float v = br ? ar[i] + br[i] : ar[i];
            o[i] = v;
            sum += v;
        }
        const float mean = sum / (float)n;
        // Two passes (mean, then squared deviations) rather than E[x²] − mean²: the hidden states of
        // this model carry a few large dimensions, and the one-pass form loses digits to cancellation.
        float var = 0.0f;
        for (int i = 0; i < n; i++) {
            const float d = o[i] - mean;
            var += d * d;
        }
        const float inv = 1.0f / sqrtf(var / (float)n + eps);
        for (int i = 0; i < n; i++) o[i] = (o[i] - mean) * inv * gamma[i] + beta[i];
    }
}

EMBK_CLONES
void embk_softmax_rows_portable(float *x, int m, int n, int ld) {
    for (int r = 0; r < m; r++) {
        float *row = x + (size_t)r * ld;
        float max = row[0];
        for (int i = 1; i < n; i++) max = row[i] > max ? row[i] : max;
        float sum = 0.0f;
        for (int i = 0; i < n; i++) {
            row[i] = exp_poly(row[i] - max);
            sum += row[i];
        }
        const float inv = 1.0f / sum;
        for (int i = 0; i < n; i++) row[i] *= inv;
    }
}

EMBK_CLONES
void embk_transpose(const float *src, int rows, int cols, int lds, float *dst, int ldd) {
    for (int c = 0; c < cols; c++)
        for (int r = 0; r < rows; r++) dst[(size_t)c * ldd + r] = src[(size_t)r * lds + c];
}

void embk_add_layernorm(const float *a, const float *b, float *out, int m, int n,
                        const float *gamma, const float *beta, float eps) {
#if defined(__x86_64__)
    if (embk_best_path() == EMBK_PATH_AVX512VNNI) return embk_add_layernorm_avx512(a, b, out, m, n, gamma, beta, eps);
#endif
    add_layernorm_portable(a, b, out, m, n, gamma, beta, eps);
}

void embk_softmax_rows(float *x, int m, int n, int ld) {
#if defined(__x86_64__)
    if (embk_best_path() == EMBK_PATH_AVX512VNNI) return embk_softmax_rows_avx512(x, m, n, ld);
#endif
    embk_softmax_rows_portable(x, m, n, ld);
}
