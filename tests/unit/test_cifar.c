/* CIFAR-10 / CIFAR-100 readers on small files written here (valid, and each
 * kind of broken), and on the real CIFAR-10 test set when $MD_TEST_DATA has it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "md_test_util.h"
#include "maxdrop/cifar.h"

/* ---- helpers ------------------------------------------------------------- */

static const char *path_in(const char *dir, const char *name) {
  static char buf[4][1024];
  static int k = 0;
  k = (k + 1) % 4;
  snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
  return buf[k];
}

/* The pixel byte p of image i: a pattern that differs between images. */
static uint8_t pixel(int i, int p) { return (uint8_t)((i * 31 + p * 7 + (p >> 10) * 50) & 0xff); }

/* Writes n CIFAR-10 records: label labels[i], pixels pixel(i, p) (or `fill`
 * when fill >= 0). */
static void write_c10(const char *path, int n, const int *labels, int fill) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  for (int i = 0; i < n; ++i) {
    fputc(labels[i], f);
    for (int p = 0; p < 3072; ++p) fputc(fill >= 0 ? fill : pixel(i, p), f);
  }
  assert_int_equal(fclose(f), 0);
}

static void write_c100(const char *path, int n, const int *coarse, const int *fine, int fill) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  for (int i = 0; i < n; ++i) {
    fputc(coarse[i], f);
    fputc(fine[i], f);
    for (int p = 0; p < 3072; ++p) fputc(fill >= 0 ? fill : pixel(i, p), f);
  }
  assert_int_equal(fclose(f), 0);
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  assert_int_equal(fclose(f), 0);
}

static void write_bytes(const char *path, long n, int value) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  for (long i = 0; i < n; ++i) fputc(value, f);
  assert_int_equal(fclose(f), 0);
}

static void assert_contains(const char *msg, const char *part) {
  if (!strstr(msg, part)) fail_msg("message \"%s\" does not contain \"%s\"", msg, part);
}

static const char *c10_names =
    "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n";

/* ---- valid files ---------------------------------------------------------- */

static void test_cifar10_file(void **state) {
  (void)state;
  const char *dir = md_test_tmpdir();
  const int labels[5] = {3, 0, 9, 7, 7};
  const char *path = path_in(dir, "test_batch.bin");
  write_c10(path, 5, labels, -1);

  md_errbuf eb;
  md_cifar d;
  assert_int_equal(md_cifar_read_file(path, MD_CIFAR_10, &d, &eb), MD_OK);
  assert_int_equal(d.kind, MD_CIFAR_10);
  assert_int_equal(d.num_classes, 10);
  assert_int_equal(d.n, 5);
  assert_null(d.coarse_labels);
  assert_null(d.class_names); /* no batches.meta.txt yet */
  for (int i = 0; i < 5; ++i) {
    assert_int_equal(d.labels[i], labels[i]);
    const uint8_t *img = md_cifar_image(&d, i);
    for (int p = 0; p < 3072; ++p)
      if (img[p] != pixel(i, p)) fail_msg("image %d byte %d: %d, want %d", i, p, img[p], pixel(i, p));
  }
  md_cifar_free(&d);
  assert_null(d.images);

  /* Class names once the names file is there; AUTO finds the kind by size. */
  write_text(path_in(dir, "batches.meta.txt"), c10_names);
  assert_int_equal(md_cifar_read_file(path, MD_CIFAR_AUTO, &d, &eb), MD_OK);
  assert_int_equal(d.kind, MD_CIFAR_10);
  assert_non_null(d.class_names);
  assert_string_equal(d.class_names[0], "airplane");
  assert_string_equal(d.class_names[9], "truck");
  assert_string_equal(d.class_names[d.labels[3]], "horse");
  md_cifar_free(&d);

  /* A names file with the wrong number of names is an error naming it. */
  write_text(path_in(dir, "batches.meta.txt"), "airplane\nautomobile\n");
  assert_int_equal(md_cifar_read_file(path, MD_CIFAR_10, &d, &eb), MD_ERR_FORMAT);
  assert_contains(eb.msg, "batches.meta.txt");
  assert_contains(eb.msg, "2 names");
  assert_null(d.images);
}

static void test_cifar100_file(void **state) {
  (void)state;
  const char *dir = md_test_tmpdir();
  const int coarse[4] = {0, 19, 4, 11}, fine[4] = {99, 0, 55, 12};
  const char *path = path_in(dir, "test.bin");
  write_c100(path, 4, coarse, fine, -1);

  md_errbuf eb;
  md_cifar d;
  for (int k = 0; k < 2; ++k) {
    assert_int_equal(md_cifar_read_file(path, k ? MD_CIFAR_AUTO : MD_CIFAR_100, &d, &eb),
                     MD_OK);
    assert_int_equal(d.kind, MD_CIFAR_100);
    assert_int_equal(d.num_classes, 100);
    assert_int_equal(d.n, 4);
    assert_non_null(d.coarse_labels);
    assert_null(d.class_names);
    assert_null(d.coarse_names);
    for (int i = 0; i < 4; ++i) {
      assert_int_equal(d.labels[i], fine[i]); /* the fine label is the class */
      assert_int_equal(d.coarse_labels[i], coarse[i]);
      assert_int_equal(md_cifar_image(&d, i)[3071], pixel(i, 3071));
      assert_int_equal(md_cifar_image(&d, i)[0], pixel(i, 0));
    }
    md_cifar_free(&d);
  }

  /* Names: 100 fine, 20 coarse. */
  char names[4096] = "", line[32];
  for (int i = 0; i < 100; ++i) {
    snprintf(line, sizeof line, "fine_%02d\r\n", i); /* CR LF line ends are accepted */
    strcat(names, line);
  }
  write_text(path_in(dir, "fine_label_names.txt"), names);
  names[0] = '\0';
  for (int i = 0; i < 20; ++i) {
    snprintf(line, sizeof line, "coarse_%02d\n", i);
    strcat(names, line);
  }
  write_text(path_in(dir, "coarse_label_names.txt"), names);
  assert_int_equal(md_cifar_read_file(path, MD_CIFAR_100, &d, &eb), MD_OK);
  assert_non_null(d.class_names);
  assert_non_null(d.coarse_names);
  assert_string_equal(d.class_names[99], "fine_99");
  assert_string_equal(d.class_names[d.labels[2]], "fine_55");
  assert_string_equal(d.coarse_names[19], "coarse_19");
  md_cifar_free(&d);
}

/* ---- broken files ----------------------------------------------------------- */

static void test_missing_file(void **state) {
  (void)state;
  const char *dir = md_test_tmpdir();
  const char *path = path_in(dir, "nope.bin");
  md_errbuf eb;
  md_cifar d;
  assert_int_equal(md_cifar_read_file(path, MD_CIFAR_10, &d, &eb), MD_ERR_IO);
  assert_contains(eb.msg, path);
  assert_contains(eb.msg, strerror(ENOENT));
  assert_null(d.images);
  md_cifar_record r;
  assert_int_equal(md_cifar_read_record(path, MD_CIFAR_10, 0, &r, &eb), MD_ERR_IO);
  /* A folder is not a data file. */
  assert_int_equal(md_cifar_read_file(dir, MD_CIFAR_10, &d, &eb), MD_ERR_IO);
  assert_contains(eb.msg, "not a regular file");
}

static void test_bad_sizes(void **state) {
  (void)state;
  const char *dir = md_test_tmpdir();
  md_errbuf eb;
  md_cifar d;
  const char *path = path_in(dir, "short.bin");
  write_bytes(path, 2 * 3073 + 100, 0); /* neither a multiple of 3073 nor of 3074 */
  assert_int_equal(md_cifar_read_file(path, MD_CIFAR_10, &d, &eb), MD_ERR_FORMAT);
  assert_contains(eb.msg, path);
  assert_contains(eb.msg, "6246 bytes");
  assert_contains(eb.msg, "3073");
  assert_contains(eb.msg, "100 bytes left over");
  assert_int_equal(md_cifar_read_file(path, MD_CIFAR_100, &d, &eb), MD_ERR_FORMAT);
  assert_contains(eb.msg, "3074");
  assert_int_equal(md_cifar_read_file(path, MD_CIFAR_AUTO, &d, &eb), MD_ERR_FORMAT);
  assert_contains(eb.msg, "3073");
  assert_contains(eb.msg, "3074");

  const char *empty = path_in(dir, "empty.bin");
  write_bytes(empty, 0, 0);
  assert_int_equal(md_cifar_read_file(empty, MD_CIFAR_10, &d, &eb), MD_ERR_FORMAT);
  assert_contains(eb.msg, "0 bytes");
  assert_int_equal(md_cifar_read_file(path, (md_cifar_kind)7, &d, &eb),
                   MD_ERR_INVALID_ARGUMENT);
}

static void test_labels_out_of_range(void **state) {
  (void)state;
  const char *dir = md_test_tmpdir();
  md_errbuf eb;
  md_cifar d;
  const int l10[3] = {1, 2, 10};
  const char *p10 = path_in(dir, "bad10.bin");
  write_c10(p10, 3, l10, -1);
  assert_int_equal(md_cifar_read_file(p10, MD_CIFAR_10, &d, &eb), MD_ERR_RANGE);
  assert_contains(eb.msg, p10);
  assert_contains(eb.msg, "record 2");
  assert_contains(eb.msg, "label 10");
  assert_contains(eb.msg, "0..9");
  assert_contains(eb.msg, "9219 bytes");
  assert_null(d.images);
  md_cifar_record r;
  assert_int_equal(md_cifar_read_record(p10, MD_CIFAR_10, 1, &r, &eb), MD_OK);
  assert_int_equal(r.label, 2);
  assert_int_equal(md_cifar_read_record(p10, MD_CIFAR_10, 2, &r, &eb), MD_ERR_RANGE);

  const int c[2] = {3, 3}, f_bad[2] = {5, 100};
  const char *p100 = path_in(dir, "bad100.bin");
  write_c100(p100, 2, c, f_bad, -1);
  assert_int_equal(md_cifar_read_file(p100, MD_CIFAR_100, &d, &eb), MD_ERR_RANGE);
  assert_contains(eb.msg, "fine label 100");
  assert_contains(eb.msg, "0..99");

  const int c_bad[2] = {20, 0}, f[2] = {1, 2};
  write_c100(p100, 2, c_bad, f, -1);
  assert_int_equal(md_cifar_read_file(p100, MD_CIFAR_100, &d, &eb), MD_ERR_RANGE);
  assert_contains(eb.msg, "record 0");
  assert_contains(eb.msg, "coarse label 20");
  assert_contains(eb.msg, "0..19");
}

static void test_wrong_kind_by_size(void **state) {
  (void)state;
  const char *dir = md_test_tmpdir();
  md_errbuf eb;
  md_cifar d;
  const int c[3] = {1, 2, 3}, f[3] = {4, 5, 6};
  const char *p100 = path_in(dir, "train.bin");
  write_c100(p100, 3, c, f, -1);
  assert_int_equal(md_cifar_read_file(p100, MD_CIFAR_10, &d, &eb), MD_ERR_FORMAT);
  assert_contains(eb.msg, p100);
  assert_contains(eb.msg, "9222 bytes");
  assert_contains(eb.msg, "3 CIFAR-100 records");
  assert_contains(eb.msg, "CIFAR-100 file given as CIFAR-10");

  const char *p10 = path_in(dir, "data_batch_1.bin");
  write_c10(p10, 3, f, -1);
  assert_int_equal(md_cifar_read_file(p10, MD_CIFAR_100, &d, &eb), MD_ERR_FORMAT);
  assert_contains(eb.msg, "9219 bytes");
  assert_contains(eb.msg, "CIFAR-10 file given as CIFAR-100");
  md_cifar_record r;
  assert_int_equal(md_cifar_read_record(p10, MD_CIFAR_100, 0, &r, &eb), MD_ERR_FORMAT);
}

/* 3074 CIFAR-10 records are exactly as long as 3073 CIFAR-100 records: the
 * labels must decide. */
enum { AMBIG_BYTES = 3073 * 3074 };

static void test_ambiguous_size_decided_by_labels(void **state) {
  (void)state;
  const char *dir = md_test_tmpdir();
  md_errbuf eb;
  md_cifar d;
  int *a = calloc(3074, sizeof *a), *b = calloc(3074, sizeof *b);
  assert_non_null(a);
  assert_non_null(b);

  /* A CIFAR-10 file with bright pixels: read as CIFAR-100, record 1's coarse
   * label would be a pixel byte (200), out of range. */
  for (int i = 0; i < 3074; ++i) a[i] = i % 10;
  const char *p10 = path_in(dir, "amb10.bin");
  write_c10(p10, 3074, a, 200);
  assert_int_equal(md_cifar_read_file(p10, MD_CIFAR_10, &d, &eb), MD_OK);
  assert_int_equal(d.n, 3074);
  assert_int_equal(d.labels[3073], 3073 % 10);
  md_cifar_free(&d);
  assert_int_equal(md_cifar_read_file(p10, MD_CIFAR_AUTO, &d, &eb), MD_OK);
  assert_int_equal(d.kind, MD_CIFAR_10);
  md_cifar_free(&d);
  assert_int_equal(md_cifar_read_file(p10, MD_CIFAR_100, &d, &eb), MD_ERR_FORMAT);
  assert_contains(eb.msg, "9446402 bytes");
  assert_contains(eb.msg, "CIFAR-10 file given as CIFAR-100");

  /* A CIFAR-100 file whose first coarse label (15) is no CIFAR-10 label. */
  for (int i = 0; i < 3073; ++i) {
    a[i] = i == 0 ? 15 : i % 20;
    b[i] = i % 100;
  }
  const char *p100 = path_in(dir, "amb100.bin");
  write_c100(p100, 3073, a, b, 1);
  assert_int_equal(md_cifar_read_file(p100, MD_CIFAR_AUTO, &d, &eb), MD_OK);
  assert_int_equal(d.kind, MD_CIFAR_100);
  assert_int_equal(d.n, 3073);
  assert_int_equal(d.labels[99], 99);
  md_cifar_free(&d);
  assert_int_equal(md_cifar_read_file(p100, MD_CIFAR_10, &d, &eb), MD_ERR_FORMAT);
  assert_contains(eb.msg, "CIFAR-100 file given as CIFAR-10");

  /* All zero bytes are valid both ways: AUTO refuses to guess, an explicit
   * kind is honoured. */
  const char *pz = path_in(dir, "zeros.bin");
  write_bytes(pz, AMBIG_BYTES, 0);
  assert_int_equal(md_cifar_read_file(pz, MD_CIFAR_AUTO, &d, &eb), MD_ERR_FORMAT);
  assert_contains(eb.msg, "say which");
  assert_int_equal(md_cifar_read_file(pz, MD_CIFAR_10, &d, &eb), MD_OK);
  assert_int_equal(d.n, 3074);
  md_cifar_free(&d);
  assert_int_equal(md_cifar_read_file(pz, MD_CIFAR_100, &d, &eb), MD_OK);
  assert_int_equal(d.n, 3073);
  md_cifar_free(&d);

  /* Invalid both ways (label 200 everywhere): a label error. */
  const char *pb = path_in(dir, "bright.bin");
  write_bytes(pb, AMBIG_BYTES, 200);
  assert_int_equal(md_cifar_read_file(pb, MD_CIFAR_10, &d, &eb), MD_ERR_RANGE);
  assert_contains(eb.msg, "label 200");
  assert_int_equal(md_cifar_read_file(pb, MD_CIFAR_AUTO, &d, &eb), MD_ERR_RANGE);
  free(a);
  free(b);
}

/* ---- splits, records, data search ----------------------------------------- */

static void test_load_split_cifar10(void **state) {
  (void)state;
  const char *dir = md_test_tmpdir();
  for (int b = 1; b <= 5; ++b) {
    char name[32];
    snprintf(name, sizeof name, "data_batch_%d.bin", b);
    const int labels[3] = {b, b, 9 - b};
    write_c10(path_in(dir, name), b == 5 ? 1 : 3, labels, -1); /* 4 x 3 + 1 = 13 */
  }
  const int tl[2] = {8, 1};
  write_c10(path_in(dir, "test_batch.bin"), 2, tl, 77);
  write_text(path_in(dir, "batches.meta.txt"), c10_names);

  md_errbuf eb;
  md_cifar d;
  assert_int_equal(md_cifar_load_split(dir, MD_CIFAR_AUTO, MD_CIFAR_TRAIN, &d, &eb), MD_OK);
  assert_int_equal(d.kind, MD_CIFAR_10);
  assert_int_equal(d.n, 13);
  const int want[13] = {1, 1, 8, 2, 2, 7, 3, 3, 6, 4, 4, 5, 5};
  for (int i = 0; i < 13; ++i) assert_int_equal(d.labels[i], want[i]);
  /* Batch 2's first image is record 0 of its file. */
  assert_int_equal(md_cifar_image(&d, 3)[5], pixel(0, 5));
  assert_int_equal(md_cifar_image(&d, 4)[5], pixel(1, 5));
  assert_string_equal(d.class_names[1], "automobile");
  md_cifar_free(&d);

  assert_int_equal(md_cifar_load_split(dir, MD_CIFAR_10, MD_CIFAR_TEST, &d, &eb), MD_OK);
  assert_int_equal(d.n, 2);
  assert_int_equal(d.labels[0], 8);
  assert_int_equal(md_cifar_image(&d, 1)[3071], 77);
  md_cifar_free(&d);

  /* Asking for CIFAR-100 in a CIFAR-10 folder names the missing file. */
  assert_int_equal(md_cifar_load_split(dir, MD_CIFAR_100, MD_CIFAR_TEST, &d, &eb), MD_ERR_IO);
  assert_contains(eb.msg, "test.bin");

  /* One training batch missing. */
  assert_int_equal(unlink(path_in(dir, "data_batch_3.bin")), 0);
  assert_int_equal(md_cifar_load_split(dir, MD_CIFAR_10, MD_CIFAR_TRAIN, &d, &eb), MD_ERR_IO);
  assert_contains(eb.msg, "data_batch_3.bin");
  assert_null(d.images);

  assert_int_equal(md_cifar_load_split(path_in(dir, "none"), MD_CIFAR_AUTO, MD_CIFAR_TEST, &d,
                                       &eb),
                   MD_ERR_IO);
}

static void test_load_split_cifar100(void **state) {
  (void)state;
  const char *dir = md_test_tmpdir();
  const int c[3] = {1, 2, 3}, f[3] = {10, 20, 30};
  write_c100(path_in(dir, "train.bin"), 3, c, f, -1);
  write_c100(path_in(dir, "test.bin"), 2, c, f, -1);
  md_errbuf eb;
  md_cifar d;
  assert_int_equal(md_cifar_load_split(dir, MD_CIFAR_AUTO, MD_CIFAR_TRAIN, &d, &eb), MD_OK);
  assert_int_equal(d.kind, MD_CIFAR_100);
  assert_int_equal(d.n, 3);
  assert_int_equal(d.labels[2], 30);
  assert_int_equal(d.coarse_labels[2], 3);
  md_cifar_free(&d);
  assert_int_equal(md_cifar_load_split(dir, MD_CIFAR_100, MD_CIFAR_TEST, &d, &eb), MD_OK);
  assert_int_equal(d.n, 2);
  md_cifar_free(&d);
  /* Read as CIFAR-10 by mistake: the wrong file name is reported. */
  assert_int_equal(md_cifar_load_split(dir, MD_CIFAR_10, MD_CIFAR_TEST, &d, &eb), MD_ERR_IO);
  assert_contains(eb.msg, "test_batch.bin");
}

static void test_read_record(void **state) {
  (void)state;
  const char *dir = md_test_tmpdir();
  const int labels[4] = {0, 5, 2, 9};
  const char *path = path_in(dir, "test_batch.bin");
  write_c10(path, 4, labels, -1);
  md_errbuf eb;
  md_cifar_record r;
  assert_int_equal(md_cifar_read_record(path, MD_CIFAR_10, 3, &r, &eb), MD_OK);
  assert_int_equal(r.kind, MD_CIFAR_10);
  assert_int_equal(r.count, 4);
  assert_int_equal(r.label, 9);
  assert_int_equal(r.coarse_label, -1);
  assert_string_equal(r.class_name, "");
  for (int p = 0; p < 3072; ++p) assert_int_equal(r.image[p], pixel(3, p));

  write_text(path_in(dir, "batches.meta.txt"), c10_names);
  assert_int_equal(md_cifar_read_record(path, MD_CIFAR_AUTO, 1, &r, &eb), MD_OK);
  assert_string_equal(r.class_name, "dog");

  assert_int_equal(md_cifar_read_record(path, MD_CIFAR_10, 4, &r, &eb), MD_ERR_RANGE);
  assert_contains(eb.msg, "index 4");
  assert_contains(eb.msg, "0..3");
  assert_int_equal(md_cifar_read_record(path, MD_CIFAR_10, -1, &r, &eb), MD_ERR_RANGE);

  const int c[2] = {7, 8}, f[2] = {70, 80};
  const char *p100 = path_in(dir, "test.bin");
  write_c100(p100, 2, c, f, -1);
  assert_int_equal(md_cifar_read_record(p100, MD_CIFAR_100, 1, &r, &eb), MD_OK);
  assert_int_equal(r.label, 80);
  assert_int_equal(r.coarse_label, 8);
  assert_int_equal(r.image[100], pixel(1, 100));
}

static void make_dir(const char *p) {
  if (mkdir(p, 0755) != 0 && errno != EEXIST) fail_msg("mkdir %s: %s", p, strerror(errno));
}

static void test_find_data(void **state) {
  (void)state;
  char tmp[256], cwd[4096], p[1024], env_root[512], a[512], ab[512];
  snprintf(tmp, sizeof tmp, "%s", md_test_tmpdir());
  assert_non_null(getcwd(cwd, sizeof cwd));
  const char *old_env = getenv("MAXDROP_DATA");
  char saved_env[4096] = "";
  if (old_env) snprintf(saved_env, sizeof saved_env, "%s", old_env);
  unsetenv("MAXDROP_DATA");

  /* tmp/a/b is the working folder; tmp/a/shared/data is its ../shared/data. */
  snprintf(a, sizeof a, "%s/a", tmp);
  snprintf(ab, sizeof ab, "%s/a/b", tmp);
  make_dir(a);
  make_dir(ab);
  assert_int_equal(chdir(ab), 0);

  md_errbuf eb;
  md_cifar_location loc;
  assert_int_equal(md_cifar_find_data(NULL, &loc, &eb), MD_ERR_IO);
  assert_contains(eb.msg, "./data");
  assert_contains(eb.msg, "../shared/data");

  snprintf(p, sizeof p, "%s/a/shared", tmp);
  make_dir(p);
  snprintf(p, sizeof p, "%s/a/shared/data", tmp);
  make_dir(p);
  assert_int_equal(md_cifar_find_data(NULL, &loc, &eb), MD_ERR_IO); /* empty: not chosen */
  snprintf(p, sizeof p, "%s/a/shared/data/cifar-100-binary", tmp);
  make_dir(p);
  assert_int_equal(md_cifar_find_data("", &loc, &eb), MD_OK);
  assert_string_equal(loc.root, "../shared/data");
  assert_string_equal(loc.cifar10, "");
  assert_string_equal(loc.cifar100, "../shared/data/cifar-100-binary");

  /* ./data comes before ../shared/data. */
  make_dir("data");
  make_dir("data/cifar-10-batches-bin");
  assert_int_equal(md_cifar_find_data(NULL, &loc, &eb), MD_OK);
  assert_string_equal(loc.root, "./data");
  assert_string_equal(loc.cifar10, "./data/cifar-10-batches-bin");
  assert_string_equal(loc.cifar100, "");

  /* $MAXDROP_DATA comes before ./data; one without data is passed over. */
  snprintf(env_root, sizeof env_root, "%s/env", tmp);
  make_dir(env_root);
  setenv("MAXDROP_DATA", env_root, 1);
  assert_int_equal(md_cifar_find_data(NULL, &loc, &eb), MD_OK);
  assert_string_equal(loc.root, "./data");
  snprintf(p, sizeof p, "%s/cifar-10-batches-bin", env_root);
  make_dir(p);
  assert_int_equal(md_cifar_find_data(NULL, &loc, &eb), MD_OK);
  assert_string_equal(loc.root, env_root);
  assert_string_equal(loc.cifar10, p);

  /* An explicit folder comes first, and is the only one looked at. */
  assert_int_equal(md_cifar_find_data("../shared/data", &loc, &eb), MD_OK);
  assert_string_equal(loc.root, "../shared/data");
  assert_int_equal(md_cifar_find_data("nowhere", &loc, &eb), MD_ERR_IO);
  assert_contains(eb.msg, "nowhere");
  assert_int_equal(md_cifar_find_data(env_root, &loc, &eb), MD_OK);
  make_dir("empty");
  assert_int_equal(md_cifar_find_data("empty", &loc, &eb), MD_ERR_IO);
  assert_contains(eb.msg, "empty");
  /* ...and may be the dataset folder itself. */
  const int l[1] = {0};
  write_c10("empty/test_batch.bin", 1, l, 0);
  assert_int_equal(md_cifar_find_data("empty", &loc, &eb), MD_OK);
  assert_string_equal(loc.cifar10, "empty");

  assert_int_equal(chdir(cwd), 0);
  if (old_env) setenv("MAXDROP_DATA", saved_env, 1);
  else unsetenv("MAXDROP_DATA");
}

/* ---- the real CIFAR-10 ------------------------------------------------------ */

static void test_real_cifar10(void **state) {
  (void)state;
  const char *root = getenv("MD_TEST_DATA");
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/cifar-10-batches-bin", root ? root : "");
  struct stat sb;
  if (!root || stat(dir, &sb) != 0) {
    print_message("no CIFAR-10 at $MD_TEST_DATA/cifar-10-batches-bin: real-data checks not run\n");
    skip();
  }
  md_errbuf eb;
  md_cifar d;
  assert_int_equal(md_cifar_load_split(dir, MD_CIFAR_AUTO, MD_CIFAR_TEST, &d, &eb), MD_OK);
  assert_int_equal(d.kind, MD_CIFAR_10);
  assert_int_equal(d.n, 10000);
  int hist[10] = {0};
  for (int64_t i = 0; i < d.n; ++i) {
    assert_in_range(d.labels[i], 0, 9);
    hist[d.labels[i]]++;
  }
  for (int k = 0; k < 10; ++k) assert_int_equal(hist[k], 1000);
  /* The official order: test image 0 is a cat, 1 and 2 ships, 3 an airplane. */
  assert_int_equal(d.labels[0], 3);
  assert_int_equal(d.labels[1], 8);
  assert_int_equal(d.labels[2], 8);
  assert_int_equal(d.labels[3], 0);
  assert_non_null(d.class_names);
  assert_string_equal(d.class_names[0], "airplane");
  assert_string_equal(d.class_names[3], "cat");
  assert_string_equal(d.class_names[9], "truck");

  /* One record read alone matches the whole-file load. */
  char path[4200];
  snprintf(path, sizeof path, "%s/test_batch.bin", dir);
  md_cifar_record r;
  assert_int_equal(md_cifar_read_record(path, MD_CIFAR_10, 9999, &r, &eb), MD_OK);
  assert_int_equal(r.count, 10000);
  assert_int_equal(r.label, d.labels[9999]);
  assert_memory_equal(r.image, md_cifar_image(&d, 9999), MD_CIFAR_IMAGE_BYTES);
  md_cifar_free(&d);

  /* Read as CIFAR-100, the real file is recognised for what it is. */
  assert_int_equal(md_cifar_read_file(path, MD_CIFAR_100, &d, &eb), MD_ERR_FORMAT);
  assert_contains(eb.msg, "30730000 bytes");
  assert_contains(eb.msg, "CIFAR-10 file given as CIFAR-100");

  assert_int_equal(md_cifar_load_split(dir, MD_CIFAR_10, MD_CIFAR_TRAIN, &d, &eb), MD_OK);
  assert_int_equal(d.n, 50000);
  int train_hist[10] = {0};
  for (int64_t i = 0; i < d.n; ++i) train_hist[d.labels[i]]++;
  for (int k = 0; k < 10; ++k) assert_int_equal(train_hist[k], 5000);
  md_cifar_free(&d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cifar10_file),
      cmocka_unit_test(test_cifar100_file),
      cmocka_unit_test(test_missing_file),
      cmocka_unit_test(test_bad_sizes),
      cmocka_unit_test(test_labels_out_of_range),
      cmocka_unit_test(test_wrong_kind_by_size),
      cmocka_unit_test(test_ambiguous_size_decided_by_labels),
      cmocka_unit_test(test_load_split_cifar10),
      cmocka_unit_test(test_load_split_cifar100),
      cmocka_unit_test(test_read_record),
      cmocka_unit_test(test_find_data),
      cmocka_unit_test(test_real_cifar10),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
