/* An 8 x 8 float transpose in AVX2 registers, shared by the kernels that change layout
 * (int8_layout.c's stores, sampling.c's rcnn_transpose). Include after <immintrin.h>. */
#ifndef RCNN_TRANSPOSE8_H
#define RCNN_TRANSPOSE8_H
#if defined(__x86_64__)
/* v: 8 rows of 8 floats -> t: its 8 columns (v is clobbered). */
__attribute__((target("avx2"))) static inline void transpose_8x8_ps(__m256 v[8], __m256 t[8]) {
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(v[2 * i], v[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(v[2 * i], v[2 * i + 1]);
    }
    for (int i = 0; i < 2; i++) {
        v[4 * i + 0] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
        v[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
        v[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        v[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
    for (int i = 0; i < 4; i++) {
        t[i] = _mm256_permute2f128_ps(v[i], v[i + 4], 0x20);
        t[i + 4] = _mm256_permute2f128_ps(v[i], v[i + 4], 0x31);
    }
}
#endif
#endif
