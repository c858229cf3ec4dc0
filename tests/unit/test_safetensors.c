/* safetensors checkpoints: bit-exact round trip of tensors and metadata, the
 * byte layout, every kind of broken file (each written byte by byte here),
 * loading into a parameter table (missing, unexpected, mismatched tensors),
 * atomic replacement, and the checkpoint conventions of maxdrop/checkpoint.h. */
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "md_test_util.h"
#include "maxdrop/checkpoint.h"
#include "maxdrop/npy.h"
#include "maxdrop/safetensors.h"

static char dir[256];

static const char *tpath(const char *name) {
  static char p[4][512];
  static int k = 0;
  k = (k + 1) % 4;
  snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
  return p[k];
}

static void write_bytes(const char *path, const void *bytes, size_t n) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  if (n) assert_int_equal(fwrite(bytes, 1, n, f), n);
  assert_int_equal(fclose(f), 0);
}

/* A file made of: header length (hlen, or strlen(json) when hlen < 0), the
 * JSON text, then data_len bytes 0, 1, 2, ... */
static void write_st(const char *path, long long hlen, const char *json, size_t data_len) {
  const size_t jl = strlen(json);
  unsigned char *b = malloc(8 + jl + data_len + 1);
  assert_non_null(b);
  const unsigned long long h = hlen < 0 ? (unsigned long long)jl : (unsigned long long)hlen;
  for (int i = 0; i < 8; ++i) b[i] = (unsigned char)(h >> (8 * i));
  memcpy(b + 8, json, jl);
  for (size_t i = 0; i < data_len; ++i) b[8 + jl + i] = (unsigned char)i;
  write_bytes(path, b, 8 + jl + data_len);
  free(b);
}

/* Opening `path` fails with `want` and a message holding s1 and s2 (if any). */
static void expect_open_error(const char *path, md_status want, const char *s1, const char *s2) {
  md_safetensors *st = (md_safetensors *)1;
  md_errbuf eb = {{0}};
  const md_status rc = md_safetensors_open(path, &st, &eb);
  if (rc != want) fail_msg("%s: status %d (%s), want %d; message: %s", path, rc,
                           md_strerror(rc), want, eb.msg);
  assert_null(st);
  if (!strstr(eb.msg, s1)) fail_msg("message '%s' does not mention '%s'", eb.msg, s1);
  if (s2 && !strstr(eb.msg, s2)) fail_msg("message '%s' does not mention '%s'", eb.msg, s2);
}

static void expect_bad(const char *json, size_t data_len, const char *s1, const char *s2) {
  const char *p = tpath("bad.safetensors");
  write_st(p, -1, json, data_len);
  expect_open_error(p, MD_ERR_FORMAT, s1, s2);
}

/* ------------------------------------------------------------------------- */

typedef struct sample {
  float conv[4 * 3 * 3 * 3];
  float bias[5];
  int64_t nbt;
  uint64_t rng[8];
  float empty[1];
  md_st_tensor t[5];
} sample;

static void make_sample(sample *s) {
  md_fill_uniform(s->conv, 108, -1, 1, 7);
  const float special[5] = {NAN, INFINITY, -0.0f, 1e-45f, -3.5f};
  memcpy(s->bias, special, sizeof special);
  s->nbt = INT64_C(12345678901);
  for (int i = 0; i < 8; ++i) s->rng[i] = UINT64_C(0xfedcba9876543210) + (uint64_t)i;
  s->t[0] = (md_st_tensor){"conv1.weight", MD_ST_F32, 4, {4, 3, 3, 3}, s->conv};
  s->t[1] = (md_st_tensor){"linear.bias", MD_ST_F32, 1, {5}, s->bias};
  s->t[2] = (md_st_tensor){"bn1.num_batches_tracked", MD_ST_I64, 0, {0}, &s->nbt};
  s->t[3] = (md_st_tensor){"rng.data_order", MD_ST_U64, 1, {8}, s->rng};
  s->t[4] = (md_st_tensor){"empty", MD_ST_F32, 2, {0, 3}, s->empty};
}

static const md_st_meta sample_meta[3] = {
    {"epoch", "17"},
    {"model", "{\"arch\": \"resnet18\", \"width\": 16, \"note\": \"caf\xc3\xa9\\n\"}"},
    {"lr", "0.0040000000000000009"},
};

static void test_round_trip(void **state) {
  (void)state;
  sample s;
  make_sample(&s);
  const char *p = tpath("rt.safetensors");
  md_errbuf eb = {{0}};
  assert_int_equal(md_safetensors_write(p, s.t, 5, sample_meta, 3, &eb), MD_OK);

  md_safetensors *st = NULL;
  if (md_safetensors_open(p, &st, &eb) != MD_OK) fail_msg("%s", eb.msg);
  assert_int_equal(md_safetensors_count(st), 5);
  for (size_t i = 0; i < 5; ++i) {
    md_st_tensor info;
    assert_int_equal(md_safetensors_info(st, i, &info), MD_OK);
    assert_string_equal(info.name, s.t[i].name);
    assert_int_equal(info.dtype, s.t[i].dtype);
    assert_int_equal(info.ndim, s.t[i].ndim);
    for (int d = 0; d < info.ndim; ++d) assert_int_equal(info.shape[d], s.t[i].shape[d]);
    assert_int_equal(md_safetensors_find(st, s.t[i].name), (long)i);
  }
  md_st_tensor info;
  assert_int_equal(md_safetensors_info(st, 5, &info), MD_ERR_RANGE);
  assert_int_equal(md_safetensors_find(st, "nope"), -1);
  assert_int_equal(md_safetensors_meta_count(st), 3);
  for (size_t i = 0; i < 3; ++i) {
    md_st_meta m;
    assert_int_equal(md_safetensors_meta_at(st, i, &m), MD_OK);
    assert_string_equal(m.key, sample_meta[i].key);
    assert_string_equal(m.value, sample_meta[i].value);
  }
  assert_string_equal(md_safetensors_meta_get(st, "model"), sample_meta[1].value);
  assert_null(md_safetensors_meta_get(st, "missing"));

  sample r;
  memset(&r, 0, sizeof r);
  make_sample(&r);
  memset(r.conv, 0, sizeof r.conv);
  memset(r.bias, 0, sizeof r.bias);
  r.nbt = 0;
  memset(r.rng, 0, sizeof r.rng);
  if (md_safetensors_load(st, r.t, 5, MD_ST_LOAD_STRICT, &eb) != MD_OK) fail_msg("%s", eb.msg);
  md_assert_floats_identical(r.conv, s.conv, 108);
  md_assert_floats_identical(r.bias, s.bias, 5);
  assert_int_equal(r.nbt, s.nbt);
  assert_memory_equal(r.rng, s.rng, sizeof r.rng);
  /* one tensor by index, with a wrong destination size */
  float b5[5];
  assert_int_equal(md_safetensors_read(st, 1, b5, sizeof b5, &eb), MD_OK);
  md_assert_floats_identical(b5, s.bias, 5);
  assert_int_equal(md_safetensors_read(st, 1, b5, 16, &eb), MD_ERR_SHAPE);
  assert_non_null(strstr(eb.msg, "linear.bias"));
  assert_int_equal(md_safetensors_read(st, 9, b5, 20, &eb), MD_ERR_RANGE);
  md_safetensors_close(st);
}

/* The layout the header documents: 8-byte aligned data section, 8-byte
 * dtypes first, offsets tiling the data, the whole file size accounted for. */
static void test_layout(void **state) {
  (void)state;
  sample s;
  make_sample(&s);
  const char *p = tpath("layout.safetensors");
  assert_int_equal(md_safetensors_write(p, s.t, 5, NULL, 0, NULL), MD_OK);
  FILE *f = fopen(p, "rb");
  assert_non_null(f);
  unsigned char b[4096];
  const size_t n = fread(b, 1, sizeof b, f);
  fclose(f);
  unsigned long long h = 0;
  for (int i = 0; i < 8; ++i) h |= (unsigned long long)b[i] << (8 * i);
  assert_int_equal((8 + h) % 8, 0);
  assert_int_equal(n, 8 + h + 8 + 64 + 108 * 4 + 5 * 4);
  char json[2048];
  assert_true(h < sizeof json);
  memcpy(json, b + 8, h);
  json[h] = '\0';
  /* integers, never exponents; I64 then U64 first, then the F32 tensors */
  assert_non_null(strstr(json, "\"bn1.num_batches_tracked\":{\"dtype\":\"I64\",\"shape\":[],"
                               "\"data_offsets\":[0,8]}"));
  assert_non_null(strstr(json, "\"rng.data_order\":{\"dtype\":\"U64\",\"shape\":[8],"
                               "\"data_offsets\":[8,72]}"));
  assert_non_null(strstr(json, "\"conv1.weight\":{\"dtype\":\"F32\",\"shape\":[4,3,3,3],"
                               "\"data_offsets\":[72,504]}"));
  assert_non_null(strstr(json, "\"empty\":{\"dtype\":\"F32\",\"shape\":[0,3],"
                               "\"data_offsets\":[524,524]}"));
  /* no caller metadata: only the checksums */
  assert_non_null(strstr(json, "\"__metadata__\":{\"" MD_ST_DIGEST_KEY "\":"));
  int64_t nbt;
  memcpy(&nbt, b + 8 + h, 8);
  assert_int_equal(nbt, s.nbt);
}

/* Checksums: a damaged data byte is found and named, nothing is loaded,
 * the checksum entry is not listed as metadata and cannot be written by a
 * caller; malformed or incomplete checksum entries are refused. */
static void test_checksums(void **state) {
  (void)state;
  sample s;
  make_sample(&s);
  const char *p = tpath("sums.safetensors");
  const md_st_meta meta[1] = {{"format", "maxdrop"}};
  assert_int_equal(md_safetensors_write(p, s.t, 5, meta, 1, NULL), MD_OK);
  md_safetensors *st = NULL;
  assert_int_equal(md_safetensors_open(p, &st, NULL), MD_OK);
  assert_int_equal(md_safetensors_meta_count(st), 1);
  assert_int_equal(md_safetensors_checked(st), 1);
  assert_int_equal(md_ckpt_require_checksums(st, p, NULL), MD_OK);
  assert_null(md_safetensors_meta_get(st, MD_ST_DIGEST_KEY));
  md_safetensors_close(st);

  /* Flip one bit of conv1.weight's element 5 (data bytes 72 + 20). */
  FILE *f = fopen(p, "r+b");
  assert_non_null(f);
  unsigned char pre[8];
  assert_int_equal(fread(pre, 1, 8, f), 8);
  unsigned long long h = 0;
  for (int i = 0; i < 8; ++i) h |= (unsigned long long)pre[i] << (8 * i);
  const long at = (long)(8 + h + 72 + 20);
  assert_int_equal(fseek(f, at, SEEK_SET), 0);
  const int c = fgetc(f);
  assert_int_equal(fseek(f, at, SEEK_SET), 0);
  fputc(c ^ 0x10, f);
  assert_int_equal(fclose(f), 0);

  float conv[108], bias[5];
  for (int i = 0; i < 108; ++i) conv[i] = -7.0f;
  for (int i = 0; i < 5; ++i) bias[i] = -7.0f;
  md_st_tensor table[2] = {s.t[0], s.t[1]};
  table[0].data = conv;
  table[1].data = bias;
  assert_string_equal(table[0].name, "conv1.weight");
  md_errbuf eb = {{0}};
  assert_int_equal(md_safetensors_load_file(p, table, 2, MD_ST_LOAD_IGNORE_UNEXPECTED, &eb),
                   MD_ERR_FORMAT);
  if (!strstr(eb.msg, "'conv1.weight'") || !strstr(eb.msg, "damaged"))
    fail_msg("message: %s", eb.msg);
  for (int i = 0; i < 108; ++i) assert_true(conv[i] == -7.0f);
  for (int i = 0; i < 5; ++i) assert_true(bias[i] == -7.0f);
  /* The other tensors still read. */
  assert_int_equal(md_safetensors_open(p, &st, NULL), MD_OK);
  const long ib = md_safetensors_find(st, s.t[1].name);
  assert_true(ib >= 0);
  assert_int_equal(md_safetensors_read(st, (size_t)ib, bias, sizeof bias, NULL), MD_OK);
  md_assert_floats_identical(bias, s.bias, 5);
  md_safetensors_close(st);

  /* Header damage: one byte of a metadata value ("maxdrop" -> "maxdrup"),
   * and the checksum entry's key renamed (the file then claims to be a
   * maxdrop checkpoint without checksums). */
  assert_int_equal(md_safetensors_write(p, s.t, 5, meta, 1, NULL), MD_OK);
  f = fopen(p, "r+b");
  assert_non_null(f);
  char hdr[4096];
  const size_t hn = fread(hdr, 1, sizeof hdr - 1, f);
  hdr[hn] = '\0';
  char *at_val = strstr(hdr + 8, "\"maxdrop\""); /* the JSON holds no NUL */
  assert_non_null(at_val);
  assert_int_equal(fseek(f, (long)(at_val - hdr) + 6, SEEK_SET), 0);
  fputc('u', f);
  assert_int_equal(fclose(f), 0);
  eb.msg[0] = '\0';
  st = (md_safetensors *)1;
  assert_int_equal(md_safetensors_open(p, &st, &eb), MD_ERR_FORMAT);
  if (!strstr(eb.msg, "the header") || !strstr(eb.msg, "damaged")) fail_msg("message: %s", eb.msg);

  assert_int_equal(md_safetensors_write(p, s.t, 5, meta, 1, NULL), MD_OK);
  f = fopen(p, "r+b");
  assert_non_null(f);
  hdr[fread(hdr, 1, sizeof hdr - 1, f)] = '\0';
  char *at_key = strstr(hdr + 8, MD_ST_DIGEST_KEY);
  assert_non_null(at_key);
  assert_int_equal(fseek(f, (long)(at_key - hdr) + 13, SEEK_SET), 0);
  fputc('7', f); /* maxdrop.sha256 -> maxdrop.sha257 */
  assert_int_equal(fclose(f), 0);
  assert_int_equal(md_safetensors_open(p, &st, NULL), MD_OK);
  assert_int_equal(md_safetensors_checked(st), 0);
  eb.msg[0] = '\0';
  assert_int_equal(md_ckpt_require_checksums(st, p, &eb), MD_ERR_FORMAT);
  if (!strstr(eb.msg, "carries no checksums")) fail_msg("message: %s", eb.msg);
  md_safetensors_close(st);

  /* A caller cannot write the checksum key. */
  const md_st_meta bad[1] = {{MD_ST_DIGEST_KEY, "{}"}};
  assert_int_equal(md_safetensors_write(tpath("x.safetensors"), s.t, 5, bad, 1, NULL),
                   MD_ERR_INVALID_ARGUMENT);

  /* Malformed or incomplete checksum entries. */
  expect_bad("{\"__metadata__\":{\"maxdrop.sha256\":\"[1]\"},"
             "\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}",
             2, "maxdrop.sha256", "not a JSON object");
  expect_bad("{\"__metadata__\":{\"maxdrop.sha256\":\"{\\\"b\\\":\\\"0123456789abcdef\\\"}\"},"
             "\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}",
             2, "'b'", "lacks");
  expect_bad("{\"__metadata__\":{\"maxdrop.sha256\":\"{\\\"a\\\":\\\"xyz\\\"}\"},"
             "\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}",
             2, "'a'", "malformed");
  expect_bad("{\"__metadata__\":{\"maxdrop.sha256\":\"{}\"},"
             "\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}",
             2, "'a'", "no checksum");
}

static void test_truncated_and_foreign(void **state) {
  (void)state;
  const char *p = tpath("short.safetensors");
  write_bytes(p, "", 0);
  expect_open_error(p, MD_ERR_FORMAT, "truncated", "0 bytes");
  write_bytes(p, "\x10\0\0\0\0", 5);
  expect_open_error(p, MD_ERR_FORMAT, "truncated", "5 bytes");
  /* header length beyond the file */
  write_st(p, 1000, "{}", 10);
  expect_open_error(p, MD_ERR_FORMAT, "header length 1000", "20-byte file");
  write_st(p, 0, "", 0);
  expect_open_error(p, MD_ERR_FORMAT, "too small", NULL);
  /* a valid file cut short: inside the header, then inside the last tensor */
  sample s;
  make_sample(&s);
  const char *good = tpath("good.safetensors");
  assert_int_equal(md_safetensors_write(good, s.t, 5, sample_meta, 3, NULL), MD_OK);
  FILE *f = fopen(good, "rb");
  assert_non_null(f);
  unsigned char b[4096];
  const size_t n = fread(b, 1, sizeof b, f);
  fclose(f);
  write_bytes(p, b, 40);
  expect_open_error(p, MD_ERR_FORMAT, "goes past the end", "40-byte file");
  write_bytes(p, b, n - 3);
  expect_open_error(p, MD_ERR_FORMAT, "'linear.bias'", "go past the end");
  /* one byte too many */
  unsigned char b2[4097];
  memcpy(b2, b, n);
  b2[n] = 0;
  write_bytes(p, b2, n + 1);
  expect_open_error(p, MD_ERR_FORMAT, "1 bytes after the last tensor", NULL);

  /* foreign files */
  const unsigned char png[16] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13,
                                 'I', 'H', 'D', 'R'};
  write_bytes(p, png, sizeof png);
  expect_open_error(p, MD_ERR_FORMAT, "PNG image", "not a safetensors file");
  const char *npy = tpath("x.npy");
  const int64_t dims[1] = {3};
  const float v[3] = {1, 2, 3};
  assert_int_equal(md_npy_write(npy, MD_NPY_F32, 1, dims, v, NULL), MD_OK);
  expect_open_error(npy, MD_ERR_FORMAT, "NumPy .npy", NULL);
  write_bytes(p, "PK\x03\x04\x14\0\x08\0\0\0archive/data.pkl", 26);
  expect_open_error(p, MD_ERR_FORMAT, "zip archive", NULL);
  write_bytes(p, "hello, world: plain text", 24);
  expect_open_error(p, MD_ERR_FORMAT, "goes past the end", NULL);
  expect_open_error(tpath("does-not-exist"), MD_ERR_IO, "does-not-exist", NULL);
  expect_open_error(dir, MD_ERR_IO, "not a regular file", NULL);
}

static void test_bad_headers(void **state) {
  (void)state;
  /* not JSON: the error position is a file byte offset */
  expect_bad("{\"w\": {\"dtype\": }}", 0, "not valid JSON", "file byte");
  expect_bad("[1, 2]", 0, "does not start with '{'", NULL);
  expect_bad("{}  x", 0, "unexpected byte after the JSON header at file byte 12", NULL);
  {
    const char *p = tpath("nul.safetensors");
    const unsigned char b[16] = {8, 0, 0, 0, 0, 0, 0, 0, '{', '"', 'a', '"', ':', 0, ' ', '}'};
    write_bytes(p, b, sizeof b);
    expect_open_error(p, MD_ERR_FORMAT, "NUL byte at file byte 13", NULL);
  }
  expect_bad("{\"w\": 3}", 0, "'w'", "not an object");
  expect_bad("{\"w\": {\"dtype\": \"F33\", \"shape\": [1], \"data_offsets\": [0, 4]}}", 4,
             "'w'", "unknown dtype 'F33'");
  expect_bad("{\"w\": {\"dtype\": 4, \"shape\": [1], \"data_offsets\": [0, 4]}}", 4, "'w'",
             "dtype is not a string");
  expect_bad("{\"w\": {\"dtype\": \"F32\", \"data_offsets\": [0, 4]}}", 4, "'w'",
             "missing field 'shape'");
  expect_bad("{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4], \"x\": 1}}",
             4, "'w'", "unknown field 'x'");
  expect_bad("{\"w\": {\"dtype\": \"F32\", \"shape\": [-1], \"data_offsets\": [0, 4]}}", 4,
             "'w'", "dimension 0");
  expect_bad("{\"w\": {\"dtype\": \"F32\", \"shape\": [1, 2.5], \"data_offsets\": [0, 4]}}", 4,
             "'w'", "dimension 1");
  expect_bad("{\"w\": {\"dtype\": \"F32\", \"shape\": 1, \"data_offsets\": [0, 4]}}", 4, "'w'",
             "shape is not a list");
  expect_bad("{\"w\": {\"dtype\": \"F32\", \"shape\": [1,1,1,1,1,1,1,1,1], "
             "\"data_offsets\": [0, 4]}}", 4, "'w'", "9 dimensions");
  expect_bad("{\"w\": {\"dtype\": \"F32\", \"shape\": [4294967296, 4294967296, 4294967296], "
             "\"data_offsets\": [0, 4]}}", 4, "'w'", "too large");
  expect_bad("{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4.5]}}", 4,
             "'w'", "data_offsets is not a pair");
  expect_bad("{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0]}}", 4, "'w'",
             "data_offsets is not a pair");
  expect_bad("{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [8, 4]}}", 8, "'w'",
             "end before they begin");
  /* size != numel * itemsize */
  expect_bad("{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 4]}}", 4, "'w'",
             "hold 4 bytes but F32 [2] needs 8");
  /* offsets beyond the data section */
  expect_bad("{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}}", 4, "'w'",
             "go past the end of the 4-byte data section");
  /* overlapping tensors */
  expect_bad("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]},"
             " \"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [4, 12]}}", 12,
             "tensors 'a' [0, 8) and 'b' [4, 12) overlap", NULL);
  /* a gap between tensors: named by data-section and file byte offsets */
  {
    const char *json = "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]},"
                       " \"b\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [8, 12]}}";
    char want[128];
    const size_t d0 = 8 + strlen(json);
    snprintf(want, sizeof want, "data-section bytes [4, 8) (file bytes %zu to %zu)", d0 + 4,
             d0 + 7);
    expect_bad(json, 12, want, "gap before tensor 'b'");
  }
  /* bytes after the last tensor */
  expect_bad("{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}", 6,
             "2 bytes after the last tensor", NULL);
  /* no tensor at all but data */
  expect_bad("{}", 3, "3 bytes after the last tensor", NULL);
  /* duplicates */
  expect_bad("{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]},"
             " \"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}", 8,
             "tensor 'a' appears twice", NULL);
  expect_bad("{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"shape\": [1], "
             "\"data_offsets\": [0, 4]}}", 4, "'w'", "field 'shape' appears twice");
  /* metadata */
  expect_bad("{\"__metadata__\": {\"epoch\": 3}}", 0, "metadata 'epoch' is not a string", NULL);
  expect_bad("{\"__metadata__\": [\"epoch\"]}", 0, "'__metadata__' is not an object", NULL);
  expect_bad("{\"__metadata__\": {\"a\": \"1\", \"a\": \"2\"}}", 0,
             "metadata key 'a' appears twice", NULL);
  expect_bad("{\"__metadata__\": {}, \"__metadata__\": {}}", 0, "'__metadata__' appears twice",
             NULL);

  /* well-formed corner cases are accepted: padding, no tensors, a scalar,
   * zero-size tensors, every dtype, any key order */
  const char *p = tpath("ok.safetensors");
  write_st(p, -1, "{\"__metadata__\": {\"k\": \"v\"}}     ", 0);
  md_safetensors *st = NULL;
  md_errbuf eb;
  if (md_safetensors_open(p, &st, &eb) != MD_OK) fail_msg("%s", eb.msg);
  assert_int_equal(md_safetensors_count(st), 0);
  assert_string_equal(md_safetensors_meta_get(st, "k"), "v");
  md_safetensors_close(st);
  write_st(p, -1, "{\"z\": {\"data_offsets\": [2, 3], \"shape\": [], \"dtype\": \"BOOL\"},"
                  " \"e\": {\"dtype\": \"F64\", \"shape\": [0], \"data_offsets\": [2, 2]},"
                  " \"h\": {\"dtype\": \"BF16\", \"shape\": [1, 1], \"data_offsets\": [0, 2]}}", 3);
  if (md_safetensors_open(p, &st, &eb) != MD_OK) fail_msg("%s", eb.msg);
  assert_int_equal(md_safetensors_count(st), 3);
  md_st_tensor info;
  assert_int_equal(md_safetensors_info(st, 0, &info), MD_OK);
  assert_string_equal(info.name, "z");
  assert_int_equal(info.dtype, MD_ST_BOOL);
  assert_int_equal(info.ndim, 0);
  md_safetensors_close(st);
}

static void test_load_into_table(void **state) {
  (void)state;
  sample s;
  make_sample(&s);
  const char *p = tpath("table.safetensors");
  assert_int_equal(md_safetensors_write(p, s.t, 5, sample_meta, 3, NULL), MD_OK);
  md_errbuf eb;
  sample r;
  make_sample(&r);
  for (int i = 0; i < 108; ++i) r.conv[i] = 42.0f;

  /* a tensor the file lacks */
  md_st_tensor t6[6];
  memcpy(t6, r.t, sizeof r.t);
  float extra[2] = {7, 7};
  t6[5] = (md_st_tensor){"linear.weight", MD_ST_F32, 2, {1, 2}, extra};
  assert_int_equal(md_safetensors_load_file(p, t6, 6, MD_ST_LOAD_STRICT, &eb), MD_ERR_FORMAT);
  assert_non_null(strstr(eb.msg, "missing tensor 'linear.weight' (F32 [1, 2])"));
  assert_true(r.conv[0] == 42.0f); /* nothing copied */
  assert_int_equal(md_safetensors_load_file(p, t6, 6, MD_ST_LOAD_ALLOW_MISSING, &eb), MD_OK);
  assert_true(extra[0] == 7.0f && extra[1] == 7.0f);
  md_assert_floats_identical(r.conv, s.conv, 108);

  /* a tensor the table lacks */
  for (int i = 0; i < 108; ++i) r.conv[i] = 42.0f;
  assert_int_equal(md_safetensors_load_file(p, r.t, 4, MD_ST_LOAD_STRICT, &eb), MD_ERR_FORMAT);
  assert_non_null(strstr(eb.msg, "unexpected tensor 'empty'"));
  assert_true(r.conv[0] == 42.0f);
  assert_int_equal(md_safetensors_load_file(p, r.t + 1, 3, MD_ST_LOAD_STRICT, &eb),
                   MD_ERR_FORMAT);
  assert_non_null(strstr(eb.msg, "unexpected tensor 'conv1.weight' and others"));
  assert_int_equal(md_safetensors_load_file(p, r.t, 4, MD_ST_LOAD_IGNORE_UNEXPECTED, &eb), MD_OK);
  md_assert_floats_identical(r.conv, s.conv, 108);

  /* shape and dtype mismatches name the tensor and both shapes */
  md_st_tensor t5[5];
  memcpy(t5, r.t, sizeof r.t);
  for (int i = 0; i < 108; ++i) r.conv[i] = 42.0f;
  t5[0].shape[0] = 2;
  t5[0].shape[1] = 6;
  assert_int_equal(md_safetensors_load_file(p, t5, 5, MD_ST_LOAD_STRICT, &eb), MD_ERR_SHAPE);
  assert_non_null(strstr(eb.msg, "'conv1.weight' is F32 [4, 3, 3, 3] in the file but F32 "
                                 "[2, 6, 3, 3] is expected"));
  assert_true(r.conv[0] == 42.0f);
  memcpy(t5, r.t, sizeof r.t);
  t5[2].dtype = MD_ST_F32;
  assert_int_equal(md_safetensors_load_file(p, t5, 5, MD_ST_LOAD_STRICT, &eb), MD_ERR_SHAPE);
  assert_non_null(strstr(eb.msg, "'bn1.num_batches_tracked' is I64 [] in the file but F32 []"));
  memcpy(t5, r.t, sizeof r.t);
  t5[1].ndim = 2;
  t5[1].shape[1] = 1;
  assert_int_equal(md_safetensors_load_file(p, t5, 5, MD_ST_LOAD_STRICT, &eb), MD_ERR_SHAPE);
  assert_non_null(strstr(eb.msg, "'linear.bias' is F32 [5] in the file but F32 [5, 1]"));

  /* a bad table */
  memcpy(t5, r.t, sizeof r.t);
  t5[3].name = "conv1.weight";
  assert_int_equal(md_safetensors_load_file(p, t5, 5, MD_ST_LOAD_STRICT, &eb),
                   MD_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(eb.msg, "'conv1.weight' appears twice"));
  memcpy(t5, r.t, sizeof r.t);
  t5[0].data = NULL;
  assert_int_equal(md_safetensors_load_file(p, t5, 5, MD_ST_LOAD_STRICT, &eb),
                   MD_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(eb.msg, "'conv1.weight' has no data pointer"));
}

static void test_write_arguments(void **state) {
  (void)state;
  sample s;
  make_sample(&s);
  const char *p = tpath("args.safetensors");
  md_errbuf eb;
  md_st_tensor t[5];
  memcpy(t, s.t, sizeof t);
  t[1].name = "conv1.weight";
  assert_int_equal(md_safetensors_write(p, t, 5, NULL, 0, &eb), MD_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(eb.msg, "'conv1.weight' appears twice"));
  memcpy(t, s.t, sizeof t);
  t[2].name = "__metadata__";
  assert_int_equal(md_safetensors_write(p, t, 5, NULL, 0, &eb), MD_ERR_INVALID_ARGUMENT);
  memcpy(t, s.t, sizeof t);
  t[0].name = "";
  assert_int_equal(md_safetensors_write(p, t, 5, NULL, 0, &eb), MD_ERR_INVALID_ARGUMENT);
  memcpy(t, s.t, sizeof t);
  t[0].ndim = MD_ST_MAX_DIMS + 1;
  assert_int_equal(md_safetensors_write(p, t, 5, NULL, 0, &eb), MD_ERR_INVALID_ARGUMENT);
  memcpy(t, s.t, sizeof t);
  t[0].shape[2] = -3;
  assert_int_equal(md_safetensors_write(p, t, 5, NULL, 0, &eb), MD_ERR_INVALID_ARGUMENT);
  memcpy(t, s.t, sizeof t);
  t[0].dtype = MD_ST_N_DTYPES;
  assert_int_equal(md_safetensors_write(p, t, 5, NULL, 0, &eb), MD_ERR_INVALID_ARGUMENT);
  memcpy(t, s.t, sizeof t);
  t[0].data = NULL;
  assert_int_equal(md_safetensors_write(p, t, 5, NULL, 0, &eb), MD_ERR_INVALID_ARGUMENT);
  t[4].data = NULL; /* a zero-size tensor needs no data */
  assert_int_equal(md_safetensors_write(p, t + 1, 4, NULL, 0, &eb), MD_OK);
  const md_st_meta dup[2] = {{"a", "1"}, {"a", "2"}};
  assert_int_equal(md_safetensors_write(p, s.t, 5, dup, 2, &eb), MD_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(eb.msg, "'a' appears twice"));
  const md_st_meta nul[1] = {{"a", NULL}};
  assert_int_equal(md_safetensors_write(p, s.t, 5, nul, 1, &eb), MD_ERR_INVALID_ARGUMENT);
  assert_true(access(p, F_OK) == 0);
}

static int count_temp_files(void) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  int n = 0;
  for (struct dirent *e; (e = readdir(d));)
    if (strstr(e->d_name, ".tmp")) ++n;
  closedir(d);
  return n;
}

/* A write that fails leaves the earlier checkpoint whole and no temporary
 * file behind. The failures: a folder that does not exist, and a file-size
 * limit hit in the middle of the data (works as root too). */
static void test_atomic_failure(void **state) {
  (void)state;
  sample s;
  make_sample(&s);
  const char *p = tpath("keep.safetensors");
  assert_int_equal(md_safetensors_write(p, s.t, 5, sample_meta, 3, NULL), MD_OK);
  md_errbuf eb;
  assert_int_equal(md_safetensors_write(tpath("no/such/dir/x.safetensors"), s.t, 5, NULL, 0, &eb),
                   MD_ERR_IO);
  assert_non_null(strstr(eb.msg, "no/such/dir/x.safetensors"));

  static float big[1 << 16];
  md_fill_uniform(big, 1 << 16, -1, 1, 3);
  const md_st_tensor bt[1] = {{"conv1.weight", MD_ST_F32, 1, {1 << 16}, big}};
  struct rlimit old, lim;
  assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
  void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
  lim = old;
  lim.rlim_cur = 8192;
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
  const md_status rc = md_safetensors_write(p, bt, 1, NULL, 0, &eb);
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
  signal(SIGXFSZ, prev);
  assert_int_equal(rc, MD_ERR_IO);
  assert_non_null(strstr(eb.msg, "unchanged"));
  assert_int_equal(count_temp_files(), 0);

  sample r;
  make_sample(&r);
  memset(r.conv, 0, sizeof r.conv);
  md_safetensors *st = NULL;
  if (md_safetensors_open(p, &st, &eb) != MD_OK) fail_msg("%s", eb.msg);
  assert_string_equal(md_safetensors_meta_get(st, "epoch"), "17");
  assert_int_equal(md_safetensors_load(st, r.t, 5, MD_ST_LOAD_STRICT, &eb), MD_OK);
  md_safetensors_close(st);
  md_assert_floats_identical(r.conv, s.conv, 108);
}

static void test_rng_state(void **state) {
  (void)state;
  md_rng a;
  md_rng_init(&a, 77, MD_STREAM_AUGMENT);
  for (int i = 0; i < 5; ++i) (void)md_rng_u64(&a);
  uint64_t w[MD_CKPT_RNG_WORDS];
  md_ckpt_rng_pack(&a, w);
  /* through a file, as a U64 vector */
  const char *p = tpath("rng.safetensors");
  const md_st_tensor t[1] = {{MD_CKPT_RNG_PREFIX "augment", MD_ST_U64, 1, {MD_CKPT_RNG_WORDS}, w}};
  assert_int_equal(md_safetensors_write(p, t, 1, NULL, 0, NULL), MD_OK);
  uint64_t w2[MD_CKPT_RNG_WORDS] = {0};
  const md_st_tensor t2[1] = {{MD_CKPT_RNG_PREFIX "augment", MD_ST_U64, 1, {MD_CKPT_RNG_WORDS},
                               w2}};
  assert_int_equal(md_safetensors_load_file(p, t2, 1, MD_ST_LOAD_STRICT, NULL), MD_OK);
  md_rng b;
  md_errbuf eb;
  assert_int_equal(md_ckpt_rng_unpack(w2, &b, &eb), MD_OK);
  for (int i = 0; i < 20; ++i) assert_int_equal(md_rng_u64(&b), md_rng_u64(&a));
  /* inconsistent states */
  md_ckpt_rng_pack(&a, w);
  w[3] = 5;
  assert_int_equal(md_ckpt_rng_unpack(w, &b, &eb), MD_ERR_FORMAT);
  md_ckpt_rng_pack(&a, w);
  if (w[3] == 4) { /* make a partly read block */
    (void)md_rng_u64(&a);
    md_ckpt_rng_pack(&a, w);
  }
  w[5] ^= 1;
  assert_int_equal(md_ckpt_rng_unpack(w, &b, &eb), MD_ERR_FORMAT);
  assert_non_null(strstr(eb.msg, "not block"));
}

static void test_metadata_numbers(void **state) {
  (void)state;
  const double vals[6] = {0.1 * 0.2, 0.1, 5e-4, 1e-300, 123456789.0, -0.0};
  char buf[32];
  for (int i = 0; i < 6; ++i) {
    double back;
    assert_int_equal(md_ckpt_parse_double("lr", md_ckpt_format_double(buf, sizeof buf, vals[i]),
                                          &back, NULL), MD_OK);
    assert_memory_equal(&back, &vals[i], sizeof back);
  }
  assert_string_equal(md_ckpt_format_double(buf, sizeof buf, 0.1), "0.1");
  assert_string_equal(md_ckpt_format_int(buf, sizeof buf, INT64_MIN), "-9223372036854775808");
  int64_t k;
  md_errbuf eb;
  assert_int_equal(md_ckpt_parse_int("epoch", "-9223372036854775808", &k, &eb), MD_OK);
  assert_true(k == INT64_MIN);
  assert_int_equal(md_ckpt_parse_int("epoch", "12x", &k, &eb), MD_ERR_FORMAT);
  assert_non_null(strstr(eb.msg, "'epoch'"));
  assert_int_equal(md_ckpt_parse_int("epoch", " 12", &k, &eb), MD_ERR_FORMAT);
  assert_int_equal(md_ckpt_parse_int("epoch", "", &k, &eb), MD_ERR_FORMAT);
  assert_int_equal(md_ckpt_parse_int("epoch", "99999999999999999999", &k, &eb), MD_ERR_FORMAT);
  double d;
  assert_int_equal(md_ckpt_parse_double("lr", "0.1 ", &d, &eb), MD_ERR_FORMAT);
  assert_int_equal(md_ckpt_parse_double("lr", "abc", &d, &eb), MD_ERR_FORMAT);
}

static void test_dtype_names(void **state) {
  (void)state;
  assert_string_equal(md_st_dtype_name(MD_ST_F32), "F32");
  assert_string_equal(md_st_dtype_name(MD_ST_F8_E5M2), "F8_E5M2");
  assert_string_equal(md_st_dtype_name(MD_ST_N_DTYPES), "?");
  assert_int_equal(md_st_dtype_size(MD_ST_I64), 8);
  assert_int_equal(md_st_dtype_size(MD_ST_BF16), 2);
  assert_int_equal(md_st_dtype_size(MD_ST_N_DTYPES), 0);
  const md_st_tensor t = {"x", MD_ST_F32, 0, {0}, NULL};
  assert_int_equal(md_st_numel(&t), 1);
}

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "%s", md_test_tmpdir());
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_layout),
      cmocka_unit_test(test_checksums),
      cmocka_unit_test(test_truncated_and_foreign),
      cmocka_unit_test(test_bad_headers),
      cmocka_unit_test(test_load_into_table),
      cmocka_unit_test(test_write_arguments),
      cmocka_unit_test(test_atomic_failure),
      cmocka_unit_test(test_rng_state),
      cmocka_unit_test(test_metadata_numbers),
      cmocka_unit_test(test_dtype_names),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
