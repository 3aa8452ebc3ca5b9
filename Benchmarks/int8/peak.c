/* peak.c -- single-core clock and instruction-throughput probe, to put GOP/s in context.
 * Clock: a chain of dependent 1-cycle integer adds. Throughputs: 12 independent
 * accumulator chains per instruction kind (ymm), reported per cycle of that clock. */
#include <stdio.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

#define ITERS 20000000L

static double clock_ghz(void)
{
    double best = 1e30;
    for (int r = 0; r < 5; r++) {
        long n = ITERS, x = 0;
        double t0 = now();
        __asm__ volatile(
            "1:\n\t"
            ".rept 100\n\t add $1, %0\n\t .endr\n\t"
            "dec %1\n\t jnz 1b\n\t"
            : "+r"(x), "+r"(n));
        double t = now() - t0;
        if (t < best) best = t;
    }
    return 100.0 * ITERS / best * 1e-9;
}

/* 12 independent chains of INSN ymm_acc, ymm14, ymm15 form; 12 insns per iteration. */
#define TPUT(NAME, TARGET, BODY)                                                       \
    __attribute__((target(TARGET))) static double NAME(void)                          \
    {                                                                                  \
        double best = 1e30;                                                            \
        for (int r = 0; r < 5; r++) {                                                  \
            long n = ITERS / 4;                                                        \
            double t0 = now();                                                         \
            __asm__ volatile("vpxor %%xmm14, %%xmm14, %%xmm14\n\t"                      \
                             "vpxor %%xmm15, %%xmm15, %%xmm15\n\t"                      \
                             "1:\n\t" BODY BODY BODY BODY "dec %0\n\t jnz 1b\n\t"      \
                             : "+r"(n)::"xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", \
                               "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm14", \
                               "xmm15");                                               \
            double t = now() - t0;                                                     \
            if (t < best) best = t;                                                    \
        }                                                                              \
        return 48.0 * (ITERS / 4) / best * 1e-9; /* G instructions / s */              \
    }

#define R12(OP) \
    OP("0") OP("1") OP("2") OP("3") OP("4") OP("5") OP("6") OP("7") OP("8") OP("9") OP("10") OP("11")
#define MADDUBS(i) "vpmaddubsw %%ymm14, %%ymm15, %%ymm" i "\n\t"
#define MIX(i) "vpmaddubsw %%ymm14, %%ymm15, %%ymm" i "\n\t" "vpmaddwd %%ymm14, %%ymm15, %%ymm" i "\n\t"
#define MADDWD(i) "vpmaddwd %%ymm14, %%ymm15, %%ymm" i "\n\t"
#define DPBUSD(i) "vpdpbusd %%ymm14, %%ymm15, %%ymm" i "\n\t"
#define FMA(i) "vfmadd231ps %%ymm14, %%ymm15, %%ymm" i "\n\t"
#define ZDPBUSD(i) "vpdpbusd %%zmm14, %%zmm15, %%zmm" i "\n\t"
#define ZFMA(i) "vfmadd231ps %%zmm14, %%zmm15, %%zmm" i "\n\t"

TPUT(t_maddubs, "avx2", R12(MADDUBS))
TPUT(t_maddwd, "avx2", R12(MADDWD))
TPUT(t_mix, "avx2", MIX("0") MIX("1") MIX("2") MIX("3") MIX("4") MIX("5"))
TPUT(t_fma, "avx2,fma", R12(FMA))
TPUT(t_dpbusd, "avx512f,avx512vl,avx512vnni", R12(DPBUSD))
TPUT(t_zfma, "avx512f", R12(ZFMA))
TPUT(t_zdpbusd, "avx512f,avx512vnni", R12(ZDPBUSD))

int main(void)
{
    __builtin_cpu_init();
    double ghz = clock_ghz();
    printf("clock (dependent add chain): %.2f GHz\n", ghz);
    double m = t_maddubs(), w = t_maddwd(), f = t_fma();
    printf("vpmaddubsw ymm: %.2f /cycle\n", m / ghz);
    printf("vpmaddwd   ymm: %.2f /cycle\n", w / ghz);
    printf("vfmadd231ps ymm: %.2f /cycle -> f32 peak %.0f GFLOP/s/core\n", f / ghz, f * 16);
    /* AVX2 u8s8: 32 MACs per (maddubs + maddwd) pair; both need the multiply pipes */
    double mix = t_mix(); /* 6 maddubs + 6 maddwd per 12 instructions */
    printf("vpmaddubsw+vpmaddwd mixed: %.2f /cycle -> AVX2 u8s8 bound %.0f GOP/s/core "
           "(32 MACs per maddubs+maddwd pair)\n", mix / ghz, mix / 2 * 64);
    if (__builtin_cpu_supports("avx512vnni")) {
        double d = t_dpbusd(), zf = t_zfma(), zd = t_zdpbusd();
        printf("vpdpbusd ymm: %.2f /cycle -> VNNI ymm peak %.0f GOP/s/core\n", d / ghz, d * 64);
        printf("vfmadd231ps zmm: %.2f /cycle -> f32 zmm peak %.0f GFLOP/s/core\n", zf / ghz, zf * 32);
        printf("vpdpbusd zmm: %.2f /cycle -> VNNI zmm peak %.0f GOP/s/core\n", zd / ghz, zd * 128);
    }
    return 0;
}
