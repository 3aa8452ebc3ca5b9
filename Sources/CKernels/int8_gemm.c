/* u8 x s8 -> s32 matrix multiply for the int8 precision of the convolutions and linear layers.
 *
 * C (m x n, int32) = A (m x kp, u8, row-major: one row per output pixel or RoI) * B (kp x n, s8),
 * with B packed once (rcnn_i8_pack) into column panels of RCNN_I8_NR: for every group of four
 * consecutive k the panel's 16 columns x 4 bytes lie together (64 bytes, two 256-bit vectors), the
 * operand layout of vpmaddubsw and vpdpbusd. k is padded to a multiple of 4 and n to a multiple of
 * 16 with zero weights, so A's padding columns contribute nothing.
 *
 * Paths, chosen at run time (rcnn_i8_best_isa):
 *   AVX-512 VNNI  vpdpbusd on ymm (EVEX encoding, so 32 registers: 6 x 16 accumulator tile)
 *   AVX-VNNI      vpdpbusd on ymm (VEX encoding, 16 registers: 6 x 16 tile)
 *   AVX2          vpmaddubsw (u8 x s8 pair sums to s16, saturating) then vpmaddwd with ones (4 x 16);
 *                 for narrow (7-bit) weights the pair sums of two k-groups are added in s16 first,
 *                 one vpmaddwd for both (3 x 16: no spills with the staged rows)
 *   baseline      portable C on the same packed layout (4 x 16)
 * The baseline and VNNI paths are exact for all of u8 x s8. The AVX2 pair sum saturates at 16 bits,
 * so AVX2 picks its kernel from what the caller promises (`flags`): 7-bit activations (A <= 127:
 * a pair sum is at most 2 * 127 * 128 = 32512) take the kernels above; 8-bit activations with 7-bit
 * weights (at most 2 * 255 * 64 = 32640) the plain 4 x 16 kernel; 8-bit activations with 8-bit
 * weights the split kernel, which multiplies the low 7 bits and the top bit of each activation
 * apart (twice the multiply instructions). So every path gives the same exact integers.
 *
 * Blocking (Goto style): k in equal blocks of at most KC bytes, m in blocks of MC rows, n in 16-column
 * panels (a kc x 16 panel stays in L1), then MR-row tiles. Full tiles read A where it lies; a partial
 * last tile is copied into a small zero-padded stack buffer. Single-threaded: the caller splits m.
 *
 * rcnn_i8_gemm_requantize runs the same loops with an epilogue: where a tile's last k block ends, its
 * sums are dequantized, activated or joined and quantized for the next layer straight from the
 * accumulator registers (int8_requantize.h's arithmetic, so the bits of the separate store), and
 * only the u8 levels (and float values where asked) are written. */
#include "CKernels.h"
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include "int8_requantize.h"

#define NR RCNN_I8_NR
#define KC 1152 /* a multiple of 4 */
#define MC 192  /* a multiple of every MR */
#define MR_MAX 6

static inline int imin(int a, int b) { return a < b ? a : b; }

size_t rcnn_i8_packed_bytes(int k, int n) {
    size_t kp = (size_t)((k + 3) & ~3), np = (size_t)((n + NR - 1) / NR * NR);
    return kp * np;
}

void rcnn_i8_pack(const int8_t *w, int n, int k, long ldw, int8_t *packed) {
    int kp = (k + 3) & ~3, np = (n + NR - 1) / NR * NR;
    memset(packed, 0, (size_t)kp * np);
    for (int j = 0; j < n; j++) {
        int8_t *panel = packed + (size_t)(j / NR) * NR * kp + (size_t)(j % NR) * 4;
        const int8_t *row = w + (size_t)j * ldw;
        for (int kk = 0; kk < k; kk++) panel[(size_t)(kk >> 2) * 4 * NR + (kk & 3)] = row[kk];
    }
}

/* Where a tile's sums go instead of C on the last k block: requantized by `rq` as the multiply's
 * rows row... and outputs col... (`isa` for the edge tiles' block store). */
typedef struct {
    const rcnn_i8_requantize *rq;
    int isa;
    int row, col;
} epilogue;

/* A tile's operand: row r, k-group g at pa + r * rs + g * gs. With an epilogue, C (when
 * accumulating) holds the earlier k blocks' sums and is not written. */
typedef void (*kernel_fn)(int groups, const uint8_t *pa, long rs, long gs, const int8_t *pb,
                          int32_t *c, long ldc, int accumulate, int mr, int nr, const epilogue *ep);

/* Stores an mr x nr corner of the accumulator tile t (MR rows of NR), adding to C when accumulating. */
static inline void store_tile(const int32_t *t, int32_t *c, long ldc, int accumulate, int mr, int nr) {
    for (int r = 0; r < mr; r++) {
        int32_t *row = c + (size_t)r * ldc;
        const int32_t *src = t + r * NR;
        if (accumulate)
            for (int j = 0; j < nr; j++) row[j] += src[j];
        else
            for (int j = 0; j < nr; j++) row[j] = src[j];
    }
}

/* The epilogue of an mr x nr corner of tile t (MR rows of NR), after adding C's earlier sums when
 * accumulating. */
static void requantize_tile(int32_t *t, const int32_t *c, long ldc, int accumulate, int mr, int nr, const epilogue *ep) {
    if (accumulate)
        for (int r = 0; r < mr; r++)
            for (int j = 0; j < nr; j++) t[r * NR + j] += c[(size_t)r * ldc + j];
    rcnn_i8_requantize_block(ep->isa, t, NR, mr, nr, ep->rq, ep->row, ep->col);
}

static void kernel_c(int groups, const uint8_t *pa, long rs, long gs, const int8_t *pb, int32_t *c,
                     long ldc, int accumulate, int mr, int nr, const epilogue *ep) {
    int32_t t[4 * NR];
    memset(t, 0, sizeof t);
    for (int g = 0; g < groups; g++) {
        for (int r = 0; r < 4; r++) {
            const uint8_t *a = pa + r * rs;
            for (int j = 0; j < NR; j++) {
                const int8_t *b = pb + 4 * j;
                t[r * NR + j] += (int32_t)a[0] * b[0] + (int32_t)a[1] * b[1] + (int32_t)a[2] * b[2] + (int32_t)a[3] * b[3];
            }
        }
        pa += gs;
        pb += 4 * NR;
    }
    if (ep) requantize_tile(t, c, ldc, accumulate, mr, nr, ep);
    else store_tile(t, c, ldc, accumulate, mr, nr);
}

#if defined(__x86_64__)
/* Stores an accumulator tile of `rows` rows x NR columns into C (adding to C when accumulating):
 * a whole tile straight from the registers, an mr x nr corner through store_tile. Inlined into
 * every kernel, whose targets all include AVX2. */
__attribute__((target("avx2"), always_inline)) static inline void store_acc(__m256i acc[][2], int rows, int32_t *c,
                                                                           long ldc, int accumulate, int mr, int nr) {
    if (mr == rows && nr == NR) {
        for (int r = 0; r < rows; r++) {
            __m256i *p0 = (__m256i *)(c + (size_t)r * ldc), *p1 = p0 + 1;
            if (accumulate) {
                acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_loadu_si256(p0));
                acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_loadu_si256(p1));
            }
            _mm256_storeu_si256(p0, acc[r][0]);
            _mm256_storeu_si256(p1, acc[r][1]);
        }
    } else {
        int32_t t[MR_MAX * NR];
        for (int r = 0; r < rows; r++) {
            _mm256_storeu_si256((__m256i *)&t[r * NR], acc[r][0]);
            _mm256_storeu_si256((__m256i *)&t[r * NR + 8], acc[r][1]);
        }
        store_tile(t, c, ldc, accumulate, mr, nr);
    }
}

/* The epilogue of an accumulator tile of `rows` rows x NR columns: a whole tile requantized from the
 * registers, an mr x nr corner through a stack tile and rcnn_i8_requantize_block. Each value goes
 * through requantize8, as in the separate store (int8_layout.c), so it has that store's bits. */
__attribute__((target("avx2"), always_inline)) static inline void requantize_acc(__m256i acc[][2], int rows,
                                                                                const int32_t *c, long ldc,
                                                                                int accumulate, int mr, int nr,
                                                                                const epilogue *ep) {
    if (mr != rows || nr != NR) {
        int32_t t[MR_MAX * NR];
        for (int r = 0; r < rows; r++) {
            _mm256_storeu_si256((__m256i *)&t[r * NR], acc[r][0]);
            _mm256_storeu_si256((__m256i *)&t[r * NR + 8], acc[r][1]);
        }
        requantize_tile(t, c, ldc, accumulate, mr, nr, ep);
        return;
    }
    const rcnn_i8_requantize *rq = ep->rq;
    const int col = ep->col;
    const __m256 zero = _mm256_setzero_ps();
    const __m256i off0 = _mm256_loadu_si256((const __m256i *)(rq->offset + col));
    const __m256i off1 = _mm256_loadu_si256((const __m256i *)(rq->offset + col + 8));
    const __m256 s0 = _mm256_loadu_ps(rq->scale + col), s1 = _mm256_loadu_ps(rq->scale + col + 8);
    const __m256 b0 = rq->bias ? _mm256_loadu_ps(rq->bias + col) : zero;
    const __m256 b1 = rq->bias ? _mm256_loadu_ps(rq->bias + col + 8) : zero;
    const __m256 inv = _mm256_set1_ps(rq->inv_scale), zpv = _mm256_set1_ps((float)rq->zero_point);
    const __m256 topv = _mm256_set1_ps((float)rq->top);
    rcnn_i8_shortcut moved;
    const rcnn_i8_shortcut *sc = NULL;
    if (rq->shortcut) {
        moved = rcnn_i8_shortcut_at(rq->shortcut, ep->row, col);
        sc = &moved;
    }
    const __m256i shortcut_zp = _mm256_set1_epi32(sc ? sc->zero_point : 0);
    const __m256 shortcut_scale = _mm256_set1_ps(sc ? sc->scale : 0.0f);
    for (int r = 0; r < rows; r++) {
        __m256i a0 = acc[r][0], a1 = acc[r][1];
        if (accumulate) {
            a0 = _mm256_add_epi32(a0, _mm256_loadu_si256((const __m256i *)(c + (size_t)r * ldc)));
            a1 = _mm256_add_epi32(a1, _mm256_loadu_si256((const __m256i *)(c + (size_t)r * ldc + 8)));
        }
        const size_t at = (size_t)(ep->row + r);
        float *values = rq->values ? rq->values + at * rq->ldv + col : NULL;
        const __m256i l0 = requantize8(a0, off0, s0, b0, rq->act, sc, r, 0, shortcut_zp, shortcut_scale, values, inv, zpv, topv);
        const __m256i l1 = requantize8(a1, off1, s1, b1, rq->act, sc, r, 8, shortcut_zp, shortcut_scale,
                                       values ? values + 8 : NULL, inv, zpv, topv);
        _mm_storeu_si128((__m128i *)(rq->dst + at * rq->ldd + col), pack16(l0, l1));
    }
}

#define DEFINE_KERNEL(NAME, TARGET, MR_, STEP)                                                     \
    __attribute__((target(TARGET))) static void NAME(int groups, const uint8_t *pa, long rs,       \
                                                     long gs, const int8_t *pb, int32_t *c,         \
                                                     long ldc, int accumulate, int mr, int nr,      \
                                                     const epilogue *ep) {                          \
        __m256i acc[MR_][2];                                                                       \
        for (int r = 0; r < MR_; r++) acc[r][0] = acc[r][1] = _mm256_setzero_si256();              \
        const __m256i ones = _mm256_set1_epi16(1);                                                 \
        (void)ones;                                                                                \
        for (int g = 0; g < groups; g++) {                                                         \
            const __m256i b0 = _mm256_loadu_si256((const __m256i *)pb);                            \
            const __m256i b1 = _mm256_loadu_si256((const __m256i *)(pb + 32));                     \
            _Pragma("GCC unroll 8") for (int r = 0; r < MR_; r++) {                                \
                int32_t a4;                                                                        \
                memcpy(&a4, pa + r * rs, 4);                                                       \
                const __m256i a = _mm256_set1_epi32(a4);                                           \
                STEP(acc[r][0], a, b0);                                                            \
                STEP(acc[r][1], a, b1);                                                            \
            }                                                                                      \
            pa += gs;                                                                              \
            pb += 4 * NR;                                                                          \
        }                                                                                          \
        if (ep) requantize_acc(acc, MR_, c, ldc, accumulate, mr, nr, ep);                          \
        else store_acc(acc, MR_, c, ldc, accumulate, mr, nr);                                      \
    }

#define STEP_AVX2(ACC, A, B) ACC = _mm256_add_epi32(ACC, _mm256_madd_epi16(_mm256_maddubs_epi16(A, B), ones))
#define STEP_VNNI512(ACC, A, B) ACC = _mm256_dpbusd_epi32(ACC, A, B)
#define STEP_AVXVNNI(ACC, A, B) ACC = _mm256_dpbusd_avx_epi32(ACC, A, B)

DEFINE_KERNEL(kernel_avx2, "avx2", 4, STEP_AVX2)
DEFINE_KERNEL(kernel_avx512vnni, "avx2,avx512f,avx512vl,avx512vnni", 6, STEP_VNNI512)
DEFINE_KERNEL(kernel_avxvnni, "avx2,avxvnni", 6, STEP_AVXVNNI)

/* AVX2 for narrow weights (every level in -64...63): with 7-bit activations a vpmaddubsw pair sum
 * is at most 2 * 127 * 64 = 16256 in magnitude, so the pair sums of two consecutive k-groups add in
 * 16 bits without overflow (at most 32512) and one vpmaddwd widens both: three multiply-pipe
 * instructions per 64 multiply-adds instead of four. Same exact sums as the other paths. */
#define NARROW_MR 3
__attribute__((target("avx2"))) static void kernel_avx2_narrow(int groups, const uint8_t *pa, long rs, long gs,
                                                             const int8_t *pb, int32_t *c, long ldc,
                                                             int accumulate, int mr, int nr, const epilogue *ep) {
    __m256i acc[NARROW_MR][2];
    for (int r = 0; r < NARROW_MR; r++) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
    const __m256i ones = _mm256_set1_epi16(1);
    int g = 0;
    for (; g + 1 < groups; g += 2) {
        const __m256i b0 = _mm256_loadu_si256((const __m256i *)pb);
        const __m256i b1 = _mm256_loadu_si256((const __m256i *)(pb + 32));
        const __m256i b2 = _mm256_loadu_si256((const __m256i *)(pb + 4 * NR));
        const __m256i b3 = _mm256_loadu_si256((const __m256i *)(pb + 4 * NR + 32));
        /* Stage by stage over the rows, so that the independent multiplies of the three rows are
         * next to each other in the instruction stream. */
        __m256i s0[NARROW_MR], s1[NARROW_MR];
        _Pragma("GCC unroll 4") for (int r = 0; r < NARROW_MR; r++) {
            int32_t a4, a4n;
            memcpy(&a4, pa + r * rs, 4);
            memcpy(&a4n, pa + gs + r * rs, 4);
            const __m256i a = _mm256_set1_epi32(a4), an = _mm256_set1_epi32(a4n);
            s0[r] = _mm256_add_epi16(_mm256_maddubs_epi16(a, b0), _mm256_maddubs_epi16(an, b2));
            s1[r] = _mm256_add_epi16(_mm256_maddubs_epi16(a, b1), _mm256_maddubs_epi16(an, b3));
        }
        _Pragma("GCC unroll 4") for (int r = 0; r < NARROW_MR; r++) {
            acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(s0[r], ones));
            acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(s1[r], ones));
        }
        pa += 2 * gs;
        pb += 8 * NR;
    }
    if (g < groups) {
        const __m256i b0 = _mm256_loadu_si256((const __m256i *)pb);
        const __m256i b1 = _mm256_loadu_si256((const __m256i *)(pb + 32));
        for (int r = 0; r < NARROW_MR; r++) {
            int32_t a4;
            memcpy(&a4, pa + r * rs, 4);
            const __m256i a = _mm256_set1_epi32(a4);
            STEP_AVX2(acc[r][0], a, b0);
            STEP_AVX2(acc[r][1], a, b1);
        }
    }
    if (ep) requantize_acc(acc, NARROW_MR, c, ldc, accumulate, mr, nr, ep);
    else store_acc(acc, NARROW_MR, c, ldc, accumulate, mr, nr);
}

/* AVX2 for 8-bit activations with 8-bit weights: each activation byte a = (a & 127) + 128 * (a >> 7),
 * so one vpmaddubsw takes the low 7 bits (pair sums within 2 * 127 * 128) and another the top bits
 * (0 or 1: pair sums within 2 * 128), widened apart, the second with 128 in vpmaddwd. The exact sum,
 * at twice the multiply instructions of the 7-bit kernel. */
__attribute__((target("avx2"))) static void kernel_avx2_split(int groups, const uint8_t *pa, long rs, long gs,
                                                            const int8_t *pb, int32_t *c, long ldc, int accumulate,
                                                            int mr, int nr, const epilogue *ep) {
    __m256i acc[4][2];
    for (int r = 0; r < 4; r++) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
    const __m256i ones = _mm256_set1_epi16(1), top = _mm256_set1_epi16(128);
    for (int g = 0; g < groups; g++) {
        const __m256i b0 = _mm256_loadu_si256((const __m256i *)pb);
        const __m256i b1 = _mm256_loadu_si256((const __m256i *)(pb + 32));
        for (int r = 0; r < 4; r++) {
            uint32_t a4;
            memcpy(&a4, pa + r * rs, 4);
            const __m256i lo = _mm256_set1_epi32((int32_t)(a4 & 0x7F7F7F7Fu));
            const __m256i hi = _mm256_set1_epi32((int32_t)((a4 >> 7) & 0x01010101u));
            acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_add_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(lo, b0), ones),
                                                                     _mm256_madd_epi16(_mm256_maddubs_epi16(hi, b0), top)));
            acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_add_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(lo, b1), ones),
                                                                     _mm256_madd_epi16(_mm256_maddubs_epi16(hi, b1), top)));
        }
        pa += gs;
        pb += 4 * NR;
    }
    if (ep) requantize_acc(acc, 4, c, ldc, accumulate, mr, nr, ep);
    else store_acc(acc, 4, c, ldc, accumulate, mr, nr);
}
#endif

int rcnn_i8_isa_supported(int isa) {
    if (isa == RCNN_I8_BASELINE) return 1;
#if defined(__x86_64__)
    __builtin_cpu_init();
    switch (isa) {
    case RCNN_I8_AVX2: return __builtin_cpu_supports("avx2") != 0;
    case RCNN_I8_AVXVNNI: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("avxvnni");
    case RCNN_I8_AVX512VNNI:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx512vnni");
    }
#endif
    return 0;
}

int rcnn_i8_best_isa(void) {
    static const int order[] = {RCNN_I8_AVX512VNNI, RCNN_I8_AVXVNNI, RCNN_I8_AVX2};
    for (int i = 0; i < 3; i++)
        if (rcnn_i8_isa_supported(order[i])) return order[i];
    return RCNN_I8_BASELINE;
}

/* Copies rows [0, rows) x k [pc, pc + kc) of A into MR-row micro-panels [group][row][4], zero rows
 * below `rows`. */
static void pack_tile(uint8_t *dst, const uint8_t *a, long lda, int rows, int pc, int kc, int mr) {
    for (int g = 0; g < kc / 4; g++)
        for (int r = 0; r < mr; r++) {
            uint8_t *q = dst + ((size_t)g * mr + r) * 4;
            if (r < rows) memcpy(q, a + (size_t)r * lda + pc + 4 * g, 4);
            else memset(q, 0, 4);
        }
}

/* The multiply, storing C or, with `rq`, requantizing each tile on its last k block. */
static int gemm(int isa, int m, const uint8_t *a, long lda, const int8_t *packed, int k, int n, int flags,
                int32_t *c, long ldc, const rcnn_i8_requantize *rq) {
    if (!rcnn_i8_isa_supported(isa)) return -1;
    kernel_fn kernel = kernel_c;
    int mr = 4;
    const int narrow = flags & RCNN_I8_NARROW_WEIGHTS, wide = flags & RCNN_I8_WIDE_ACTIVATIONS;
#if defined(__x86_64__)
    if (isa == RCNN_I8_AVX2 && wide && !narrow) kernel = kernel_avx2_split;
    else if (isa == RCNN_I8_AVX2 && narrow && !wide) { kernel = kernel_avx2_narrow; mr = NARROW_MR; }
    else if (isa == RCNN_I8_AVX2) kernel = kernel_avx2;
    else if (isa == RCNN_I8_AVX512VNNI) { kernel = kernel_avx512vnni; mr = 6; }
    else if (isa == RCNN_I8_AVXVNNI) { kernel = kernel_avxvnni; mr = 6; }
#endif
    if (m <= 0 || n <= 0) return 0;
    const int kp = (k + 3) & ~3, np = (n + NR - 1) / NR * NR;
    const int blocks = (kp + KC - 1) / KC;
    const int kcb = ((kp + blocks - 1) / blocks + 3) & ~3;
    uint8_t tile[MR_MAX * KC];
    for (int pc = 0; pc < kp; pc += kcb) {
        const int kc = imin(kcb, kp - pc);
        const int last = pc + kc >= kp;
        for (int ic = 0; ic < m; ic += MC) {
            const int mc = imin(MC, m - ic);
            const int full = mc / mr * mr;
            if (full < mc) pack_tile(tile, a + (size_t)(ic + full) * lda, lda, mc - full, pc, kc, mr);
            for (int jr = 0; jr < np; jr += NR) {
                const int8_t *bp = packed + (size_t)jr * kp + (size_t)pc * NR;
                const int nr = imin(NR, n - jr);
                /* c is untouched by a one-block multiply with an epilogue (and may be NULL then). */
                int32_t *cj = pc > 0 || !rq || !last ? c + (size_t)ic * ldc + jr : NULL;
                epilogue ep = {rq, isa, ic, jr};
                const epilogue *e = rq && last ? &ep : NULL;
                for (int ir = 0; ir < full; ir += mr) {
                    ep.row = ic + ir;
                    kernel(kc / 4, a + (size_t)(ic + ir) * lda + pc, lda, 4, bp, cj ? cj + (size_t)ir * ldc : NULL,
                           ldc, pc > 0, mr, nr, e);
                }
                if (full < mc) {
                    ep.row = ic + full;
                    kernel(kc / 4, tile, 4, 4 * mr, bp, cj ? cj + (size_t)full * ldc : NULL, ldc, pc > 0, mc - full,
                           nr, e);
                }
            }
        }
    }
    return 0;
}

int rcnn_i8_gemm(int isa, int m, const uint8_t *a, long lda, const int8_t *packed, int k, int n,
                 int flags, int32_t *c, long ldc) {
    return gemm(isa, m, a, lda, packed, k, n, flags, c, ldc, NULL);
}

int rcnn_i8_gemm_requantize(int isa, int m, const uint8_t *a, long lda, const int8_t *packed, int k, int n,
                            int flags, int32_t *c, long ldc, const rcnn_i8_requantize *rq) {
    return gemm(isa, m, a, lda, packed, k, n, flags, c, ldc, rq);
}
