/* fused_store.c -- the engine's int8 multiply followed by its separate requantizing store
 * (rcnn_i8_gemm + rcnn_i8_requantize_rows) against the fused call (rcnn_i8_gemm_requantize), on one
 * 192-row task as the layers run it, for the 1x1 and 3x3 shapes of a ResNet-50 bottleneck. One
 * thread; the two variants alternate, the fastest of 15 rounds each; a multiply-only time for
 * reference. Also checks that both give the same levels. Run from the repository root:
 *
 *   clang -O3 -ffp-contract=off -I Sources/CKernels/include -I Sources/CKernels \
 *       Benchmarks/int8/fused_store.c Sources/CKernels/int8_gemm.c Sources/CKernels/int8_layout.c \
 *       -o /tmp/fused_store && /tmp/fused_store
 */
#include "CKernels.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

int main(void) {
    const int isa = rcnn_i8_best_isa(), m = 192, top = RCNN_I8_MAX_ACTIVATION_8BIT;
    const int flags = RCNN_I8_WIDE_ACTIVATIONS;
    /* (k, n): 1x1 reduce and expand layers of each stage, 3x3 layers (k = 9 x channels). */
    static const int shapes[][2] = {{256, 64}, {64, 256}, {576, 64}, {512, 128}, {128, 512}, {1152, 128},
                                    {1024, 256}, {256, 1024}, {2304, 256}, {2048, 512}, {512, 2048}, {4608, 512}};
    printf("int8 path %d, one thread, %d rows per task\n", isa, m);
    printf("%6s %6s %12s %12s %8s %12s %5s\n", "k", "n", "separate us", "fused us", "fused/sep", "multiply us", "same");
    srand(18);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int k = shapes[s][0], n = shapes[s][1];
        uint8_t *a = malloc((size_t)m * k), *sep = malloc((size_t)m * n), *fus = malloc((size_t)m * n);
        int8_t *w = malloc((size_t)n * k), *packed = malloc(rcnn_i8_packed_bytes(k, n));
        int32_t *acc = malloc((size_t)m * n * sizeof *acc), *offset = malloc((size_t)n * sizeof *offset);
        float *scale = malloc((size_t)n * sizeof *scale), *bias = malloc((size_t)n * sizeof *bias);
        for (size_t i = 0; i < (size_t)m * k; i++) a[i] = (uint8_t)(rand() % 256);
        for (size_t i = 0; i < (size_t)n * k; i++) w[i] = (int8_t)(rand() % 255 - 127);
        for (int j = 0; j < n; j++) {
            offset[j] = j;
            scale[j] = 1e-5f;
            bias[j] = 0.1f;
        }
        rcnn_i8_pack(w, n, k, k, packed);
        const rcnn_i8_requantize rq = {offset, scale, bias, RCNN_I8_ACT_RELU, NULL, 40.0f, 3, top, fus, n, NULL, 0};
        const int reps = (int)(2e8 / ((double)m * n * k)) + 1;
        double best_sep = 1e30, best_fus = 1e30, best_mul = 1e30;
        for (int round = 0; round < 15; round++) {
            double t = now();
            for (int r = 0; r < reps; r++) {
                rcnn_i8_gemm(isa, m, a, k, packed, k, n, flags, acc, n);
                rcnn_i8_requantize_rows(isa, acc, n, m, n, offset, scale, bias, RCNN_I8_ACT_RELU, 40.0f, 3, top, sep, n,
                                        NULL, 0);
            }
            t = (now() - t) / reps;
            if (t < best_sep) best_sep = t;
            t = now();
            for (int r = 0; r < reps; r++) rcnn_i8_gemm_requantize(isa, m, a, k, packed, k, n, flags, acc, n, &rq);
            t = (now() - t) / reps;
            if (t < best_fus) best_fus = t;
            t = now();
            for (int r = 0; r < reps; r++) rcnn_i8_gemm(isa, m, a, k, packed, k, n, flags, acc, n);
            t = (now() - t) / reps;
            if (t < best_mul) best_mul = t;
        }
        printf("%6d %6d %12.1f %12.1f %8.3f %12.1f %5s\n", k, n, 1e6 * best_sep, 1e6 * best_fus, best_fus / best_sep,
               1e6 * best_mul, memcmp(sep, fus, (size_t)m * n) == 0 ? "yes" : "NO");
        free(a); free(sep); free(fus); free(w); free(packed); free(acc); free(offset); free(scale); free(bias);
    }
    return 0;
}
