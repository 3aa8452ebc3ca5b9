#ifndef RCNN_CKERNELS_H
#define RCNN_CKERNELS_H

#include <stddef.h>
#include <stdint.h>

/* Inner loops that profit from the CPU's widest vectors. On x86-64 each is compiled for AVX-512,
 * AVX2 and the baseline, and the loader picks the version the running CPU supports
 * (target_clones), so one binary is fast where it can be and correct everywhere; other
 * architectures get one build with the compiler's default vectorisation. */

/* Per-instruction-set clones of a function on x86-64; one plain build elsewhere. */
#if defined(__x86_64__)
#define RCNN_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define RCNN_CLONES
#endif

/* Tiles handled together by the Winograd transforms (one lane each). */
#define RCNN_WINOGRAD_LANES 16

/* Winograd F(4x4, 3x3) input transform Bᵀ d B of tiles [first, first + count) of channel `ch`.
 * `src` is the batch [n, channels, h, w]; tile t lies in image t / per_image, tile row
 * (t % per_image) / tiles_w, column (t % per_image) % tiles_w, and reads the 6x6 patch at
 * (row * 4 - pad_h, col * 4 - pad_w), zeros outside the image. Writes v[(xi * channels + ch) * count + j]
 * for the 36 positions xi and j = 0 ..< count. */
void rcnn_winograd_input(const float *src, int channels, int ch, int h, int w, int pad_h, int pad_w,
                         int first, int count, int tiles_w, int per_image, float *v);

/* Winograd F(4x4, 3x3) output transform Aᵀ M A + bias of tiles [first, first + count) of output
 * channel `o`, reading m[(xi * k + o) * count + j] (j = 0 ..< count), and stores each tile's 4x4
 * block (clipped at the image edge) into dst [n, k, oh, ow], tiles numbered as for the input.
 * With `relu` nonzero applies max(x, 0), keeping NaN. */
void rcnn_winograd_output(const float *m, int k, int o, int first, int count, int tiles_w, int per_image,
                          float bias, int relu, float *dst, int oh, int ow);

/* One channel of a depthwise convolution (cross-correlation, zero padding): `in` [h, w], filter `k`
 * [kh, kw], writes out[oh, ow] = the valid taps summed from zero in row-major tap order, then + bias
 * (one fixed order, so results do not depend on the instruction set); interior columns are computed
 * in register blocks. */
void rcnn_depthwise_channel(const float *in, int h, int w, const float *k, int kh, int kw,
                            int stride_h, int stride_w, int pad_h, int pad_w, int dil_h, int dil_w,
                            float bias, float *out, int oh, int ow);

/* Bilinear sampling over channels-last features: for each of `n` samples with four tap offsets
 * (pixel indices) and four weights, acc[ch] += w0 * f[o0][ch] + w1 * f[o1][ch] + w2 * f[o2][ch]
 * + w3 * f[o3][ch], where f[p] = base + p * c. */
void rcnn_bilinear_accumulate(float *acc, const float *base, int c, const long *offsets,
                              const float *weights, int n);

/* Direct convolution of one image in [c][h][w] with weight [o][c][kh][kw] (dilation 1): output
 * channels [o0, o1) x rows [y0, y1) of out [o][oh][ow], each the sum of its valid taps in (channel,
 * ki, kj) order plus bias[o] (bias may be NULL). Vector blocks for strides 1 and 2 along the row. Each
 * step is a fused multiply-add where rcnn_conv_direct_fused() is 1 (CPUs with FMA), else a multiply
 * then an add. */
int rcnn_conv_direct_fused(void);
/* Picks the variant for tests: 0 portable, 1 AVX2 + FMA, 2 AVX-512; -1 the best this CPU runs (the
 * default). Returns -1, changing nothing, when this CPU lacks it. Not thread-safe. */
int rcnn_conv_direct_use(int level);
void rcnn_conv_direct(const float *in, int c, int h, int w, const float *weight, int kh, int kw, int stride_h,
                      int stride_w, int pad_h, int pad_w, const float *bias, float *out, int oh, int ow, int o0,
                      int o1, int y0, int y1);

/* dst[j * dst_ld + i] = src[i * src_ld + j] for i < rows, j < cols: a matrix transposed. */
void rcnn_transpose(const float *src, int rows, int cols, long src_ld, float *dst, long dst_ld);

/* SHA-256 compression of `blocks` 64-byte blocks into `state` (FIPS 180-4), with the CPU's SHA
 * extensions when it has them and `allow_extensions` is nonzero, else portable C. */
void rcnn_sha256_blocks(uint32_t state[8], const void *data, size_t blocks, int allow_extensions);

/* Whether this CPU has the SHA extensions (and SSE4.1, SSSE3); 0 on other architectures. */
int rcnn_sha256_has_extensions(void);

/* The widest vector instructions this CPU and OS support: 3 = AVX-512 (F, BW, DQ, VL),
 * 2 = AVX2 with FMA, 1 = AVX, 0 = SSE only (and 0 on other architectures). */
int rcnn_cpu_vector_level(void);
/* 3x3 max pooling, stride 2, padding 1, of one h x w plane into dst ((h - 1) / 2 + 1 rows of
 * (w - 1) / 2 + 1): each window clipped to the plane, visited row by row, m = (v > m || v is NaN)
 * ? v : m from -infinity. `vector` allows the AVX2 variant where the CPU has it; both give the same
 * bits. */
void rcnn_maxpool_3x3s2(int vector, const float *src, int h, int w, float *dst);

/* ---- int8: u8 activations x s8 weights -> s32 (int8_gemm.c) ---- */

/* Instruction-set paths of the int8 multiply, all exact for u8 activations and s8 weights. */
#define RCNN_I8_BASELINE 0   /* portable C */
#define RCNN_I8_AVX2 1       /* vpmaddubsw + vpmaddwd */
#define RCNN_I8_AVXVNNI 2    /* vpdpbusd, VEX */
#define RCNN_I8_AVX512VNNI 3 /* vpdpbusd, EVEX on 256-bit vectors */
/* Columns per packed weight panel. */
#define RCNN_I8_NR 16
/* Largest quantized activation of a model with 7-bit activations (the default before 8-bit ones, and
 * what AVX2's fastest kernels need) and with 8-bit activations. Every function that quantizes takes
 * its model's top level (`top`). */
#define RCNN_I8_MAX_ACTIVATION_7BIT 127
#define RCNN_I8_MAX_ACTIVATION_8BIT 255
/* The weight range of a narrow (7-bit) layer: four products of a 7-bit activation and such a weight
 * sum to at most 4 * 127 * 64 = 32512 in magnitude, inside s16. */
#define RCNN_I8_NARROW_MIN (-64)
#define RCNN_I8_NARROW_MAX 63
/* `flags` of the multiply: what the caller promises about its operands, which the AVX2 path needs to
 * pick an exact kernel (the other paths are exact for any u8 x s8). */
#define RCNN_I8_NARROW_WEIGHTS 1    /* every weight in RCNN_I8_NARROW_MIN...RCNN_I8_NARROW_MAX */
#define RCNN_I8_WIDE_ACTIVATIONS 2  /* activations may exceed RCNN_I8_MAX_ACTIVATION_7BIT */

int rcnn_i8_isa_supported(int isa);
/* The fastest path this CPU runs (AVX-512 VNNI, AVX-VNNI, AVX2, baseline). */
int rcnn_i8_best_isa(void);

/* Bytes of a packed weight matrix with `k` inputs and `n` outputs (k rounded up to 4, n to 16). */
size_t rcnn_i8_packed_bytes(int k, int n);
/* Packs weights w[j * ldw + kk] (output j < n, input kk < k) as the multiply's B (k x n). */
void rcnn_i8_pack(const int8_t *w, int n, int k, long ldw, int8_t *packed);

/* c[i * ldc + j] = sum over kk < k of a[i * lda + kk] * B[kk][j], for i < m and j < n, with B packed by
 * rcnn_i8_pack. Rows of `a` hold k rounded up to 4 bytes (the padding multiplies zero weights).
 * `flags` (RCNN_I8_NARROW_WEIGHTS, RCNN_I8_WIDE_ACTIVATIONS) pick the AVX2 kernel: with 7-bit
 * activations and narrow weights it adds two pair sums in 16 bits before widening them (a third
 * fewer multiply instructions); with 8-bit activations and 8-bit weights it splits each activation's
 * top bit off (twice the multiply instructions). A flag must not be left out where its condition is
 * false; the result is the same exact sum on every path.
 * Returns -1 when this CPU lacks `isa`, else 0. Single-threaded; callers split m. */
int rcnn_i8_gemm(int isa, int m, const uint8_t *a, long lda, const int8_t *packed, int k, int n,
                 int flags, int32_t *c, long ldc);

/* Quantizing functions compute q = clamp(rint(x * inv_scale + zero_point), 0, top), NaN to 0, with
 * `top` the model's largest level (RCNN_I8_MAX_ACTIVATION_7BIT or _8BIT). */

/* Quantizes pixels [first, first + count) of planar src [channels][plane] into dst [plane][channels].
 * `isa` as for the multiply: the baseline runs scalar code, every other path AVX2 code; same bits. */
void rcnn_i8_quantize_to_nhwc(int isa, const float *src, int channels, int plane, float inv_scale, int zero_point, int top,
                              int first, int count, uint8_t *dst);
/* Quantizes a rows x cols matrix, zeroing dst's columns up to cols rounded up to 4. */
void rcnn_i8_quantize_rows(const float *src, long lds, int rows, int cols, float inv_scale, int zero_point, int top,
                           uint8_t *dst, long ldd);
/* dst[i] += add[i] for i < n (the float32 add), and levels[i] = that sum quantized as
 * rcnn_i8_quantize_to_nhwc quantizes: one pixel of an FPN level's top-down merge, quantized for the
 * level's output layer in the same pass. `isa` as for rcnn_i8_quantize_to_nhwc; every path gives
 * the same sums and levels. */
void rcnn_i8_add_quantize(int isa, float *dst, const float *add, int n, float inv_scale, int zero_point, int top,
                          uint8_t *levels);
/* Lowers output pixels [first, first + rows) (numbered over images, rows, columns) of a convolution
 * over src [images][h][w][channels] into dst rows of kh * kw * channels bytes in (ki, kj, channel)
 * order, zero_point outside the image, then zeros up to a multiple of 4. */
void rcnn_i8_lower(const uint8_t *src, int channels, int h, int w, int kh, int kw, int stride_h, int stride_w,
                   int pad_h, int pad_w, int dil_h, int dil_w, int oh, int ow, int zero_point,
                   long first, int rows, uint8_t *dst, long ldd);
/* Depthwise convolution (one kh x kw filter per channel) of pixel-major levels src
 * [images][h][w][channels], for output pixels [first, first + count) numbered over images, rows and
 * columns: acc row r (leading dimension ldacc) gets each channel's exact sum of level times weight
 * over the taps, zero_point outside the image. weights: [kh * kw][channels] levels as int32.
 * `isa` picks the compiled variant (portable, AVX2, AVX-512 for the AVX-512 VNNI path); all give
 * the same exact sums. Returns -1 when this CPU lacks `isa`, else 0. Single-threaded. */
int rcnn_i8_depthwise(int isa, const uint8_t *src, int channels, int h, int w, int kh, int kw, int stride_h, int stride_w,
                       int pad_h, int pad_w, int dil_h, int dil_w, int oh, int ow, int zero_point,
                       const int32_t *weights, long first, int count, int32_t *acc, long ldacc);
/* Dequantizes rows of acc (output pixels first..., n channels) into dst [images][n][plane]:
 * (acc - offset[o]) * scale[o] + bias[o], then max(v, 0) when relu (NaN kept). `isa` as above. */
void rcnn_i8_store_nchw(int isa, const int32_t *acc, long ldacc, long first, int rows, int n, const int32_t *offset,
                        const float *scale, const float *bias, int relu, float *dst, long plane);
/* The activations rcnn_i8_requantize_rows applies between dequantizing and quantizing again. */
#define RCNN_I8_ACT_IDENTITY 0
#define RCNN_I8_ACT_RELU 1
#define RCNN_I8_ACT_HARDSWISH 2 /* x * min(max(x + 3, 0), 6) / 6, as the float32 activation computes it */
/* Dequantizes rows of acc as rcnn_i8_store_nchw does, applies `act` (RCNN_I8_ACT_*), then quantizes
 * each value for the next layer (as rcnn_i8_quantize_to_nhwc would) into row-major u8 dst (rows x n,
 * leading dimension ldd): the same levels as storing, activating and quantizing again, without the
 * float tensor. When `values` is not NULL the activated floats are stored there too (float rows ldv
 * apart): a map kept as pixel rows and the next layer's levels from one pass over the sums. */
void rcnn_i8_requantize_rows(int isa, const int32_t *acc, long ldacc, int rows, int n, const int32_t *offset,
                             const float *scale, const float *bias, int act, float inv_scale, int zero_point,
                             int top, uint8_t *dst, long ldd, float *values, long ldv);
/* A convolution ending at a residual join: dst = max(dequantized + residual, 0) (residual laid out as
 * dst, the add-ReLU of the float32 path: v <= 0 gives +0), and, when levels is not NULL, the same
 * values quantized (inv_scale, zero_point) for the next layer into pixel-major levels, row r of
 * this call at levels + r * n. `isa` as for rcnn_i8_store_nchw. */
void rcnn_i8_store_nchw_residual(int isa, const int32_t *acc, long ldacc, long first, int rows, int n,
                                 const int32_t *offset, const float *scale, const float *bias, const float *residual,
                                 float *dst, long plane, float inv_scale, int zero_point, int top, uint8_t *levels);
/* The shortcut of a residual join on pixel rows, the first non-NULL of: `levels` (u8 rows `ld`
 * apart: the block input's levels, value (level - zero_point) * scale), `values` (float rows `ld`
 * apart: the block input itself), or a downsampling layer's int32 `sums` (rows `ld` apart)
 * dequantized with its own offset, channel_scale and bias (may be NULL). */
typedef struct {
    const uint8_t *levels;
    float scale;
    int zero_point;
    const float *values;
    const int32_t *sums;
    const int32_t *offset;
    const float *channel_scale;
    const float *bias;
    long ld;
} rcnn_i8_shortcut;
/* A ResNet block's last convolution joined to its shortcut on pixel rows, without NCHW tensors: for
 * each of `rows` rows of sums (pixel-major, n channels), v = dequantized sum + shortcut value
 * (shortcut row r belongs to acc row r), max(v, 0) as the float32 add-ReLU (v <= 0 gives +0, NaN
 * passes), quantized (inv_scale, zero_point) into the row-major u8 dst (rows ldd apart) and, when
 * `values` is not NULL, stored there too (float rows ldv apart). `isa` as for rcnn_i8_store_nchw;
 * every path gives the same levels and values. */
void rcnn_i8_join_rows(int isa, const int32_t *acc, long ldacc, int rows, int n, const int32_t *offset,
                       const float *scale, const float *bias, const rcnn_i8_shortcut *shortcut, float inv_scale,
                       int zero_point, int top, uint8_t *dst, long ldd, float *values, long ldv);
/* What rcnn_i8_gemm_requantize does with the sums in place of storing them: row i of the multiply
 * dequantized (offset, scale, bias: per output, bias may be NULL), activated (`act`) or, when
 * `shortcut` is not NULL, joined to the shortcut's row i, and quantized (inv_scale, zero_point) into
 * dst + i * ldd; when `values` is not NULL the floats also go to values + i * ldv. Exactly
 * rcnn_i8_requantize_rows (no shortcut) or rcnn_i8_join_rows on the stored sums. */
typedef struct {
    const int32_t *offset;
    const float *scale;
    const float *bias;
    int act;
    const rcnn_i8_shortcut *shortcut;
    float inv_scale;
    int zero_point;
    int top;
    uint8_t *dst;
    long ldd;
    float *values;
    long ldv;
} rcnn_i8_requantize;
/* rcnn_i8_gemm followed by the requantizing store `rq`, fused: each tile of sums is requantized
 * from the registers (or a small stack tile at the edges) as soon as its last k block is summed, so
 * the int32 sums never go out to memory when k fits one block of the multiply; with longer k the
 * partial sums of the earlier blocks pass through c (m x n, ldc), which is otherwise untouched.
 * The same levels and values as rcnn_i8_gemm then the store, on every path. Returns -1 when this
 * CPU lacks `isa`, else 0. */
int rcnn_i8_gemm_requantize(int isa, int m, const uint8_t *a, long lda, const int8_t *packed, int k, int n,
                            int flags, int32_t *c, long ldc, const rcnn_i8_requantize *rq);
/* A transposed convolution whose kernel equals its stride (no overlap, no padding): rows of acc are
 * input pixels first... (numbered over images), columns j = tap * channels + o with tap = a * kw + b;
 * each value, dequantized as rcnn_i8_store_nchw does with offset/scale/bias[j], goes to output pixel
 * (iy * kh + a, ix * kw + b) of channel o in dst [images][channels][h * kh][w * kw]. */
void rcnn_i8_store_upsampled(const int32_t *acc, long ldacc, long first, int rows, int channels, int kh, int kw,
                             int h, int w, const int32_t *offset, const float *scale, const float *bias, int relu,
                             float *dst);
/* The same into a row-major dst (rows x n, leading dimension ldd): linear layers, and convolutions
 * whose output is kept as pixel rows. `isa` as for rcnn_i8_store_nchw; every path gives the same values. */
void rcnn_i8_store_rows(int isa, const int32_t *acc, long ldacc, int rows, int n, const int32_t *offset,
                        const float *scale, const float *bias, int relu, float *dst, long ldd);

/* A 1x1 convolution on int8 levels with float32 weights (levels_conv1x1.c): for `count` pixels of
 * `c` levels each (pixel-major), out[j * ldo + p] = bias[j] + sum over ch of w[j * c + ch] *
 * ((levels[p * c + ch] - zero_point) * scale), j < o (bias may be NULL). `w` holds o rows rounded up
 * to a multiple of 8 (rows past o are read, not used: zeros). The baseline runs scalar
 * code, every other `isa` AVX2 + FMA code; same bits. Returns -1 when the CPU lacks AVX2, else 0.
 * Single-threaded; callers split the pixels. */
int rcnn_levels_conv1x1(int isa, const uint8_t *levels, int c, int count, float scale, int zero_point, const float *w,
                        const float *bias, int o, float *out, long ldo);

#endif
