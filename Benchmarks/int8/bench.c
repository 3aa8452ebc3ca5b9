/* bench.c -- side-by-side timing of f32 and int8 GEMM / conv for rcnn layer shapes.
 *
 *   bench <impl> <threads> [shape-substring | gemm:Cout,P,K]
 *
 * impl:
 *   sgemm          OpenBLAS cblas_sgemm, engine orientation C[Cout x P] = W[Cout x K] * cols[K x P]
 *   u8s8_c         portable C baseline of gemm_u8s8.c   (C[P x Cout] = A[P x K] * B[K x Cout])
 *   u8s8_avx2      gemm_u8s8.c AVX2 path (B packed once, outside the timing)
 *   u8s8_vnni      gemm_u8s8.c AVX512-VNNI-on-ymm path (only where the CPU has it)
 *   dnnl_s8        oneDNN matmul u8 x s8 -> s32, weights format_tag any, reordered once
 *   dnnl_f32       oneDNN matmul f32, same
 *   conv_s8        oneDNN convolution, src u8 nhwc, weights s8 any, dst s32 nhwc
 *   conv_s8u8      oneDNN convolution, src u8 nhwc, weights s8 any, dst u8 nhwc, output scale
 *   conv_f32       oneDNN convolution f32, src/weights/dst any (oneDNN's preferred layouts)
 *   im2col_avx2    NHWC u8 im2col + gemm_u8s8 AVX2, timed together (3x3 layers only)
 *   im2col_vnni    same with the VNNI path
 *   probe          oneDNN exactness probe with full-range u8 (255) activations
 *
 * Prints one "RESULT,..." CSV line per shape. Every result is checked: int8 outputs exactly
 * against an int64 reference on sampled output pixels, f32 outputs by max relative error.
 * Activations are drawn from 0..127 (the AVX2 kernel's contract), weights from -128..127.
 */
#define _GNU_SOURCE
#include "gemm_u8s8.h"
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void openblas_set_num_threads(int);
char *openblas_get_corename(void);

typedef struct {
    const char *name;
    int M, N, K;          /* M = Cout, N = output pixels, K = Cin*kh*kw */
    int cin, h, w, ks;    /* for 3x3 convs (ks=3), stride 1, pad 1; ks=0 otherwise */
} shape_t;

static const shape_t shapes[] = {
    {"r50.l1.1x1.64-256@200x272", 256, 54400, 64, 0, 0, 0, 0},
    {"r50.l1.3x3.64-64@200x272", 64, 54400, 576, 64, 200, 272, 3},
    {"r50.l2.3x3.128-128@100x136", 128, 13600, 1152, 128, 100, 136, 3},
    {"r50.l3.1x1.1024-256@50x68", 256, 3400, 1024, 0, 0, 0, 0},
    {"r50.l4.3x3.512-512@25x34", 512, 850, 4608, 512, 25, 34, 3},
    {"fpn.3x3.256-256@200x272", 256, 54400, 2304, 256, 200, 272, 3},
    {"boxhead.fc6.12544-1024x1000roi", 1024, 1000, 12544, 0, 0, 0, 0},
    {"mbv3.1x1.40-120@56x56", 120, 3136, 40, 0, 0, 0, 0},
};
#define NSHAPES (int)(sizeof shapes / sizeof *shapes)

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static uint64_t rng = 0x243F6A8885A308D3ull;
static uint32_t rnd(void)
{
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

static int g_amax = 127; /* activations are drawn from 0..g_amax */

static void *xmalloc(size_t n)
{
    void *p = aligned_alloc(64, (n + 63) & ~(size_t)63);
    if (!p) { fprintf(stderr, "out of memory (%zu bytes)\n", n); exit(2); }
    return p;
}

#define CHECK(x)                                                                   \
    do {                                                                           \
        dnnl_status_t s_ = (x);                                                    \
        if (s_ != dnnl_success) {                                                  \
            fprintf(stderr, "%s:%d: %s failed: %d\n", __FILE__, __LINE__, #x, s_); \
            exit(3);                                                               \
        }                                                                          \
    } while (0)

/* Time fn(ctx): one warm-up, then repeat until >= min_reps and >= budget seconds (or
 * max_reps); return the best time. Small shapes thus get hundreds of repetitions, which
 * rides out the short slow spells this 2-vCPU VM has. */
typedef void (*run_fn)(void *);
static double best_time(run_fn fn, void *ctx, int warm, int min_reps, int max_reps, double budget)
{
    if (warm) fn(ctx);
    double best = 1e30, total = 0;
    for (int r = 0; r < max_reps; r++) {
        double t0 = now();
        fn(ctx);
        double t = now() - t0;
        total += t;
        if (t < best) best = t;
        if (r + 1 >= min_reps && total >= budget) break;
    }
    return best;
}

/* ------------------------------------------------------------------ data -- */

typedef struct {
    const shape_t *s;
    uint8_t *A;   /* [P x K] activations (im2col rows, or the NHWC image for convs: [P x Cin]) */
    int8_t *B;    /* [K x Cout] weights, k = (ky*ks + kx)*Cin + ci for convs */
    int P, K, Co;
} data_t;

static void make_data(data_t *d, const shape_t *s)
{
    d->s = s; d->P = s->N; d->K = s->K; d->Co = s->M;
    d->A = xmalloc((size_t)d->P * d->K);
    d->B = xmalloc((size_t)d->K * d->Co);
    for (size_t i = 0; i < (size_t)d->P * d->K; i++) d->A[i] = rnd() % (g_amax + 1);
    for (size_t i = 0; i < (size_t)d->K * d->Co; i++) d->B[i] = (int8_t)(rnd() & 255);
}

/* For conv impls: the NHWC image x[H][W][Cin] in 0..127. */
static uint8_t *make_image(const shape_t *s)
{
    size_t n = (size_t)s->h * s->w * s->cin;
    uint8_t *x = xmalloc(n);
    for (size_t i = 0; i < n; i++) x[i] = rnd() % (g_amax + 1);
    return x;
}

static void im2col_nhwc_u8(const uint8_t *x, int H, int W, int C, int ks, uint8_t *col, int nt)
{
    const int pad = ks / 2, K = ks * ks * C;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int y = 0; y < H; y++)
        for (int xo = 0; xo < W; xo++) {
            uint8_t *row = col + ((size_t)y * W + xo) * K;
            for (int ky = 0; ky < ks; ky++) {
                int iy = y + ky - pad;
                for (int kx = 0; kx < ks; kx++) {
                    int ix = xo + kx - pad;
                    uint8_t *dst = row + (size_t)(ky * ks + kx) * C;
                    if (iy < 0 || iy >= H || ix < 0 || ix >= W) memset(dst, 0, C);
                    else memcpy(dst, x + ((size_t)iy * W + ix) * C, C);
                }
            }
        }
}

/* Sampled output pixels for checking. */
#define NSAMPLE 40
static int sample_pixel(int i, int P) { return i == 0 ? 0 : i == 1 ? P - 1 : (int)(rnd() % P); }

/* Reference value of output (p, co) for the GEMM view. */
static int64_t ref_gemm_at(const data_t *d, int p, int co)
{
    int64_t s = 0;
    for (int k = 0; k < d->K; k++) s += (int64_t)d->A[(size_t)p * d->K + k] * d->B[(size_t)k * d->Co + co];
    return s;
}
/* Reference value of conv output (p, co) from the NHWC image, 3x3 pad 1. */
static int64_t ref_conv_at(const shape_t *s, const uint8_t *x, const int8_t *B, int p, int co)
{
    int y = p / s->w, xo = p % s->w, pad = s->ks / 2;
    int64_t acc = 0;
    for (int ky = 0; ky < s->ks; ky++)
        for (int kx = 0; kx < s->ks; kx++) {
            int iy = y + ky - pad, ix = xo + kx - pad;
            if (iy < 0 || iy >= s->h || ix < 0 || ix >= s->w) continue;
            for (int c = 0; c < s->cin; c++)
                acc += (int64_t)x[((size_t)iy * s->w + ix) * s->cin + c] *
                       B[((size_t)(ky * s->ks + kx) * s->cin + c) * s->M + co];
        }
    return acc;
}

/* --------------------------------------------------------------- reporting -- */

static void report(const char *impl, int nt, const shape_t *s, double t, const char *check,
                   const char *info)
{
    double gops = 2.0 * s->M * (double)s->N * s->K / t * 1e-9;
    printf("RESULT,%s,%d,%s,%d,%d,%d,%.4f,%.2f,%s,%s\n", impl, nt, s->name, s->M, s->N, s->K,
           t * 1e3, gops, check, info);
    fflush(stdout);
}

/* Compare int32 [P x Co] output (row stride ld) on sampled rows. */
static void check_s32_pm(const data_t *d, const int32_t *C, int ld, char *msg)
{
    long bad = 0, n = 0;
    for (int i = 0; i < NSAMPLE; i++) {
        int p = sample_pixel(i, d->P);
        for (int co = 0; co < d->Co; co++, n++)
            if (C[(size_t)p * ld + co] != ref_gemm_at(d, p, co)) bad++;
    }
    sprintf(msg, bad ? "MISMATCH %ld/%ld" : "exact(%ld sampled)", bad ? bad : n, n);
}

/* ---------------------------------------------------------------- impls -- */

struct sgemm_ctx { int M, N, K; float *W, *X, *Y; };
static void run_sgemm(void *c_)
{
    struct sgemm_ctx *c = c_;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c->M, c->N, c->K, 1.f, c->W, c->K,
                c->X, c->N, 0.f, c->Y, c->N);
}

static void bench_sgemm(const data_t *d, int nt)
{
    const shape_t *s = d->s;
    struct sgemm_ctx c = {s->M, s->N, s->K, NULL, NULL, NULL};
    c.W = xmalloc(sizeof(float) * s->M * (size_t)s->K);
    c.X = xmalloc(sizeof(float) * (size_t)s->K * s->N);
    c.Y = xmalloc(sizeof(float) * (size_t)s->M * s->N);
    for (int co = 0; co < s->M; co++)
        for (int k = 0; k < s->K; k++) c.W[(size_t)co * s->K + k] = d->B[(size_t)k * s->M + co];
    for (int p = 0; p < s->N; p++)
        for (int k = 0; k < s->K; k++) c.X[(size_t)k * s->N + p] = d->A[(size_t)p * s->K + k];
    double t = best_time(run_sgemm, &c, 1, 3, 400, 1.0);
    double maxrel = 0;
    for (int i = 0; i < NSAMPLE; i++) {
        int p = sample_pixel(i, d->P);
        for (int co = 0; co < s->M; co++) {
            double r = (double)ref_gemm_at(d, p, co), v = c.Y[(size_t)co * s->N + p];
            double e = fabs(v - r) / (fabs(r) + 1);
            if (e > maxrel) maxrel = e;
        }
    }
    char msg[64], info[64];
    sprintf(msg, "maxrel=%.1e", maxrel);
    snprintf(info, sizeof info, "openblas:%s", openblas_get_corename());
    report("sgemm", nt, s, t, msg, info);
    free(c.W); free(c.X); free(c.Y);
}

struct u8_ctx { int isa, M, lda, nt; const uint8_t *A; u8s8_packed_b *pb; const int8_t *B; int N, K; int32_t *C; };
static void run_u8(void *c_)
{
    struct u8_ctx *c = c_;
    u8s8_gemm_packed(c->isa, c->M, c->A, c->lda, c->pb, c->C, c->pb->N, c->nt);
}
static void run_u8c(void *c_)
{
    struct u8_ctx *c = c_;
    u8s8_gemm_c(c->M, c->N, c->K, c->A, c->lda, c->B, c->N, c->C, c->N, c->nt);
}

static void bench_u8s8(const data_t *d, int nt, int isa, const char *name)
{
    const shape_t *s = d->s;
    if (isa != U8S8_ISA_C && !u8s8_isa_supported(isa)) {
        report(name, nt, s, 1e30, "skipped:isa-unsupported", "");
        return;
    }
    u8s8_packed_b pb;
    u8s8_pack_b(&pb, d->B, d->K, d->Co, d->Co); /* once, outside the timing */
    int32_t *C = xmalloc(sizeof(int32_t) * (size_t)d->P * d->Co);
    struct u8_ctx c = {isa, d->P, d->K, nt, d->A, &pb, d->B, d->Co, d->K, C};
    double t = isa == U8S8_ISA_C ? best_time(run_u8c, &c, 0, 1, 1, 0)
                                 : best_time(run_u8, &c, 1, 3, 400, 1.0);
    char msg[64], info[64];
    check_s32_pm(d, C, d->Co, msg);
    snprintf(info, sizeof info, "gemm_u8s8:%s", u8s8_isa_name(isa));
    report(name, nt, s, t, msg, info);
    free(C);
    u8s8_free_b(&pb);
}

/* im2col + gemm for a 3x3 conv, timed together. */
struct im2col_ctx { const shape_t *s; const uint8_t *x; uint8_t *col; u8s8_packed_b *pb; int32_t *C; int isa, nt; };
static void run_im2col(void *c_)
{
    struct im2col_ctx *c = c_;
    const shape_t *s = c->s;
    im2col_nhwc_u8(c->x, s->h, s->w, s->cin, s->ks, c->col, c->nt);
    u8s8_gemm_packed(c->isa, s->N, c->col, s->K, c->pb, c->C, s->M, c->nt);
}

static void bench_im2col(const data_t *d, int nt, int isa, const char *name)
{
    const shape_t *s = d->s;
    if (!s->ks) return;
    if (!u8s8_isa_supported(isa)) { report(name, nt, s, 1e30, "skipped:isa-unsupported", ""); return; }
    uint8_t *x = make_image(s);
    uint8_t *col = xmalloc((size_t)s->N * s->K);
    int32_t *C = xmalloc(sizeof(int32_t) * (size_t)s->N * s->M);
    u8s8_packed_b pb;
    u8s8_pack_b(&pb, d->B, s->K, s->M, s->M);
    struct im2col_ctx c = {s, x, col, &pb, C, isa, nt};
    double t = best_time(run_im2col, &c, 1, 3, 400, 1.0);
    long bad = 0, n = 0;
    for (int i = 0; i < NSAMPLE; i++) {
        int p = sample_pixel(i, s->N);
        for (int co = 0; co < s->M; co++, n++)
            if (C[(size_t)p * s->M + co] != ref_conv_at(s, x, d->B, p, co)) bad++;
    }
    char msg[64], info[64];
    sprintf(msg, bad ? "MISMATCH %ld/%ld" : "exact(%ld sampled)", bad ? bad : n, n);
    snprintf(info, sizeof info, "im2col+gemm_u8s8:%s", u8s8_isa_name(isa));
    report(name, nt, s, t, msg, info);
    free(x); free(col); free(C); u8s8_free_b(&pb);
}

/* -------------------------------------------------------------- oneDNN -- */

static dnnl_engine_t eng;
static dnnl_stream_t strm;

static void dnnl_init(void)
{
    if (eng) return;
    CHECK(dnnl_engine_create(&eng, dnnl_cpu, 0));
    CHECK(dnnl_stream_create(&strm, eng, dnnl_stream_default_flags));
}

static const char *isa_str(void)
{
    switch (dnnl_get_effective_cpu_isa()) {
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "other";
    }
}

static dnnl_memory_t mem_new(const dnnl_memory_desc_t *md, void *handle)
{
    dnnl_memory_t m;
    CHECK(dnnl_memory_create(&m, md, eng, handle ? handle : DNNL_MEMORY_ALLOCATE));
    return m;
}

static void *mem_ptr(dnnl_memory_t m)
{
    void *p;
    CHECK(dnnl_memory_get_data_handle(m, &p));
    return p;
}

/* Reorder user memory into the layout md (once); returns new memory (or user if equal). */
static dnnl_memory_t reorder_to(dnnl_memory_t user, const dnnl_memory_desc_t *md)
{
    const dnnl_memory_desc_t *umd;
    CHECK(dnnl_memory_get_memory_desc(user, &umd));
    if (dnnl_memory_desc_equal(umd, md)) return user;
    dnnl_memory_t out = mem_new(md, NULL);
    dnnl_primitive_desc_t rpd;
    CHECK(dnnl_reorder_primitive_desc_create(&rpd, umd, eng, md, eng, NULL));
    dnnl_primitive_t r;
    CHECK(dnnl_primitive_create(&r, rpd));
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, user}, {DNNL_ARG_TO, out}};
    CHECK(dnnl_primitive_execute(r, strm, 2, args));
    CHECK(dnnl_stream_wait(strm));
    dnnl_primitive_destroy(r);
    dnnl_primitive_desc_destroy(rpd);
    return out;
}

struct dnnl_ctx { dnnl_primitive_t prim; int nargs; dnnl_exec_arg_t args[4]; };
static void run_dnnl(void *c_)
{
    struct dnnl_ctx *c = c_;
    CHECK(dnnl_primitive_execute(c->prim, strm, c->nargs, c->args));
    CHECK(dnnl_stream_wait(strm));
}

static const char *impl_name(dnnl_primitive_desc_t pd)
{
    const char *s = "?";
    CHECK(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &s));
    return s;
}

/* A oneDNN matmul src [m x k] (plain) x weights [k x n] (layout left to oneDNN) -> dst [m x n]
 * (plain): the descriptors, the primitive descriptor and the primitive. */
typedef struct {
    dnnl_memory_desc_t src, wei_user, dst;
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t prim;
} matmul_t;

static matmul_t matmul_new(int m, int k, int n, dnnl_data_type_t st, dnnl_data_type_t wt, dnnl_data_type_t dt)
{
    matmul_t mm;
    dnnl_memory_desc_t wei_any;
    dnnl_dims_t sd = {m, k}, wd = {k, n}, dd = {m, n};
    CHECK(dnnl_memory_desc_init_by_tag(&mm.src, 2, sd, st, dnnl_ab));
    CHECK(dnnl_memory_desc_init_by_tag(&wei_any, 2, wd, wt, dnnl_format_tag_any));
    CHECK(dnnl_memory_desc_init_by_tag(&mm.wei_user, 2, wd, wt, dnnl_ab));
    CHECK(dnnl_memory_desc_init_by_tag(&mm.dst, 2, dd, dt, dnnl_ab));
    dnnl_matmul_desc_t md;
    CHECK(dnnl_matmul_desc_init(&md, &mm.src, &wei_any, NULL, &mm.dst));
    CHECK(dnnl_primitive_desc_create(&mm.pd, &md, NULL, eng, NULL));
    CHECK(dnnl_primitive_create(&mm.prim, mm.pd));
    return mm;
}

/* oneDNN matmul: src [P x K], weights [K x Co] (any), dst [P x Co]. */
static void bench_dnnl_matmul(const data_t *d, int nt, int is_int8)
{
    const shape_t *s = d->s;
    dnnl_init();
    matmul_t mm = matmul_new(d->P, d->K, d->Co, is_int8 ? dnnl_u8 : dnnl_f32, is_int8 ? dnnl_s8 : dnnl_f32,
                             is_int8 ? dnnl_s32 : dnnl_f32);
    dnnl_memory_desc_t src_md = mm.src, wei_user_md = mm.wei_user, dst_md = mm.dst;
    dnnl_primitive_desc_t pd = mm.pd;
    dnnl_primitive_t prim = mm.prim;

    void *srcbuf, *weibuf;
    if (is_int8) {
        srcbuf = d->A; weibuf = d->B;
    } else {
        float *a = xmalloc(sizeof(float) * (size_t)d->P * d->K), *b = xmalloc(sizeof(float) * (size_t)d->K * d->Co);
        for (size_t i = 0; i < (size_t)d->P * d->K; i++) a[i] = d->A[i];
        for (size_t i = 0; i < (size_t)d->K * d->Co; i++) b[i] = d->B[i];
        srcbuf = a; weibuf = b;
    }
    dnnl_memory_t src = mem_new(&src_md, srcbuf), wuser = mem_new(&wei_user_md, weibuf);
    dnnl_memory_t wei = reorder_to(wuser, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0));
    dnnl_memory_t dst = mem_new(&dst_md, NULL);
    struct dnnl_ctx c = {prim, 3, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}}};
    double t = best_time(run_dnnl, &c, 1, 3, 400, 1.0);

    char msg[64], info[160];
    if (is_int8) {
        check_s32_pm(d, mem_ptr(dst), d->Co, msg);
    } else {
        const float *y = mem_ptr(dst);
        double maxrel = 0;
        for (int i = 0; i < NSAMPLE; i++) {
            int p = sample_pixel(i, d->P);
            for (int co = 0; co < d->Co; co++) {
                double r = (double)ref_gemm_at(d, p, co), e = fabs(y[(size_t)p * d->Co + co] - r) / (fabs(r) + 1);
                if (e > maxrel) maxrel = e;
            }
        }
        sprintf(msg, "maxrel=%.1e", maxrel);
    }
    snprintf(info, sizeof info, "%s[isa=%s]", impl_name(pd), isa_str());
    report(is_int8 ? "dnnl_s8" : "dnnl_f32", nt, s, t, msg, info);
    dnnl_memory_destroy(src); dnnl_memory_destroy(dst);
    if (wei != wuser) dnnl_memory_destroy(wei);
    dnnl_memory_destroy(wuser);
    if (!is_int8) { free(srcbuf); free(weibuf); }
    dnnl_primitive_destroy(prim);
    dnnl_primitive_desc_destroy(pd);
}

/* oneDNN convolution 3x3 s1 p1. mode 0: u8->s32, 1: u8->u8 with output scale, 2: f32. */
static void bench_dnnl_conv(const data_t *d, int nt, int mode)
{
    const shape_t *s = d->s;
    if (!s->ks) return;
    dnnl_init();
    const int C = s->cin, O = s->M, H = s->h, W = s->w;
    const float scale = 1.0f / 2048;
    dnnl_dims_t sd = {1, C, H, W}, wd = {O, C, 3, 3}, dd = {1, O, H, W};
    dnnl_dims_t strides = {1, 1}, pad = {1, 1};
    dnnl_memory_desc_t src_md, wei_md, dst_md, src_user_md, wei_user_md, dst_user_md;
    dnnl_data_type_t st = mode == 2 ? dnnl_f32 : dnnl_u8, wt = mode == 2 ? dnnl_f32 : dnnl_s8,
                     dt = mode == 2 ? dnnl_f32 : mode == 1 ? dnnl_u8 : dnnl_s32;
    dnnl_format_tag_t act_tag = mode == 2 ? dnnl_format_tag_any : dnnl_nhwc;
    CHECK(dnnl_memory_desc_init_by_tag(&src_md, 4, sd, st, act_tag));
    CHECK(dnnl_memory_desc_init_by_tag(&wei_md, 4, wd, wt, dnnl_format_tag_any));
    CHECK(dnnl_memory_desc_init_by_tag(&dst_md, 4, dd, dt, act_tag));
    CHECK(dnnl_memory_desc_init_by_tag(&src_user_md, 4, sd, st, dnnl_nhwc));
    CHECK(dnnl_memory_desc_init_by_tag(&wei_user_md, 4, wd, wt, dnnl_oihw));
    CHECK(dnnl_memory_desc_init_by_tag(&dst_user_md, 4, dd, dt, dnnl_nhwc));
    dnnl_convolution_desc_t cd;
    CHECK(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct,
                                             &src_md, &wei_md, NULL, &dst_md, strides, pad, pad));
    dnnl_primitive_attr_t attr;
    CHECK(dnnl_primitive_attr_create(&attr));
    if (mode == 1) CHECK(dnnl_primitive_attr_set_output_scales(attr, 1, 0, &scale));
    dnnl_primitive_desc_t pd;
    CHECK(dnnl_primitive_desc_create(&pd, &cd, attr, eng, NULL));
    dnnl_primitive_t prim;
    CHECK(dnnl_primitive_create(&prim, pd));

    /* user data: image NHWC, weights OIHW from B[(ky*3+kx)*C + c][o] */
    uint8_t *x = make_image(s);
    size_t nx = (size_t)H * W * C, nw = (size_t)O * C * 9;
    void *xb, *wb;
    if (mode == 2) {
        float *xf = xmalloc(sizeof(float) * nx), *wf = xmalloc(sizeof(float) * nw);
        for (size_t i = 0; i < nx; i++) xf[i] = x[i];
        xb = xf; wb = wf;
    } else {
        xb = x; wb = xmalloc(nw);
    }
    for (int o = 0; o < O; o++)
        for (int c = 0; c < C; c++)
            for (int t = 0; t < 9; t++) {
                int8_t v = d->B[((size_t)t * C + c) * O + o];
                size_t idx = ((size_t)o * C + c) * 9 + t;
                if (mode == 2) ((float *)wb)[idx] = v; else ((int8_t *)wb)[idx] = v;
            }
    dnnl_memory_t su = mem_new(&src_user_md, xb), wu = mem_new(&wei_user_md, wb);
    dnnl_memory_t src = reorder_to(su, dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0));
    dnnl_memory_t wei = reorder_to(wu, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0));
    dnnl_memory_t dst = mem_new(dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0), NULL);
    struct dnnl_ctx c = {prim, 3, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}}};
    double t = best_time(run_dnnl, &c, 1, 3, 400, 1.0);

    /* check: bring dst back to nhwc */
    dnnl_memory_t du = mem_new(&dst_user_md, NULL);
    {
        const dnnl_memory_desc_t *dmd;
        CHECK(dnnl_memory_get_memory_desc(dst, &dmd));
        dnnl_primitive_desc_t rpd;
        CHECK(dnnl_reorder_primitive_desc_create(&rpd, dmd, eng, &dst_user_md, eng, NULL));
        dnnl_primitive_t r;
        CHECK(dnnl_primitive_create(&r, rpd));
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, dst}, {DNNL_ARG_TO, du}};
        CHECK(dnnl_primitive_execute(r, strm, 2, args));
        CHECK(dnnl_stream_wait(strm));
        dnnl_primitive_destroy(r); dnnl_primitive_desc_destroy(rpd);
    }
    const void *y = mem_ptr(du);
    long bad = 0, n = 0;
    double maxrel = 0;
    for (int i = 0; i < NSAMPLE; i++) {
        int p = sample_pixel(i, s->N);
        for (int o = 0; o < O; o++, n++) {
            int64_t r = ref_conv_at(s, x, d->B, p, o);
            size_t idx = (size_t)p * O + o;
            if (mode == 0) bad += ((const int32_t *)y)[idx] != r;
            else if (mode == 1) {
                double q = r * (double)scale;
                int want = q < 0 ? 0 : q > 255 ? 255 : (int)nearbyint(q);
                bad += abs(((const uint8_t *)y)[idx] - want) > 1; /* rounding mode may differ by 1 */
            } else {
                double e = fabs(((const float *)y)[idx] - (double)r) / (fabs((double)r) + 1);
                if (e > maxrel) maxrel = e;
            }
        }
    }
    char msg[64], info[200];
    if (mode == 2) sprintf(msg, "maxrel=%.1e", maxrel);
    else if (mode == 0) sprintf(msg, bad ? "MISMATCH %ld/%ld" : "exact(%ld sampled)", bad ? bad : n, n);
    else sprintf(msg, bad ? "MISMATCH %ld/%ld" : "ok(+-1;%ld sampled)", bad ? bad : n, n);
    /* which layouts did 'any' resolve to? report the src/weights format kind briefly */
    snprintf(info, sizeof info, "%s[isa=%s]", impl_name(pd), isa_str());
    report(mode == 0 ? "conv_s8" : mode == 1 ? "conv_s8u8" : "conv_f32", nt, s, t, msg, info);
    dnnl_memory_destroy(du); dnnl_memory_destroy(dst);
    if (src != su) dnnl_memory_destroy(src);
    if (wei != wu) dnnl_memory_destroy(wei);
    dnnl_memory_destroy(su); dnnl_memory_destroy(wu);
    free(x);
    if (mode == 2) free(xb);
    free(wb);
    dnnl_primitive_destroy(prim); dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_attr_destroy(attr);
}

/* oneDNN exactness probe with full-range (255) activations: does the chosen ISA saturate? */
static void probe(void)
{
    dnnl_init();
    const int M = 32, K = 64, N = 32;
    uint8_t *a = xmalloc(M * K);
    int8_t *b = xmalloc(K * N);
    for (int bmode = 0; bmode < 3; bmode++) {
        for (int i = 0; i < M * K; i++) a[i] = bmode == 2 ? (rnd() & 255) : 255;
        for (int i = 0; i < K * N; i++) b[i] = bmode == 0 ? 127 : bmode == 1 ? -128 : (int8_t)(rnd() & 255);
        matmul_t mm = matmul_new(M, K, N, dnnl_u8, dnnl_s8, dnnl_s32);
        dnnl_memory_desc_t smd = mm.src, wumd = mm.wei_user, dmd = mm.dst;
        dnnl_primitive_desc_t pd = mm.pd;
        dnnl_primitive_t prim = mm.prim;
        dnnl_memory_t src = mem_new(&smd, a), wu = mem_new(&wumd, b);
        dnnl_memory_t wei = reorder_to(wu, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0));
        dnnl_memory_t dst = mem_new(&dmd, NULL);
        struct dnnl_ctx c = {prim, 3, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}}};
        run_dnnl(&c);
        const int32_t *y = mem_ptr(dst);
        long bad = 0, maxerr = 0;
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                long r = 0;
                for (int k = 0; k < K; k++) r += (long)a[i * K + k] * b[k * N + j];
                long e = labs(y[i * N + j] - r);
                bad += e != 0;
                if (e > maxerr) maxerr = e;
            }
        printf("PROBE,matmul u8(0..255) x s8 %s,%s[isa=%s],%s (%ld/%d wrong, max abs err %ld)\n",
               bmode == 0 ? "all a=255,b=127" : bmode == 1 ? "all a=255,b=-128" : "random full range",
               impl_name(pd), isa_str(), bad ? "NOT EXACT" : "exact", bad, M * N, maxerr);
        dnnl_memory_destroy(src); dnnl_memory_destroy(dst);
        if (wei != wu) dnnl_memory_destroy(wei);
        dnnl_memory_destroy(wu);
        dnnl_primitive_destroy(prim); dnnl_primitive_desc_destroy(pd);
    }
    free(a); free(b);
    /* convolution with full-range activations and random s8 weights */
    static const shape_t ps = {"probe.conv3x3.64-64@16x16.u8-0..255", 64, 256, 576, 64, 16, 16, 3};
    g_amax = 255;
    data_t d;
    make_data(&d, &ps);
    bench_dnnl_conv(&d, 1, 0);
    free(d.A); free(d.B);
    g_amax = 127;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s impl threads [shape-substring]\n", argv[0]);
        return 1;
    }
    const char *impl = argv[1];
    int nt = atoi(argv[2]);
    const char *filter = argc > 3 ? argv[3] : NULL;
    if (!strcmp(impl, "sgemm")) openblas_set_num_threads(nt);
    omp_set_num_threads(nt);
    if (!strcmp(impl, "probe")) { probe(); return 0; }
    shape_t custom = {"custom", 0, 0, 0, 0, 0, 0, 0};
    int use_custom = filter && sscanf(filter, "gemm:%d,%d,%d", &custom.M, &custom.N, &custom.K) == 3;
    for (int i = 0; i < (use_custom ? 1 : NSHAPES); i++) {
        const shape_t *s = use_custom ? &custom : &shapes[i];
        if (!use_custom && filter && !strstr(s->name, filter)) continue;
        int conv_impl = !strncmp(impl, "conv_", 5) || !strncmp(impl, "im2col_", 7);
        if (conv_impl && !s->ks) continue;
        data_t d;
        make_data(&d, s);
        if (!strcmp(impl, "sgemm")) bench_sgemm(&d, nt);
        else if (!strcmp(impl, "u8s8_c")) bench_u8s8(&d, nt, U8S8_ISA_C, impl);
        else if (!strcmp(impl, "u8s8_avx2")) bench_u8s8(&d, nt, U8S8_ISA_AVX2, impl);
        else if (!strcmp(impl, "u8s8_vnni")) bench_u8s8(&d, nt, U8S8_ISA_AVX512VNNI, impl);
        else if (!strcmp(impl, "dnnl_s8")) bench_dnnl_matmul(&d, nt, 1);
        else if (!strcmp(impl, "dnnl_f32")) bench_dnnl_matmul(&d, nt, 0);
        else if (!strcmp(impl, "conv_s8")) bench_dnnl_conv(&d, nt, 0);
        else if (!strcmp(impl, "conv_s8u8")) bench_dnnl_conv(&d, nt, 1);
        else if (!strcmp(impl, "conv_f32")) bench_dnnl_conv(&d, nt, 2);
        else if (!strcmp(impl, "im2col_avx2")) bench_im2col(&d, nt, U8S8_ISA_AVX2, impl);
        else if (!strcmp(impl, "im2col_vnni")) bench_im2col(&d, nt, U8S8_ISA_AVX512VNNI, impl);
        else { fprintf(stderr, "unknown impl %s\n", impl); return 1; }
        free(d.A); free(d.B);
    }
    return 0;
}
