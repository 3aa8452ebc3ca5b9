/* Direct convolution for layers with few input channels (the stems: the image's 3 channels into
 * 64 with a 7x7 stride-2 filter in ResNet, 16 with 3x3 in MobileNetV3). Lowered to rows for a GEMM,
 * such a layer moves a 147-row matrix as large as its output through memory for 147 multiply-adds
 * per value and ran at about 40% of the SGEMM rate; here 16 output columns x 8 output channels sit in
 * registers while the taps stream by.
 *
 * Every output sums its valid taps in (channel, ki, kj) order from zero, then adds the bias, in the
 * vector blocks and at the edges alike, so an output's value does not depend on where it lies. On
 * CPUs with FMA (the AVX-512 and AVX2 variants) each step is one fused multiply-add, rounded once;
 * the portable variant multiplies and adds, rounded twice (rcnn_conv_direct_fused says which). */
#include "CKernels.h"

/* Output channels per register block. */
#define DC_OB 8
/* Output columns per vector. */
#define DC_W 16

typedef float v16 __attribute__((vector_size(64)));
typedef float v16u __attribute__((vector_size(64), aligned(4)));

#define LOAD16(p) (*(const v16u *)(p))
/* p[0], p[2], ..., p[30] (reads p[0 ... 30], never p[31]). */
#define LOAD16_STRIDE2(p) \
    __builtin_shufflevector(LOAD16(p), LOAD16((p) + 15), 0, 2, 4, 6, 8, 10, 12, 14, 17, 19, 21, 23, 25, 27, 29, 31)

/* acc + x * w, one fused multiply-add (rounded once) when `fused`, else a multiply then an add.
 * `fused` is a constant in each variant below, so the other branch is compiled away. */
#define MULADD_S(fused, acc, x, w) ((fused) ? __builtin_fmaf((x), (w), (acc)) : (acc) + (x) * (w))
#define MULADD_V(fused, acc, x, w) ((fused) ? __builtin_elementwise_fma((x), (w), (acc)) : (acc) + (x) * (w))

/* One output column for channels [o, o + nb): each channel's valid taps in (channel, ki, kj) order
 * from zero, then its bias; the channels' sums are independent chains. */
__attribute__((always_inline)) static inline void direct_column(const float *in, int c, int h, int w,
                                                                const float *weight, long per, int kh, int kw,
                                                                int iy0, int ix0, const float *bias, int o, int nb,
                                                                float *out, long plane, const int fused) {
    float acc[DC_OB] = {0};
    for (int ch = 0; ch < c; ch++) {
        const float *src = in + (long)ch * h * w;
        for (int ki = 0; ki < kh; ki++) {
            const int iy = iy0 + ki;
            if (iy < 0 || iy >= h) continue;
            for (int kj = 0; kj < kw; kj++) {
                const int ix = ix0 + kj;
                if (ix < 0 || ix >= w) continue;
                const float x = src[(long)iy * w + ix];
                const float *k = weight + (long)o * per + ((long)ch * kh + ki) * kw + kj;
                for (int j = 0; j < nb; j++) acc[j] = MULADD_S(fused, acc[j], x, k[j * per]);
            }
        }
    }
    for (int j = 0; j < nb; j++) out[(o + j) * plane] = acc[j] + (bias ? bias[o + j] : 0.0f);
}

/* The whole computation, compiled once per variant below. */
__attribute__((always_inline)) static inline void direct_rows(const float *in, int c, int h, int w,
                                                              const float *weight, int kh, int kw, int stride_h,
                                                              int stride_w, int pad_h, int pad_w, const float *bias,
                                                              float *out, int oh, int ow, int o0, int o1, int y0,
                                                              int y1, const int fused) {
    const long plane = (long)oh * ow, per = (long)c * kh * kw;
    /* Columns whose taps all fall inside the row run in vector blocks (strides 1 and 2); the last
     * block is shifted back to end at xb (recomputing a few columns with the same result). */
    int xa = (pad_w + stride_w - 1) / stride_w;
    const int last = w - 1 + pad_w - (kw - 1);
    int xb = last < 0 ? 0 : last / stride_w + 1;
    if (xb > ow) xb = ow;
    int blocks = 0;
    if (stride_w <= 2 && xb - xa >= DC_W) blocks = (xb - xa + DC_W - 1) / DC_W;
    else xa = xb;
    for (int ob = o0; ob < o1; ob += DC_OB) {
        const int nb = o1 - ob < DC_OB ? o1 - ob : DC_OB;
        for (int oy = y0; oy < y1; oy++) {
            const int iy0 = oy * stride_h - pad_h;
            float *orow = out + (long)oy * ow;
            /* Edge columns, and every column of a partial block of channels, one column at a time. */
            for (int ox = 0; ox < ow; ox++) {
                if (ox == xa && nb == DC_OB) ox = xb;
                if (ox >= ow) break;
                direct_column(in, c, h, w, weight, per, kh, kw, iy0, ox * stride_w - pad_w, bias, ob, nb, orow + ox,
                              plane, fused);
            }
            if (nb < DC_OB) continue;
            for (int bl = 0; bl < blocks; bl++) {
                int x0 = xa + bl * DC_W;
                if (x0 > xb - DC_W) x0 = xb - DC_W;
                v16 acc[DC_OB];
                for (int j = 0; j < DC_OB; j++) acc[j] = (v16){0};
                for (int ch = 0; ch < c; ch++) {
                    for (int ki = 0; ki < kh; ki++) {
                        const int iy = iy0 + ki;
                        if (iy < 0 || iy >= h) continue;
                        const float *base = in + ((long)ch * h + iy) * w + (long)x0 * stride_w - pad_w;
                        const float *k = weight + (long)ob * per + ((long)ch * kh + ki) * kw;
                        for (int kj = 0; kj < kw; kj++) {
                            const v16 v = stride_w == 1 ? LOAD16(base + kj) : LOAD16_STRIDE2(base + kj);
                            for (int j = 0; j < DC_OB; j++) {
                                const v16 kv = k[j * per + kj] - (v16){0}; /* the weight in every lane, -0 kept */
                                acc[j] = MULADD_V(fused, acc[j], v, kv);
                            }
                        }
                    }
                }
                for (int j = 0; j < DC_OB; j++) {
                    const float b = bias ? bias[ob + j] : 0.0f;
                    *(v16u *)(out + (ob + j) * plane + (long)oy * ow + x0) = acc[j] + b;
                }
            }
        }
    }
}

#define DC_PARAMS                                                                                                    \
    const float *in, int c, int h, int w, const float *weight, int kh, int kw, int stride_h, int stride_w, int pad_h, \
        int pad_w, const float *bias, float *out, int oh, int ow, int o0, int o1, int y0, int y1
#define DC_ARGS in, c, h, w, weight, kh, kw, stride_h, stride_w, pad_h, pad_w, bias, out, oh, ow, o0, o1, y0, y1

static void direct_plain(DC_PARAMS) { direct_rows(DC_ARGS, 0); }
#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) static void direct_avx2(DC_PARAMS) { direct_rows(DC_ARGS, 1); }
__attribute__((target("avx512f,fma"))) static void direct_avx512(DC_PARAMS) { direct_rows(DC_ARGS, 1); }
#endif

/* The best variant this CPU runs: 2 AVX-512, 1 AVX2 with FMA, 0 portable. */
static int best_level(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return 2;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 1;
#endif
    return 0;
}

/* A variant chosen with rcnn_conv_direct_use (tests), or -1 for the best. */
static int forced_level = -1;

static int direct_level(void) { return forced_level >= 0 ? forced_level : best_level(); }

int rcnn_conv_direct_use(int level) {
    if (level > best_level()) return -1;
    forced_level = level < 0 ? -1 : level;
    return 0;
}

int rcnn_conv_direct_fused(void) { return direct_level() > 0; }

void rcnn_conv_direct(DC_PARAMS) {
    switch (direct_level()) {
#if defined(__x86_64__)
    case 2: direct_avx512(DC_ARGS); return;
    case 1: direct_avx2(DC_ARGS); return;
#endif
    default: direct_plain(DC_ARGS);
    }
}
