/* Image-folder data sets on small PNG trees written here: class order, file
 * order, labels, the planar RGB layout (grayscale replicated), what is skipped,
 * every error, and the 32 x 32 policy (reject naming the size, or the central
 * square resized). Also md_image_center_square on its own. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "md_test_util.h"
#include "maxdrop/image.h"
#include "maxdrop/image_folder.h"

/* ---- helpers ------------------------------------------------------------- */

static const char *path_in(const char *dir, const char *name) {
  static char buf[8][1024];
  static int k = 0;
  k = (k + 1) % 8;
  snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
  return buf[k];
}

static void make_dir(const char *path) {
  if (mkdir(path, 0755) != 0) fail_msg("mkdir %s failed", path);
}

/* Removes a tree written by a test (no symbolic links in it). */
static void remove_tree(const char *path) {
  struct stat sb;
  if (lstat(path, &sb) != 0) return;
  if (S_ISDIR(sb.st_mode)) {
    DIR *d = opendir(path);
    assert_non_null(d);
    const struct dirent *e;
    while ((e = readdir(d)))
      if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
        char sub[1024];
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        remove_tree(sub);
      }
    closedir(d);
    assert_int_equal(rmdir(path), 0);
  } else {
    assert_int_equal(unlink(path), 0);
  }
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  assert_int_equal(fclose(f), 0);
}

/* Sample c of pixel (x, y) of test image k. */
static uint8_t sample(int k, int x, int y, int c) {
  return (uint8_t)((k * 40 + x * 7 + y * 3 + c * 80) & 0xff);
}

/* Writes a w x h PNG with `channels` (1 or 3) samples sample(k, x, y, c). */
static void write_png(const char *path, int w, int h, int channels, int k) {
  md_image img;
  assert_int_equal(md_image_alloc(&img, w, h, channels), MD_OK);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < channels; ++c)
        img.data[((size_t)y * w + x) * channels + c] = sample(k, x, y, c);
  md_errbuf eb;
  if (md_image_write_png(path, &img, &eb) != MD_OK) fail_msg("%s", eb.msg);
  md_image_free(&img);
}

/* Writes a w x h RGB PNG of one colour. */
static void write_uniform_png(const char *path, int w, int h, const uint8_t rgb[3]) {
  md_image img;
  assert_int_equal(md_image_alloc(&img, w, h, 3), MD_OK);
  for (int p = 0; p < w * h; ++p) memcpy(img.data + 3 * p, rgb, 3);
  md_errbuf eb;
  if (md_image_write_png(path, &img, &eb) != MD_OK) fail_msg("%s", eb.msg);
  md_image_free(&img);
}

static void assert_contains(const char *msg, const char *part) {
  if (!strstr(msg, part)) fail_msg("message \"%s\" does not contain \"%s\"", msg, part);
}

static void assert_zeroed(const md_image_folder *d) {
  assert_null(d->images);
  assert_null(d->labels);
  assert_null(d->class_names);
  assert_null(d->first_skipped);
  assert_int_equal(d->n, 0);
  assert_int_equal(d->num_classes, 0);
}

/* Image i of d against test image k (RGB, or grayscale replicated into R, G
 * and B), byte for byte in the (3, 32, 32) layout. */
static void assert_planes(const md_image_folder *d, int64_t i, int k, int gray) {
  const uint8_t *img = d->images + i * 3 * 32 * 32;
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 32; ++y)
      for (int x = 0; x < 32; ++x) {
        const uint8_t want = sample(k, x, y, gray ? 0 : c);
        const uint8_t got = img[c * 1024 + y * 32 + x];
        if (got != want)
          fail_msg("image %lld plane %d (x %d, y %d): %d, want %d", (long long)i, c, x, y, got,
                   want);
      }
}

/* ---- a valid tree ---------------------------------------------------------- */

static void test_load_tree(void **state) {
  (void)state;
  const char *root = md_test_tmpdir();
  char dir[512];
  snprintf(dir, sizeof dir, "%s", root);
  /* Created out of order; strcmp order is Zebra, bird, cat, dog. */
  make_dir(path_in(dir, "dog"));
  make_dir(path_in(dir, "bird"));
  make_dir(path_in(dir, "cat"));
  make_dir(path_in(dir, "Zebra"));
  make_dir(path_in(dir, ".git"));                           /* hidden: not a class */
  write_png(path_in(dir, "dog/z.PNG"), 32, 32, 3, 5);       /* extension in any case */
  write_png(path_in(dir, "dog/y.png"), 32, 32, 3, 4);
  write_png(path_in(dir, "bird/b1.png"), 32, 32, 3, 2);
  write_png(path_in(dir, "bird/a0.png"), 32, 32, 1, 1);     /* grayscale */
  write_png(path_in(dir, "cat/x.png"), 32, 32, 3, 3);
  write_text(path_in(dir, "cat/notes.txt"), "not an image\n");     /* skipped */
  write_text(path_in(dir, "cat/.hidden.png"), "not an image\n");   /* ignored */
  write_png(path_in(dir, "Zebra/q.png"), 32, 32, 3, 0);
  write_text(path_in(dir, "README"), "a data set\n");              /* skipped */

  md_errbuf eb;
  md_image_folder d;
  if (md_image_folder_load(dir, MD_FOLDER_SIZE_REJECT, &d, &eb) != MD_OK) fail_msg("%s", eb.msg);
  assert_int_equal(d.num_classes, 4);
  assert_string_equal(d.class_names[0], "Zebra");
  assert_string_equal(d.class_names[1], "bird");
  assert_string_equal(d.class_names[2], "cat");
  assert_string_equal(d.class_names[3], "dog");
  assert_int_equal(d.n, 6);
  const int32_t labels[6] = {0, 1, 1, 2, 3, 3};
  for (int i = 0; i < 6; ++i) assert_int_equal(d.labels[i], labels[i]);
  /* Files in strcmp order within a class: bird/a0 (gray) before bird/b1,
   * dog/y.png before dog/z.PNG. */
  assert_planes(&d, 0, 0, 0);
  assert_planes(&d, 1, 1, 1);
  assert_planes(&d, 2, 2, 0);
  assert_planes(&d, 3, 3, 0);
  assert_planes(&d, 4, 4, 0);
  assert_planes(&d, 5, 5, 0);
  assert_int_equal(d.n_resized, 0);
  assert_int_equal(d.n_skipped, 2);
  assert_non_null(d.first_skipped);
  assert_contains(d.first_skipped, "README");
  md_image_folder_free(&d);
  assert_zeroed(&d);

  /* A trailing slash on the folder changes nothing. */
  char slashed[600];
  snprintf(slashed, sizeof slashed, "%s/", dir);
  if (md_image_folder_load(slashed, MD_FOLDER_SIZE_RESIZE, &d, &eb) != MD_OK)
    fail_msg("%s", eb.msg);
  assert_int_equal(d.n, 6);
  assert_int_equal(d.num_classes, 4);
  assert_planes(&d, 5, 5, 0);
  assert_int_equal(d.n_resized, 0);
  md_image_folder_free(&d);
  md_image_folder_free(&d); /* a zeroed struct is accepted */
  remove_tree(dir);
}

static void test_image_names(void **state) {
  (void)state;
  const char *yes[] = {"a.png", "a.PNG", "b.jpg", "c.JpEg", "d.bmp", "e.gif", "f.tga",
                       "g.ppm", "h.pgm", "i.pnm", "x.y.png"};
  const char *no[] = {"png", ".png", "a.txt", "a.png.txt", "a.pn", "a.pngg", "a.", "a",
                      "", "a.jpeg2"};
  for (size_t i = 0; i < sizeof yes / sizeof yes[0]; ++i)
    if (!md_image_folder_is_image_name(yes[i])) fail_msg("%s is an image name", yes[i]);
  for (size_t i = 0; i < sizeof no / sizeof no[0]; ++i)
    if (md_image_folder_is_image_name(no[i])) fail_msg("%s is not an image name", no[i]);
  assert_false(md_image_folder_is_image_name(NULL));
}

/* ---- errors ---------------------------------------------------------------- */

/* Loads dir expecting status `want` and a message containing both parts. */
static void expect_error(const char *dir, md_folder_size_policy policy, md_status want,
                         const char *part1, const char *part2) {
  md_errbuf eb;
  md_errbuf_clear(&eb);
  md_image_folder d;
  const md_status st = md_image_folder_load(dir, policy, &d, &eb);
  if (st != want) fail_msg("%s: status %d, want %d (%s)", dir, (int)st, (int)want, eb.msg);
  assert_contains(eb.msg, part1);
  if (part2) assert_contains(eb.msg, part2);
  assert_zeroed(&d);
}

static void test_errors(void **state) {
  (void)state;
  const char *root = md_test_tmpdir();
  char dir[512];
  snprintf(dir, sizeof dir, "%s", root);

  /* Arguments. */
  expect_error("", MD_FOLDER_SIZE_REJECT, MD_ERR_INVALID_ARGUMENT, "empty", NULL);
  expect_error(dir, (md_folder_size_policy)7, MD_ERR_INVALID_ARGUMENT, "policy", dir);

  /* A missing folder, and a file given as the folder. */
  char missing[600];
  snprintf(missing, sizeof missing, "%s/nothing", dir);
  expect_error(missing, MD_FOLDER_SIZE_REJECT, MD_ERR_IO, missing, "No such file");
  char file[600];
  snprintf(file, sizeof file, "%s/file.png", dir);
  write_png(file, 32, 32, 3, 0);
  expect_error(file, MD_FOLDER_SIZE_REJECT, MD_ERR_IO, file, "not a folder");

  /* No class subfolders: empty, or images put directly in the folder. */
  char empty[600];
  snprintf(empty, sizeof empty, "%s/empty", dir);
  make_dir(empty);
  expect_error(empty, MD_FOLDER_SIZE_REJECT, MD_ERR_FORMAT, empty, "no class subfolders");
  char flat[600];
  snprintf(flat, sizeof flat, "%s/flat", dir);
  make_dir(flat);
  write_png(path_in(flat, "a.png"), 32, 32, 3, 0);
  write_png(path_in(flat, "b.png"), 32, 32, 3, 1);
  expect_error(flat, MD_FOLDER_SIZE_REJECT, MD_ERR_FORMAT, "no class subfolders",
               "2 image files directly");
  /* Only hidden folders: still none. */
  char hidden[600];
  snprintf(hidden, sizeof hidden, "%s/hidden", dir);
  make_dir(hidden);
  make_dir(path_in(hidden, ".cache"));
  expect_error(hidden, MD_FOLDER_SIZE_REJECT, MD_ERR_FORMAT, hidden, "no class subfolders");

  /* An empty class folder; a class folder with no image file. */
  char t[600];
  snprintf(t, sizeof t, "%s/t", dir);
  make_dir(t);
  make_dir(path_in(t, "a"));
  write_png(path_in(t, "a/1.png"), 32, 32, 3, 0);
  make_dir(path_in(t, "b"));
  expect_error(t, MD_FOLDER_SIZE_REJECT, MD_ERR_FORMAT, path_in(t, "b"), "is empty");
  write_text(path_in(t, "b/readme.txt"), "x");
  expect_error(t, MD_FOLDER_SIZE_REJECT, MD_ERR_FORMAT, path_in(t, "b"), "holds no image file");
  assert_int_equal(unlink(path_in(t, "b/readme.txt")), 0);
  write_png(path_in(t, "b/1.png"), 32, 32, 3, 1);

  /* A folder inside a class folder. */
  make_dir(path_in(t, "b/sub"));
  expect_error(t, MD_FOLDER_SIZE_REJECT, MD_ERR_FORMAT, path_in(t, "b/sub"), "inside the class");
  assert_int_equal(rmdir(path_in(t, "b/sub")), 0);

  /* A file named as an image that stb_image cannot decode: its path and
   * stb_image's reason. */
  write_text(path_in(t, "b/2.png"), "this is not a PNG file\n");
  expect_error(t, MD_FOLDER_SIZE_REJECT, MD_ERR_FORMAT, path_in(t, "b/2.png"), "cannot read image");
  expect_error(t, MD_FOLDER_SIZE_RESIZE, MD_ERR_FORMAT, path_in(t, "b/2.png"), "cannot read image");
  assert_int_equal(unlink(path_in(t, "b/2.png")), 0);

  /* The tree is valid again. */
  md_errbuf eb;
  md_image_folder d;
  if (md_image_folder_load(t, MD_FOLDER_SIZE_REJECT, &d, &eb) != MD_OK) fail_msg("%s", eb.msg);
  assert_int_equal(d.n, 2);
  md_image_folder_free(&d);
  remove_tree(dir);
}

/* ---- the 32 x 32 policy ------------------------------------------------------ */

static void test_size_policy(void **state) {
  (void)state;
  const char *root = md_test_tmpdir();
  char dir[512];
  snprintf(dir, sizeof dir, "%s", root);
  make_dir(path_in(dir, "a"));
  make_dir(path_in(dir, "b"));
  write_png(path_in(dir, "a/0.png"), 32, 32, 3, 0);
  const uint8_t colour[3] = {200, 10, 99};
  write_uniform_png(path_in(dir, "a/1.png"), 64, 48, colour); /* shrunk */
  write_uniform_png(path_in(dir, "b/0.png"), 20, 25, colour); /* enlarged */
  write_png(path_in(dir, "b/1.png"), 96, 32, 3, 7);           /* the middle third kept */
  write_png(path_in(dir, "b/2.png"), 32, 40, 1, 8);           /* gray, the middle 32 rows */

  /* Reject: the first image that is not 32 x 32, with its size. */
  expect_error(dir, MD_FOLDER_SIZE_REJECT, MD_ERR_SHAPE, path_in(dir, "a/1.png"),
               "is 64 x 48 pixels, not 32 x 32");

  /* Resize. */
  md_errbuf eb;
  md_image_folder d;
  if (md_image_folder_load(dir, MD_FOLDER_SIZE_RESIZE, &d, &eb) != MD_OK) fail_msg("%s", eb.msg);
  assert_int_equal(d.n, 5);
  assert_int_equal(d.n_resized, 4);
  assert_planes(&d, 0, 0, 0);
  for (int i = 1; i <= 2; ++i) {
    const uint8_t *img = d.images + (size_t)i * 3072;
    for (int c = 0; c < 3; ++c)
      for (int p = 0; p < 1024; ++p)
        if (img[c * 1024 + p] != colour[c])
          fail_msg("image %d plane %d pixel %d: %d, want the uniform %d", i, c, p,
                   img[c * 1024 + p], colour[c]);
  }
  /* 96 x 32: the central square is columns 32..63, already 32 x 32. */
  const uint8_t *img = d.images + 3 * 3072;
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 32; ++y)
      for (int x = 0; x < 32; ++x)
        if (img[c * 1024 + y * 32 + x] != sample(7, x + 32, y, c))
          fail_msg("wide image plane %d (%d, %d): %d, want %d", c, x, y,
                   img[c * 1024 + y * 32 + x], sample(7, x + 32, y, c));
  /* 32 x 40 gray: rows 4..35, replicated into the three planes. */
  img = d.images + 4 * 3072;
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 32; ++y)
      for (int x = 0; x < 32; ++x)
        if (img[c * 1024 + y * 32 + x] != sample(8, x, y + 4, 0))
          fail_msg("tall image plane %d (%d, %d)", c, x, y);
  md_image_folder_free(&d);
  remove_tree(dir);
}

static void test_center_square(void **state) {
  (void)state;
  md_errbuf eb;
  md_image src, out;
  /* 5 x 3 grayscale, values 10 * x + y: the square is columns 1..3. */
  assert_int_equal(md_image_alloc(&src, 5, 3, 1), MD_OK);
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 5; ++x) src.data[y * 5 + x] = (uint8_t)(10 * x + y);
  assert_int_equal(md_image_center_square(&src, 3, &out, &eb), MD_OK);
  assert_int_equal(out.width, 3);
  assert_int_equal(out.height, 3);
  assert_int_equal(out.channels, 1);
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 3; ++x) assert_int_equal(out.data[y * 3 + x], 10 * (x + 1) + y);
  md_image_free(&out);
  /* 4 x 2: the odd split trims (4 - 2) / 2 = 1 column at the start. */
  md_image_free(&src);
  assert_int_equal(md_image_alloc(&src, 4, 2, 1), MD_OK);
  for (int p = 0; p < 8; ++p) src.data[p] = (uint8_t)p;
  assert_int_equal(md_image_center_square(&src, 2, &out, &eb), MD_OK);
  assert_int_equal(out.data[0], 1);
  assert_int_equal(out.data[1], 2);
  assert_int_equal(out.data[2], 5);
  assert_int_equal(out.data[3], 6);
  md_image_free(&out);
  /* A uniform image scaled up and down stays uniform. */
  for (int k = 0; k < 8; ++k) src.data[k] = 77;
  const int sides[3] = {1, 7, 100};
  for (int s = 0; s < 3; ++s) {
    assert_int_equal(md_image_center_square(&src, sides[s], &out, &eb), MD_OK);
    for (int p = 0; p < sides[s] * sides[s]; ++p) assert_int_equal(out.data[p], 77);
    md_image_free(&out);
  }
  /* Bad arguments. */
  assert_int_equal(md_image_center_square(&src, 0, &out, &eb), MD_ERR_INVALID_ARGUMENT);
  assert_null(out.data);
  md_image empty = {0, 0, 0, NULL};
  assert_int_equal(md_image_center_square(&empty, 4, &out, &eb), MD_ERR_INVALID_ARGUMENT);
  md_image_free(&src);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_load_tree),
      cmocka_unit_test(test_image_names),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_size_policy),
      cmocka_unit_test(test_center_square),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
