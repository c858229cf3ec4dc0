/* CIFAR-10 / CIFAR-100 binary readers: size and kind validation, whole-file
 * and whole-split loading, single-record access, class names, data search. */
#include "maxdrop/cifar.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "core/errbuf.h"

enum { CHUNK_RECORDS = 256 };

const char *md_cifar_kind_name(md_cifar_kind kind) {
  switch (kind) {
    case MD_CIFAR_10: return "CIFAR-10";
    case MD_CIFAR_100: return "CIFAR-100";
    default: return "CIFAR (auto)";
  }
}

static int64_t record_bytes(md_cifar_kind kind) {
  return kind == MD_CIFAR_100 ? MD_CIFAR100_RECORD_BYTES : MD_CIFAR10_RECORD_BYTES;
}

static int classes_of(md_cifar_kind kind) { return kind == MD_CIFAR_100 ? 100 : 10; }

static md_cifar_kind other_kind(md_cifar_kind kind) {
  return kind == MD_CIFAR_100 ? MD_CIFAR_10 : MD_CIFAR_100;
}

static int valid_kind(md_cifar_kind kind) {
  return kind == MD_CIFAR_AUTO || kind == MD_CIFAR_10 || kind == MD_CIFAR_100;
}

/* Checks the labels of one record; 0 when valid. Writes the offending label
 * and its name ("label", "coarse label") when not. */
static int record_labels_bad(const uint8_t *rec, md_cifar_kind kind, int *bad,
                             const char **what) {
  if (kind == MD_CIFAR_10) {
    if (rec[0] >= 10) {
      *bad = rec[0];
      *what = "label";
      return 1;
    }
    return 0;
  }
  if (rec[0] >= MD_CIFAR100_COARSE_CLASSES) {
    *bad = rec[0];
    *what = "coarse label";
    return 1;
  }
  if (rec[1] >= 100) {
    *bad = rec[1];
    *what = "fine label";
    return 1;
  }
  return 0;
}

static md_status label_error(md_errbuf *eb, const char *path, int64_t size,
                             md_cifar_kind kind, int64_t rec_index, int bad,
                             const char *what) {
  const int hi = strcmp(what, "coarse label") == 0 ? MD_CIFAR100_COARSE_CLASSES - 1
                                                   : classes_of(kind) - 1;
  return md_fail(eb, MD_ERR_RANGE,
                 "%s (%lld bytes, %lld %s records): record %lld (byte offset %lld) has %s "
                 "%d; %s %ss are 0..%d",
                 path, (long long)size, (long long)(size / record_bytes(kind)),
                 md_cifar_kind_name(kind), (long long)rec_index,
                 (long long)(rec_index * record_bytes(kind)), what, bad,
                 md_cifar_kind_name(kind), what, hi);
}

/* Reads records [0, n) of an open file as `kind` into the optional outputs
 * (each may be NULL) and validates every label. */
static md_status read_records(FILE *f, const char *path, int64_t size, md_cifar_kind kind,
                              int64_t n, uint8_t *images, uint8_t *labels, uint8_t *coarse,
                              md_errbuf *eb) {
  const int64_t rb = record_bytes(kind);
  uint8_t *buf = malloc((size_t)(CHUNK_RECORDS * rb));
  if (!buf) return md_fail(eb, MD_ERR_OUT_OF_MEMORY, "out of memory reading %s", path);
  if (fseeko(f, 0, SEEK_SET) != 0) {
    free(buf);
    return md_fail(eb, MD_ERR_IO, "cannot seek in %s: %s", path, strerror(errno));
  }
  md_status st = MD_OK;
  for (int64_t first = 0; first < n && st == MD_OK; first += CHUNK_RECORDS) {
    const int64_t cnt = n - first < CHUNK_RECORDS ? n - first : CHUNK_RECORDS;
    const size_t want = (size_t)(cnt * rb);
    const size_t got = fread(buf, 1, want, f);
    if (got != want) {
      st = md_fail(eb, MD_ERR_IO, "%s (%lld bytes): read stopped at byte %lld: %s", path,
                   (long long)size, (long long)(first * rb + (int64_t)got),
                   ferror(f) ? strerror(errno) : "unexpected end of file (file changed?)");
      break;
    }
    for (int64_t r = 0; r < cnt; ++r) {
      const uint8_t *rec = buf + r * rb;
      int bad = 0;
      const char *what = "";
      if (record_labels_bad(rec, kind, &bad, &what)) {
        st = label_error(eb, path, size, kind, first + r, bad, what);
        break;
      }
      const int64_t i = first + r;
      if (kind == MD_CIFAR_10) {
        if (labels) labels[i] = rec[0];
      } else {
        if (coarse) coarse[i] = rec[0];
        if (labels) labels[i] = rec[1];
      }
      if (images)
        memcpy(images + i * MD_CIFAR_IMAGE_BYTES, rec + (rb - MD_CIFAR_IMAGE_BYTES),
               MD_CIFAR_IMAGE_BYTES);
    }
  }
  free(buf);
  return st;
}

/* An open, size-checked file whose kind is decided. */
typedef struct probed {
  FILE *f;
  int64_t size;
  int64_t n;
  md_cifar_kind kind;
} probed;

static md_status open_probe(const char *path, md_cifar_kind want, probed *p, md_errbuf *eb) {
  memset(p, 0, sizeof *p);
  if (!path || !*path) return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "empty CIFAR file path");
  if (!valid_kind(want))
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "unknown CIFAR kind %d for %s", (int)want,
                   path);
  FILE *f = fopen(path, "rb");
  if (!f) {
    const int e = errno;
    return md_fail(eb, MD_ERR_IO, "cannot open %s file %s: %s", md_cifar_kind_name(want),
                   path, strerror(e));
  }
  struct stat sb;
  if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
    fclose(f);
    return md_fail(eb, MD_ERR_IO, "%s is not a regular file; expected a %s binary file", path,
                   md_cifar_kind_name(want));
  }
  const int64_t size = (int64_t)sb.st_size;
  const int d10 = size > 0 && size % MD_CIFAR10_RECORD_BYTES == 0;
  const int d100 = size > 0 && size % MD_CIFAR100_RECORD_BYTES == 0;
  md_status st = MD_OK;
  md_cifar_kind kind = want;

  if (!d10 && !d100) {
    if (want == MD_CIFAR_AUTO)
      st = md_fail(eb, MD_ERR_FORMAT,
                   "%s is %lld bytes, not a whole number of CIFAR-10 records (%d bytes) "
                   "nor of CIFAR-100 records (%d bytes)",
                   path, (long long)size, MD_CIFAR10_RECORD_BYTES, MD_CIFAR100_RECORD_BYTES);
    else
      st = md_fail(eb, MD_ERR_FORMAT,
                   "%s is %lld bytes, not a whole number of %s records of %lld bytes "
                   "(%lld records and %lld bytes left over)",
                   path, (long long)size, md_cifar_kind_name(want),
                   (long long)record_bytes(want), (long long)(size / record_bytes(want)),
                   (long long)(size % record_bytes(want)));
  } else if (want != MD_CIFAR_AUTO && !(want == MD_CIFAR_10 ? d10 : d100)) {
    const md_cifar_kind o = other_kind(want);
    st = md_fail(eb, MD_ERR_FORMAT,
                 "%s is %lld bytes = %lld %s records of %lld bytes, not a whole number of "
                 "%s records (%lld bytes); it looks like a %s file given as %s",
                 path, (long long)size, (long long)(size / record_bytes(o)),
                 md_cifar_kind_name(o), (long long)record_bytes(o), md_cifar_kind_name(want),
                 (long long)record_bytes(want), md_cifar_kind_name(o),
                 md_cifar_kind_name(want));
  } else if (d10 && d100) {
    /* A multiple of both record sizes: the labels decide. */
    md_errbuf e10, e100;
    const md_status s10 =
        read_records(f, path, size, MD_CIFAR_10, size / MD_CIFAR10_RECORD_BYTES, NULL, NULL,
                     NULL, &e10);
    const md_status s100 =
        read_records(f, path, size, MD_CIFAR_100, size / MD_CIFAR100_RECORD_BYTES, NULL,
                     NULL, NULL, &e100);
    if (s10 == MD_ERR_IO || s100 == MD_ERR_IO || s10 == MD_ERR_OUT_OF_MEMORY ||
        s100 == MD_ERR_OUT_OF_MEMORY) {
      const int io10 = s10 == MD_ERR_IO || s10 == MD_ERR_OUT_OF_MEMORY;
      st = md_fail(eb, io10 ? s10 : s100, "%s", io10 ? e10.msg : e100.msg);
    } else if (want == MD_CIFAR_AUTO) {
      if (s10 == MD_OK && s100 == MD_OK)
        st = md_fail(eb, MD_ERR_FORMAT,
                     "%s (%lld bytes) reads as %lld CIFAR-10 records or %lld CIFAR-100 "
                     "records, both with valid labels; say which kind it is",
                     path, (long long)size, (long long)(size / MD_CIFAR10_RECORD_BYTES),
                     (long long)(size / MD_CIFAR100_RECORD_BYTES));
      else if (s10 == MD_OK)
        kind = MD_CIFAR_10;
      else if (s100 == MD_OK)
        kind = MD_CIFAR_100;
      else
        st = md_fail(eb, MD_ERR_RANGE, "%s: labels are out of range for both kinds: %s", path,
                     e10.msg);
    } else {
      const md_status sw = want == MD_CIFAR_10 ? s10 : s100;
      const md_status so = want == MD_CIFAR_10 ? s100 : s10;
      if (sw != MD_OK && so == MD_OK) {
        const md_cifar_kind o = other_kind(want);
        st = md_fail(eb, MD_ERR_FORMAT,
                     "%s (%lld bytes) has labels out of range for %s but valid as %lld %s "
                     "records; it looks like a %s file given as %s (%s)",
                     path, (long long)size, md_cifar_kind_name(want),
                     (long long)(size / record_bytes(o)), md_cifar_kind_name(o),
                     md_cifar_kind_name(o), md_cifar_kind_name(want),
                     want == MD_CIFAR_10 ? e10.msg : e100.msg);
      } else if (sw != MD_OK) {
        st = md_fail(eb, sw, "%s", want == MD_CIFAR_10 ? e10.msg : e100.msg);
      }
    }
  } else if (want == MD_CIFAR_AUTO) {
    kind = d10 ? MD_CIFAR_10 : MD_CIFAR_100;
  }
  if (st != MD_OK) {
    fclose(f);
    return st;
  }
  p->f = f;
  p->size = size;
  p->kind = kind;
  p->n = size / record_bytes(kind);
  return MD_OK;
}

/* ---- class names ------------------------------------------------------- */

static void free_names(char **names, int count) {
  if (!names) return;
  for (int i = 0; i < count; ++i) free(names[i]);
  free(names);
}

/* Reads the non-empty lines of dir/file (trailing spaces and CR removed).
 * A missing file leaves *names NULL and returns MD_OK; any other count than
 * `expect` is MD_ERR_FORMAT. */
static md_status read_names(const char *dir, const char *file, int expect, char ***names,
                            md_errbuf *eb) {
  *names = NULL;
  char path[4400];
  snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : ".", file);
  FILE *f = fopen(path, "r");
  if (!f) {
    if (errno == ENOENT) return MD_OK;
    return md_fail(eb, MD_ERR_IO, "cannot open class names file %s: %s", path,
                   strerror(errno));
  }
  char **out = calloc((size_t)expect, sizeof *out);
  if (!out) {
    fclose(f);
    return md_fail(eb, MD_ERR_OUT_OF_MEMORY, "out of memory reading %s", path);
  }
  md_status st = MD_OK;
  int count = 0;
  char line[1024];
  while (st == MD_OK && fgets(line, sizeof line, f)) {
    size_t len = strlen(line);
    if (len == sizeof line - 1 && line[len - 1] != '\n') {
      st = md_fail(eb, MD_ERR_FORMAT, "class names file %s: line %d is too long", path,
                   count + 1);
      break;
    }
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' ||
                       line[len - 1] == ' ' || line[len - 1] == '\t'))
      line[--len] = '\0';
    if (len == 0) continue;
    if (count >= expect) {
      ++count;
      continue;
    }
    if (len >= MD_CIFAR_NAME_MAX) len = MD_CIFAR_NAME_MAX - 1;
    out[count] = malloc(len + 1);
    if (!out[count]) {
      st = md_fail(eb, MD_ERR_OUT_OF_MEMORY, "out of memory reading %s", path);
      break;
    }
    memcpy(out[count], line, len);
    out[count][len] = '\0';
    ++count;
  }
  if (st == MD_OK && ferror(f))
    st = md_fail(eb, MD_ERR_IO, "cannot read class names file %s", path);
  if (st == MD_OK && count != expect)
    st = md_fail(eb, MD_ERR_FORMAT, "class names file %s has %d names; expected %d", path,
                 count, expect);
  fclose(f);
  if (st != MD_OK) {
    free_names(out, expect);
    return st;
  }
  *names = out;
  return MD_OK;
}

md_status md_cifar_load_names(md_cifar *d, const char *dir, md_errbuf *eb) {
  if (d->kind != MD_CIFAR_10 && d->kind != MD_CIFAR_100)
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "class names need a CIFAR-10 or CIFAR-100 set");
  char **fine = NULL, **coarse = NULL;
  md_status st;
  if (d->kind == MD_CIFAR_10) {
    st = read_names(dir, "batches.meta.txt", 10, &fine, eb);
  } else {
    st = read_names(dir, "fine_label_names.txt", 100, &fine, eb);
    if (st == MD_OK)
      st = read_names(dir, "coarse_label_names.txt", MD_CIFAR100_COARSE_CLASSES, &coarse,
                      eb);
  }
  if (st != MD_OK) {
    free_names(fine, classes_of(d->kind));
    return st;
  }
  free_names(d->class_names, d->num_classes);
  free_names(d->coarse_names, MD_CIFAR100_COARSE_CLASSES);
  d->class_names = fine;
  d->coarse_names = coarse;
  return MD_OK;
}

/* ---- whole files and splits -------------------------------------------- */

void md_cifar_free(md_cifar *d) {
  if (!d) return;
  free(d->images);
  free(d->labels);
  free(d->coarse_labels);
  free_names(d->class_names, d->num_classes);
  free_names(d->coarse_names, MD_CIFAR100_COARSE_CLASSES);
  memset(d, 0, sizeof *d);
}

static md_status alloc_set(md_cifar *d, md_cifar_kind kind, int64_t n, const char *what,
                           md_errbuf *eb) {
  memset(d, 0, sizeof *d);
  d->kind = kind;
  d->num_classes = classes_of(kind);
  d->n = n;
  d->images = malloc((size_t)n * MD_CIFAR_IMAGE_BYTES);
  d->labels = malloc((size_t)n);
  if (kind == MD_CIFAR_100) d->coarse_labels = malloc((size_t)n);
  if (!d->images || !d->labels || (kind == MD_CIFAR_100 && !d->coarse_labels)) {
    md_cifar_free(d);
    return md_fail(eb, MD_ERR_OUT_OF_MEMORY, "out of memory for %lld images of %s",
                   (long long)n, what);
  }
  return MD_OK;
}

/* The folder part of a path ("." when there is none). */
static void dir_of(const char *path, char *dir, size_t cap) {
  snprintf(dir, cap, "%s", path);
  char *slash = strrchr(dir, '/');
  if (!slash) snprintf(dir, cap, ".");
  else if (slash == dir) slash[1] = '\0';
  else *slash = '\0';
}

md_status md_cifar_read_file(const char *path, md_cifar_kind kind, md_cifar *out,
                             md_errbuf *eb) {
  memset(out, 0, sizeof *out);
  probed p;
  md_status st = open_probe(path, kind, &p, eb);
  if (st != MD_OK) return st;
  st = alloc_set(out, p.kind, p.n, path, eb);
  if (st == MD_OK)
    st = read_records(p.f, path, p.size, p.kind, p.n, out->images, out->labels,
                      out->coarse_labels, eb);
  fclose(p.f);
  if (st == MD_OK) {
    char dir[4096];
    dir_of(path, dir, sizeof dir);
    st = md_cifar_load_names(out, dir, eb);
  }
  if (st != MD_OK) md_cifar_free(out);
  return st;
}

static int file_exists(const char *dir, const char *name) {
  char path[4400];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  struct stat sb;
  return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static int dir_exists(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

md_status md_cifar_load_split(const char *dir, md_cifar_kind kind, md_cifar_split split,
                              md_cifar *out, md_errbuf *eb) {
  memset(out, 0, sizeof *out);
  if (!dir || !*dir) return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "empty CIFAR folder");
  if (!valid_kind(kind))
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "unknown CIFAR kind %d", (int)kind);
  if (split != MD_CIFAR_TRAIN && split != MD_CIFAR_TEST)
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "unknown CIFAR split %d", (int)split);
  if (!dir_exists(dir))
    return md_fail(eb, MD_ERR_IO, "CIFAR folder %s does not exist or is not a folder", dir);
  if (kind == MD_CIFAR_AUTO) {
    if (file_exists(dir, "test_batch.bin") || file_exists(dir, "data_batch_1.bin"))
      kind = MD_CIFAR_10;
    else if (file_exists(dir, "test.bin") || file_exists(dir, "train.bin"))
      kind = MD_CIFAR_100;
    else
      return md_fail(eb, MD_ERR_IO,
                     "%s holds no CIFAR files (expected data_batch_1..5.bin and "
                     "test_batch.bin, or train.bin and test.bin)",
                     dir);
  }
  static const char *const c10_train[] = {"data_batch_1.bin", "data_batch_2.bin",
                                          "data_batch_3.bin", "data_batch_4.bin",
                                          "data_batch_5.bin"};
  static const char *const c10_test[] = {"test_batch.bin"};
  static const char *const c100_train[] = {"train.bin"};
  static const char *const c100_test[] = {"test.bin"};
  const char *const *files;
  int nfiles;
  if (kind == MD_CIFAR_10) {
    files = split == MD_CIFAR_TRAIN ? c10_train : c10_test;
    nfiles = split == MD_CIFAR_TRAIN ? 5 : 1;
  } else {
    files = split == MD_CIFAR_TRAIN ? c100_train : c100_test;
    nfiles = 1;
  }

  /* Validate every file first, then allocate once and read into place. */
  probed p[5];
  char paths[5][4400];
  int64_t total = 0;
  md_status st = MD_OK;
  int opened = 0;
  for (int i = 0; i < nfiles && st == MD_OK; ++i) {
    snprintf(paths[i], sizeof paths[i], "%s/%s", dir, files[i]);
    st = open_probe(paths[i], kind, &p[i], eb);
    if (st == MD_OK) {
      ++opened;
      total += p[i].n;
    }
  }
  if (st == MD_OK) {
    char what[4200];
    snprintf(what, sizeof what, "%s %s", md_cifar_kind_name(kind),
             split == MD_CIFAR_TRAIN ? "training set" : "test set");
    st = alloc_set(out, kind, total, what, eb);
  }
  int64_t at = 0;
  for (int i = 0; i < nfiles && st == MD_OK; ++i) {
    st = read_records(p[i].f, paths[i], p[i].size, kind, p[i].n,
                      out->images + at * MD_CIFAR_IMAGE_BYTES, out->labels + at,
                      out->coarse_labels ? out->coarse_labels + at : NULL, eb);
    at += p[i].n;
  }
  for (int i = 0; i < opened; ++i) fclose(p[i].f);
  if (st == MD_OK) st = md_cifar_load_names(out, dir, eb);
  if (st != MD_OK) md_cifar_free(out);
  return st;
}

/* ---- one record ---------------------------------------------------------- */

md_status md_cifar_read_record(const char *path, md_cifar_kind kind, int64_t index,
                               md_cifar_record *out, md_errbuf *eb) {
  memset(out, 0, sizeof *out);
  out->coarse_label = -1;
  probed p;
  md_status st = open_probe(path, kind, &p, eb);
  if (st != MD_OK) return st;
  const int64_t rb = record_bytes(p.kind);
  if (index < 0 || index >= p.n) {
    fclose(p.f);
    return md_fail(eb, MD_ERR_RANGE,
                   "index %lld is out of range: %s (%lld bytes) holds %lld %s records "
                   "(indices 0..%lld)",
                   (long long)index, path, (long long)p.size, (long long)p.n,
                   md_cifar_kind_name(p.kind), (long long)(p.n - 1));
  }
  uint8_t rec[MD_CIFAR100_RECORD_BYTES];
  if (fseeko(p.f, (off_t)(index * rb), SEEK_SET) != 0 ||
      fread(rec, 1, (size_t)rb, p.f) != (size_t)rb) {
    const int e = errno;
    fclose(p.f);
    return md_fail(eb, MD_ERR_IO, "%s (%lld bytes): cannot read record %lld: %s", path,
                   (long long)p.size, (long long)index, e ? strerror(e) : "short read");
  }
  fclose(p.f);
  int bad = 0;
  const char *what = "";
  if (record_labels_bad(rec, p.kind, &bad, &what))
    return label_error(eb, path, p.size, p.kind, index, bad, what);
  out->kind = p.kind;
  out->count = p.n;
  if (p.kind == MD_CIFAR_10) {
    out->label = rec[0];
  } else {
    out->coarse_label = rec[0];
    out->label = rec[1];
  }
  memcpy(out->image, rec + (rb - MD_CIFAR_IMAGE_BYTES), MD_CIFAR_IMAGE_BYTES);

  md_cifar names = {0};
  names.kind = p.kind;
  names.num_classes = classes_of(p.kind);
  char dir[4096];
  dir_of(path, dir, sizeof dir);
  st = md_cifar_load_names(&names, dir, eb);
  if (st == MD_OK && names.class_names)
    snprintf(out->class_name, sizeof out->class_name, "%s", names.class_names[out->label]);
  md_cifar_free(&names);
  return st;
}

/* ---- finding the data ---------------------------------------------------- */

static int fill_location(const char *root, md_cifar_location *loc) {
  memset(loc, 0, sizeof *loc);
  if (strlen(root) >= 4000 || !dir_exists(root)) return 0;
  snprintf(loc->root, sizeof loc->root, "%s", root);
  char sub[sizeof loc->cifar10];
  snprintf(sub, sizeof sub, "%s/cifar-10-batches-bin", root);
  if (dir_exists(sub)) memcpy(loc->cifar10, sub, sizeof sub);
  snprintf(sub, sizeof sub, "%s/cifar-100-binary", root);
  if (dir_exists(sub)) memcpy(loc->cifar100, sub, sizeof sub);
  return loc->cifar10[0] || loc->cifar100[0];
}

md_status md_cifar_find_data(const char *explicit_dir, md_cifar_location *out,
                             md_errbuf *eb) {
  memset(out, 0, sizeof *out);
  if (explicit_dir && *explicit_dir) {
    if (strlen(explicit_dir) >= 4000)
      return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "data folder path is too long");
    if (!dir_exists(explicit_dir))
      return md_fail(eb, MD_ERR_IO, "data folder %s does not exist or is not a folder",
                     explicit_dir);
    if (fill_location(explicit_dir, out)) return MD_OK;
    /* The folder of one dataset itself. */
    if (file_exists(explicit_dir, "test_batch.bin") ||
        file_exists(explicit_dir, "data_batch_1.bin")) {
      snprintf(out->root, sizeof out->root, "%s", explicit_dir);
      snprintf(out->cifar10, sizeof out->cifar10, "%s", explicit_dir);
      return MD_OK;
    }
    if (file_exists(explicit_dir, "test.bin") || file_exists(explicit_dir, "train.bin")) {
      snprintf(out->root, sizeof out->root, "%s", explicit_dir);
      snprintf(out->cifar100, sizeof out->cifar100, "%s", explicit_dir);
      return MD_OK;
    }
    memset(out, 0, sizeof *out);
    return md_fail(eb, MD_ERR_IO,
                   "data folder %s holds neither cifar-10-batches-bin/ nor "
                   "cifar-100-binary/ (nor the CIFAR files themselves)",
                   explicit_dir);
  }
  const char *env = getenv("MAXDROP_DATA");
  const char *cands[3] = {env && *env ? env : NULL, "./data", "../shared/data"};
  for (int i = 0; i < 3; ++i) {
    if (!cands[i] || strlen(cands[i]) >= 4000) continue;
    if (fill_location(cands[i], out)) return MD_OK;
  }
  memset(out, 0, sizeof *out);
  return md_fail(eb, MD_ERR_IO,
                 "no CIFAR data found: looked for cifar-10-batches-bin/ or cifar-100-binary/ "
                 "in %s%s%s./data and ../shared/data",
                 env && *env ? "$MAXDROP_DATA (" : "", env && *env ? env : "",
                 env && *env ? "), " : "");
}
