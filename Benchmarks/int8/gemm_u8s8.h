/* gemm_u8s8.h -- C(s32, M x N) = A(u8, M x K, row-major) * B(s8, K x N, row-major).
 *
 * Conv mapping used by the study: A = im2col'd activations, one row per output pixel
 * (NHWC order, so M = output pixels), B = weights (K = in_ch*kh*kw rows, N = out_ch
 * columns), pre-packed once with u8s8_pack_b().
 *
 * Range contract (the AVX2 path uses vpmaddubsw, whose int16 pair-sum saturates):
 *   U8S8_ISA_AVX2 : exact for A in [0,127] (7-bit activations), B in [-128,127].
 *   U8S8_ISA_C, the VNNI paths : exact for the full A in [0,255], B in [-128,127].
 * int32 accumulation is exact while K*255*128 < 2^31 (K < 65793).
 */
#ifndef GEMM_U8S8_H
#define GEMM_U8S8_H
#include <stdint.h>
#include <stddef.h>

enum u8s8_isa {
    U8S8_ISA_AUTO = -1,
    U8S8_ISA_C = 0,          /* portable C, no packing needed */
    U8S8_ISA_AVX2 = 1,       /* vpmaddubsw + vpmaddwd, 7-bit activations */
    U8S8_ISA_AVX512VNNI = 2, /* vpdpbusd on ymm (EVEX: avx512vnni + avx512vl) */
    U8S8_ISA_AVXVNNI = 3     /* vpdpbusd on ymm (VEX: avxvnni; Alder Lake+, Zen 5) */
};

#define U8S8_NR 16 /* columns per packed B panel (2 ymm of int32) */

typedef struct {
    int K, N;     /* logical shape */
    int Kp, Np;   /* K rounded up to 4, N rounded up to U8S8_NR */
    int8_t *data; /* [Np/NR][Kp/4][NR][4], zero padded; 64-byte aligned */
} u8s8_packed_b;

/* Best SIMD path this CPU can run (AVX512VNNI > AVXVNNI > AVX2 > C). The environment
 * variable U8S8_ISA=c|avx2|avx512vnni|avxvnni overrides it. */
int u8s8_best_isa(void);
int u8s8_isa_supported(int isa);
const char *u8s8_isa_name(int isa);

/* Pack B (K x N, leading dimension ldb) once. Returns 0 on success. */
int u8s8_pack_b(u8s8_packed_b *pb, const int8_t *B, int K, int N, int ldb);
void u8s8_free_b(u8s8_packed_b *pb);

/* C = A * B with a packed B. isa: one of the SIMD paths (or AUTO); nthreads <= 0 means
 * omp_get_max_threads(). Returns -1 if the ISA is not supported by this CPU, -2 if
 * scratch memory could not be allocated. */
int u8s8_gemm_packed(int isa, int M, const uint8_t *A, int lda, const u8s8_packed_b *pb,
                     int32_t *C, int ldc, int nthreads);

/* Portable C baseline on unpacked B (exact for the full u8/s8 range). */
void u8s8_gemm_c(int M, int N, int K, const uint8_t *A, int lda, const int8_t *B, int ldb,
                 int32_t *C, int ldc, int nthreads);

#endif
