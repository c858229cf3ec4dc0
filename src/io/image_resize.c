/* Central square of an image, scaled through stb_image_resize (the
 * implementation lives in Debian's libstb; only the declarations are
 * included here). */
#include "maxdrop/image.h"

#include <stdlib.h>
#include <string.h>

#include <stb_image_resize.h>

#include "core/errbuf.h"

md_status md_image_center_square(const md_image *img, int side, md_image *out,
                                 md_errbuf *eb) {
  memset(out, 0, sizeof *out);
  if (!img || !img->data || img->width < 1 || img->height < 1 ||
      img->width > MD_IMAGE_MAX_SIDE || img->height > MD_IMAGE_MAX_SIDE ||
      (img->channels != 1 && img->channels != 3))
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "cannot resize: not a valid image");
  if (side < 1 || side > MD_IMAGE_MAX_SIDE)
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT,
                   "cannot resize to %d x %d pixels: the side must be in 1..%d", side, side,
                   (int)MD_IMAGE_MAX_SIDE);
  const int c = img->channels;
  md_status st = md_image_alloc(out, side, side, c);
  if (st != MD_OK)
    return md_fail(eb, st, "out of memory for a %d x %d image", side, side);

  /* The square: its side is the shorter one; the longer one loses
   * (long - short) / 2 pixels at its start, the rest at its end. */
  const int sq = img->width < img->height ? img->width : img->height;
  const int x0 = (img->width - sq) / 2, y0 = (img->height - sq) / 2;
  const size_t stride = (size_t)img->width * (size_t)c;
  const unsigned char *src = img->data + (size_t)y0 * stride + (size_t)x0 * (size_t)c;
  if (sq == side) {
    for (int y = 0; y < side; ++y)
      memcpy(out->data + (size_t)y * side * c, src + (size_t)y * stride, (size_t)side * c);
    return MD_OK;
  }
  if (!stbir_resize_uint8(src, sq, sq, (int)stride, out->data, side, side, side * c, c)) {
    md_image_free(out);
    return md_fail(eb, MD_ERR_OUT_OF_MEMORY, "out of memory resizing a %d x %d image to %d x %d",
                   img->width, img->height, side, side);
  }
  return MD_OK;
}
