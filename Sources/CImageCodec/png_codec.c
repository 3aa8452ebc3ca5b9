/* PNG decode and encode on libpng 1.6, with errors returned instead of longjmp'd out. */
#include "CImageCodec.h"
#include "codec_internal.h"

#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

/* Everything the caller must see or free after a longjmp lives here, owned by the frame that
 * calls *_run (not the one that called setjmp), so nothing is an indeterminate local. */
typedef struct png_context {
    const unsigned char *data; /* decode: input */
    size_t size, offset;
    int status;
    char *message;
    size_t message_capacity;
    unsigned char *pixels; /* decode: output image, when malloc'd here */
    unsigned char *target; /* decode: where pixels go (pixels, or the caller's buffer) */
    size_t target_capacity; /* decode: bytes at target, when the caller's */
    int header_only;       /* decode: stop after the header (probe) */
    const unsigned char *background; /* decode: RGB to composite alpha over; NULL drops alpha */
    unsigned char *rgba;   /* decode: the RGBA rows before compositing (alpha images only) */
    png_bytep *rows;       /* decode: row pointers into pixels (or rgba) */
    unsigned char *encoded; /* encode: growable output */
    size_t encoded_size, encoded_capacity;
} png_context;

static void on_error(png_structp png, png_const_charp text) {
    png_context *context = png_get_error_ptr(png);
    if (context->status == ICODEC_OK)
        context->status = strstr(text, "ut of memory") != NULL ? ICODEC_ERR_NO_MEMORY
                                                               : ICODEC_ERR_CORRUPT;
    icodec_set_message(context->message, context->message_capacity, "%s", text);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp text) { (void)png; (void)text; }

static void on_read(png_structp png, png_bytep target, size_t length) {
    png_context *context = png_get_io_ptr(png);
    if (length > context->size - context->offset)
        png_error(png, "premature end of PNG data (truncated file)");
    memcpy(target, context->data + context->offset, length);
    context->offset += length;
}

static int decode_run(png_structp png, png_infop info, png_context *context, uint64_t max_pixels,
                      icodec_image *out) {
    if (setjmp(png_jmpbuf(png))) return context->status;
    png_set_read_fn(png, context, on_read);
    /* Our max_pixels check replaces libpng's default 1,000,000-a-side limit, so that a large
     * header gives ICODEC_ERR_TOO_LARGE with its size rather than a libpng message. */
    png_set_user_limits(png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
    png_read_info(png, info);

    png_uint_32 width, height;
    int depth, color_type, interlace;
    png_get_IHDR(png, info, &width, &height, &depth, &color_type, &interlace, NULL, NULL);
    if ((uint64_t)width * height > max_pixels) {
        out->width = width;
        out->height = height;
        icodec_set_too_large(context->message, context->message_capacity, width, height,
                             max_pixels);
        return ICODEC_ERR_TOO_LARGE;
    }
    if (context->header_only) {
        out->width = width;
        out->height = height;
        return ICODEC_OK;
    }
    int has_trns = png_get_valid(png, info, PNG_INFO_tRNS) != 0;
    out->source_channels = color_type == PNG_COLOR_TYPE_PALETTE ? (has_trns ? 4 : 3)
                                                                : png_get_channels(png, info);

    /* To 8-bit RGB: expand palette and low-depth grey, keep the high byte of 16-bit samples,
     * replicate grey. No gamma correction. Alpha (including alpha made from tRNS) is dropped, or,
     * with a background, kept as RGBA and composited over it below. */
    int has_alpha = (color_type & PNG_COLOR_MASK_ALPHA) != 0 || has_trns;
    int composite = has_alpha && context->background != NULL;
    if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color_type == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (composite && has_trns) png_set_tRNS_to_alpha(png);
    if (depth == 16) png_set_strip_16(png);
    if (!composite) png_set_strip_alpha(png);
    if ((color_type & PNG_COLOR_MASK_COLOR) == 0) png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    size_t channels = composite ? 4 : 3;
    if (png_get_channels(png, info) != channels || png_get_bit_depth(png, info) != 8 ||
        png_get_rowbytes(png, info) != (size_t)width * channels)
        png_error(png, "unexpected PNG row layout after conversion to RGB8/RGBA8");

    size_t stride = (size_t)width * 3;
    if (context->target == NULL) {
        context->pixels = malloc(stride * height);
        context->target = context->pixels;
    } else if (context->target_capacity < stride * height) {
        context->status = ICODEC_ERR_ARGUMENT;
        png_error(png, "destination buffer smaller than the image");
    }
    context->rows = malloc(sizeof(png_bytep) * height);
    if (composite) context->rgba = malloc((size_t)width * 4 * height);
    if (context->target == NULL || context->rows == NULL || (composite && context->rgba == NULL)) {
        context->status = ICODEC_ERR_NO_MEMORY;
        png_error(png, "out of memory for PNG pixels");
    }
    unsigned char *rows_base = composite ? context->rgba : context->target;
    size_t row_bytes = (size_t)width * channels;
    for (png_uint_32 y = 0; y < height; y++) context->rows[y] = rows_base + y * row_bytes;
    png_read_image(png, context->rows);
    png_read_end(png, info); /* checks the trailing chunks and IEND; may hold eXIf */
    if (composite)
        icodec_composite_over(context->rgba, (size_t)width * height, context->background,
                              context->target);

#ifdef PNG_eXIf_SUPPORTED
    png_uint_32 exif_length = 0;
    png_bytep exif = NULL;
    if (png_get_eXIf_1(png, info, &exif_length, &exif) != 0 && exif != NULL)
        out->exif_orientation = icodec_exif_orientation(exif, exif_length);
#endif
    out->width = width;
    out->height = height;
    return ICODEC_OK;
}

/* The three entry points: malloc'd pixels (pixels NULL), the caller's buffer, or the header only. */
static int decode_png(const unsigned char *data, size_t size, uint64_t max_pixels,
                      unsigned char *pixels, size_t capacity, int header_only,
                      const unsigned char *background, icodec_image *out, char *message,
                      size_t message_capacity) {
    icodec_set_message(message, message_capacity, "%s", "");
    if (out == NULL) return ICODEC_ERR_ARGUMENT;
    memset(out, 0, sizeof *out);
    if (data == NULL || size == 0) {
        icodec_set_message(message, message_capacity, "empty input");
        return ICODEC_ERR_ARGUMENT;
    }
    if (size < 8 || png_sig_cmp(data, 0, 8) != 0) {
        icodec_set_message(message, message_capacity, "not a PNG file (bad signature)");
        return ICODEC_ERR_CORRUPT;
    }
    png_context context;
    memset(&context, 0, sizeof context);
    context.data = data;
    context.size = size;
    context.message = message;
    context.message_capacity = message_capacity;
    context.target = pixels;
    context.target_capacity = capacity;
    context.header_only = header_only;
    context.background = background;
    png_structp png =
        png_create_read_struct(PNG_LIBPNG_VER_STRING, &context, on_error, on_warning);
    png_infop info = png == NULL ? NULL : png_create_info_struct(png);
    int status;
    if (info == NULL) {
        icodec_set_message(message, message_capacity, "out of memory creating PNG reader");
        status = ICODEC_ERR_NO_MEMORY;
    } else {
        status = decode_run(png, info, &context, max_pixels, out);
    }
    png_destroy_read_struct(&png, &info, NULL);
    free(context.rows);
    free(context.rgba);
    if (status == ICODEC_OK) {
        out->pixels = header_only ? NULL : context.target;
    } else {
        free(context.pixels);
        if (status != ICODEC_ERR_TOO_LARGE) memset(out, 0, sizeof *out);
    }
    return status;
}

int icodec_decode_png(const unsigned char *data, size_t size, uint64_t max_pixels,
                      icodec_image *out, char *message, size_t message_capacity) {
    return decode_png(data, size, max_pixels, NULL, 0, 0, NULL, out, message, message_capacity);
}

int icodec_probe_png(const unsigned char *data, size_t size, uint64_t max_pixels,
                     icodec_image *out, char *message, size_t message_capacity) {
    return decode_png(data, size, max_pixels, NULL, 0, 1, NULL, out, message, message_capacity);
}

int icodec_decode_png_into(const unsigned char *data, size_t size, uint64_t max_pixels,
                           unsigned char *pixels, size_t capacity, icodec_image *out,
                           char *message, size_t message_capacity) {
    return icodec_decode_png_over(data, size, max_pixels, pixels, capacity, NULL, out, message,
                                  message_capacity);
}

int icodec_decode_png_over(const unsigned char *data, size_t size, uint64_t max_pixels,
                           unsigned char *pixels, size_t capacity,
                           const unsigned char *background, icodec_image *out, char *message,
                           size_t message_capacity) {
    if (pixels == NULL) {
        icodec_set_message(message, message_capacity, "no destination buffer");
        if (out != NULL) memset(out, 0, sizeof *out);
        return ICODEC_ERR_ARGUMENT;
    }
    return decode_png(data, size, max_pixels, pixels, capacity, 0, background, out, message,
                      message_capacity);
}

static void on_write(png_structp png, png_bytep bytes, size_t length) {
    png_context *context = png_get_io_ptr(png);
    if (length > context->encoded_capacity - context->encoded_size) {
        size_t capacity = context->encoded_capacity < 4096 ? 4096 : context->encoded_capacity;
        while (capacity - context->encoded_size < length) capacity *= 2;
        unsigned char *bigger = realloc(context->encoded, capacity);
        if (bigger == NULL) {
            context->status = ICODEC_ERR_NO_MEMORY;
            png_error(png, "out of memory for PNG output");
        }
        context->encoded = bigger;
        context->encoded_capacity = capacity;
    }
    memcpy(context->encoded + context->encoded_size, bytes, length);
    context->encoded_size += length;
}

static void on_flush(png_structp png) { (void)png; }

static int encode_run(png_structp png, png_infop info, png_context *context,
                      const unsigned char *rgb, uint32_t width, uint32_t height, int level) {
    if (setjmp(png_jmpbuf(png))) return context->status;
    png_set_write_fn(png, context, on_write, on_flush);
    png_set_user_limits(png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
    png_set_IHDR(png, info, width, height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (level >= 0) png_set_compression_level(png, level);
    png_write_info(png, info);
    for (uint32_t y = 0; y < height; y++) png_write_row(png, rgb + (size_t)y * width * 3);
    png_write_end(png, NULL);
    return ICODEC_OK;
}

int icodec_encode_png(const unsigned char *rgb, uint32_t width, uint32_t height,
                      int compression_level, unsigned char **out, size_t *out_size,
                      char *message, size_t message_capacity) {
    icodec_set_message(message, message_capacity, "%s", "");
    if (out == NULL || out_size == NULL) return ICODEC_ERR_ARGUMENT;
    *out = NULL;
    *out_size = 0;
    if (rgb == NULL || width == 0 || height == 0 || width > PNG_UINT_31_MAX / 3 ||
        height > PNG_UINT_31_MAX) {
        icodec_set_message(message, message_capacity, "PNG size %ux%u is out of range",
                           (unsigned)width, (unsigned)height);
        return ICODEC_ERR_ARGUMENT;
    }
    if (compression_level < -1 || compression_level > 9) {
        icodec_set_message(message, message_capacity,
                           "PNG compression level must be -1...9, got %d", compression_level);
        return ICODEC_ERR_ARGUMENT;
    }
    png_context context;
    memset(&context, 0, sizeof context);
    context.message = message;
    context.message_capacity = message_capacity;
    png_structp png =
        png_create_write_struct(PNG_LIBPNG_VER_STRING, &context, on_error, on_warning);
    png_infop info = png == NULL ? NULL : png_create_info_struct(png);
    int status;
    if (info == NULL) {
        icodec_set_message(message, message_capacity, "out of memory creating PNG writer");
        status = ICODEC_ERR_NO_MEMORY;
    } else {
        status = encode_run(png, info, &context, rgb, width, height, compression_level);
    }
    png_destroy_write_struct(&png, &info);
    if (status != ICODEC_OK) {
        free(context.encoded);
        return status;
    }
    *out = context.encoded;
    *out_size = context.encoded_size;
    return ICODEC_OK;
}
