/* The arithmetic shared by the int8 stores (int8_layout.c) and the multiply's requantizing epilogue
 * (int8_gemm.c): dequantizing a sum, the activations and residual join, quantizing for the next
 * layer. Scalar and AVX2 versions of each compute the same bits (multiply, then add, each rounded
 * once: the target is built with -ffp-contract=off; round half to even; the same clamps and NaN
 * rules), so a value has the same bits whichever store or path produced it. Internal to CKernels. */
#ifndef RCNN_INT8_REQUANTIZE_H
#define RCNN_INT8_REQUANTIZE_H
#include "CKernels.h"
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#pragma STDC FP_CONTRACT OFF

/* x quantized to a level in 0...top (127 for 7-bit activations, 255 for 8-bit). */
static inline uint8_t quantize(float x, float inv_scale, float zero_point, float top) {
    float v = x * inv_scale + zero_point;
    v = v > 0.0f ? v : 0.0f; /* NaN goes to 0 */
    v = v < top ? v : top;
    /* Round half to even without a library call (the baseline ISA has no rounding instruction):
     * adding 1.5 * 2^23 leaves no fraction bits, so the float addition rounds v to an integer in
     * the current (nearest-even) mode; exact for 0 <= v <= 255. */
    const float magic = 12582912.0f;
    return (uint8_t)(int)((v + magic) - magic);
}

static inline float dequantize(int32_t a, int32_t off, float s, float b, int relu) {
    float v = (float)(a - off) * s + b;
    return (relu && v < 0.0f) ? 0.0f : v;
}

/* The float32 hardswish, x * min(max(x + 3, 0), 6) / 6, with its comparisons as written there:
 * max keeps t unless 0 >= t, min keeps t unless 6 < t, so NaN passes through both. */
static inline float hardswish(float x) {
    float t = x + 3.0f;
    t = 0.0f >= t ? 0.0f : t;
    t = 6.0f < t ? 6.0f : t;
    return x * t / 6.0f;
}

static inline float activate(float v, int act) {
    if (act == RCNN_I8_ACT_RELU) return v < 0.0f ? 0.0f : v;
    if (act == RCNN_I8_ACT_HARDSWISH) return hardswish(v);
    return v;
}

/* The shortcut value of channel o in row r of a residual join: a level of the block's input,
 * (level - zero point) * scale as ActivationQuantization.value computes it, the block input's float
 * value, or the downsampling layer's dequantized sum. */
static inline float shortcut_value(const rcnn_i8_shortcut *sc, int r, int o) {
    if (sc->levels) return (float)((int)sc->levels[(size_t)r * sc->ld + o] - sc->zero_point) * sc->scale;
    if (sc->values) return sc->values[(size_t)r * sc->ld + o];
    return dequantize(sc->sums[(size_t)r * sc->ld + o], sc->offset[o], sc->channel_scale[o],
                      sc->bias ? sc->bias[o] : 0.0f, 0);
}

/* Channel o of row r: the dequantized sum a, then `act`, or with a shortcut the residual join
 * max(v + shortcut, 0) as the float32 add-ReLU computes it (v <= 0 gives +0, NaN passes). */
static inline float requantized_value(int32_t a, int o, const int32_t *offset, const float *scale, const float *bias,
                                      int act, const rcnn_i8_shortcut *sc, int r) {
    const float v = dequantize(a, offset[o], scale[o], bias ? bias[o] : 0.0f, 0);
    if (!sc) return activate(v, act);
    const float joined = v + shortcut_value(sc, r, o);
    return joined <= 0.0f ? 0.0f : joined;
}

/* Rows [0, rows) x columns [0, n) of sums (acc, rows ldacc apart) requantized as `rq` says, for the
 * multiply's rows row... and outputs col...: rcnn_i8_requantize_rows / rcnn_i8_join_rows on a block.
 * `isa` as for the multiply (the baseline runs scalar code, every other path AVX2 code). */
/* `sc` moved to start at row `row` and channel `col`. */
static inline rcnn_i8_shortcut rcnn_i8_shortcut_at(const rcnn_i8_shortcut *sc, int row, int col) {
    rcnn_i8_shortcut m = *sc;
    const size_t at = (size_t)row * sc->ld + col;
    if (m.levels) m.levels += at;
    if (m.values) m.values += at;
    if (m.sums) {
        m.sums += at;
        m.offset += col;
        m.channel_scale += col;
        if (m.bias) m.bias += col;
    }
    return m;
}

void rcnn_i8_requantize_block(int isa, const int32_t *acc, long ldacc, int rows, int n, const rcnn_i8_requantize *rq,
                              int row, int col);

#if defined(__x86_64__)
/* Eight floats to eight levels (as int32), as quantize() does each. */
__attribute__((target("avx2"))) static inline __m256i levels8(__m256 x, __m256 inv, __m256 zp, __m256 top) {
    const __m256 zero = _mm256_setzero_ps();
    x = _mm256_add_ps(_mm256_mul_ps(x, inv), zp);
    /* max_ps returns its second operand when the first is NaN: NaN goes to 0. */
    x = _mm256_min_ps(_mm256_max_ps(x, zero), top);
    /* cvtps rounds in the current mode (nearest even), as the scalar magic-number addition does. */
    return _mm256_cvtps_epi32(x);
}

/* Two vectors of eight int32 levels (0...255) to sixteen bytes, in order. */
__attribute__((target("avx2"))) static inline __m128i pack16(__m256i lo, __m256i hi) {
    const __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(lo, hi), 0xD8); /* 16-bit 0-7, 8-15 */
    return _mm_packus_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
}

/* Eight sums to floats, (sum - off) * s + b, as dequantize() does each (before any ReLU). */
__attribute__((target("avx2"))) static inline __m256 dequantize8v(__m256i sum, __m256i off, __m256 s, __m256 b) {
    return _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(sum, off)), s), b);
}

/* The same for eight sums in memory. */
__attribute__((target("avx2"))) static inline __m256 dequantize8(const int32_t *a, __m256i off, __m256 s, __m256 b) {
    return dequantize8v(_mm256_loadu_si256((const __m256i *)a), off, s, b);
}

/* The scalar ReLU (v < 0 ? 0 : v): only values below zero become 0, NaN and -0 pass. */
__attribute__((target("avx2"))) static inline __m256 relu8(__m256 v) {
    return _mm256_andnot_ps(_mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ), v);
}

/* Eight hardswish values, as hardswish() computes each. */
__attribute__((target("avx2"))) static inline __m256 hardswish8(__m256 x) {
    const __m256 zero = _mm256_setzero_ps(), three = _mm256_set1_ps(3.0f), six = _mm256_set1_ps(6.0f);
    __m256 t = _mm256_add_ps(x, three);
    t = _mm256_blendv_ps(t, zero, _mm256_cmp_ps(zero, t, _CMP_GE_OQ));
    t = _mm256_blendv_ps(t, six, _mm256_cmp_ps(six, t, _CMP_LT_OQ));
    return _mm256_div_ps(_mm256_mul_ps(x, t), six);
}

/* Eight shortcut values of row r from channel o, as shortcut_value() computes each. */
__attribute__((target("avx2"))) static inline __m256 shortcut8(const rcnn_i8_shortcut *sc, int r, int o,
                                                                __m256i zp, __m256 scale) {
    if (sc->levels) {
        const __m128i bytes = _mm_loadl_epi64((const __m128i *)(sc->levels + (size_t)r * sc->ld + o));
        const __m256i q = _mm256_sub_epi32(_mm256_cvtepu8_epi32(bytes), zp);
        return _mm256_mul_ps(_mm256_cvtepi32_ps(q), scale);
    }
    if (sc->values) return _mm256_loadu_ps(sc->values + (size_t)r * sc->ld + o);
    return dequantize8(sc->sums + (size_t)r * sc->ld + o, _mm256_loadu_si256((const __m256i *)(sc->offset + o)),
                       _mm256_loadu_ps(sc->channel_scale + o),
                       sc->bias ? _mm256_loadu_ps(sc->bias + o) : _mm256_setzero_ps());
}

/* The residual join max(v + shortcut, 0) as the float32 add-ReLU computes it (v <= 0 gives +0,
 * NaN passes), eight at a time. */
__attribute__((target("avx2"))) static inline __m256 join8(__m256 v, __m256 shortcut) {
    v = _mm256_add_ps(v, shortcut);
    return _mm256_andnot_ps(_mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LE_OQ), v);
}

/* Eight values through `act` (RCNN_I8_ACT_*), as activate() does each. */
__attribute__((target("avx2"))) static inline __m256 activate8(__m256 v, int act) {
    if (act == RCNN_I8_ACT_RELU) return relu8(v);
    if (act == RCNN_I8_ACT_HARDSWISH) return hardswish8(v);
    return v;
}

/* Eight sums of one row (the shortcut's row r, channels o...) to levels: dequantized, joined to
 * `sc` or activated by `act`, the floats stored at `values` when it is not NULL, then quantized:
 * requantized_value() and quantize() eight at a time. The separate store and the multiply's
 * epilogue both run this, so they give the same bits. */
__attribute__((target("avx2"))) static inline __m256i requantize8(__m256i sum, __m256i off, __m256 s, __m256 b, int act,
                                                                   const rcnn_i8_shortcut *sc, int r, int o,
                                                                   __m256i shortcut_zp, __m256 shortcut_scale,
                                                                   float *values, __m256 inv, __m256 zp, __m256 top) {
    __m256 v = dequantize8v(sum, off, s, b);
    v = sc ? join8(v, shortcut8(sc, r, o, shortcut_zp, shortcut_scale)) : activate8(v, act);
    if (values) _mm256_storeu_ps(values, v);
    return levels8(v, inv, zp, top);
}
#endif
#endif
