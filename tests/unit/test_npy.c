/* .npy files: round trips of float32 and uint8 arrays of 0 to 4 dimensions,
 * format versions 2.0 and 3.0, and every kind of broken file, each written
 * here byte by byte, rejected with a message that names the problem. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "md_test_util.h"
#include "maxdrop/npy.h"

static char dir[256];

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "%s", md_test_tmpdir());
  return 0;
}

static int teardown(void **state) {
  (void)state;
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

static const char *path_of(const char *name) {
  static char p[512];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  return p;
}

static void write_bytes(const char *path, const void *bytes, size_t n) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  if (n) assert_int_equal(fwrite(bytes, 1, n, f), n);
  assert_int_equal(fclose(f), 0);
}

/* A file of format version major.0: magic, version, header length (2 bytes
 * for 1.0, 4 for 2.0 and 3.0), the header text as given, then `data`. */
static size_t build(unsigned char *buf, int major, const char *hdr, const void *data,
                    size_t nbytes) {
  const size_t hl = strlen(hdr);
  size_t k = 0;
  memcpy(buf, "\x93NUMPY", 6);
  k = 6;
  buf[k++] = (unsigned char)major;
  buf[k++] = 0;
  buf[k++] = (unsigned char)(hl & 0xff);
  buf[k++] = (unsigned char)((hl >> 8) & 0xff);
  if (major >= 2) {
    buf[k++] = (unsigned char)((hl >> 16) & 0xff);
    buf[k++] = (unsigned char)((hl >> 24) & 0xff);
  }
  memcpy(buf + k, hdr, hl);
  k += hl;
  if (nbytes) memcpy(buf + k, data, nbytes);
  return k + nbytes;
}

/* Expects md_npy_read(path) to fail with `code` and a message holding the
 * path and `needle`. */
static void expect_reject(const char *path, md_status code, const char *needle) {
  md_npy_array a;
  md_errbuf eb;
  md_errbuf_clear(&eb);
  const md_status st = md_npy_read(path, &a, &eb);
  if (st != code)
    fail_msg("%s: status %d (%s), want %d; message: %s", path, st, md_strerror(st), code,
             eb.msg);
  if (!strstr(eb.msg, needle)) fail_msg("message '%s' does not mention '%s'", eb.msg, needle);
  if (!strstr(eb.msg, path)) fail_msg("message '%s' does not name the file", eb.msg);
  assert_null(a.data);
}

static void test_round_trip(void **state) {
  (void)state;
  const int64_t shapes[][4] = {{0}, {7}, {3, 5}, {2, 3, 4}, {2, 3, 4, 5}, {0, 3}, {1, 1, 1, 1}};
  const int ndims[] = {0, 1, 2, 3, 4, 2, 4};
  for (int s = 0; s < 7; ++s) {
    int64_t numel = 1;
    for (int d = 0; d < ndims[s]; ++d) numel *= shapes[s][d];
    for (int t = 0; t < 2; ++t) {
      const md_npy_dtype dt = t ? MD_NPY_U8 : MD_NPY_F32;
      const size_t isz = t ? 1 : 4;
      unsigned char *data = malloc((size_t)numel * isz + 1);
      assert_non_null(data);
      if (t) {
        for (int64_t i = 0; i < numel; ++i) data[i] = (unsigned char)(i * 37 + 11);
      } else {
        md_fill_uniform((float *)(void *)data, (size_t)numel, -1e3f, 1e3f, (uint64_t)s);
      }
      md_errbuf eb;
      const char *p = path_of("rt.npy");
      assert_int_equal(md_npy_write(p, dt, ndims[s], shapes[s], data, &eb), MD_OK);
      /* the data starts on a 64-byte boundary: file size = 64k + data */
      struct stat st;
      assert_int_equal(stat(p, &st), 0);
      assert_int_equal(((int64_t)st.st_size - numel * (int64_t)isz) % 64, 0);
      md_npy_array a;
      if (md_npy_read(p, &a, &eb) != MD_OK) fail_msg("read back: %s", eb.msg);
      assert_int_equal(a.dtype, dt);
      assert_int_equal(a.ndim, ndims[s]);
      assert_int_equal(a.numel, numel);
      for (int d = 0; d < ndims[s]; ++d) assert_int_equal(a.dims[d], shapes[s][d]);
      assert_non_null(a.data);
      if (numel) assert_memory_equal(a.data, data, (size_t)numel * isz);
      md_npy_free(&a);
      assert_null(a.data);
      free(data);
    }
  }
}

/* Special float values survive bit for bit. */
static void test_round_trip_special_values(void **state) {
  (void)state;
  const uint32_t bits[6] = {0x7fc00001u, 0xff800000u, 0x7f800000u, 0x80000000u, 0x00000001u,
                            0x7f7fffffu};
  float v[6];
  memcpy(v, bits, sizeof v);
  const int64_t dims[1] = {6};
  md_errbuf eb;
  assert_int_equal(md_npy_write(path_of("sp.npy"), MD_NPY_F32, 1, dims, v, &eb), MD_OK);
  md_npy_array a;
  assert_int_equal(md_npy_read(path_of("sp.npy"), &a, &eb), MD_OK);
  assert_memory_equal(a.data, bits, sizeof bits);
  md_npy_free(&a);
}

/* Versions 2.0 and 3.0 (4-byte header length), double quotes, extra spaces
 * and keys in another order are all valid .npy files. */
static void test_versions_2_and_3(void **state) {
  (void)state;
  const float data[6] = {1, 2, 3, 4, 5, 6};
  unsigned char buf[512];
  const char *hdrs[3] = {
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }          \n",
      "{\"shape\": (2,3), \"fortran_order\": False, \"descr\": \"<f4\"}\n",
      "{ 'fortran_order' : False , 'shape' : ( 2 , 3 ) , 'descr' : '<f4' }   \n"};
  for (int major = 2; major <= 3; ++major)
    for (int h = 0; h < 3; ++h) {
      const size_t n = build(buf, major, hdrs[h], data, sizeof data);
      write_bytes(path_of("v.npy"), buf, n);
      md_npy_array a;
      md_errbuf eb;
      if (md_npy_read(path_of("v.npy"), &a, &eb) != MD_OK)
        fail_msg("version %d header %d: %s", major, h, eb.msg);
      assert_int_equal(a.ndim, 2);
      assert_int_equal(a.dims[0], 2);
      assert_int_equal(a.dims[1], 3);
      assert_memory_equal(a.data, data, sizeof data);
      md_npy_free(&a);
    }
}

static void test_broken_files(void **state) {
  (void)state;
  static unsigned char buf[4096];
  const float data[6] = {1, 2, 3, 4, 5, 6};
  const char *good = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n";
  size_t n;
  const char *p = path_of("bad.npy");

  /* bad magic */
  n = build(buf, 1, good, data, sizeof data);
  buf[1] = 'X';
  write_bytes(p, buf, n);
  expect_reject(p, MD_ERR_FORMAT, "magic");

  /* version 9 */
  n = build(buf, 1, good, data, sizeof data);
  buf[6] = 9;
  write_bytes(p, buf, n);
  expect_reject(p, MD_ERR_FORMAT, "version 9");

  /* truncated preamble: 7 bytes; and a 2.0 file cut inside its 4-byte length */
  n = build(buf, 1, good, data, sizeof data);
  write_bytes(p, buf, 7);
  expect_reject(p, MD_ERR_FORMAT, "too short");
  n = build(buf, 2, good, data, 0);
  write_bytes(p, buf, 11);
  expect_reject(p, MD_ERR_FORMAT, "truncated .npy preamble");

  /* truncated header: the file ends inside the declared header */
  n = build(buf, 1, good, data, 0);
  write_bytes(p, buf, n - 20);
  expect_reject(p, MD_ERR_FORMAT, "truncated .npy header");

  /* header not a dict */
  n = build(buf, 1, "['descr', '<f4', 'fortran_order', False, 'shape', (2, 3)]\n", data,
            sizeof data);
  write_bytes(p, buf, n);
  expect_reject(p, MD_ERR_FORMAT, "not a dictionary");
  n = build(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)\n", data,
            sizeof data);
  write_bytes(p, buf, n);
  expect_reject(p, MD_ERR_FORMAT, "not a dictionary");

  /* missing keys */
  n = build(buf, 1, "{'fortran_order': False, 'shape': (2, 3), }\n", data, sizeof data);
  write_bytes(p, buf, n);
  expect_reject(p, MD_ERR_FORMAT, "'descr'");
  n = build(buf, 1, "{'descr': '<f4', 'shape': (2, 3), }\n", data, sizeof data);
  write_bytes(p, buf, n);
  expect_reject(p, MD_ERR_FORMAT, "'fortran_order'");
  n = build(buf, 1, "{'descr': '<f4', 'fortran_order': False, }\n", data, sizeof data);
  write_bytes(p, buf, n);
  expect_reject(p, MD_ERR_FORMAT, "'shape'");

  /* foreign dtypes (with data of the right size for them) */
  const double d8[6] = {1, 2, 3, 4, 5, 6};
  n = build(buf, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }\n", d8,
            sizeof d8);
  write_bytes(p, buf, n);
  expect_reject(p, MD_ERR_FORMAT, "'<f8'");
  n = build(buf, 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }\n", data,
            sizeof data);
  write_bytes(p, buf, n);
  expect_reject(p, MD_ERR_FORMAT, "big-endian");
  n = build(buf, 1, "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }\n", data,
            sizeof data);
  write_bytes(p, buf, n);
  expect_reject(p, MD_ERR_FORMAT, "'<i4'");

  /* Fortran order */
  n = build(buf, 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }\n", data,
            sizeof data);
  write_bytes(p, buf, n);
  expect_reject(p, MD_ERR_FORMAT, "Fortran");

  /* malformed shapes */
  const char *shapes[] = {"(2, x)", "(2 3)", "(-2, 3)", "(2,, 3)", "[2, 3]", "(2, 3",
                          "(99999999999999999999, 1)"};
  const char *needles[] = {"'shape'", "'shape'", "'shape'", "'shape'", "'shape'", "'shape'",
                           "out of range"};
  for (int i = 0; i < 7; ++i) {
    char hdr[128];
    snprintf(hdr, sizeof hdr, "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }\n",
             shapes[i]);
    n = build(buf, 1, hdr, data, sizeof data);
    write_bytes(p, buf, n);
    expect_reject(p, MD_ERR_FORMAT, needles[i]);
  }

  /* data section truncated, trailing bytes */
  n = build(buf, 1, good, data, sizeof data);
  write_bytes(p, buf, n - 1);
  expect_reject(p, MD_ERR_FORMAT, "truncated");
  expect_reject(p, MD_ERR_FORMAT, "data section is 23 bytes but the shape needs 24");
  buf[n] = 0;
  write_bytes(p, buf, n + 1);
  expect_reject(p, MD_ERR_FORMAT, "trailing bytes");

  /* empty file, directory, missing file */
  write_bytes(p, buf, 0);
  expect_reject(p, MD_ERR_FORMAT, "too short");
  expect_reject(dir, MD_ERR_IO, "not a regular file");
  expect_reject(path_of("absent.npy"), MD_ERR_IO, "No such file");
}

static void test_write_errors(void **state) {
  (void)state;
  const float v[2] = {1, 2};
  const int64_t dims[1] = {2}, neg[1] = {-2};
  md_errbuf eb;
  md_errbuf_clear(&eb);
  /* a folder that does not exist */
  assert_int_equal(md_npy_write(path_of("no/such/dir/x.npy"), MD_NPY_F32, 1, dims, v, &eb),
                   MD_ERR_IO);
  assert_non_null(strstr(eb.msg, "no/such/dir/x.npy"));
  assert_int_equal(md_npy_write(path_of("x.npy"), MD_NPY_F32, 9, dims, v, &eb),
                   MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_npy_write(path_of("x.npy"), MD_NPY_F32, 1, neg, v, &eb),
                   MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_npy_write(path_of("x.npy"), (md_npy_dtype)5, 1, dims, v, &eb),
                   MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_npy_write(path_of("x.npy"), MD_NPY_F32, 1, dims, NULL, &eb),
                   MD_ERR_INVALID_ARGUMENT);
  const int64_t huge[2] = {INT64_MAX / 2, 4};
  assert_int_equal(md_npy_write(path_of("x.npy"), MD_NPY_F32, 2, huge, v, &eb),
                   MD_ERR_INVALID_ARGUMENT);
  /* nothing was left behind */
  assert_int_equal(access(path_of("x.npy"), F_OK), -1);
}

/* An existing file is replaced whole, or left as it was when writing fails. */
static void test_overwrite(void **state) {
  (void)state;
  const float a[3] = {1, 2, 3}, b[2] = {9, 8};
  const int64_t da[1] = {3}, db[1] = {2};
  md_errbuf eb;
  assert_int_equal(md_npy_write(path_of("o.npy"), MD_NPY_F32, 1, da, a, &eb), MD_OK);
  assert_int_equal(md_npy_write(path_of("o.npy"), MD_NPY_F32, 1, db, b, &eb), MD_OK);
  md_npy_array r;
  assert_int_equal(md_npy_read(path_of("o.npy"), &r, &eb), MD_OK);
  assert_int_equal(r.numel, 2);
  assert_memory_equal(r.data, b, sizeof b);
  md_npy_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_round_trip_special_values),
      cmocka_unit_test(test_versions_2_and_3),
      cmocka_unit_test(test_broken_files),
      cmocka_unit_test(test_write_errors),
      cmocka_unit_test(test_overwrite),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
