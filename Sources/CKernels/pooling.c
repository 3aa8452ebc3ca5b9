/* 3x3 max pooling with stride 2 and padding 1, the pooling after ResNet's first convolution, one
 * plane at a time. Each output is the window's values clipped to the plane, visited row by row and
 * left to right with m = (v > m || v is NaN) ? v : m from -infinity: the scalar loop of
 * Pooling.maxPool2d, so equal values (+0 and -0) keep the first seen and a NaN the last. The AVX2
 * variant runs eight outputs of a row at once, each lane visiting its window in the same order. */
#include "CKernels.h"
#if defined(__x86_64__)
#include <immintrin.h>
#endif

static inline float step(float m, float v) { return (v > m || v != v) ? v : m; }

static float window(const float *src, int h, int w, int oy, int ox) {
    const int y0 = 2 * oy - 1, x0 = 2 * ox - 1;
    float m = -__builtin_inff();
    for (int y = y0 < 0 ? 0 : y0; y < y0 + 3 && y < h; y++)
        for (int x = x0 < 0 ? 0 : x0; x < x0 + 3 && x < w; x++) m = step(m, src[(size_t)y * w + x]);
    return m;
}

#if defined(__x86_64__)
/* p[0], p[2], ..., p[14] and p[1], p[3], ..., p[15]. */
__attribute__((target("avx2"))) static inline __m256 evens(const float *p) {
    const __m256 t = _mm256_shuffle_ps(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8), _MM_SHUFFLE(2, 0, 2, 0));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(t), _MM_SHUFFLE(3, 1, 2, 0)));
}

__attribute__((target("avx2"))) static inline __m256 odds(const float *p) {
    const __m256 t = _mm256_shuffle_ps(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8), _MM_SHUFFLE(3, 1, 3, 1));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(t), _MM_SHUFFLE(3, 1, 2, 0)));
}

/* step() on eight lanes: max_ps(v, m) is v when v > m and m otherwise (also when m is NaN); a NaN v wins. */
__attribute__((target("avx2"))) static inline __m256 step8(__m256 m, __m256 v) {
    return _mm256_blendv_ps(_mm256_max_ps(v, m), v, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
}

__attribute__((target("avx2"))) static void maxpool_avx2(const float *src, int h, int w, float *dst, int oh, int ow) {
    /* Outputs ox..ox+7 read columns 2ox-1 ... 2ox+15; the right column's load reaches 2ox+16. */
    const int last = (w - 17) / 2;
    for (int oy = 0; oy < oh; oy++) {
        const int y0 = 2 * oy - 1;
        const int ya = y0 < 0 ? 0 : y0, yb = y0 + 3 < h ? y0 + 3 : h;
        float *out = dst + (size_t)oy * ow;
        int ox = 0;
        if (ow > 0) out[ox++] = window(src, h, w, oy, 0);
        for (; ox + 7 < ow && ox <= last; ox += 8) {
            __m256 m = _mm256_set1_ps(-__builtin_inff());
            for (int y = ya; y < yb; y++) {
                const float *row = src + (size_t)y * w + 2 * ox - 1;
                m = step8(m, evens(row));
                m = step8(m, odds(row));
                m = step8(m, evens(row + 2));
            }
            _mm256_storeu_ps(out + ox, m);
        }
        for (; ox < ow; ox++) out[ox] = window(src, h, w, oy, ox);
    }
}
#endif

void rcnn_maxpool_3x3s2(int vector, const float *src, int h, int w, float *dst) {
    const int oh = (h - 1) / 2 + 1, ow = (w - 1) / 2 + 1;
#if defined(__x86_64__)
    if (vector && rcnn_cpu_vector_level() >= 2) {
        maxpool_avx2(src, h, w, dst, oh, ow);
        return;
    }
#endif
    (void)vector;
    for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++) dst[(size_t)oy * ow + ox] = window(src, h, w, oy, ox);
}
