#include "CKernels.h"
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include "transpose8.h"


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

/* dst[j][i] = src[i][j] over [i0, i1) x [j0, j1), one element at a time. */
static void transpose_block(const float *src, long src_ld, float *dst, long dst_ld, int i0, int i1, int j0, int j1) {
    for (int i = i0; i < i1; i++)
        for (int j = j0; j < j1; j++) dst[(long)j * dst_ld + i] = src[(long)i * src_ld + j];
}

#if defined(__x86_64__)
/* Whole 8 x 8 tiles through registers (a copy: the same bits as the scalar loop), edges scalar. */
__attribute__((target("avx2"))) static void transpose_avx2(const float *src, int rows, int cols, long src_ld,
                                                           float *dst, long dst_ld) {
    const int rows8 = rows / 8 * 8, cols8 = cols / 8 * 8;
    for (int i0 = 0; i0 < rows8; i0 += 32) {
        const int i1 = i0 + 32 < rows8 ? i0 + 32 : rows8;
        for (int j0 = 0; j0 < cols8; j0 += 32) {
            const int j1 = j0 + 32 < cols8 ? j0 + 32 : cols8;
            for (int i = i0; i < i1; i += 8)
                for (int j = j0; j < j1; j += 8) {
                    __m256 v[8], t[8];
                    for (int r = 0; r < 8; r++) v[r] = _mm256_loadu_ps(src + (long)(i + r) * src_ld + j);
                    transpose_8x8_ps(v, t);
                    for (int r = 0; r < 8; r++) _mm256_storeu_ps(dst + (long)(j + r) * dst_ld + i, t[r]);
                }
        }
    }
    if (cols8 < cols) transpose_block(src, src_ld, dst, dst_ld, 0, rows8, cols8, cols);
    if (rows8 < rows) transpose_block(src, src_ld, dst, dst_ld, rows8, rows, 0, cols);
}
#endif

void rcnn_transpose(const float *src, int rows, int cols, long src_ld, float *dst, long dst_ld) {
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx2")) {
        transpose_avx2(src, rows, cols, src_ld, dst, dst_ld);
        return;
    }
#endif
    /* Blocks of 32 x 32 so both sides stay in cache. */
    for (int i0 = 0; i0 < rows; i0 += 32) {
        const int i1 = i0 + 32 < rows ? i0 + 32 : rows;
        for (int j0 = 0; j0 < cols; j0 += 32) transpose_block(src, src_ld, dst, dst_ld, i0, i1, j0, j0 + 32 < cols ? j0 + 32 : cols);
    }
}
