/* Image load / PNG write through stb: round trips, conversions, errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dirent.h>

#include "md_test_util.h"
#include "maxdrop/image.h"

static void assert_contains(const char *msg, const char *part) {
  if (!strstr(msg, part)) fail_msg("message \"%s\" does not contain \"%s\"", msg, part);
}

static void fill_pattern(md_image *img) {
  const size_t n = (size_t)img->width * img->height * img->channels;
  for (size_t i = 0; i < n; ++i) img->data[i] = (uint8_t)((i * 37 + i / 7) & 0xff);
}

static void test_png_round_trip(void **state) {
  (void)state;
  const char *dir = md_test_tmpdir();
  char path[512];
  snprintf(path, sizeof path, "%s/a.png", dir);
  md_errbuf eb;
  for (int ch = 1; ch <= 3; ch += 2) {
    md_image img, back;
    assert_int_equal(md_image_alloc(&img, 13, 7, ch), MD_OK);
    fill_pattern(&img);
    assert_int_equal(md_image_write_png(path, &img, &eb), MD_OK);
    /* A PNG file: the 8-byte signature, then IHDR with the size. */
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    unsigned char head[24];
    assert_int_equal(fread(head, 1, 24, f), 24);
    fclose(f);
    assert_memory_equal(head, "\x89PNG\r\n\x1a\n", 8);
    assert_memory_equal(head + 12, "IHDR", 4);
    assert_int_equal((head[16] << 24) | (head[17] << 16) | (head[18] << 8) | head[19], 13);
    assert_int_equal((head[20] << 24) | (head[21] << 16) | (head[22] << 8) | head[23], 7);

    assert_int_equal(md_image_load(path, 0, &back, &eb), MD_OK);
    assert_int_equal(back.width, 13);
    assert_int_equal(back.height, 7);
    assert_int_equal(back.channels, ch);
    assert_memory_equal(back.data, img.data, (size_t)13 * 7 * ch);
    md_image_free(&back);
    md_image_free(&img);
    assert_null(img.data);
  }
  /* No temporary file is left beside the output. */
  DIR *d = opendir(dir);
  assert_non_null(d);
  int entries = 0;
  for (struct dirent *e; (e = readdir(d));)
    if (e->d_name[0] != '.') {
      ++entries;
      assert_string_equal(e->d_name, "a.png");
    }
  closedir(d);
  assert_int_equal(entries, 1);
}

static void test_conversions(void **state) {
  (void)state;
  const char *dir = md_test_tmpdir();
  char path[512];
  snprintf(path, sizeof path, "%s/rgb.png", dir);
  md_errbuf eb;
  md_image rgb, gray, again;
  assert_int_equal(md_image_alloc(&rgb, 4, 3, 3), MD_OK);
  fill_pattern(&rgb);
  assert_int_equal(md_image_write_png(path, &rgb, &eb), MD_OK);
  /* RGB -> gray with stb_image's documented luminance (77 R + 150 G + 29 B) >> 8. */
  assert_int_equal(md_image_load(path, 1, &gray, &eb), MD_OK);
  assert_int_equal(gray.channels, 1);
  for (int i = 0; i < 12; ++i) {
    const uint8_t *p = rgb.data + 3 * i;
    assert_int_equal(gray.data[i], (77 * p[0] + 150 * p[1] + 29 * p[2]) >> 8);
  }
  /* gray -> RGB replicates the sample. */
  snprintf(path, sizeof path, "%s/gray.png", dir);
  assert_int_equal(md_image_write_png(path, &gray, &eb), MD_OK);
  assert_int_equal(md_image_load(path, 3, &again, &eb), MD_OK);
  assert_int_equal(again.channels, 3);
  for (int i = 0; i < 12; ++i)
    for (int k = 0; k < 3; ++k) assert_int_equal(again.data[3 * i + k], gray.data[i]);
  md_image_free(&again);
  md_image_free(&gray);
  md_image_free(&rgb);
}

static void test_errors(void **state) {
  (void)state;
  const char *dir = md_test_tmpdir();
  char path[512];
  md_errbuf eb;
  md_image img;

  snprintf(path, sizeof path, "%s/missing.png", dir);
  assert_int_equal(md_image_load(path, 3, &img, &eb), MD_ERR_IO);
  assert_contains(eb.msg, path);
  assert_contains(eb.msg, "No such file");
  assert_null(img.data);

  /* Not an image: stb's reason is passed on. */
  snprintf(path, sizeof path, "%s/garbage.png", dir);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  fputs("this is not an image at all", f);
  fclose(f);
  assert_int_equal(md_image_load(path, 3, &img, &eb), MD_ERR_FORMAT);
  assert_contains(eb.msg, path);
  assert_true(strlen(strrchr(eb.msg, ':')) > 2); /* "...: <reason>" */

  /* A PNG cut short after its header. */
  md_image good;
  assert_int_equal(md_image_alloc(&good, 40, 40, 3), MD_OK);
  fill_pattern(&good);
  snprintf(path, sizeof path, "%s/cut.png", dir);
  assert_int_equal(md_image_write_png(path, &good, &eb), MD_OK);
  md_image_free(&good);
  assert_int_equal(truncate(path, 60), 0);
  assert_int_equal(md_image_load(path, 0, &img, &eb), MD_ERR_FORMAT);
  assert_contains(eb.msg, "cut.png");

  /* An empty file; a PNG header announcing 100000 x 100000 pixels. */
  snprintf(path, sizeof path, "%s/empty.png", dir);
  f = fopen(path, "wb");
  assert_non_null(f);
  fclose(f);
  assert_int_equal(md_image_load(path, 3, &img, &eb), MD_ERR_FORMAT);
  assert_contains(eb.msg, "the file is empty");
  snprintf(path, sizeof path, "%s/huge.png", dir);
  f = fopen(path, "wb");
  assert_non_null(f);
  static const unsigned char huge[33] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13,
                                         'I', 'H', 'D', 'R', 0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0,
                                         8, 2, 0, 0, 0, 0, 0, 0, 0};
  assert_int_equal(fwrite(huge, 1, sizeof huge, f), sizeof huge);
  fclose(f);
  assert_int_equal(md_image_load(path, 3, &img, &eb), MD_ERR_UNSUPPORTED);
  assert_contains(eb.msg, "100000 x 100000 pixels");
  /* 30000 x 30000 (0x7530): within the side limit, beyond what stb decodes. */
  unsigned char big[sizeof huge];
  memcpy(big, huge, sizeof huge);
  big[16] = big[20] = 0;
  big[17] = big[21] = 0;
  big[18] = big[22] = 0x75;
  big[19] = big[23] = 0x30;
  f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(big, 1, sizeof big, f), sizeof big);
  fclose(f);
  assert_int_equal(md_image_load(path, 3, &img, &eb), MD_ERR_UNSUPPORTED);
  assert_contains(eb.msg, "30000 x 30000 pixels, too large to decode");
  /* A damaged PNG is called one. */
  snprintf(path, sizeof path, "%s/damaged.png", dir);
  f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(huge, 1, 12, f), 12);
  fputs("XXXXjunkjunkjunk", f);
  fclose(f);
  assert_int_equal(md_image_load(path, 3, &img, &eb), MD_ERR_FORMAT);
  assert_contains(eb.msg, "damaged or unsupported PNG file");

  assert_int_equal(md_image_load(dir, 3, &img, &eb), MD_ERR_IO);
  assert_contains(eb.msg, "directory");
  assert_int_equal(md_image_load(path, 2, &img, &eb), MD_ERR_INVALID_ARGUMENT);

  /* Writing into a folder that does not exist. */
  assert_int_equal(md_image_alloc(&good, 2, 2, 1), MD_OK);
  snprintf(path, sizeof path, "%s/no/such/dir/x.png", dir);
  assert_int_equal(md_image_write_png(path, &good, &eb), MD_ERR_IO);
  assert_contains(eb.msg, "no/such/dir");
  md_image_free(&good);

  assert_int_equal(md_image_alloc(&good, 0, 2, 1), MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_image_alloc(&good, 2, 2, 4), MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_image_write_png(path, &good, &eb), MD_ERR_INVALID_ARGUMENT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_png_round_trip),
      cmocka_unit_test(test_conversions),
      cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
