/* Image files through stb_image (decode) and stb_image_write (PNG encode).
 * The stb implementations live in Debian's libstb; only the declarations are
 * included here. */
#include "maxdrop/image.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <stb_image.h>
#include <stb_image_write.h>

#include "core/errbuf.h"
#include "maxdrop/atomic_file.h"

md_status md_image_alloc(md_image *img, int width, int height, int channels) {
  memset(img, 0, sizeof *img);
  if (width < 1 || height < 1 || width > MD_IMAGE_MAX_SIDE || height > MD_IMAGE_MAX_SIDE)
    return MD_ERR_INVALID_ARGUMENT;
  if (channels != 1 && channels != 3) return MD_ERR_INVALID_ARGUMENT;
  const size_t bytes = (size_t)width * (size_t)height * (size_t)channels;
  img->data = calloc(bytes, 1);
  if (!img->data) return MD_ERR_OUT_OF_MEMORY;
  img->width = width;
  img->height = height;
  img->channels = channels;
  return MD_OK;
}

void md_image_free(md_image *img) {
  if (!img) return;
  free(img->data);
  memset(img, 0, sizeof *img);
}

static const char *stb_reason(void) {
  const char *r = stbi_failure_reason();
  return r && *r ? r : "unknown decoder error";
}

md_status md_image_load(const char *path, int channels, md_image *out, md_errbuf *eb) {
  memset(out, 0, sizeof *out);
  if (!path || !*path) return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "empty image path");
  if (channels != 0 && channels != 1 && channels != 3)
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT,
                   "cannot load %s with %d channels: ask for 0 (as stored), 1 or 3", path,
                   channels);
  FILE *f = fopen(path, "rb");
  if (!f)
    return md_fail(eb, MD_ERR_IO, "cannot open image %s: %s", path, strerror(errno));
  struct stat sb;
  if (fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
    fclose(f);
    return md_fail(eb, MD_ERR_IO, "cannot read image %s: it is a directory", path);
  }

  int w = 0, h = 0, comp = 0;
  if (!stbi_info_from_file(f, &w, &h, &comp)) {
    /* stb's reason is that of the last format it tried: say what the file
     * starts as, and read a PNG's own size (stb refuses huge ones). */
    const char *why = stb_reason();
    unsigned char head[24] = {0};
    rewind(f);
    const size_t got = fread(head, 1, sizeof head, f);
    fclose(f);
    if (got == 0)
      return md_fail(eb, MD_ERR_FORMAT, "cannot read image %s: the file is empty", path);
    const char *kind = !memcmp(head, "\x89PNG\r\n\x1a\n", 8) ? "PNG"
                       : !memcmp(head, "\xff\xd8\xff", 3)        ? "JPEG"
                       : !memcmp(head, "GIF8", 4)                ? "GIF"
                       : !memcmp(head, "BM", 2)                  ? "BMP"
                                                                 : NULL;
    if (kind && !strcmp(kind, "PNG") && got == sizeof head && !memcmp(head + 12, "IHDR", 4)) {
      const unsigned long pw = (unsigned long)head[16] << 24 | (unsigned long)head[17] << 16 |
                               (unsigned long)head[18] << 8 | head[19];
      const unsigned long ph = (unsigned long)head[20] << 24 | (unsigned long)head[21] << 16 |
                               (unsigned long)head[22] << 8 | head[23];
      if (pw > MD_IMAGE_MAX_SIDE || ph > MD_IMAGE_MAX_SIDE)
        return md_fail(eb, MD_ERR_UNSUPPORTED,
                       "image %s is %lu x %lu pixels; at most %d per side is supported", path,
                       pw, ph, (int)MD_IMAGE_MAX_SIDE);
      /* stb decodes a PNG of at most 2^30 bytes of pixels (up to 4 per pixel). */
      if ((double)pw * (double)ph * 4.0 > (double)(1u << 30))
        return md_fail(eb, MD_ERR_UNSUPPORTED,
                       "image %s is %lu x %lu pixels, too large to decode (at most 2^28 "
                       "pixels with an alpha channel, 2^30 / 3 without)",
                       path, pw, ph);
    }
    if (kind)
      return md_fail(eb, MD_ERR_FORMAT,
                     "cannot read image %s: a damaged or unsupported %s file (%s)", path, kind,
                     why);
    return md_fail(eb, MD_ERR_FORMAT, "cannot read image %s: %s", path, why);
  }
  if (w > MD_IMAGE_MAX_SIDE || h > MD_IMAGE_MAX_SIDE) {
    fclose(f);
    return md_fail(eb, MD_ERR_UNSUPPORTED,
                   "image %s is %d x %d pixels; at most %d per side is supported", path, w,
                   h, (int)MD_IMAGE_MAX_SIDE);
  }
  const int want = channels ? channels : (comp <= 2 ? 1 : 3);
  int got_comp = 0;
  stbi_uc *pix = stbi_load_from_file(f, &w, &h, &got_comp, want);
  fclose(f);
  if (!pix) return md_fail(eb, MD_ERR_FORMAT, "cannot decode image %s: %s", path, stb_reason());
  if (w < 1 || h < 1 || w > MD_IMAGE_MAX_SIDE || h > MD_IMAGE_MAX_SIDE) {
    stbi_image_free(pix);
    return md_fail(eb, MD_ERR_FORMAT, "image %s decodes to %d x %d pixels", path, w, h);
  }
  const size_t bytes = (size_t)w * (size_t)h * (size_t)want;
  out->data = malloc(bytes);
  if (!out->data) {
    stbi_image_free(pix);
    return md_fail(eb, MD_ERR_OUT_OF_MEMORY, "out of memory loading %s (%zu bytes)", path,
                   bytes);
  }
  memcpy(out->data, pix, bytes);
  stbi_image_free(pix);
  out->width = w;
  out->height = h;
  out->channels = want;
  return MD_OK;
}

typedef struct png_sink {
  FILE *f;
  int failed;
} png_sink;

static void png_write_cb(void *ctx, void *data, int size) {
  png_sink *s = ctx;
  if (s->failed || size <= 0) return;
  if (fwrite(data, 1, (size_t)size, s->f) != (size_t)size) s->failed = errno ? errno : EIO;
}

md_status md_image_write_png(const char *path, const md_image *img, md_errbuf *eb) {
  if (!img || !img->data || img->width < 1 || img->height < 1 ||
      (img->channels != 1 && img->channels != 3))
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "cannot write %s: not a valid image",
                   path ? path : "(null)");
  if ((size_t)img->width * (size_t)img->channels > (size_t)0x7fffffff)
    return md_fail(eb, MD_ERR_UNSUPPORTED, "cannot write %s: rows are too wide", path);
  md_atomic_file af;
  md_status st = md_atomic_open(&af, path, eb);
  if (st != MD_OK) return st;
  png_sink sink = {af.f, 0};
  errno = 0;
  const int ok = stbi_write_png_to_func(png_write_cb, &sink, img->width, img->height,
                                        img->channels, img->data,
                                        img->width * img->channels);
  if (!ok || sink.failed) {
    const int e = sink.failed;
    md_atomic_abort(&af);
    if (!ok)
      return md_fail(eb, MD_ERR_OUT_OF_MEMORY, "cannot encode %s as PNG (%d x %d)", path,
                     img->width, img->height);
    return md_fail(eb, MD_ERR_IO, "cannot write %s: %s", path, strerror(e));
  }
  return md_atomic_commit(&af, eb);
}
