/* JPEG decode and encode on libjpeg(-turbo), with errors returned instead of longjmp'd out. */
#include "CImageCodec.h"
#include "codec_internal.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

/* Error manager: error_exit records a status and message, then longjmps back to the setjmp in
 * the *_run function. All state the caller needs after a longjmp lives in this struct, which
 * is owned by the frame that calls *_run (not the frame that called setjmp), so none of it is
 * an indeterminate local after longjmp. */
typedef struct jpeg_context {
    struct jpeg_error_mgr error;
    jmp_buf jump;
    int status;
    char *message;
    size_t message_capacity;
    struct jpeg_progress_mgr progress;
    unsigned char *pixels; /* decode: output image, when malloc'd here */
    unsigned char *target; /* decode: where pixels go (pixels, or the caller's buffer) */
    size_t target_capacity; /* decode: bytes at target, when the caller's */
    int header_only;       /* decode: stop after the header (probe) */
    unsigned char *row;    /* decode: one row of 1- or 4-channel samples */
    struct jpeg_destination_mgr destination; /* encode */
    unsigned char *encoded;                  /* encode: growable output */
    size_t encoded_capacity;
} jpeg_context;

__attribute__((noreturn)) static void fail(j_common_ptr cinfo, int status, const char *text) {
    jpeg_context *context = (jpeg_context *)cinfo->err;
    context->status = status;
    icodec_set_message(context->message, context->message_capacity, "%s", text);
    longjmp(context->jump, 1);
}

static void on_error_exit(j_common_ptr cinfo) {
    char text[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, text);
    int code = cinfo->err->msg_code;
    int status = ICODEC_ERR_CORRUPT;
    if (code == JERR_OUT_OF_MEMORY) status = ICODEC_ERR_NO_MEMORY;
    if (code == JERR_BAD_PRECISION || code == JERR_SOF_UNSUPPORTED || code == JERR_NOT_COMPILED)
        status = ICODEC_ERR_UNSUPPORTED;
    fail(cinfo, status, text);
}

/* Warnings are ignored (like PIL and torchvision do), except running out of data: libjpeg would
 * pad a truncated file with grey and call it a success. */
static void on_emit_message(j_common_ptr cinfo, int level) {
    if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF)
        fail(cinfo, ICODEC_ERR_CORRUPT, "premature end of JPEG data (truncated file)");
    if (level < 0) cinfo->err->num_warnings++;
}

static void on_output_message(j_common_ptr cinfo) { (void)cinfo; }

static void on_progress(j_common_ptr cinfo) {
    if (cinfo->is_decompressor &&
        ((j_decompress_ptr)cinfo)->input_scan_number > ICODEC_JPEG_MAX_SCANS)
        fail(cinfo, ICODEC_ERR_CORRUPT,
             "progressive JPEG has more than " STRINGIFY(ICODEC_JPEG_MAX_SCANS) " scans");
}

static void init_context(jpeg_context *context, char *message, size_t message_capacity) {
    memset(context, 0, sizeof *context);
    jpeg_std_error(&context->error);
    context->error.error_exit = on_error_exit;
    context->error.emit_message = on_emit_message;
    context->error.output_message = on_output_message;
    context->message = message;
    context->message_capacity = message_capacity;
    context->progress.progress_monitor = on_progress;
}

/* ---- Decoding ---- */

/* PIL's CMYK -> RGB (Convert.c cmyk2rgb): R = (255 - K) - round(C * (255 - K) / 255), with the
 * file's samples inverted first (Adobe convention, which PIL always assumes). */
static unsigned char muldiv255(unsigned a, unsigned b) {
    unsigned t = a * b + 128;
    return (unsigned char)(((t >> 8) + t) >> 8);
}

static void cmyk_row_to_rgb(const unsigned char *in, unsigned char *out, uint32_t width) {
    for (uint32_t x = 0; x < width; x++, in += 4, out += 3) {
        unsigned not_k = in[3]; /* stored inverted: 255 - K */
        for (int c = 0; c < 3; c++) out[c] = (unsigned char)(not_k - muldiv255(255u - in[c], not_k));
    }
}

static int exif_from_markers(j_decompress_ptr cinfo) {
    for (jpeg_saved_marker_ptr m = cinfo->marker_list; m != NULL; m = m->next) {
        if (m->marker == JPEG_APP0 + 1 && m->data_length >= 6 &&
            memcmp(m->data, "Exif\0\0", 6) == 0)
            return icodec_exif_orientation(m->data + 6, m->data_length - 6);
    }
    return 0;
}

static int decode_run(j_decompress_ptr cinfo, jpeg_context *context, const unsigned char *data,
                      size_t size, uint64_t max_pixels, icodec_image *out) {
    if (setjmp(context->jump)) return context->status;
    jpeg_create_decompress(cinfo);
    cinfo->progress = &context->progress;
    jpeg_mem_src(cinfo, data, (unsigned long)size);
    jpeg_save_markers(cinfo, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(cinfo, TRUE);
    /* Saved markers live in libjpeg's image pool, which jpeg_finish_decompress frees. */
    int orientation = exif_from_markers(cinfo);

    uint32_t width = cinfo->image_width, height = cinfo->image_height;
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
    int channels;
    switch (cinfo->jpeg_color_space) {
    case JCS_GRAYSCALE: cinfo->out_color_space = JCS_GRAYSCALE; channels = 1; break;
    case JCS_YCbCr: case JCS_RGB: cinfo->out_color_space = JCS_RGB; channels = 3; break;
    case JCS_CMYK: case JCS_YCCK: cinfo->out_color_space = JCS_CMYK; channels = 4; break;
    default:
        fail((j_common_ptr)cinfo, ICODEC_ERR_UNSUPPORTED,
             "JPEG colour space not recognised (not grey, YCbCr, RGB, CMYK or YCCK)");
    }
    jpeg_start_decompress(cinfo);
    if (cinfo->output_components != channels || cinfo->output_width != width ||
        cinfo->output_height != height)
        fail((j_common_ptr)cinfo, ICODEC_ERR_CORRUPT, "unexpected JPEG output layout");

    size_t stride = (size_t)width * 3;
    if (context->target == NULL) {
        context->pixels = malloc(stride * height);
        context->target = context->pixels;
    } else if (context->target_capacity < stride * height) {
        fail((j_common_ptr)cinfo, ICODEC_ERR_ARGUMENT, "destination buffer smaller than the image");
    }
    if (channels != 3) context->row = malloc((size_t)width * (size_t)channels);
    if (context->target == NULL || (channels != 3 && context->row == NULL))
        fail((j_common_ptr)cinfo, ICODEC_ERR_NO_MEMORY, "out of memory for JPEG pixels");

    while (cinfo->output_scanline < height) {
        unsigned char *target = context->target + (size_t)cinfo->output_scanline * stride;
        JSAMPROW row = channels == 3 ? target : context->row;
        if (jpeg_read_scanlines(cinfo, &row, 1) != 1)
            fail((j_common_ptr)cinfo, ICODEC_ERR_CORRUPT, "JPEG decoder returned no scanline");
        if (channels == 1) {
            for (uint32_t x = 0; x < width; x++)
                target[3 * x] = target[3 * x + 1] = target[3 * x + 2] = context->row[x];
        } else if (channels == 4) {
            cmyk_row_to_rgb(context->row, target, width);
        }
    }
    jpeg_finish_decompress(cinfo);
    out->exif_orientation = orientation;
    out->source_channels = cinfo->num_components;
    out->width = width;
    out->height = height;
    return ICODEC_OK;
}

/* The three entry points: malloc'd pixels (pixels NULL), the caller's buffer, or the header only. */
static int decode_jpeg(const unsigned char *data, size_t size, uint64_t max_pixels,
                       unsigned char *pixels, size_t capacity, int header_only,
                       icodec_image *out, char *message, size_t message_capacity) {
    icodec_set_message(message, message_capacity, "%s", "");
    if (out == NULL) return ICODEC_ERR_ARGUMENT;
    memset(out, 0, sizeof *out);
    if (data == NULL || size == 0) {
        icodec_set_message(message, message_capacity, "empty input");
        return ICODEC_ERR_ARGUMENT;
    }
    jpeg_context context;
    init_context(&context, message, message_capacity);
    context.target = pixels;
    context.target_capacity = capacity;
    context.header_only = header_only;
    struct jpeg_decompress_struct cinfo;
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = &context.error;
    int status = decode_run(&cinfo, &context, data, size, max_pixels, out);
    jpeg_destroy_decompress(&cinfo);
    free(context.row);
    if (status == ICODEC_OK) {
        out->pixels = header_only ? NULL : context.target;
    } else {
        free(context.pixels);
        if (status != ICODEC_ERR_TOO_LARGE) memset(out, 0, sizeof *out);
    }
    return status;
}

int icodec_decode_jpeg(const unsigned char *data, size_t size, uint64_t max_pixels,
                       icodec_image *out, char *message, size_t message_capacity) {
    return decode_jpeg(data, size, max_pixels, NULL, 0, 0, out, message, message_capacity);
}

int icodec_probe_jpeg(const unsigned char *data, size_t size, uint64_t max_pixels,
                      icodec_image *out, char *message, size_t message_capacity) {
    return decode_jpeg(data, size, max_pixels, NULL, 0, 1, out, message, message_capacity);
}

int icodec_decode_jpeg_into(const unsigned char *data, size_t size, uint64_t max_pixels,
                            unsigned char *pixels, size_t capacity, icodec_image *out,
                            char *message, size_t message_capacity) {
    if (pixels == NULL) {
        icodec_set_message(message, message_capacity, "no destination buffer");
        if (out != NULL) memset(out, 0, sizeof *out);
        return ICODEC_ERR_ARGUMENT;
    }
    return decode_jpeg(data, size, max_pixels, pixels, capacity, 0, out, message, message_capacity);
}

/* ---- Encoding ---- */

/* A growable memory destination (jpeg_mem_dest's reallocation is awkward to free safely after an
 * error, so the buffer lives in the context where the caller can always free it). */
static void destination_init(j_compress_ptr cinfo) {
    jpeg_context *context = (jpeg_context *)cinfo->err;
    context->encoded_capacity = 1 << 16;
    context->encoded = malloc(context->encoded_capacity);
    if (context->encoded == NULL) ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 0);
    context->destination.next_output_byte = context->encoded;
    context->destination.free_in_buffer = context->encoded_capacity;
}

static boolean destination_grow(j_compress_ptr cinfo) {
    jpeg_context *context = (jpeg_context *)cinfo->err;
    size_t used = context->encoded_capacity; /* libjpeg only calls this when the buffer is full */
    unsigned char *bigger = realloc(context->encoded, used * 2);
    if (bigger == NULL) ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 1);
    context->encoded = bigger;
    context->encoded_capacity = used * 2;
    context->destination.next_output_byte = bigger + used;
    context->destination.free_in_buffer = used;
    return TRUE;
}

static void destination_term(j_compress_ptr cinfo) { (void)cinfo; }

static int encode_run(j_compress_ptr cinfo, jpeg_context *context, const unsigned char *pixels,
                      uint32_t width, uint32_t height, int channels, J_COLOR_SPACE file_space,
                      int quality, int progressive) {
    if (setjmp(context->jump)) return context->status;
    jpeg_create_compress(cinfo);
    context->destination.init_destination = destination_init;
    context->destination.empty_output_buffer = destination_grow;
    context->destination.term_destination = destination_term;
    cinfo->dest = &context->destination;
    cinfo->image_width = width;
    cinfo->image_height = height;
    cinfo->input_components = channels;
    cinfo->in_color_space = channels == 3 ? JCS_RGB : JCS_CMYK;
    jpeg_set_defaults(cinfo);
    jpeg_set_colorspace(cinfo, file_space);
    jpeg_set_quality(cinfo, quality, TRUE);
    if (progressive) jpeg_simple_progression(cinfo);
    jpeg_start_compress(cinfo, TRUE);
    size_t stride = (size_t)width * (size_t)channels;
    while (cinfo->next_scanline < height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)cinfo->next_scanline * stride);
        jpeg_write_scanlines(cinfo, &row, 1);
    }
    jpeg_finish_compress(cinfo);
    return ICODEC_OK;
}

static int encode(const unsigned char *pixels, uint32_t width, uint32_t height, int channels,
                  J_COLOR_SPACE file_space, int quality, int progressive, unsigned char **out,
                  size_t *out_size, char *message, size_t message_capacity) {
    icodec_set_message(message, message_capacity, "%s", "");
    if (out == NULL || out_size == NULL) return ICODEC_ERR_ARGUMENT;
    *out = NULL;
    *out_size = 0;
    if (pixels == NULL || width == 0 || height == 0 || width > JPEG_MAX_DIMENSION ||
        height > JPEG_MAX_DIMENSION) {
        icodec_set_message(message, message_capacity,
                           "JPEG size must be 1...%d pixels a side, got %ux%u",
                           (int)JPEG_MAX_DIMENSION, (unsigned)width, (unsigned)height);
        return ICODEC_ERR_ARGUMENT;
    }
    if (quality < 1 || quality > 100) {
        icodec_set_message(message, message_capacity, "JPEG quality must be 1...100, got %d",
                           quality);
        return ICODEC_ERR_ARGUMENT;
    }
    jpeg_context context;
    init_context(&context, message, message_capacity);
    struct jpeg_compress_struct cinfo;
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = &context.error;
    int status = encode_run(&cinfo, &context, pixels, width, height, channels, file_space,
                            quality, progressive);
    size_t length = context.encoded_capacity - context.destination.free_in_buffer;
    jpeg_destroy_compress(&cinfo);
    if (status != ICODEC_OK) {
        free(context.encoded);
        return status;
    }
    *out = context.encoded;
    *out_size = length;
    return ICODEC_OK;
}

int icodec_encode_jpeg(const unsigned char *rgb, uint32_t width, uint32_t height, int quality,
                       int progressive, unsigned char **out, size_t *out_size, char *message,
                       size_t message_capacity) {
    return encode(rgb, width, height, 3, JCS_YCbCr, quality, progressive, out, out_size,
                  message, message_capacity);
}

int icodec_encode_jpeg_cmyk(const unsigned char *cmyk, uint32_t width, uint32_t height,
                            int quality, int ycck, unsigned char **out, size_t *out_size,
                            char *message, size_t message_capacity) {
    return encode(cmyk, width, height, 4, ycck ? JCS_YCCK : JCS_CMYK, quality, 0, out,
                  out_size, message, message_capacity);
}
