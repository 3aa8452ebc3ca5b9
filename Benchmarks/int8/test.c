/* test.c -- exactness tests for gemm_u8s8 against a naive int32 reference. */
#include "gemm_u8s8.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void)
{
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}
static int rnd_in(int lo, int hi) { return lo + (int)(rnd() % (uint32_t)(hi - lo + 1)); }

static void ref_gemm(int M, int N, int K, const uint8_t *A, int lda, const int8_t *B, int ldb,
                     int32_t *C, int ldc)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            int64_t s = 0;
            for (int k = 0; k < K; k++) s += (int64_t)A[(size_t)i * lda + k] * B[(size_t)k * ldb + j];
            C[(size_t)i * ldc + j] = (int32_t)s;
        }
}

enum { FILL_RANDOM, FILL_MAX_POS, FILL_MAX_NEG, FILL_ALT, FILL_SPARSE };
static const char *fill_name[] = {"random", "amax*bmax(+127)", "amax*bmin(-128)", "amax*alt(+127/-128)", "sparse"};

static void fill(int mode, int amax, uint8_t *A, size_t na, int8_t *B, size_t nb)
{
    for (size_t i = 0; i < na; i++)
        A[i] = mode == FILL_RANDOM ? rnd_in(0, amax)
             : mode == FILL_SPARSE ? (rnd() % 4 == 0 ? rnd_in(0, amax) : 0) : amax;
    for (size_t i = 0; i < nb; i++)
        B[i] = mode == FILL_RANDOM || mode == FILL_SPARSE ? rnd_in(-128, 127)
             : mode == FILL_MAX_POS ? 127 : mode == FILL_MAX_NEG ? -128 : (i & 1 ? -128 : 127);
}

/* Returns number of mismatching elements. */
static long run_case(int isa, int M, int N, int K, int lda_pad, int ldc_pad, int mode, int amax,
                     int nthreads, int verbose_fail)
{
    int lda = K + lda_pad, ldb = N + 3, ldc = N + ldc_pad;
    uint8_t *A = malloc((size_t)M * lda + 1);
    int8_t *B = malloc((size_t)K * ldb + 1);
    int32_t *C = malloc(sizeof(int32_t) * ((size_t)M * ldc + 1));
    int32_t *R = malloc(sizeof(int32_t) * ((size_t)M * ldc + 1));
    fill(mode, amax, A, (size_t)M * lda, B, (size_t)K * ldb);
    /* sentinel in the ldc padding must survive */
    for (size_t i = 0; i < (size_t)M * ldc; i++) C[i] = R[i] = 0x5A5A5A5A;
    ref_gemm(M, N, K, A, lda, B, ldb, R, ldc);
    if (isa == U8S8_ISA_C) {
        u8s8_gemm_c(M, N, K, A, lda, B, ldb, C, ldc, nthreads);
    } else {
        u8s8_packed_b pb;
        if (u8s8_pack_b(&pb, B, K, N, ldb)) { puts("pack failed"); exit(1); }
        if (u8s8_gemm_packed(isa, M, A, lda, &pb, C, ldc, nthreads)) { puts("gemm failed"); exit(1); }
        u8s8_free_b(&pb);
    }
    long bad = 0;
    for (size_t i = 0; i < (size_t)M * ldc; i++)
        if (C[i] != R[i]) {
            if (verbose_fail && bad < 3)
                printf("    mismatch at (%zu,%zu): got %d want %d\n", i / ldc, i % ldc, C[i], R[i]);
            bad++;
        }
    free(A); free(B); free(C); free(R);
    return bad;
}

int main(void)
{
    static const int Ms[] = {1, 3, 4, 5, 6, 7, 13, 64, 191, 193, 385};
    static const int Ns[] = {1, 2, 15, 16, 17, 33, 64, 120};
    static const int Ks[] = {1, 2, 3, 4, 5, 7, 40, 64, 511, 513, 515, 1027, 1500};
    int isas[] = {U8S8_ISA_C, U8S8_ISA_AVX2, U8S8_ISA_AVX512VNNI, U8S8_ISA_AVXVNNI};
    int failures = 0;
    long cases_total = 0;
    for (unsigned t = 0; t < sizeof isas / sizeof *isas; t++) {
        int isa = isas[t];
        if (!u8s8_isa_supported(isa)) {
            printf("[%s] NOT SUPPORTED by this CPU: compiled only, NOT TESTED\n", u8s8_isa_name(isa));
            continue;
        }
        /* the AVX2 path's contract is 7-bit activations; the others take full u8 */
        int amax = isa == U8S8_ISA_AVX2 ? 127 : 255;
        long cases = 0, bad_cases = 0;
        for (unsigned a = 0; a < sizeof Ms / sizeof *Ms; a++)
            for (unsigned b = 0; b < sizeof Ns / sizeof *Ns; b++)
                for (unsigned c = 0; c < sizeof Ks / sizeof *Ks; c++)
                    for (int mode = 0; mode <= FILL_SPARSE; mode++) {
                        int M = Ms[a], N = Ns[b], K = Ks[c];
                        if ((long)M * N * K > 40000000L && mode != FILL_RANDOM) continue;
                        int nt = 1 + (int)((a + b + c + mode) % 3); /* 1, 2, 3 threads */
                        int lda_pad = (a + c) % 3 == 0 ? 0 : 5, ldc_pad = (b + c) % 2 ? 0 : 3;
                        long bad = run_case(isa, M, N, K, lda_pad, ldc_pad, mode, amax, nt, 1);
                        cases++;
                        if (bad) {
                            bad_cases++;
                            printf("  FAIL [%s] M=%d N=%d K=%d fill=%s threads=%d: %ld wrong\n",
                                   u8s8_isa_name(isa), M, N, K, fill_name[mode], nt, bad);
                        }
                    }
        /* one larger case that crosses several KC and MC blocks, 2 threads */
        for (int mode = 0; mode <= FILL_ALT; mode++) {
            long bad = run_case(isa, 1001, 259, 2309, 7, 1, mode, amax, 2, 1);
            cases++;
            if (bad) {
                bad_cases++;
                printf("  FAIL [%s] M=1001 N=259 K=2309 fill=%s: %ld wrong\n", u8s8_isa_name(isa),
                       fill_name[mode], bad);
            }
        }
        printf("[%s] activations 0..%d, weights -128..127: %ld cases, %ld failing -> %s\n",
               u8s8_isa_name(isa), amax, cases, bad_cases, bad_cases ? "NOT EXACT" : "EXACT");
        failures += bad_cases != 0;
        cases_total += cases;
    }
    /* Outside the contract: show what vpmaddubsw saturation does to the AVX2 path. */
    if (u8s8_isa_supported(U8S8_ISA_AVX2)) {
        printf("[avx2] outside its contract (activations 0..255), expected to be inexact:\n");
        for (int mode = FILL_MAX_POS; mode <= FILL_ALT; mode++) {
            long bad = run_case(U8S8_ISA_AVX2, 8, 16, 8, 0, 0, mode, 255, 1, 0);
            printf("  fill=%-20s %ld/128 elements differ from the reference\n", fill_name[mode], bad);
        }
    }
    printf("%s (%ld cases)\n", failures ? "SOME ISA FAILED" : "ALL SUPPORTED ISAs EXACT", cases_total);
    return failures != 0;
}
