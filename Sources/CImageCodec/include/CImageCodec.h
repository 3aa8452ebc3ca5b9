/*
 * CImageCodec: JPEG (libjpeg-turbo) and PNG (libpng 1.6) decode/encode from and to memory.
 *
 * Both libraries report errors by longjmp, which Swift cannot catch. Every function here sets up
 * its own setjmp, turns a library error into a status code plus a NUL-terminated message, and
 * frees everything it allocated before returning. Nothing is printed: library warnings are
 * swallowed (the one warning that matters, "premature end of data", is an error here).
 *
 * Pixels are tightly packed RGB8: row-major, top row first, 3 bytes per pixel (R, G, B),
 * row stride width * 3. Pixel (0, 0) is the top-left corner.
 *
 * Decoding semantics (chosen to match PIL's Image.open(...).convert("RGB") and torchvision's
 * read_image(..., ImageReadMode.RGB), which also do not rotate):
 *   - EXIF orientation is NOT applied; its value is reported in icodec_image.exif_orientation.
 *   - Alpha (RGBA, grey+alpha, tRNS) is dropped, not composited, unless a background is given
 *     (icodec_decode_png_over), which it is composited over as Pillow's
 *     Image.alpha_composite(background, image) computes it, to the bit.
 *   - 16-bit PNG samples keep their high byte (png_set_strip_16).
 *   - Greyscale is replicated into R, G and B.
 *   - 4-component JPEGs (CMYK, YCCK) are read with the Adobe/Photoshop convention (inverted
 *     values), and converted to RGB with PIL's integer formula.
 *   - Truncated input is an error, for both formats (strict: a missing JPEG EOI or PNG IEND too).
 *
 * Thread-safety: every function is reentrant; no global state.
 */
#ifndef CIMAGECODEC_H
#define CIMAGECODEC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes returned by every function. */
#define ICODEC_OK 0
#define ICODEC_ERR_ARGUMENT 1     /* NULL/empty input, zero or out-of-range dimensions, bad quality */
#define ICODEC_ERR_CORRUPT 2      /* the library rejected the data; message holds its words */
#define ICODEC_ERR_UNSUPPORTED 3  /* valid file of a kind not decoded (12-bit or lossless JPEG, ...) */
#define ICODEC_ERR_TOO_LARGE 4    /* header declares width*height > max_pixels; nothing allocated */
#define ICODEC_ERR_NO_MEMORY 5    /* an allocation failed */

/* A buffer of this many bytes always holds a whole message. */
#define ICODEC_MESSAGE_CAPACITY 256

/* Progressive JPEGs with more scans than this are rejected (each scan is a pass over the
 * whole coefficient buffer, so a "scan bomb" costs time; real encoders write about 10). */
#define ICODEC_JPEG_MAX_SCANS 256

/* A decoded image. On success pixels is malloc'd (width * height * 3 bytes; free it with
 * icodec_free). On ICODEC_ERR_TOO_LARGE width and height hold the declared size and pixels is
 * NULL. On every other error all fields are zero. */
typedef struct icodec_image {
    unsigned char *pixels;
    uint32_t width;
    uint32_t height;
    /* EXIF Orientation tag (1...8) from a JPEG APP1 "Exif" segment or a PNG eXIf chunk;
     * 0 when absent or unreadable. Not applied to pixels. */
    int32_t exif_orientation;
    /* Channels stored in the file: 1 grey, 2 grey+alpha, 3 colour, 4 RGBA/CMYK/YCCK
     * (palette PNGs report 3, or 4 with tRNS). Informational. */
    int32_t source_channels;
} icodec_image;

/* Decodes a JPEG (baseline, extended, progressive, arithmetic; grey, YCbCr, RGB, CMYK, YCCK)
 * held in data[0 ..< size] into RGB8. Fails with ICODEC_ERR_TOO_LARGE, before any pixel memory
 * is allocated, when width * height > max_pixels. message (capacity message_capacity bytes,
 * may be NULL) receives a description of any error; it is set to "" on success. */
int icodec_decode_jpeg(const unsigned char *data, size_t size, uint64_t max_pixels,
                       icodec_image *out, char *message, size_t message_capacity);

/* Reads only the JPEG's header: on success out->width and out->height hold its size and every
 * other field is zero; nothing is decoded or allocated beyond libjpeg's header state. Fails as
 * icodec_decode_jpeg would on the header (ICODEC_ERR_TOO_LARGE when width * height > max_pixels).
 * With icodec_decode_jpeg_into, lets a caller decode straight into memory it owns. */
int icodec_probe_jpeg(const unsigned char *data, size_t size, uint64_t max_pixels,
                      icodec_image *out, char *message, size_t message_capacity);

/* As icodec_decode_jpeg, but the pixels are written into the caller's pixels[0 ..< capacity]
 * (ICODEC_ERR_ARGUMENT when capacity < width * height * 3) and out->pixels points there: the
 * caller owns it, do not icodec_free it. On an error the buffer's contents are unspecified. */
int icodec_decode_jpeg_into(const unsigned char *data, size_t size, uint64_t max_pixels,
                            unsigned char *pixels, size_t capacity, icodec_image *out,
                            char *message, size_t message_capacity);

/* Decodes a PNG (every colour type and bit depth, Adam7 interlaced or not) into RGB8.
 * Same contract as icodec_decode_jpeg. CRC errors in critical chunks are errors; ancillary
 * chunks with bad CRCs are skipped (libpng's default). */
int icodec_decode_png(const unsigned char *data, size_t size, uint64_t max_pixels,
                      icodec_image *out, char *message, size_t message_capacity);

/* The PNG counterparts of icodec_probe_jpeg and icodec_decode_jpeg_into, same contracts. */
int icodec_probe_png(const unsigned char *data, size_t size, uint64_t max_pixels,
                     icodec_image *out, char *message, size_t message_capacity);
int icodec_decode_png_into(const unsigned char *data, size_t size, uint64_t max_pixels,
                           unsigned char *pixels, size_t capacity, icodec_image *out,
                           char *message, size_t message_capacity);
/* As icodec_decode_png_into, with the image's alpha (an alpha channel or tRNS) composited over
 * the opaque colour background[0..2] (R, G, B) instead of dropped; background NULL drops alpha.
 * An alpha image needs width * height * 4 bytes of scratch memory besides pixels. */
int icodec_decode_png_over(const unsigned char *data, size_t size, uint64_t max_pixels,
                           unsigned char *pixels, size_t capacity,
                           const unsigned char *background, icodec_image *out, char *message,
                           size_t message_capacity);

/* RGBA pixels composited over an opaque RGB background into RGB (count pixels), with Pillow's
 * integer arithmetic for Image.alpha_composite over an opaque image. */
void icodec_composite_over(const unsigned char *rgba, size_t count, const unsigned char *background,
                           unsigned char *rgb);

/* Encodes RGB8 pixels (width * height * 3 bytes) as an 8-bit RGB PNG, non-interlaced, with zlib
 * compression_level 0...9 (-1: libpng's default). On success *out is malloc'd (free with
 * icodec_free) and *out_size is its length. */
int icodec_encode_png(const unsigned char *rgb, uint32_t width, uint32_t height,
                      int compression_level, unsigned char **out, size_t *out_size,
                      char *message, size_t message_capacity);

/* Encodes RGB8 pixels as a JFIF JPEG, YCbCr 4:2:0, quality 1...100, progressive when
 * progressive != 0. width and height must be 1...65500. Output as icodec_encode_png. */
int icodec_encode_jpeg(const unsigned char *rgb, uint32_t width, uint32_t height, int quality,
                       int progressive, unsigned char **out, size_t *out_size,
                       char *message, size_t message_capacity);

/* Encodes 4-channel pixels, stored exactly as given (Photoshop stores inverted CMYK), as an
 * Adobe-marked CMYK JPEG, or YCCK when ycck != 0. Exists so tests can make YCCK files, which
 * PIL cannot write. Output as icodec_encode_png. */
int icodec_encode_jpeg_cmyk(const unsigned char *cmyk, uint32_t width, uint32_t height,
                            int quality, int ycck, unsigned char **out, size_t *out_size,
                            char *message, size_t message_capacity);

/* Frees memory returned by this library. NULL is fine. */
void icodec_free(void *pointer);

#ifdef __cplusplus
}
#endif

#endif /* CIMAGECODEC_H */
