#include "CKernels.h"


RCNN_CLONES
void rcnn_bilinear_accumulate(float *acc, const float *base, int c, const long *offsets,
                              const float *weights, int n) {
    for (int s = 0; s < n; s++) {
        const float *f0 = base + offsets[4 * s] * c, *f1 = base + offsets[4 * s + 1] * c;
        const float *f2 = base + offsets[4 * s + 2] * c, *f3 = base + offsets[4 * s + 3] * c;
        float w0 = weights[4 * s], w1 = weights[4 * s + 1], w2 = weights[4 * s + 2], w3 = weights[4 * s + 3];
        for (int ch = 0; ch < c; ch++) acc[ch] += w0 * f0[ch] + w1 * f1[ch] + w2 * f2[ch] + w3 * f3[ch];
    }
}

void rcnn_transpose(const float *src, int rows, int cols, long src_ld, float *dst, long dst_ld) {
    /* Blocks of 32 x 32 so both sides stay in cache. */
    for (int i0 = 0; i0 < rows; i0 += 32) {
        int i1 = i0 + 32 < rows ? i0 + 32 : rows;
        for (int j0 = 0; j0 < cols; j0 += 32) {
            int j1 = j0 + 32 < cols ? j0 + 32 : cols;
            for (int i = i0; i < i1; i++)
                for (int j = j0; j < j1; j++) dst[j * dst_ld + i] = src[i * src_ld + j];
        }
    }
}
