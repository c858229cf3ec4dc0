/* CIFAR archives, the npm sprites of CIFAR-10 and the official checksums
 * (see maxdrop/cifar_fetch.h). */
#include "maxdrop/cifar_fetch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cJSON.h>
#include <stb_image.h>

#include "core/errbuf.h"
#include "maxdrop/atomic_file.h"
#include "maxdrop/digest.h"

static const md_cifar_archive archives[2] = {
    {10, "cifar-10-binary.tar.gz", "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
     "c32a1d4ab5d03f1284b67883e8d87530", "cifar-10-batches-bin"},
    {100, "cifar-100-binary.tar.gz",
     "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",
     "03b5dce01913d631647c71ecec9e9cb8", "cifar-100-binary"},
};

const md_cifar_archive *md_cifar_archive_info(int classes) {
  for (int i = 0; i < 2; ++i)
    if (archives[i].classes == classes) return &archives[i];
  return NULL;
}

/* The official CIFAR-10 binary files and their SHA-256 sums. */
static const char *const file_names[MD_CIFAR10_NUM_FILES] = {
    "data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
    "data_batch_5.bin", "test_batch.bin",   "batches.meta.txt"};
static const char *const file_sha256[MD_CIFAR10_NUM_FILES] = {
    "cee916563c9f80d84e3cc88e17fdc0941787f1244f00a67874d45b261883ada5",
    "a591ca11fa1708a91ee40f54b3da4784ccd871ecf2137de63f51ada8b3fa57ed",
    "bbe8596564c0f86427f876058170b84dac6670ddf06d79402899d93ceea26f67",
    "014e562d6e23c72197cc727519169a60359f5eccd8945ad5a09d710285ff4e48",
    "755304fc0b379caeae8c14f0dac912fbc7d6cd469eb67a1029a08a39453a9add",
    "8e2eb146ae340b09e24670f29cabc6326dba54da8789dab6768acf480273f65b",
    "2ce042b1e0b48db4bb214408e6414ba18b2731c24af244f2d6c112fddf31af00"};
static const char class_names[] =
    "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n";

const char *md_cifar10_file_name(int i) {
  return (i >= 0 && i < MD_CIFAR10_NUM_FILES) ? file_names[i] : NULL;
}

const char *md_cifar10_expected_sha256(int i) {
  return (i >= 0 && i < MD_CIFAR10_NUM_FILES) ? file_sha256[i] : NULL;
}

enum { SIDE = 32, PIXELS = SIDE * SIDE, RECORD = 1 + 3 * PIXELS, NUM_CLASSES = 10 };

md_status md_cifar10_sprite_to_records(const char *png_path, const int32_t *labels,
                                       int64_t nlabels, const char *out_path,
                                       int64_t *records, md_errbuf *eb) {
  if (records) *records = 0;
  if (!png_path || !out_path || (!labels && nlabels > 0))
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "missing sprite path, output path or labels");
  FILE *f = fopen(png_path, "rb");
  if (!f) return md_fail(eb, MD_ERR_IO, "cannot open %s: %s", png_path, strerror(errno));
  int w = 0, h = 0, comp = 0;
  stbi_uc *pix = stbi_load_from_file(f, &w, &h, &comp, 3);
  fclose(f);
  if (!pix) {
    const char *why = stbi_failure_reason();
    return md_fail(eb, MD_ERR_FORMAT, "cannot decode the image %s: %s", png_path,
                   why ? why : "unknown reason");
  }
  md_status st = MD_OK;
  md_atomic_file af;
  if (w != PIXELS) {
    st = md_fail(eb, MD_ERR_FORMAT, "%s is %d pixels wide; a CIFAR sprite has one 32 x 32 "
                 "image (%d pixels) per row", png_path, w, PIXELS);
    goto done;
  }
  if (h > nlabels) {
    st = md_fail(eb, MD_ERR_FORMAT, "%s has %d images but only %lld labels are left for it",
                 png_path, h, (long long)nlabels);
    goto done;
  }
  for (int r = 0; r < h; ++r)
    if (labels[r] < 0 || labels[r] >= NUM_CLASSES) {
      st = md_fail(eb, MD_ERR_RANGE, "label %d of image %d of %s is outside 0..%d", labels[r],
                   r, png_path, NUM_CLASSES - 1);
      goto done;
    }
  st = md_atomic_open(&af, out_path, eb);
  if (st != MD_OK) goto done;
  uint8_t rec[RECORD];
  for (int r = 0; r < h; ++r) {
    const stbi_uc *row = pix + (size_t)r * PIXELS * 3; /* RGB interleaved */
    rec[0] = (uint8_t)labels[r];
    for (int p = 0; p < PIXELS; ++p)
      for (int c = 0; c < 3; ++c) rec[1 + c * PIXELS + p] = row[3 * p + c];
    if (fwrite(rec, 1, RECORD, af.f) != RECORD) {
      const int e = errno;
      md_atomic_abort(&af);
      st = md_fail(eb, MD_ERR_IO, "cannot write %s: %s", out_path, strerror(e));
      goto done;
    }
  }
  st = md_atomic_commit(&af, eb);
  if (st == MD_OK && records) *records = h;
done:
  stbi_image_free(pix);
  return st;
}

/* Reads a JSON array of integers into a new int32 array. */
static md_status read_labels(const char *path, int32_t **out, int64_t *n, md_errbuf *eb) {
  *out = NULL;
  *n = 0;
  FILE *f = fopen(path, "rb");
  if (!f) return md_fail(eb, MD_ERR_IO, "cannot open %s: %s", path, strerror(errno));
  struct stat sb;
  if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size > (64 << 20)) {
    fclose(f);
    return md_fail(eb, MD_ERR_FORMAT, "%s is not a label file of a plausible size", path);
  }
  const size_t size = (size_t)sb.st_size;
  char *text = malloc(size + 1);
  if (!text) {
    fclose(f);
    return md_fail(eb, MD_ERR_OUT_OF_MEMORY, "out of memory reading %s", path);
  }
  const size_t got = fread(text, 1, size, f);
  fclose(f);
  if (got != size) {
    free(text);
    return md_fail(eb, MD_ERR_IO, "cannot read %s", path);
  }
  text[size] = '\0';
  cJSON *json = cJSON_Parse(text);
  free(text);
  if (!json || !cJSON_IsArray(json)) {
    cJSON_Delete(json);
    return md_fail(eb, MD_ERR_FORMAT, "%s is not a JSON array of labels", path);
  }
  const int count = cJSON_GetArraySize(json);
  int32_t *lab = malloc((size_t)(count > 0 ? count : 1) * sizeof *lab);
  if (!lab) {
    cJSON_Delete(json);
    return md_fail(eb, MD_ERR_OUT_OF_MEMORY, "out of memory reading %s", path);
  }
  int i = 0;
  const cJSON *item;
  cJSON_ArrayForEach(item, json) {
    const double v = cJSON_IsNumber(item) ? item->valuedouble : -1.0;
    if (!(v >= 0.0 && v < NUM_CLASSES) || v != (double)(int)v) {
      free(lab);
      cJSON_Delete(json);
      return md_fail(eb, MD_ERR_FORMAT, "%s: entry %d is not a label 0..%d", path, i,
                     NUM_CLASSES - 1);
    }
    lab[i++] = (int32_t)v;
  }
  cJSON_Delete(json);
  *out = lab;
  *n = count;
  return MD_OK;
}

static md_status join(char *buf, size_t cap, const char *dir, const char *name,
                      md_errbuf *eb) {
  const int len = snprintf(buf, cap, "%s/%s", dir, name);
  if (len < 0 || (size_t)len >= cap)
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "path too long: %s/%s", dir, name);
  return MD_OK;
}

/* Converts the sprites `pngs` (count of them) with `labels` (n) into `bins`. */
static md_status convert_set(const char *package_dir, const char *out_dir,
                             const char *const *pngs, const char *const *bins, int count,
                             const int32_t *labels, int64_t n, md_errbuf *eb) {
  char src[4096], dst[4096];
  int64_t used = 0;
  for (int i = 0; i < count; ++i) {
    md_status st = join(src, sizeof src, package_dir, pngs[i], eb);
    if (st == MD_OK) st = join(dst, sizeof dst, out_dir, bins[i], eb);
    int64_t rows = 0;
    if (st == MD_OK)
      st = md_cifar10_sprite_to_records(src, labels + used, n - used, dst, &rows, eb);
    if (st != MD_OK) return st;
    used += rows;
  }
  if (used != n)
    return md_fail(eb, MD_ERR_FORMAT, "the sprites in %s hold %lld images but their label "
                   "file has %lld labels", package_dir, (long long)used, (long long)n);
  return MD_OK;
}

md_status md_cifar10_from_npm(const char *package_dir, const char *out_dir, md_errbuf *eb) {
  if (!package_dir || !out_dir)
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "missing package or output folder");
  if (mkdir(out_dir, 0755) != 0 && errno != EEXIST)
    return md_fail(eb, MD_ERR_IO, "cannot create %s: %s", out_dir, strerror(errno));
  static const char *const train_png[5] = {"data_batch_1.png", "data_batch_2.png",
                                           "data_batch_3.png", "data_batch_4.png",
                                           "data_batch_5.png"};
  static const char *const test_png[1] = {"test_batch.png"};
  char path[4096];
  int32_t *labels = NULL;
  int64_t n = 0;
  md_status st = join(path, sizeof path, package_dir, "train_lables.json", eb);
  if (st == MD_OK) st = read_labels(path, &labels, &n, eb);
  if (st == MD_OK) st = convert_set(package_dir, out_dir, train_png, file_names, 5, labels, n, eb);
  free(labels);
  labels = NULL;
  if (st != MD_OK) return st;
  st = join(path, sizeof path, package_dir, "test_lables.json", eb);
  if (st == MD_OK) st = read_labels(path, &labels, &n, eb);
  if (st == MD_OK) st = convert_set(package_dir, out_dir, test_png, file_names + 5, 1, labels, n, eb);
  free(labels);
  if (st != MD_OK) return st;

  st = join(path, sizeof path, out_dir, file_names[6], eb);
  if (st != MD_OK) return st;
  md_atomic_file af;
  st = md_atomic_open(&af, path, eb);
  if (st != MD_OK) return st;
  if (fwrite(class_names, 1, sizeof class_names - 1, af.f) != sizeof class_names - 1) {
    const int e = errno;
    md_atomic_abort(&af);
    return md_fail(eb, MD_ERR_IO, "cannot write %s: %s", path, strerror(e));
  }
  return md_atomic_commit(&af, eb);
}

md_status md_cifar10_verify(const char *dir, int with_meta, md_errbuf *eb) {
  if (!dir) return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "no folder to verify");
  char report[sizeof eb->msg];
  size_t len = 0;
  report[0] = '\0';
  md_status worst = MD_OK;
  const int count = with_meta ? MD_CIFAR10_NUM_FILES : MD_CIFAR10_NUM_FILES - 1;
  for (int i = 0; i < count; ++i) {
    char path[4096], hex[MD_SHA256_HEX_LEN + 1];
    md_errbuf fe;
    fe.msg[0] = '\0';
    md_status st = join(path, sizeof path, dir, file_names[i], &fe);
    if (st == MD_OK) st = md_sha256_file(path, hex, &fe);
    if (st == MD_OK && strcmp(hex, file_sha256[i]) != 0) {
      st = MD_ERR_FORMAT;
      snprintf(fe.msg, sizeof fe.msg, "%s has SHA-256 %.16s..., not the official %.16s...",
               file_names[i], hex, file_sha256[i]);
    }
    if (st == MD_OK) continue;
    if (worst == MD_OK || st == MD_ERR_IO) worst = st;
    const int w = snprintf(report + len, sizeof report - len, "%s%s", len ? "; " : "", fe.msg);
    if (w > 0) len += (size_t)w < sizeof report - len ? (size_t)w : sizeof report - len - 1;
  }
  if (worst != MD_OK) return md_fail(eb, worst, "%s: %s", dir, report);
  return MD_OK;
}
