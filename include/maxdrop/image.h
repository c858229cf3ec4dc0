/* maxdrop/image.h - 8-bit images: load PNG, JPEG, BMP, GIF, TGA, PSD, PNM...
 * (anything stb_image reads), write PNG atomically.
 *
 * An md_image is height rows of width pixels of `channels` interleaved 8-bit
 * samples (1 = grayscale, 3 = RGB), row-major, top row first, no padding.
 * Loading converts as asked: RGB to grayscale uses stb_image's luminance
 * (77 R + 150 G + 29 B) / 256; grayscale to RGB replicates the sample; an
 * alpha channel is dropped (not composited); 16-bit files are reduced to 8
 * bits. Errors name the file and stb_image's reason. */
#ifndef MAXDROP_IMAGE_H
#define MAXDROP_IMAGE_H

#include <stdint.h>

#include "maxdrop/api.h"
#include "maxdrop/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct md_image {
  int width, height;
  int channels;  /* 1 (grayscale) or 3 (RGB) */
  uint8_t *data; /* height x width x channels; owned, release with md_image_free */
} md_image;

/* Images wider or taller than this are refused (MD_ERR_UNSUPPORTED). */
enum { MD_IMAGE_MAX_SIDE = 1 << 15 };

/* Allocates a zero-filled image. MD_ERR_INVALID_ARGUMENT for a side outside
 * 1..MD_IMAGE_MAX_SIDE or channels other than 1 and 3. */
MD_API md_status md_image_alloc(md_image *img, int width, int height, int channels);

/* Releases img->data and zeroes the struct. Accepts a zeroed struct. */
MD_API void md_image_free(md_image *img);

/* Loads `path`. channels: 1 or 3 to convert to grayscale or RGB; 0 to keep
 * the file's own kind (grayscale and grayscale+alpha give 1, anything else 3).
 * Errors: MD_ERR_IO when the file cannot be opened, MD_ERR_FORMAT when it is
 * not an image stb_image can decode (the message carries stb's reason),
 * MD_ERR_UNSUPPORTED when a side exceeds MD_IMAGE_MAX_SIDE. *out is zeroed on
 * failure. */
MD_API md_status md_image_load(const char *path, int channels, md_image *out,
                               md_errbuf *eb);

/* The central square of img scaled to side x side pixels, into *out (a new
 * image with img's channels). The longer side is trimmed equally at both ends
 * (the odd pixel from the end), so the aspect ratio is kept and nothing is
 * stretched; then stb_image_resize scales the square with its default filters
 * (Mitchell to shrink, Catmull-Rom to enlarge), clamping at the edges, on the
 * stored 8-bit values (no gamma conversion). A uniform image stays uniform; an
 * image already side x side is copied unchanged. Errors:
 * MD_ERR_INVALID_ARGUMENT (not a valid image, side outside
 * 1..MD_IMAGE_MAX_SIDE), MD_ERR_OUT_OF_MEMORY. *out is zeroed on failure. */
MD_API md_status md_image_center_square(const md_image *img, int side, md_image *out,
                                        md_errbuf *eb);

/* Writes img as a PNG file, atomically (md_atomic_file): an earlier file at
 * `path` stays intact unless the whole new file was written. */
MD_API md_status md_image_write_png(const char *path, const md_image *img, md_errbuf *eb);

#ifdef __cplusplus
}
#endif

#endif
