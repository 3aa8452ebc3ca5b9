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

#endif
