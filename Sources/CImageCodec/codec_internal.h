/* Helpers shared by the codec sources; not part of the public header. */
#ifndef CIMAGECODEC_INTERNAL_H
#define CIMAGECODEC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* Writes a printf-style message into buffer (capacity bytes), truncating; NULL buffer is fine. */
void icodec_set_message(char *buffer, size_t capacity, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/* Formats the standard "image too large" message. */
void icodec_set_too_large(char *buffer, size_t capacity, uint32_t width, uint32_t height,
                          uint64_t max_pixels);

/* Reads the EXIF Orientation tag (1...8) from a TIFF-structured EXIF block (starting at the
 * "II*\0" / "MM\0*" header); 0 when absent or malformed. Never reads outside tiff[0 ..< size]. */
int icodec_exif_orientation(const unsigned char *tiff, size_t size);

#endif
