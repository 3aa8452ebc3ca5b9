/* Depthwise int8 convolution (one filter per channel, as MobileNetV3's inverted residual blocks use)
 * on pixel-major levels: the operand layout the int8 multiply and the requantizing store already
 * use, so a depthwise layer sits inside an int8 chain (expand 1x1 -> depthwise -> project 1x1) with
 * no float tensor or transpose around it.
 *
 * Channels lie together in each pixel, so a tap is one contiguous run of levels times one run of
 * weights, channel by channel; the sums are exact 32-bit integers (at most 255 * 128 per tap), so
 * every compiled variant (AVX-512, AVX2, portable) gives the same integers as the naive sum. Taps outside the
 * image read the zero point, as the lowering of the dense convolutions does, so the per-channel
 * offset (zero point times the sum of the channel's weight levels) applies unchanged and the store
 * functions of int8_layout.c turn these sums into floats or next-layer levels as for any layer. */
#include "CKernels.h"
#include <string.h>

/* Channels whose sums stay in registers across the taps (64 int32: four AVX-512 or eight AVX2 registers). */
#define DW_CB 64

static inline int imin(int a, int b) { return a < b ? a : b; }

/* The whole convolution for rows [first, first + count); compiled once per target below. */
__attribute__((always_inline)) static inline void depthwise_rows(
    const uint8_t *src, int channels, int h, int w, int kh, int kw, int stride_h, int stride_w, int pad_h, int pad_w,
    int dil_h, int dil_w, int oh, int ow, int zero_point, const int32_t *weights, long first, int count,
    int32_t *acc, long ldacc) {
    const long plane = (long)oh * ow;
    for (int r = 0; r < count; r++) {
        const long p = first + r;
        const long b = p / plane;
        const int oy = (int)(p % plane) / ow, ox = (int)(p % plane) % ow;
        const uint8_t *image = src + (size_t)b * h * w * channels;
        int32_t *out = acc + (size_t)r * ldacc;
        for (int c0 = 0; c0 < channels; c0 += DW_CB) {
            const int cb = imin(DW_CB, channels - c0);
            int32_t sum[DW_CB];
            for (int j = 0; j < DW_CB; j++) sum[j] = 0;
            for (int ki = 0; ki < kh; ki++) {
                const int iy = oy * stride_h - pad_h + ki * dil_h;
                for (int kj = 0; kj < kw; kj++) {
                    const int ix = ox * stride_w - pad_w + kj * dil_w;
                    const int32_t *wt = weights + (size_t)(ki * kw + kj) * channels + c0;
                    if (iy < 0 || iy >= h || ix < 0 || ix >= w) {
                        for (int j = 0; j < cb; j++) sum[j] += zero_point * wt[j];
                    } else {
                        const uint8_t *s = image + ((size_t)iy * w + ix) * channels + c0;
                        if (cb == DW_CB) {
                            for (int j = 0; j < DW_CB; j++) sum[j] += (int32_t)s[j] * wt[j];
                        } else {
                            for (int j = 0; j < cb; j++) sum[j] += (int32_t)s[j] * wt[j];
                        }
                    }
                }
            }
            memcpy(out + c0, sum, (size_t)cb * sizeof(int32_t));
        }
    }
}

#define DW_PARAMS                                                                                                   \
    const uint8_t *src, int channels, int h, int w, int kh, int kw, int stride_h, int stride_w, int pad_h, int pad_w, \
        int dil_h, int dil_w, int oh, int ow, int zero_point, const int32_t *weights, long first, int count,          \
        int32_t *acc, long ldacc
#define DW_ARGS                                                                                                     \
    src, channels, h, w, kh, kw, stride_h, stride_w, pad_h, pad_w, dil_h, dil_w, oh, ow, zero_point, weights, first, \
        count, acc, ldacc

static void depthwise_c(DW_PARAMS) { depthwise_rows(DW_ARGS); }
#if defined(__x86_64__)
__attribute__((target("avx2"))) static void depthwise_avx2(DW_PARAMS) { depthwise_rows(DW_ARGS); }
__attribute__((target("avx2,avx512f,avx512bw,avx512vl"))) static void depthwise_avx512(DW_PARAMS) {
    depthwise_rows(DW_ARGS);
}
#endif

int rcnn_i8_depthwise(int isa, DW_PARAMS) {
    if (!rcnn_i8_isa_supported(isa)) return -1;
#if defined(__x86_64__)
    if (isa == RCNN_I8_AVX512VNNI && __builtin_cpu_supports("avx512bw")) { depthwise_avx512(DW_ARGS); return 0; }
    if (isa != RCNN_I8_BASELINE) { depthwise_avx2(DW_ARGS); return 0; }
#endif
    depthwise_c(DW_ARGS);
    return 0;
}
