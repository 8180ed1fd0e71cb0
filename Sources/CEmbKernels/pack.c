// Weight quantization (float -> int8 per (channel, group)) and packing into the panel layout of
// embk_internal.h. Runs once at model load (about 10 ms for this model), so it is plain C.
#include "embk_internal.h"
#include <math.h>
#include <string.h>

void embk_quantize_weights(const float *w, int n, int k, int group, int8_t *qw, float *w_scale) {
    embk_quantize_rows_symmetric(w, n, k, k, group, qw, w_scale);
}

void embk_quantize_rows_symmetric(const float *w, int n, int k, int ldw, int group, int8_t *qw, float *w_scale) {
    const int ngroups = embk_ngroups(k, group);
    for (int j = 0; j < n; j++) {
        for (int g = 0; g < ngroups; g++) {
            const int k0 = g * group, k1 = k0 + group < k ? k0 + group : k;
            float amax = 0.0f;
            for (int p = k0; p < k1; p++) amax = fmaxf(amax, fabsf(w[(size_t)j * ldw + p]));
            // Symmetric, range ±127 (not -128) so that negating a weight never overflows.
            const float scale = amax / 127.0f;
            const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
            w_scale[(size_t)j * ngroups + g] = scale;
            for (int p = k0; p < k1; p++) {
                float q = rintf(w[(size_t)j * ldw + p] * inv);
                q = q > 127.0f ? 127.0f : (q < -127.0f ? -127.0f : q);
                qw[(size_t)j * k + p] = (int8_t)q;
            }
        }
    }
}

static size_t align64(size_t x) { return (x + 63) & ~(size_t)63; }

size_t embk_packed_size(int n, int k, int group) {
    const size_t npanels = (size_t)(n + EMBK_PANEL - 1) / EMBK_PANEL;
    const size_t ngroups = (size_t)embk_ngroups(k, group);
    return sizeof(embk_packed_header) + align64(npanels * embk_k4(k) * EMBK_PANEL * 4)
        + 2 * align64(npanels * ngroups * EMBK_PANEL * sizeof(float));
}

void embk_pack_weights(const int8_t *qw, const float *w_scale, int n, int k, int group, void *packed) {
    memset(packed, 0, embk_packed_size(n, k, group));
    embk_packed_header *h = packed;
    h->n = n;
    h->k = k;
    h->group = group;
    h->ngroups = embk_ngroups(k, group);
    h->npanels = (n + EMBK_PANEL - 1) / EMBK_PANEL;
    h->k4 = embk_k4(k);
    h->weights_offset = sizeof(embk_packed_header);
    h->colsum_offset = h->weights_offset + align64((size_t)h->npanels * h->k4 * EMBK_PANEL * 4);
    h->scale_offset = h->colsum_offset + align64((size_t)h->npanels * h->ngroups * EMBK_PANEL * sizeof(float));
    for (int j = 0; j < n; j++) {
        const int panel = j / EMBK_PANEL, col = j % EMBK_PANEL;
        int8_t *dst = (int8_t *)embk_panel_weights(h, panel);
        float *colsum = (float *)embk_panel_colsum(h, panel);
        float *scale = (float *)embk_panel_scale(h, panel);
        for (int p = 0; p < k; p++) {
            const int8_t v = qw[(size_t)j * k + p];
            dst[((size_t)(p / 4) * EMBK_PANEL + col) * 4 + p % 4] = v;
            colsum[(size_t)(p / group) * EMBK_PANEL + col] += (float)v;
        }
        for (int g = 0; g < h->ngroups; g++) scale[(size_t)g * EMBK_PANEL + col] = w_scale[(size_t)j * h->ngroups + g];
    }
}
