#include "CImageCodec.h"
#include "codec_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void icodec_free(void *pointer) { free(pointer); }

void icodec_set_message(char *buffer, size_t capacity, const char *format, ...) {
    if (buffer == NULL || capacity == 0) return;
    va_list args;
    va_start(args, format);
    vsnprintf(buffer, capacity, format, args);
    va_end(args);
}

void icodec_set_too_large(char *buffer, size_t capacity, uint32_t width, uint32_t height,
                          uint64_t max_pixels) {
    icodec_set_message(buffer, capacity,
                       "image too large: %ux%u = %llu pixels exceeds the limit of %llu pixels",
                       (unsigned)width, (unsigned)height,
                       (unsigned long long)width * (unsigned long long)height,
                       (unsigned long long)max_pixels);
}

static uint32_t read_u16(const unsigned char *p, int little) {
    return little ? (uint32_t)p[0] | (uint32_t)p[1] << 8 : (uint32_t)p[0] << 8 | (uint32_t)p[1];
}

static uint32_t read_u32(const unsigned char *p, int little) {
    return little ? read_u16(p, 1) | read_u16(p + 2, 1) << 16
                  : read_u16(p, 0) << 16 | read_u16(p + 2, 0);
}

/* TIFF 6.0 section 2: 8-byte header (byte order, 42, offset of IFD0); an IFD is a 2-byte count
 * then 12-byte entries (tag, type, count, value-or-offset). Orientation is tag 0x0112, SHORT. */
int icodec_exif_orientation(const unsigned char *tiff, size_t size) {
    if (tiff == NULL || size < 8) return 0;
    int little;
    if (tiff[0] == 'I' && tiff[1] == 'I') little = 1;
    else if (tiff[0] == 'M' && tiff[1] == 'M') little = 0;
    else return 0;
    if (read_u16(tiff + 2, little) != 42) return 0;
    uint32_t ifd = read_u32(tiff + 4, little);
    if (ifd > size || size - ifd < 2) return 0;
    uint32_t count = read_u16(tiff + ifd, little);
    for (uint32_t i = 0; i < count; i++) {
        size_t entry = (size_t)ifd + 2 + (size_t)i * 12;
        if (entry + 12 > size) break;
        if (read_u16(tiff + entry, little) != 0x0112) continue;
        uint32_t type = read_u16(tiff + entry + 2, little);
        uint32_t value = read_u16(tiff + entry + 8, little);
        return (type == 3 && value >= 1 && value <= 8) ? (int)value : 0;
    }
    return 0;
}

/* Pillow's Image.alpha_composite(background, image) for an opaque background: with the
 * background's alpha 255 its blend weights are exactly a * 128 and (255 - a) * 128 (7 fraction
 * bits), and the sum is divided by 255 with its shift-add approximation. A fully transparent
 * pixel is the background. */
void icodec_composite_over(const unsigned char *rgba, size_t count, const unsigned char *background,
                           unsigned char *rgb) {
    for (size_t i = 0; i < count; i++) {
        const unsigned char *s = rgba + i * 4;
        unsigned char *o = rgb + i * 3;
        uint32_t a = s[3];
        if (a == 0) {
            o[0] = background[0];
            o[1] = background[1];
            o[2] = background[2];
            continue;
        }
        uint32_t w1 = a * 128, w2 = (255 - a) * 128;
        for (int c = 0; c < 3; c++) {
            uint32_t t = s[c] * w1 + background[c] * w2 + (0x80u << 7);
            o[c] = (unsigned char)(((((t >> 8) + t) >> 8)) >> 7);
        }
    }
}
