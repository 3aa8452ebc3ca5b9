/* Around the int8 multiply (int8_gemm.c): quantizing float activations into its u8 operand, lowering
 * convolutions to rows, and turning its int32 sums back into floats.
 *
 * The two transposing steps, NCHW float -> NHWC u8 before a convolution and pixel-major int32 ->
 * NCHW float after it, touch every activation once and ran at a third of a layer's time in scalar
 * code once VNNI made the multiply four times faster than float32. Their AVX2 versions (used by the
 * AVX2 and VNNI paths; `isa` picks, as for the multiply) quantize or dequantize a channel vector at a
 * time and transpose in registers: 16 channels x 16 pixels of bytes, 8 x 8 of floats. They compute
 * exactly what the scalar code does (multiply, then add, rounded once each; round half to even;
 * the same clamps and NaN rules), so every path gives the same bits.
 *
 * Between two int8 convolutions the float output need not exist: rcnn_i8_requantize_rows turns a
 * layer's sums straight into the next layer's input levels, pixel-major as the multiply left them,
 * computing the same float the store would have written and quantizing it as the next layer would. */
#include "CKernels.h"
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include "int8_requantize.h"
#include "transpose8.h"

static inline int imin(int a, int b) { return a < b ? a : b; }

/* Pixels [p0, p1) x channels [c0, c1), one scalar at a time. */
static void quantize_block(const float *src, int channels, int plane, float inv_scale, float zp, float top, int p0,
                           int p1, int c0, int c1, uint8_t *dst) {
    for (int ch = c0; ch < c1; ch++) {
        const float *s = src + (size_t)ch * plane;
        uint8_t *d = dst + ch;
        for (int p = p0; p < p1; p++) d[(size_t)p * channels] = quantize(s[p], inv_scale, zp, top);
    }
}

#if defined(__x86_64__)
/* 16 channel rows of 16 pixels each (r[ch], byte p) -> 16 pixel rows of 16 channels (r[p], byte ch):
 * four rounds of interleaving, 8-, 16-, 32- and 64-bit units. */
__attribute__((target("avx2"))) static inline void transpose_16x16_u8(__m128i r[16]) {
    __m128i a[16], b[16];
    for (int k = 0; k < 8; k++) { /* a[k]: pixels 0-7, a[k + 8]: pixels 8-15; channels 2k, 2k + 1 */
        a[k] = _mm_unpacklo_epi8(r[2 * k], r[2 * k + 1]);
        a[k + 8] = _mm_unpackhi_epi8(r[2 * k], r[2 * k + 1]);
    }
    for (int h = 0; h < 2; h++)
        for (int k = 0; k < 4; k++) { /* b[8h + k]: pixels 8h + 0-3, b[8h + 4 + k]: 8h + 4-7; channels 4k-4k+3 */
            b[8 * h + k] = _mm_unpacklo_epi16(a[8 * h + 2 * k], a[8 * h + 2 * k + 1]);
            b[8 * h + 4 + k] = _mm_unpackhi_epi16(a[8 * h + 2 * k], a[8 * h + 2 * k + 1]);
        }
    for (int q = 0; q < 4; q++)
        for (int k = 0; k < 2; k++) { /* a[4q + k]: pixels 4q + 0-1, a[4q + 2 + k]: 4q + 2-3; channels 8k-8k+7 */
            a[4 * q + k] = _mm_unpacklo_epi32(b[4 * q + 2 * k], b[4 * q + 2 * k + 1]);
            a[4 * q + 2 + k] = _mm_unpackhi_epi32(b[4 * q + 2 * k], b[4 * q + 2 * k + 1]);
        }
    for (int q = 0; q < 4; q++)
        for (int g = 0; g < 2; g++) { /* pixel 4q + 2g and the next: channels 0-7 then 8-15 */
            r[4 * q + 2 * g] = _mm_unpacklo_epi64(a[4 * q + 2 * g], a[4 * q + 2 * g + 1]);
            r[4 * q + 2 * g + 1] = _mm_unpackhi_epi64(a[4 * q + 2 * g], a[4 * q + 2 * g + 1]);
        }
}



/* Sixteen floats to sixteen levels. */
__attribute__((target("avx2"))) static inline __m128i quantize16(const float *s, __m256 inv, __m256 zp, __m256 top) {
    return pack16(levels8(_mm256_loadu_ps(s), inv, zp, top), levels8(_mm256_loadu_ps(s + 8), inv, zp, top));
}



__attribute__((target("avx2"))) static void quantize_to_nhwc_avx2(const float *src, int channels, int plane,
                                                                   float inv_scale, float zp, float top, int first,
                                                                   int count, uint8_t *dst) {
    const __m256 inv = _mm256_set1_ps(inv_scale), zpv = _mm256_set1_ps(zp), topv = _mm256_set1_ps(top);
    const int end = first + count, c16 = channels / 16 * 16;
    /* Blocks of up to 256 pixels: each channel's 1 KiB of them is read in one go, which the
     * hardware prefetcher follows better than one cache line from every channel in turn. */
    const int full = first + count / 16 * 16;
    for (int b0 = first; b0 < full; b0 += 256) {
        const int b1 = imin(full, b0 + 256);
        for (int c0 = 0; c0 < c16; c0 += 16)
            for (int p0 = b0; p0 < b1; p0 += 16) {
                __m128i r[16];
                for (int i = 0; i < 16; i++) r[i] = quantize16(src + (size_t)(c0 + i) * plane + p0, inv, zpv, topv);
                transpose_16x16_u8(r);
                for (int i = 0; i < 16; i++)
                    _mm_storeu_si128((__m128i *)(dst + (size_t)(p0 + i) * channels + c0), r[i]);
            }
        if (c16 < channels) quantize_block(src, channels, plane, inv_scale, zp, top, b0, b1, c16, channels, dst);
    }
    if (full < end) quantize_block(src, channels, plane, inv_scale, zp, top, full, end, 0, channels, dst);
}
#endif

void rcnn_i8_quantize_to_nhwc(int isa, const float *src, int channels, int plane, float inv_scale, int zero_point,
                              int top_level, int first, int count, uint8_t *dst) {
    const float zp = (float)zero_point, top = (float)top_level;
#if defined(__x86_64__)
    if (isa != RCNN_I8_BASELINE && rcnn_i8_isa_supported(RCNN_I8_AVX2)) {
        quantize_to_nhwc_avx2(src, channels, plane, inv_scale, zp, top, first, count, dst);
        return;
    }
#endif
    (void)isa;
    /* 64 x 64 tiles: 64 contiguous floats read per channel, 64 bytes (one cache line) written per
     * pixel, so the transposition stays inside L1. */
    enum { BLOCK = 64 };
    for (int p0 = first; p0 < first + count; p0 += BLOCK)
        for (int c0 = 0; c0 < channels; c0 += BLOCK)
            quantize_block(src, channels, plane, inv_scale, zp, top, p0, imin(first + count, p0 + BLOCK), c0,
                           imin(channels, c0 + BLOCK), dst);
}

void rcnn_i8_quantize_rows(const float *src, long lds, int rows, int cols, float inv_scale, int zero_point,
                           int top_level, uint8_t *dst, long ldd) {
    const float zp = (float)zero_point, top = (float)top_level;
    for (int r = 0; r < rows; r++) {
        const float *s = src + (size_t)r * lds;
        uint8_t *d = dst + (size_t)r * ldd;
        int j = 0;
        for (; j < cols; j++) d[j] = quantize(s[j], inv_scale, zp, top);
        for (; j < ldd && j < ((cols + 3) & ~3); j++) d[j] = 0;
    }
}

#if defined(__x86_64__)
__attribute__((target("avx2"))) static int add_quantize_avx2(float *dst, const float *add, int n, float inv_scale,
                                                             float zp, float top, uint8_t *levels) {
    const __m256 inv = _mm256_set1_ps(inv_scale), zpv = _mm256_set1_ps(zp), topv = _mm256_set1_ps(top);
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256 a = _mm256_add_ps(_mm256_loadu_ps(dst + i), _mm256_loadu_ps(add + i));
        const __m256 b = _mm256_add_ps(_mm256_loadu_ps(dst + i + 8), _mm256_loadu_ps(add + i + 8));
        _mm256_storeu_ps(dst + i, a);
        _mm256_storeu_ps(dst + i + 8, b);
        _mm_storeu_si128((__m128i *)(levels + i), pack16(levels8(a, inv, zpv, topv), levels8(b, inv, zpv, topv)));
    }
    return i;
}
#endif

void rcnn_i8_add_quantize(int isa, float *dst, const float *add, int n, float inv_scale, int zero_point,
                          int top_level, uint8_t *levels) {
    const float zp = (float)zero_point, top = (float)top_level;
    int i = 0;
#if defined(__x86_64__)
    if (isa != RCNN_I8_BASELINE && rcnn_i8_isa_supported(RCNN_I8_AVX2)) i = add_quantize_avx2(dst, add, n, inv_scale, zp, top, levels);
#endif
    (void)isa;
    for (; i < n; i++) {
        dst[i] = dst[i] + add[i];
        levels[i] = quantize(dst[i], inv_scale, zp, top);
    }
}

void rcnn_i8_lower(const uint8_t *src, int channels, int h, int w, int kh, int kw, int stride_h, int stride_w,
                   int pad_h, int pad_w, int dil_h, int dil_w, int oh, int ow, int zero_point,
                   long first, int rows, uint8_t *dst, long ldd) {
    const long plane = (long)oh * ow;
    const int k = kh * kw * channels, kp = (k + 3) & ~3;
    for (int r = 0; r < rows; r++) {
        const long p = first + r;
        const long b = p / plane;
        const int oy = (int)(p % plane) / ow, ox = (int)(p % plane) % ow;
        const uint8_t *image = src + (size_t)b * h * w * channels;
        uint8_t *d = dst + (size_t)r * ldd;
        for (int ki = 0; ki < kh; ki++) {
            const int iy = oy * stride_h - pad_h + ki * dil_h;
            for (int kj = 0; kj < kw; kj++) {
                const int ix = ox * stride_w - pad_w + kj * dil_w;
                if (iy < 0 || iy >= h || ix < 0 || ix >= w) memset(d, zero_point, (size_t)channels);
                else memcpy(d, image + ((size_t)iy * w + ix) * channels, (size_t)channels);
                d += channels;
            }
        }
        if (kp > k) memset(d, 0, (size_t)(kp - k));
    }
}


/* Rows [r0, r0 + count) of acc, all in one image, whose first pixel is `pix` of the plane at out
 * (channel 0), channels [o0, o1). */
static void store_block(const int32_t *acc, long ldacc, int r0, int count, int o0, int o1, const int32_t *offset,
                        const float *scale, const float *bias, int relu, float *out, long plane) {
    for (int o = o0; o < o1; o++) {
        const int32_t off = offset[o];
        const float s = scale[o], b = bias ? bias[o] : 0.0f;
        float *d = out + (size_t)o * plane;
        const int32_t *a = acc + (size_t)r0 * ldacc + o;
        for (int i = 0; i < count; i++) d[i] = dequantize(a[(size_t)i * ldacc], off, s, b, relu);
    }
}

#if defined(__x86_64__)
/* 8 pixels x 8 channels: dequantized along the channels, transposed in registers, stored as 8
 * channel runs of 8 pixels. */
__attribute__((target("avx2"))) static void store_run_avx2(const int32_t *acc, long ldacc, int r0, int count, int n,
                                                           const int32_t *offset, const float *scale,
                                                           const float *bias, int relu, float *out, long plane) {
    const int n8 = n / 8 * 8, full = count / 8 * 8;
    const __m256 zero = _mm256_setzero_ps();
    for (int o0 = 0; o0 < n8; o0 += 8) {
        const __m256i off = _mm256_loadu_si256((const __m256i *)(offset + o0));
        const __m256 s = _mm256_loadu_ps(scale + o0), b = bias ? _mm256_loadu_ps(bias + o0) : zero;
        for (int i0 = 0; i0 < full; i0 += 8) {
            __m256 v[8], t[8];
            for (int i = 0; i < 8; i++) {
                v[i] = dequantize8(acc + (size_t)(r0 + i0 + i) * ldacc + o0, off, s, b);
                if (relu) v[i] = relu8(v[i]);
            }
            transpose_8x8_ps(v, t);
            for (int i = 0; i < 8; i++) _mm256_storeu_ps(out + (size_t)(o0 + i) * plane + i0, t[i]);
        }
        if (full < count) store_block(acc, ldacc, r0 + full, count - full, o0, o0 + 8, offset, scale, bias, relu,
                                      out + full, plane);
    }
    if (n8 < n) store_block(acc, ldacc, r0, count, n8, n, offset, scale, bias, relu, out, plane);
}
#endif

void rcnn_i8_store_nchw(int isa, const int32_t *acc, long ldacc, long first, int rows, int n, const int32_t *offset,
                        const float *scale, const float *bias, int relu, float *dst, long plane) {
    int vector = 0;
#if defined(__x86_64__)
    vector = isa != RCNN_I8_BASELINE && rcnn_i8_isa_supported(RCNN_I8_AVX2);
#endif
    (void)isa;
    long p = first;
    int r = 0;
    while (r < rows) {
        /* A run of rows inside one image: contiguous in each output channel's plane. */
        const long image = p / plane, pix = p % plane;
        const int run = (int)(plane - pix < rows - r ? plane - pix : rows - r);
        float *out = dst + (size_t)image * n * plane + pix;
#if defined(__x86_64__)
        if (vector) store_run_avx2(acc, ldacc, r, run, n, offset, scale, bias, relu, out, plane);
        else
#endif
            store_block(acc, ldacc, r, run, 0, n, offset, scale, bias, relu, out, plane);
        r += run;
        p += run;
    }
}

#if defined(__x86_64__)
/* rcnn_i8_requantize_block() sixteen channels at a time, with requantized_value() for the rest. The
 * block's shortcut (`sc`) is already moved to its first row and column. */
__attribute__((target("avx2"))) static void requantize_block_avx2(const int32_t *acc, long ldacc, int rows, int n,
                                                                   const int32_t *offset, const float *scale,
                                                                   const float *bias, int act, const rcnn_i8_shortcut *sc,
                                                                   float inv_scale, float zp, float top, uint8_t *dst,
                                                                   long ldd, float *values, long ldv) {
    const int n16 = n / 16 * 16;
    const __m256 zero = _mm256_setzero_ps();
    const __m256 inv = _mm256_set1_ps(inv_scale), zpv = _mm256_set1_ps(zp), topv = _mm256_set1_ps(top);
    const __m256i shortcut_zp = _mm256_set1_epi32(sc ? sc->zero_point : 0);
    const __m256 shortcut_scale = _mm256_set1_ps(sc ? sc->scale : 0.0f);
    for (int r = 0; r < rows; r++) {
        const int32_t *a = acc + (size_t)r * ldacc;
        uint8_t *d = dst + (size_t)r * ldd;
        for (int o = 0; o < n16; o += 16) {
            __m256i level[2];
            for (int h = 0; h < 2; h++) {
                const int j = o + 8 * h;
                level[h] = requantize8(_mm256_loadu_si256((const __m256i *)(a + j)),
                                       _mm256_loadu_si256((const __m256i *)(offset + j)), _mm256_loadu_ps(scale + j),
                                       bias ? _mm256_loadu_ps(bias + j) : zero, act, sc, r, j, shortcut_zp, shortcut_scale,
                                       values ? values + (size_t)r * ldv + j : NULL, inv, zpv, topv);
            }
            _mm_storeu_si128((__m128i *)(d + o), pack16(level[0], level[1]));
        }
        for (int o = n16; o < n; o++) {
            const float v = requantized_value(a[o], o, offset, scale, bias, act, sc, r);
            if (values) values[(size_t)r * ldv + o] = v;
            d[o] = quantize(v, inv_scale, zp, top);
        }
    }
}
#endif

void rcnn_i8_requantize_block(int isa, const int32_t *acc, long ldacc, int rows, int n, const rcnn_i8_requantize *rq,
                              int row, int col) {
    const float zp = (float)rq->zero_point, top = (float)rq->top;
    const int32_t *offset = rq->offset + col;
    const float *scale = rq->scale + col, *bias = rq->bias ? rq->bias + col : NULL;
    uint8_t *dst = rq->dst + (size_t)row * rq->ldd + col;
    float *values = rq->values ? rq->values + (size_t)row * rq->ldv + col : NULL;
    rcnn_i8_shortcut moved;
    const rcnn_i8_shortcut *sc = NULL;
    if (rq->shortcut) {
        moved = rcnn_i8_shortcut_at(rq->shortcut, row, col);
        sc = &moved;
    }
#if defined(__x86_64__)
    if (isa != RCNN_I8_BASELINE && rcnn_i8_isa_supported(RCNN_I8_AVX2)) {
        requantize_block_avx2(acc, ldacc, rows, n, offset, scale, bias, rq->act, sc, rq->inv_scale, zp, top, dst, rq->ldd,
                              values, rq->ldv);
        return;
    }
#endif
    (void)isa;
    for (int r = 0; r < rows; r++) {
        const int32_t *a = acc + (size_t)r * ldacc;
        uint8_t *d = dst + (size_t)r * rq->ldd;
        for (int o = 0; o < n; o++) {
            const float v = requantized_value(a[o], o, offset, scale, bias, rq->act, sc, r);
            if (values) values[(size_t)r * rq->ldv + o] = v;
            d[o] = quantize(v, rq->inv_scale, zp, top);
        }
    }
}

void rcnn_i8_requantize_rows(int isa, const int32_t *acc, long ldacc, int rows, int n, const int32_t *offset,
                             const float *scale, const float *bias, int act, float inv_scale, int zero_point,
                             int top, uint8_t *dst, long ldd, float *values, long ldv) {
    const rcnn_i8_requantize rq = {offset, scale, bias, act, NULL, inv_scale, zero_point, top, dst, ldd, values, ldv};
    rcnn_i8_requantize_block(isa, acc, ldacc, rows, n, &rq, 0, 0);
}

void rcnn_i8_join_rows(int isa, const int32_t *acc, long ldacc, int rows, int n, const int32_t *offset,
                       const float *scale, const float *bias, const rcnn_i8_shortcut *shortcut, float inv_scale,
                       int zero_point, int top, uint8_t *dst, long ldd, float *values, long ldv) {
    const rcnn_i8_requantize rq = {offset, scale, bias, RCNN_I8_ACT_IDENTITY, shortcut, inv_scale, zero_point, top,
                                   dst, ldd, values, ldv};
    rcnn_i8_requantize_block(isa, acc, ldacc, rows, n, &rq, 0, 0);
}

/* A residual join after a convolution: v = max(dequantized + residual, 0) as the float32 add-ReLU
 * computes it (v <= 0 gives +0, NaN passes), stored NCHW, and, when levels is not NULL, quantized
 * for the next layer into pixel-major levels (row r at levels + r * n). */
static void store_residual_block(const int32_t *acc, long ldacc, int r0, int count, int o0, int o1,
                                 const int32_t *offset, const float *scale, const float *bias,
                                 const float *residual, float *out, long plane, float inv_scale, float zp,
                                 float top, uint8_t *levels, int n) {
    for (int o = o0; o < o1; o++) {
        const int32_t off = offset[o];
        const float s = scale[o], b = bias ? bias[o] : 0.0f;
        float *d = out + (size_t)o * plane;
        const float *res = residual + (size_t)o * plane;
        const int32_t *a = acc + (size_t)r0 * ldacc + o;
        for (int i = 0; i < count; i++) {
            float v = dequantize(a[(size_t)i * ldacc], off, s, b, 0) + res[i];
            v = v <= 0.0f ? 0.0f : v;
            d[i] = v;
            if (levels) levels[(size_t)(r0 + i) * n + o] = quantize(v, inv_scale, zp, top);
        }
    }
}

#if defined(__x86_64__)
__attribute__((target("avx2"))) static void store_residual_run_avx2(const int32_t *acc, long ldacc, int r0,
                                                                     int count, int n, const int32_t *offset,
                                                                     const float *scale, const float *bias,
                                                                     const float *residual, float *out, long plane,
                                                                     float inv_scale, float zp, float top,
                                                                     uint8_t *levels) {
    const int n8 = n / 8 * 8, full = count / 8 * 8;
    const __m256 zero = _mm256_setzero_ps();
    const __m256 inv = _mm256_set1_ps(inv_scale), zpv = _mm256_set1_ps(zp), topv = _mm256_set1_ps(top);
    for (int o0 = 0; o0 < n8; o0 += 8) {
        const __m256i off = _mm256_loadu_si256((const __m256i *)(offset + o0));
        const __m256 s = _mm256_loadu_ps(scale + o0), b = bias ? _mm256_loadu_ps(bias + o0) : zero;
        for (int i0 = 0; i0 < full; i0 += 8) {
            __m256 v[8], t[8];
            for (int i = 0; i < 8; i++) v[i] = dequantize8(acc + (size_t)(r0 + i0 + i) * ldacc + o0, off, s, b);
            transpose_8x8_ps(v, t);
            for (int i = 0; i < 8; i++) {
                const size_t at = (size_t)(o0 + i) * plane + i0;
                t[i] = join8(t[i], _mm256_loadu_ps(residual + at));
                _mm256_storeu_ps(out + at, t[i]);
            }
            if (levels) {
                transpose_8x8_ps(t, v); /* back to pixel rows */
                for (int i = 0; i < 8; i++) {
                    const __m256i q = levels8(v[i], inv, zpv, topv);
                    _mm_storel_epi64((__m128i *)(levels + (size_t)(r0 + i0 + i) * n + o0), pack16(q, q));
                }
            }
        }
        if (full < count)
            store_residual_block(acc, ldacc, r0 + full, count - full, o0, o0 + 8, offset, scale, bias,
                                 residual + full, out + full, plane, inv_scale, zp, top, levels, n);
    }
    if (n8 < n)
        store_residual_block(acc, ldacc, r0, count, n8, n, offset, scale, bias, residual, out, plane, inv_scale, zp,
                             top, levels, n);
}
#endif

void rcnn_i8_store_nchw_residual(int isa, const int32_t *acc, long ldacc, long first, int rows, int n,
                                 const int32_t *offset, const float *scale, const float *bias, const float *residual,
                                 float *dst, long plane, float inv_scale, int zero_point, int top_level,
                                 uint8_t *levels) {
    int vector = 0;
#if defined(__x86_64__)
    vector = isa != RCNN_I8_BASELINE && rcnn_i8_isa_supported(RCNN_I8_AVX2);
#endif
    (void)isa;
    const float zp = (float)zero_point, top = (float)top_level;
    long p = first;
    int r = 0;
    while (r < rows) {
        const long image = p / plane, pix = p % plane;
        const int run = (int)(plane - pix < rows - r ? plane - pix : rows - r);
        const size_t at = (size_t)image * n * plane + pix;
        /* Rows are indexed from this call's first row in acc and levels alike. */
#if defined(__x86_64__)
        if (vector)
            store_residual_run_avx2(acc, ldacc, r, run, n, offset, scale, bias, residual + at, dst + at, plane,
                                    inv_scale, zp, top, levels);
        else
#endif
            store_residual_block(acc, ldacc, r, run, 0, n, offset, scale, bias, residual + at, dst + at, plane,
                                 inv_scale, zp, top, levels, n);
        r += run;
        p += run;
    }
}

#if defined(__x86_64__)
/* rcnn_i8_store_rows eight channels at a time; returns the channels done per row. */
__attribute__((target("avx2"))) static int store_rows_avx2(const int32_t *acc, long ldacc, int rows, int n,
                                                           const int32_t *offset, const float *scale, const float *bias,
                                                           int relu, float *dst, long ldd) {
    const int n8 = n / 8 * 8;
    for (int r = 0; r < rows; r++) {
        const int32_t *a = acc + (size_t)r * ldacc;
        float *out = dst + (size_t)r * ldd;
        for (int o = 0; o < n8; o += 8) {
            __m256 v = dequantize8(a + o, _mm256_loadu_si256((const __m256i *)(offset + o)), _mm256_loadu_ps(scale + o),
                                   bias ? _mm256_loadu_ps(bias + o) : _mm256_setzero_ps());
            if (relu) v = relu8(v);
            _mm256_storeu_ps(out + o, v);
        }
    }
    return n8;
}
#endif

void rcnn_i8_store_rows(int isa, const int32_t *acc, long ldacc, int rows, int n, const int32_t *offset,
                        const float *scale, const float *bias, int relu, float *dst, long ldd) {
    int done = 0;
#if defined(__x86_64__)
    if (isa != RCNN_I8_BASELINE && rcnn_i8_isa_supported(RCNN_I8_AVX2))
        done = store_rows_avx2(acc, ldacc, rows, n, offset, scale, bias, relu, dst, ldd);
#endif
    (void)isa;
    for (int r = 0; r < rows; r++) {
        const int32_t *a = acc + (size_t)r * ldacc;
        float *out = dst + (size_t)r * ldd;
        for (int o = done; o < n; o++) out[o] = dequantize(a[o], offset[o], scale[o], bias ? bias[o] : 0.0f, relu);
    }
}

void rcnn_i8_store_upsampled(const int32_t *acc, long ldacc, long first, int rows, int channels, int kh, int kw,
                             int h, int w, const int32_t *offset, const float *scale, const float *bias, int relu,
                             float *dst) {
    const long in_plane = (long)h * w, ow = (long)w * kw, plane = in_plane * kh * kw;
    const int taps = kh * kw;
    for (int r = 0; r < rows; r++) {
        const long p = first + r;
        const long b = p / in_plane;
        const int iy = (int)(p % in_plane) / w, ix = (int)(p % in_plane) % w;
        const int32_t *a = acc + (size_t)r * ldacc;
        float *image = dst + (size_t)b * channels * plane;
        for (int t = 0; t < taps; t++) {
            float *out = image + (long)(iy * kh + t / kw) * ow + (long)ix * kw + t % kw;
            const int j0 = t * channels;
            for (int o = 0; o < channels; o++) {
                const int j = j0 + o;
                out[(size_t)o * plane] = dequantize(a[j], offset[j], scale[j], bias ? bias[j] : 0.0f, relu);
            }
        }
    }
}
