/* gemm_u8s8.c -- u8 x s8 -> s32 GEMM: portable C baseline, AVX2 (vpmaddubsw/vpmaddwd),
 * AVX512-VNNI on ymm and AVX-VNNI (vpdpbusd). Written for the rcnn int8 study.
 *
 * Structure (Goto/BLIS style):
 *   B (weights) is packed once into column panels of NR=16: for every group of 4
 *   consecutive k, the 16 columns x 4 bytes are contiguous (64 bytes = 2 ymm), so one
 *   ymm holds 8 columns x 4 k values -- the operand layout vpmaddubsw/vpdpbusd want.
 *   K is zero padded to a multiple of 4 and N to a multiple of 16.
 *   A (activations) is not packed when K % 4 == 0: the kernel broadcasts one 32-bit
 *   word (4 consecutive u8 of a row) per row and k-group straight from the row-major
 *   matrix, and the driver software-prefetches the next MR rows while the first column
 *   panel runs. Partial MR tiles, and every tile when K % 4 != 0, are packed into
 *   MR-row micro-panels with the same 4-k grouping (zero padded).
 *   The microkernel keeps MR x 16 int32 accumulators in registers
 *   (AVX2: 4 x 16 = 8 ymm; VNNI: 6 x 16 = 12 ymm).
 *
 * Loop nest per thread (threads split M into MR-aligned ranges, no synchronisation):
 *   pc over K in equal blocks <= KC -> ic over M in MC -> jr over N in NR (B micro-panel
 *   kc x 16 stays in L1) -> ir over MC in MR -> microkernel (kc/4 steps). C is written on
 *   the first K block and accumulated on the later ones.
 * Tuning (this study's Zen 4 box, idle): KC=1152 and MC=192 were within noise of the
 * best of KC in {288..2304}, MC in {96,192,384}; MR=8/12 for VNNI were not faster.
 */
#include "gemm_u8s8.h"
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>

#ifndef U8S8_KC
#define U8S8_KC 1152 /* max k per block (bytes of an A row); multiple of 4 */
#endif
#ifndef U8S8_MC
#define U8S8_MC 192 /* rows of A per packed block; multiple of every MR below */
#endif
#ifndef U8S8_MR_AVX2
#define U8S8_MR_AVX2 4 /* 4 x 16 = 8 ymm accumulators, + 2 B + A + ones + temps */
#endif
#ifndef U8S8_MR_VNNI512
#define U8S8_MR_VNNI512 6 /* EVEX code may use ymm0-31 */
#endif
#ifndef U8S8_MR_AVXVNNI
#define U8S8_MR_AVXVNNI 6 /* 12 acc + 2 B + A = 15 of 16 ymm */
#endif

#define NR U8S8_NR

/* A operand: row r, k-group g at pa + r*rs + g*gs (packed: rs=4, gs=4*MR; direct from a
 * row-major A with K % 4 == 0: rs=lda, gs=4). */
typedef void (*kern_fn)(int kg, const uint8_t *pa, long rs, long gs, const int8_t *pb,
                        int32_t *C, int ldc, int accum, int mr, int nr);

static inline int imin(int a, int b) { return a < b ? a : b; }

/* ---------------------------------------------------------------- packing -- */

int u8s8_pack_b(u8s8_packed_b *pb, const int8_t *B, int K, int N, int ldb)
{
    int Kp = (K + 3) & ~3, Np = (N + NR - 1) / NR * NR;
    size_t bytes = (size_t)Kp * Np;
    int8_t *d = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    if (!d) return -1;
    memset(d, 0, bytes);
    for (int jp = 0; jp < Np; jp += NR) {
        int8_t *panel = d + (size_t)jp * Kp; /* Kp x NR bytes */
        for (int k = 0; k < K; k++) {
            const int8_t *row = B + (size_t)k * ldb;
            int8_t *dst = panel + (size_t)(k >> 2) * (4 * NR) + (k & 3);
            int nn = imin(NR, N - jp);
            for (int j = 0; j < nn; j++) dst[4 * j] = row[jp + j];
        }
    }
    pb->K = K; pb->N = N; pb->Kp = Kp; pb->Np = Np; pb->data = d;
    return 0;
}

void u8s8_free_b(u8s8_packed_b *pb) { free(pb->data); pb->data = NULL; }

/* Pack rows [i0, i0+mc) x k [pc, pc+kc) of A into MR-row micro-panels:
 * dst[(ir/MR)][g][r][4], zero outside the matrix. kc is a multiple of 4. */
static void pack_a(uint8_t *dst, const uint8_t *A, int lda, int i0, int mc, int pc, int kc,
                   int K, int MR)
{
    int kvalid = imin(kc, K - pc);           /* may be < kc only on the last K block */
    int kfull = kvalid & ~3;                 /* whole 4-groups fully inside K */
    for (int ir = 0; ir < mc; ir += MR) {
        uint8_t *p = dst + (size_t)ir * kc;
        for (int r = 0; r < MR; r++) {
            uint8_t *q = p + 4 * r;
            if (ir + r >= mc) {              /* padding row */
                for (int g = 0; g < kc / 4; g++) memset(q + (size_t)g * 4 * MR, 0, 4);
                continue;
            }
            const uint8_t *src = A + (size_t)(i0 + ir + r) * lda + pc;
            int k = 0;
            for (; k < kfull; k += 4) memcpy(q + (size_t)(k / 4) * 4 * MR, src + k, 4);
            for (; k < kc; k += 4) {         /* tail: partial group, then zero groups */
                uint8_t t[4] = {0, 0, 0, 0};
                for (int u = 0; u < 4 && k + u < kvalid; u++) t[u] = src[k + u];
                memcpy(q + (size_t)(k / 4) * 4 * MR, t, 4);
            }
        }
    }
}

/* ------------------------------------------------------------ microkernels -- */

/* Write an MR x 16 tile of accumulators; accum adds to what is in C. */
#define STORE_TILE(MR_)                                                                  \
    if (mr == MR_ && nr == NR) {                                                         \
        _Pragma("GCC unroll 16") for (int r = 0; r < MR_; r++) {                        \
            __m256i *p0 = (__m256i *)(C + (size_t)r * ldc), *p1 = p0 + 1;                \
            if (accum) {                                                                 \
                acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_loadu_si256(p0));         \
                acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_loadu_si256(p1));         \
            }                                                                            \
            _mm256_storeu_si256(p0, acc[r][0]);                                          \
            _mm256_storeu_si256(p1, acc[r][1]);                                          \
        }                                                                                \
    } else {                                                                             \
        int32_t tmp[MR_][NR] __attribute__((aligned(32)));                               \
        _Pragma("GCC unroll 16") for (int r = 0; r < MR_; r++) {                        \
            _mm256_store_si256((__m256i *)&tmp[r][0], acc[r][0]);                        \
            _mm256_store_si256((__m256i *)&tmp[r][8], acc[r][1]);                        \
        }                                                                                \
        for (int r = 0; r < mr; r++)                                                     \
            for (int j = 0; j < nr; j++)                                                 \
                C[(size_t)r * ldc + j] = (accum ? C[(size_t)r * ldc + j] : 0) + tmp[r][j]; \
    }

#define DEFINE_KERNEL(NAME, TARGET, MR_, STEP)                                           \
    __attribute__((target(TARGET))) static void NAME(int kg, const uint8_t *pa, long rs, \
                                                     long gs, const int8_t *pb,         \
                                                     int32_t *C, int ldc, int accum,    \
                                                     int mr, int nr)                    \
    {                                                                                    \
        __m256i acc[MR_][2];                                                             \
        _Pragma("GCC unroll 16") for (int r = 0; r < MR_; r++) {                        \
            acc[r][0] = _mm256_setzero_si256();                                          \
            acc[r][1] = _mm256_setzero_si256();                                          \
        }                                                                                \
        const __m256i ones = _mm256_set1_epi16(1);                                       \
        (void)ones;                                                                      \
        for (int g = 0; g < kg; g++) {                                                   \
            const __m256i b0 = _mm256_load_si256((const __m256i *)pb);                   \
            const __m256i b1 = _mm256_load_si256((const __m256i *)(pb + 32));            \
            _Pragma("GCC unroll 16") for (int r = 0; r < MR_; r++) {                    \
                int32_t a4;                                                              \
                memcpy(&a4, pa + r * rs, 4);                                             \
                const __m256i a = _mm256_set1_epi32(a4);                                 \
                STEP(acc[r][0], a, b0);                                                  \
                STEP(acc[r][1], a, b1);                                                  \
            }                                                                            \
            pa += gs;                                                                    \
            pb += 4 * NR;                                                                \
        }                                                                                \
        STORE_TILE(MR_)                                                                  \
    }

/* AVX2: vpmaddubsw gives s16 sums of two u8*s8 products (saturating), vpmaddwd with
 * ones adds the two neighbouring s16 into one s32 (4 products per int32 lane). */
#define STEP_AVX2(ACC, A, B) \
    ACC = _mm256_add_epi32(ACC, _mm256_madd_epi16(_mm256_maddubs_epi16(A, B), ones))
/* VNNI: vpdpbusd adds the 4 u8*s8 products of each lane to the s32 accumulator, with
 * no intermediate saturation. */
#define STEP_VNNI512(ACC, A, B) ACC = _mm256_dpbusd_epi32(ACC, A, B)
#define STEP_AVXVNNI(ACC, A, B) ACC = _mm256_dpbusd_avx_epi32(ACC, A, B)

DEFINE_KERNEL(kern_avx2, "avx2,fma", U8S8_MR_AVX2, STEP_AVX2)
DEFINE_KERNEL(kern_vnni512, "avx2,fma,avx512f,avx512vl,avx512vnni", U8S8_MR_VNNI512, STEP_VNNI512)
DEFINE_KERNEL(kern_avxvnni, "avx2,fma,avxvnni", U8S8_MR_AVXVNNI, STEP_AVXVNNI)

/* ------------------------------------------------------------------ driver -- */

static void run_rows(kern_fn kern, int MR, int m0, int m1, const uint8_t *A, int lda,
                     const u8s8_packed_b *pb, int32_t *C, int ldc, uint8_t *abuf)
{
    const int Kp = pb->Kp, K = pb->K, N = pb->N, Np = pb->Np;
    /* With K % 4 == 0 every 4-group of a row is complete, so full MR-row tiles read A in
     * place (no packing); only a partial last tile of a block is packed (zero rows). */
    const int direct = (K & 3) == 0;
    /* split K into equal blocks of at most U8S8_KC (a multiple of 4) */
    const int nkb = (Kp + U8S8_KC - 1) / U8S8_KC;
    const int kcb = ((Kp + nkb - 1) / nkb + 3) & ~3;
    for (int pc = 0; pc < Kp; pc += kcb) {
        const int kc = imin(kcb, Kp - pc);
        for (int ic = m0; ic < m1; ic += U8S8_MC) {
            const int mc = imin(U8S8_MC, m1 - ic);
            const int mfull = direct ? mc / MR * MR : 0; /* rows read in place */
            if (mfull < mc) pack_a(abuf, A, lda, ic + mfull, mc - mfull, pc, kc, K, MR);
            for (int jr = 0; jr < Np; jr += NR) {
                const int8_t *bp = pb->data + (size_t)jr * Kp + (size_t)pc * NR;
                const int nr = imin(NR, N - jr);
                int32_t *cj = C + (size_t)ic * ldc + jr;
                int ir = 0;
                for (; ir < mfull; ir += MR) {
#ifndef U8S8_NO_PREFETCH
                    /* The first column panel pulls this A block from memory: prefetch the
                     * next tile's rows one kernel call (~kc*MR*16/32 cycles) ahead. */
                    if (jr == 0 && ir + MR < mfull) {
                        const uint8_t *nx = A + (size_t)(ic + ir + MR) * lda + pc;
                        for (int r = 0; r < MR; r++)
                            for (int o = 0; o < kc; o += 64) __builtin_prefetch(nx + (size_t)r * lda + o, 0, 3);
                    }
#endif
                    kern(kc / 4, A + (size_t)(ic + ir) * lda + pc, lda, 4, bp,
                         cj + (size_t)ir * ldc, ldc, pc > 0, MR, nr);
                }
                for (; ir < mc; ir += MR)
                    kern(kc / 4, abuf + (size_t)(ir - mfull) * kc, 4, 4 * MR, bp,
                         cj + (size_t)ir * ldc, ldc, pc > 0, imin(MR, mc - ir), nr);
            }
        }
    }
}

int u8s8_isa_supported(int isa)
{
    __builtin_cpu_init();
    switch (isa) {
    case U8S8_ISA_C: return 1;
    case U8S8_ISA_AVX2: return __builtin_cpu_supports("avx2") != 0;
    case U8S8_ISA_AVX512VNNI:
        return __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vl");
    case U8S8_ISA_AVXVNNI: return __builtin_cpu_supports("avxvnni") != 0;
    default: return 0;
    }
}

const char *u8s8_isa_name(int isa)
{
    switch (isa) {
    case U8S8_ISA_C: return "c";
    case U8S8_ISA_AVX2: return "avx2";
    case U8S8_ISA_AVX512VNNI: return "avx512vnni";
    case U8S8_ISA_AVXVNNI: return "avxvnni";
    default: return "?";
    }
}

int u8s8_best_isa(void)
{
    const char *e = getenv("U8S8_ISA");
    if (e) {
        for (int i = U8S8_ISA_C; i <= U8S8_ISA_AVXVNNI; i++)
            if (!strcmp(e, u8s8_isa_name(i)) && u8s8_isa_supported(i)) return i;
    }
    if (u8s8_isa_supported(U8S8_ISA_AVX512VNNI)) return U8S8_ISA_AVX512VNNI;
    if (u8s8_isa_supported(U8S8_ISA_AVXVNNI)) return U8S8_ISA_AVXVNNI;
    if (u8s8_isa_supported(U8S8_ISA_AVX2)) return U8S8_ISA_AVX2;
    return U8S8_ISA_C;
}

/* Per-thread scratch for packed A tiles, kept between calls (one per OpenMP thread). */
static __thread uint8_t *tl_abuf;
static __thread size_t tl_abuf_size;

int u8s8_gemm_packed(int isa, int M, const uint8_t *A, int lda, const u8s8_packed_b *pb,
                     int32_t *C, int ldc, int nthreads)
{
    if (isa == U8S8_ISA_AUTO) isa = u8s8_best_isa();
    if (!u8s8_isa_supported(isa) || isa == U8S8_ISA_C) return -1;
    kern_fn kern;
    int MR;
    switch (isa) {
    case U8S8_ISA_AVX2: kern = kern_avx2; MR = U8S8_MR_AVX2; break;
    case U8S8_ISA_AVX512VNNI: kern = kern_vnni512; MR = U8S8_MR_VNNI512; break;
    default: kern = kern_avxvnni; MR = U8S8_MR_AVXVNNI; break;
    }
    if (M <= 0 || pb->N <= 0) return 0;
    if (nthreads <= 0) nthreads = omp_get_max_threads();
    int chunks = (M + MR - 1) / MR;
    if (nthreads > chunks) nthreads = chunks;
    int alloc_failed = 0;
#pragma omp parallel num_threads(nthreads)
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        int c0 = (int)((long)chunks * t / nt), c1 = (int)((long)chunks * (t + 1) / nt);
        int m0 = c0 * MR, m1 = imin(M, c1 * MR);
        size_t need = ((size_t)((U8S8_MC + MR - 1) / MR * MR) * U8S8_KC + 63) & ~(size_t)63;
        if (tl_abuf_size < need) {
            free(tl_abuf);
            tl_abuf = aligned_alloc(64, need);
            tl_abuf_size = tl_abuf ? need : 0;
        }
        if (!tl_abuf) {
#pragma omp atomic write
            alloc_failed = 1;
        } else if (m0 < m1) {
            run_rows(kern, MR, m0, m1, A, lda, pb, C, ldc, tl_abuf);
        }
    }
    return alloc_failed ? -2 : 0;
}

/* ------------------------------------------------------------ C baseline -- */

void u8s8_gemm_c(int M, int N, int K, const uint8_t *A, int lda, const int8_t *B, int ldb,
                 int32_t *C, int ldc, int nthreads)
{
    if (nthreads <= 0) nthreads = omp_get_max_threads();
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (int i = 0; i < M; i++) {
        int32_t *c = C + (size_t)i * ldc;
        for (int j = 0; j < N; j++) c[j] = 0;
        for (int k = 0; k < K; k++) {
            const int32_t a = A[(size_t)i * lda + k];
            if (!a) continue;
            const int8_t *b = B + (size_t)k * ldb;
            for (int j = 0; j < N; j++) c[j] += a * (int32_t)b[j];
        }
    }
}
