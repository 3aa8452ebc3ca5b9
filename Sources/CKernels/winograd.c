#include "CKernels.h"

#define L RCNN_WINOGRAD_LANES

/* Bᵀ x on 6 rows of lanes read s apart, written t apart. */
static inline void input_1d(const float *x, int s, float *y, int t) {
    for (int l = 0; l < L; l++) {
        float x0 = x[l], x1 = x[s + l], x2 = x[2 * s + l], x3 = x[3 * s + l], x4 = x[4 * s + l], x5 = x[5 * s + l];
        y[l] = 4 * x0 - 5 * x2 + x4;
        y[t + l] = -4 * (x1 + x2) + x3 + x4;
        y[2 * t + l] = 4 * (x1 - x2) - x3 + x4;
        y[3 * t + l] = 2 * (x3 - x1) - x2 + x4;
        y[4 * t + l] = 2 * (x1 - x3) - x2 + x4;
        y[5 * t + l] = 4 * x1 - 5 * x3 + x5;
    }
}

/* Aᵀ m on 6 rows of lanes read s apart, 4 written t apart. */
static inline void output_1d(const float *m, int s, float *y, int t) {
    for (int l = 0; l < L; l++) {
        float m0 = m[l], m1 = m[s + l], m2 = m[2 * s + l], m3 = m[3 * s + l], m4 = m[4 * s + l], m5 = m[5 * s + l];
        float a = m1 + m2, b = m1 - m2, c = m3 + m4, d = m3 - m4;
        y[l] = m0 + a + c;
        y[t + l] = b + 2 * d;
        y[2 * t + l] = a + 4 * c;
        y[3 * t + l] = b + 8 * d + m5;
    }
}

RCNN_CLONES
void rcnn_winograd_input(const float *src, int channels, int ch, int h, int w, int pad_h, int pad_w,
                         int first, int count, int tiles_w, int per_image, float *v) {
    float d[36 * L], e[36 * L], f[36 * L];
    for (int j0 = 0; j0 < count; j0 += L) {
        int n = count - j0 < L ? count - j0 : L;
        for (int l = 0; l < L; l++) {
            int tile = first + j0 + (l < n ? l : n - 1);
            int b = tile / per_image, r = tile % per_image;
            int y0 = (r / tiles_w) * 4 - pad_h, x0 = (r % tiles_w) * 4 - pad_w;
            const float *plane = src + ((long)b * channels + ch) * (long)h * w;
            if (y0 >= 0 && x0 >= 0 && y0 + 6 <= h && x0 + 6 <= w) {
                for (int i = 0; i < 6; i++) {
                    const float *line = plane + (long)(y0 + i) * w + x0;
                    for (int jj = 0; jj < 6; jj++) d[(i * 6 + jj) * L + l] = line[jj];
                }
            } else {
                for (int i = 0; i < 6; i++) {
                    int y = y0 + i;
                    for (int jj = 0; jj < 6; jj++) {
                        int x = x0 + jj;
                        d[(i * 6 + jj) * L + l] = (y >= 0 && y < h && x >= 0 && x < w) ? plane[(long)y * w + x] : 0.0f;
                    }
                }
            }
        }
        for (int col = 0; col < 6; col++) input_1d(d + col * L, 6 * L, e + col * L, 6 * L);
        for (int row = 0; row < 6; row++) input_1d(e + row * 6 * L, L, f + row * 6 * L, L);
        float *out = v + (long)ch * count + j0;
        for (int xi = 0; xi < 36; xi++) {
            float *to = out + (long)xi * channels * count;
            const float *from = f + xi * L;
            for (int l = 0; l < n; l++) to[l] = from[l];
        }
    }
}

RCNN_CLONES
void rcnn_winograd_output(const float *m, int k, int o, int first, int count, int tiles_w, int per_image,
                          float bias, int relu, float *dst, int oh, int ow) {
    float g[36 * L], half[24 * L], y[16 * L];
    for (int j0 = 0; j0 < count; j0 += L) {
        int n = count - j0 < L ? count - j0 : L;
        const float *src = m + (long)o * count + j0;
        for (int xi = 0; xi < 36; xi++) {
            const float *from = src + (long)xi * k * count;
            float *to = g + xi * L;
            int l = 0;
            for (; l < n; l++) to[l] = from[l];
            for (; l < L; l++) to[l] = 0.0f;
        }
        for (int col = 0; col < 6; col++) output_1d(g + col * L, 6 * L, half + col * L, 6 * L);
        for (int row = 0; row < 4; row++) output_1d(half + row * 6 * L, L, y + row * 4 * L, L);
        for (int i = 0; i < 16 * L; i++) {
            float v = y[i] + bias;
            y[i] = relu ? ((v > 0 || v != v) ? v : 0.0f) : v;
        }
        for (int l = 0; l < n; l++) {
            int tile = first + j0 + l;
            int b = tile / per_image, r = tile % per_image;
            int y0 = (r / tiles_w) * 4, x0 = (r % tiles_w) * 4;
            int rows = oh - y0 < 4 ? oh - y0 : 4, cols = ow - x0 < 4 ? ow - x0 : 4;
            float *plane = dst + ((long)b * k + o) * (long)oh * ow;
            for (int i = 0; i < rows; i++) {
                float *line = plane + (long)(y0 + i) * ow + x0;
                for (int jj = 0; jj < cols; jj++) line[jj] = y[(i * 4 + jj) * L + l];
            }
        }
    }
}
