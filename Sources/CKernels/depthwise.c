#include "CKernels.h"


/* First output column whose input column ox * s + off is >= 0, and one past the last whose input
 * column is < w. */
static inline int first_valid(int off, int s) { return off >= 0 ? 0 : (-off + s - 1) / s; }
static inline int end_valid(int off, int s, int w, int ow) {
    if (w - 1 - off < 0) return 0;
    int e = (w - 1 - off) / s + 1;
    return e < ow ? e : ow;
}

RCNN_CLONES
void rcnn_depthwise_channel(const float *in, int h, int w, const float *k, int kh, int kw,
                            int stride_h, int stride_w, int pad_h, int pad_w, int dil_h, int dil_w,
                            float bias, float *out, int oh, int ow) {
    for (int oy = 0; oy < oh; oy++) {
        float *row = out + (long)oy * ow;
        for (int ox = 0; ox < ow; ox++) row[ox] = 0.0f;
        for (int ki = 0; ki < kh; ki++) {
            int iy = oy * stride_h - pad_h + ki * dil_h;
            if (iy < 0 || iy >= h) continue;
            const float *line = in + (long)iy * w;
            for (int kj = 0; kj < kw; kj++) {
                float wv = k[ki * kw + kj];
                int off = kj * dil_w - pad_w;
                int lo = first_valid(off, stride_w), hi = end_valid(off, stride_w, w, ow);
                if (lo >= hi) continue;
                if (stride_w == 1) {
                    for (int ox = lo; ox < hi; ox++) row[ox] += line[ox + off] * wv;
                } else if (stride_w == 2) {
                    for (int ox = lo; ox < hi; ox++) row[ox] += line[2 * ox + off] * wv;
                } else {
                    for (int ox = lo; ox < hi; ox++) row[ox] += line[ox * stride_w + off] * wv;
                }
            }
        }
        for (int ox = 0; ox < ow; ox++) row[ox] += bias;
    }
}
