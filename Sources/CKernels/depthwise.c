#include "CKernels.h"

/* Output columns computed together in registers. */
#define DW_BLOCK 16

/* One output element: the valid taps in row-major order, summed from zero, then the bias. */
static inline float dw_point(const float *in, int h, int w, const float *k, int kh, int kw, int iy0, int ix0,
                             int dil_h, int dil_w, float bias) {
    float acc = 0.0f;
    for (int ki = 0; ki < kh; ki++) {
        int iy = iy0 + ki * dil_h;
        if (iy < 0 || iy >= h) continue;
        const float *line = in + (long)iy * w;
        for (int kj = 0; kj < kw; kj++) {
            int ix = ix0 + kj * dil_w;
            if (ix < 0 || ix >= w) continue;
            acc += line[ix] * k[ki * kw + kj];
        }
    }
    return acc + bias;
}

/* Sixteen floats as one value: a register (AVX-512), two (AVX2) or four (SSE) per clone. */
typedef float v16 __attribute__((vector_size(64)));
typedef float v16u __attribute__((vector_size(64), aligned(4)));

/* Macros rather than functions: a 64-byte vector may not cross a call in the clones without AVX-512. */
#define LOAD16(p) (*(const v16u *)(p))
/* p[0], p[2], ..., p[30] (reads p[0 ... 30], never p[31]). */
#define LOAD16_STRIDE2(p) \
    __builtin_shufflevector(LOAD16(p), LOAD16((p) + 15), 0, 2, 4, 6, 8, 10, 12, 14, 17, 19, 21, 23, 25, 27, 29, 31)

RCNN_CLONES
void rcnn_depthwise_channel(const float *in, int h, int w, const float *k, int kh, int kw,
                            int stride_h, int stride_w, int pad_h, int pad_w, int dil_h, int dil_w,
                            float bias, float *out, int oh, int ow) {
    /* Columns whose taps all fall inside the row: ox * stride_w - pad_w >= 0 and
     * ox * stride_w - pad_w + (kw - 1) * dil_w <= w - 1; blocks of them run in registers (strides
     * 1 and 2), the rest one point at a time. */
    int xa = (pad_w + stride_w - 1) / stride_w;
    int last = w - 1 + pad_w - (kw - 1) * dil_w;
    int xb = last < 0 ? 0 : last / stride_w + 1;
    if (xb > ow) xb = ow;
    /* Blocks of DW_BLOCK columns cover [xa, xb), the last one shifted back to end at xb (it
     * recomputes a few columns with the same result); narrower interiors (and strides above 2) go
     * point by point. */
    int blocks = 0;
    if (stride_w <= 2 && xb - xa >= DW_BLOCK) blocks = (xb - xa + DW_BLOCK - 1) / DW_BLOCK;
    else xa = xb;
    for (int oy = 0; oy < oh; oy++) {
        float *row = out + (long)oy * ow;
        int iy0 = oy * stride_h - pad_h;
        for (int ox = 0; ox < ow; ox++) {
            if (ox == xa) ox = xb;
            if (ox >= ow) break;
            row[ox] = dw_point(in, h, w, k, kh, kw, iy0, ox * stride_w - pad_w, dil_h, dil_w, bias);
        }
        /* Each output still sums its taps in row-major order from zero, then adds the bias, so
         * the blocks equal dw_point's results exactly. */
        for (int b = 0; b < blocks; b++) {
            int x0 = xa + b * DW_BLOCK;
            if (x0 > xb - DW_BLOCK) x0 = xb - DW_BLOCK;
            v16 acc = {0};
            for (int ki = 0; ki < kh; ki++) {
                int iy = iy0 + ki * dil_h;
                if (iy < 0 || iy >= h) continue;
                const float *base = in + (long)iy * w + (long)x0 * stride_w - pad_w;
                for (int kj = 0; kj < kw; kj++) {
                    const float *p = base + kj * dil_w;
                    v16 v = stride_w == 1 ? LOAD16(p) : LOAD16_STRIDE2(p);
                    acc += v * k[ki * kw + kj];
                }
            }
            *(v16u *)(row + x0) = acc + bias;
        }
    }
}
