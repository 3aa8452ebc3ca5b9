/*
 * A 1x1 convolution whose input is int8 levels and whose weights are float32: each level's value
 * ((q - zero_point) * scale) multiplied by the weights in registers, without a dequantized copy.
 * The AVX2 path keeps 8 channel lanes per output, adds the lanes in a fixed order and then the
 * channels past the last multiple of 8 one by one; the portable path computes the same sums in
 * the same order with fmaf, so both give the same bits.
 */
#include "CKernels.h"
#include <math.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* The lanes' sum in the AVX2 path's order: halves added lane by lane, then pairs. */
static inline float lanes_sum(const float l[8]) {
    const float a0 = l[0] + l[4], a1 = l[1] + l[5], a2 = l[2] + l[6], a3 = l[3] + l[7];
    return (a0 + a2) + (a1 + a3);
}

static void levels_conv1x1_scalar(const uint8_t *levels, int c, int count, float scale, float zp, const float *w,
                                  const float *bias, int o, float *out, long ldo) {
    const int c8 = c & ~7;
    for (int p = 0; p < count; p++) {
        const uint8_t *q = levels + (size_t)p * c;
        for (int j = 0; j < o; j++) {
            const float *wj = w + (size_t)j * c;
            float lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            for (int ch = 0; ch < c8; ch += 8)
                for (int l = 0; l < 8; l++) lanes[l] = fmaf(((float)q[ch + l] - zp) * scale, wj[ch + l], lanes[l]);
            float s = lanes_sum(lanes);
            for (int ch = c8; ch < c; ch++) s = fmaf(((float)q[ch] - zp) * scale, wj[ch], s);
            out[(size_t)j * ldo + p] = s + (bias ? bias[j] : 0.0f);
        }
    }
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) static inline float hsum(__m256 v) {
    const __m128 a = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1)); /* a0..a3 */
    const __m128 b = _mm_add_ps(a, _mm_movehl_ps(a, a));                                   /* a0+a2, a1+a3 */
    return _mm_cvtss_f32(_mm_add_ss(b, _mm_movehdup_ps(b)));
}

/* Outputs [j0, j0 + G) of one pixel, G a constant (8 or 4) so that the accumulators stay in
 * registers; the weights hold rows up to j0 + G (zero rows past the layer's outputs). */
#define PIXEL_GROUP(G)                                                                                        \
    __attribute__((target("avx2,fma"))) static inline void pixel_group##G(                                   \
        const uint8_t *q, int c, int c8, __m256 sv, __m256 zv, float scale, float zp, const float *w, int j0,  \
        float *sums) {                                                                                         \
        __m256 acc[G];                                                                                         \
        for (int j = 0; j < G; j++) acc[j] = _mm256_setzero_ps();                                              \
        const float *wg = w + (size_t)j0 * c;                                                                  \
        for (int ch = 0; ch < c8; ch += 8) {                                                                   \
            const __m128i bytes = _mm_loadl_epi64((const __m128i *)(q + ch));                                  \
            const __m256 x = _mm256_mul_ps(_mm256_sub_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes)), zv), sv); \
            for (int j = 0; j < G; j++) acc[j] = _mm256_fmadd_ps(x, _mm256_loadu_ps(wg + (size_t)j * c + ch), acc[j]); \
        }                                                                                                      \
        for (int j = 0; j < G; j++) {                                                                          \
            float s = hsum(acc[j]);                                                                            \
            const float *wj = wg + (size_t)j * c;                                                              \
            for (int ch = c8; ch < c; ch++) s = fmaf(((float)q[ch] - zp) * scale, wj[ch], s);                 \
            sums[j] = s;                                                                                       \
        }                                                                                                      \
    }
PIXEL_GROUP(8)
PIXEL_GROUP(4)

__attribute__((target("avx2,fma"))) static void levels_conv1x1_avx2(const uint8_t *levels, int c, int count, float scale,
                                                                   float zp, const float *w, const float *bias, int o,
                                                                   float *out, long ldo) {
    const int c8 = c & ~7;
    const __m256 sv = _mm256_set1_ps(scale), zv = _mm256_set1_ps(zp);
    float sums[8];
    for (int p = 0; p < count; p++) {
        const uint8_t *q = levels + (size_t)p * c;
        for (int j0 = 0; j0 < o;) {
            const int g = o - j0 > 4 ? 8 : 4;
            if (g == 8) pixel_group8(q, c, c8, sv, zv, scale, zp, w, j0, sums);
            else pixel_group4(q, c, c8, sv, zv, scale, zp, w, j0, sums);
            const int kept = o - j0 < g ? o - j0 : g;
            for (int j = 0; j < kept; j++) out[(size_t)(j0 + j) * ldo + p] = sums[j] + (bias ? bias[j0 + j] : 0.0f);
            j0 += g;
        }
    }
}
#endif

int rcnn_levels_conv1x1(int isa, const uint8_t *levels, int c, int count, float scale, int zero_point, const float *w,
                        const float *bias, int o, float *out, long ldo) {
    const float zp = (float)zero_point;
#if defined(__x86_64__)
    if (isa != RCNN_I8_BASELINE) {
        if (!rcnn_i8_isa_supported(RCNN_I8_AVX2)) return -1;
        levels_conv1x1_avx2(levels, c, count, scale, zp, w, bias, o, out, ldo);
        return 0;
    }
#endif
    (void)isa;
    levels_conv1x1_scalar(levels, c, count, scale, zp, w, bias, o, out, ldo);
    return 0;
}
