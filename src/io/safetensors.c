/* safetensors reading, validation and atomic writing (see maxdrop/safetensors.h). */
#include "maxdrop/safetensors.h"

#include <cJSON.h>
#include <errno.h>
#include <nettle/sha2.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "core/errbuf.h"
#include "maxdrop/atomic_file.h"
#include "maxdrop/digest.h"

/* Every tensor's checksum: the first MD_ST_DIGEST_HEX hex digits of the
 * SHA-256 of its bytes, as a JSON object {name: digits} in this metadata
 * entry (written by maxdrop, checked on reading, hidden from the metadata
 * list; files without it are read unchecked). */
#define MD_ST_DIGEST_HEX 16

static void tensor_digest(const void *data, size_t bytes, char out[MD_ST_DIGEST_HEX + 1]) {
  char hex[MD_SHA256_HEX_LEN + 1];
  md_sha256_hex(data, bytes, hex);
  memcpy(out, hex, MD_ST_DIGEST_HEX);
  out[MD_ST_DIGEST_HEX] = '\0';
}

/* The header's own checksum (under the name "__metadata__", which no tensor
 * can have): SHA-256 of, first, every metadata entry but the checksums in
 * byte order of the keys, as 'm' key NUL value NUL; then every tensor in byte
 * order of the names, as 't' name NUL dtype NUL, each dimension in decimal
 * followed by ',', NUL, begin ',' end NUL (offsets in the data section). */
typedef struct hd_meta {
  const char *key, *value;
} hd_meta;
typedef struct hd_tensor {
  const char *name;
  md_st_dtype dtype;
  int ndim;
  const int64_t *shape;
  int64_t begin, end;
} hd_tensor;

static int cmp_hd_meta(const void *a, const void *b) {
  return strcmp(((const hd_meta *)a)->key, ((const hd_meta *)b)->key);
}
static int cmp_hd_tensor(const void *a, const void *b) {
  return strcmp(((const hd_tensor *)a)->name, ((const hd_tensor *)b)->name);
}

static void hash_str(struct sha256_ctx *c, const char *s) {
  sha256_update(c, strlen(s) + 1, (const uint8_t *)s); /* with its NUL */
}

/* Sorts both arrays in place. */
static void header_digest(hd_meta *m, size_t nm, hd_tensor *t, size_t nt,
                          char out[MD_ST_DIGEST_HEX + 1]) {
  if (nm > 1) qsort(m, nm, sizeof *m, cmp_hd_meta);
  if (nt > 1) qsort(t, nt, sizeof *t, cmp_hd_tensor);
  struct sha256_ctx c;
  sha256_init(&c);
  for (size_t i = 0; i < nm; ++i) {
    sha256_update(&c, 1, (const uint8_t *)"m");
    hash_str(&c, m[i].key);
    hash_str(&c, m[i].value);
  }
  for (size_t i = 0; i < nt; ++i) {
    char num[48];
    sha256_update(&c, 1, (const uint8_t *)"t");
    hash_str(&c, t[i].name);
    hash_str(&c, md_st_dtype_name(t[i].dtype));
    for (int d = 0; d < t[i].ndim; ++d) {
      snprintf(num, sizeof num, "%lld,", (long long)t[i].shape[d]);
      sha256_update(&c, strlen(num), (const uint8_t *)num);
    }
    sha256_update(&c, 1, (const uint8_t *)"");
    snprintf(num, sizeof num, "%lld,%lld", (long long)t[i].begin, (long long)t[i].end);
    hash_str(&c, num);
  }
  uint8_t d[SHA256_DIGEST_SIZE];
  sha256_digest(&c, sizeof d, d);
  static const char hx[] = "0123456789abcdef";
  for (int i = 0; i < MD_ST_DIGEST_HEX / 2; ++i) {
    out[2 * i] = hx[d[i] >> 4];
    out[2 * i + 1] = hx[d[i] & 15];
  }
  out[MD_ST_DIGEST_HEX] = '\0';
}

/* ------------------------------------------------------------------------- */
/* dtypes                                                                    */
/* ------------------------------------------------------------------------- */

static const struct {
  const char *name;
  size_t size;
} dtypes[MD_ST_N_DTYPES] = {
    [MD_ST_F32] = {"F32", 4},   [MD_ST_I64] = {"I64", 8},
    [MD_ST_U64] = {"U64", 8},   [MD_ST_F64] = {"F64", 8},
    [MD_ST_F16] = {"F16", 2},   [MD_ST_BF16] = {"BF16", 2},
    [MD_ST_I32] = {"I32", 4},   [MD_ST_I16] = {"I16", 2},
    [MD_ST_I8] = {"I8", 1},     [MD_ST_U32] = {"U32", 4},
    [MD_ST_U16] = {"U16", 2},   [MD_ST_U8] = {"U8", 1},
    [MD_ST_BOOL] = {"BOOL", 1}, [MD_ST_F8_E4M3] = {"F8_E4M3", 1},
    [MD_ST_F8_E5M2] = {"F8_E5M2", 1},
};

static int dtype_ok(md_st_dtype d) { return (int)d >= 0 && (int)d < MD_ST_N_DTYPES; }

const char *md_st_dtype_name(md_st_dtype d) { return dtype_ok(d) ? dtypes[d].name : "?"; }

size_t md_st_dtype_size(md_st_dtype d) { return dtype_ok(d) ? dtypes[d].size : 0; }

static int dtype_from_name(const char *s, md_st_dtype *out) {
  for (int i = 0; i < MD_ST_N_DTYPES; ++i)
    if (!strcmp(s, dtypes[i].name)) {
      *out = (md_st_dtype)i;
      return 1;
    }
  return 0;
}

/* Product of dims, or -1 on a negative dimension or overflow. */
static int64_t shape_numel(int ndim, const int64_t *shape) {
  int64_t p = 1;
  for (int i = 0; i < ndim; ++i) {
    if (shape[i] < 0) return -1;
    if (shape[i] != 0 && p > INT64_MAX / shape[i]) return -1;
    p *= shape[i];
  }
  return p;
}

int64_t md_st_numel(const md_st_tensor *t) {
  if (!t || t->ndim < 0 || t->ndim > MD_ST_MAX_DIMS) return -1;
  return shape_numel(t->ndim, t->shape);
}

/* Bytes of a tensor (numel * item size), or -1 on overflow. */
static int64_t shape_bytes(md_st_dtype d, int ndim, const int64_t *shape) {
  const int64_t numel = shape_numel(ndim, shape);
  const int64_t isz = (int64_t)md_st_dtype_size(d);
  if (numel < 0 || isz == 0 || numel > INT64_MAX / isz) return -1;
  return numel * isz;
}

/* "[64, 3, 3, 3]" into buf. */
static const char *shape_str(char *buf, size_t cap, int ndim, const int64_t *shape) {
  size_t len = 0;
  buf[0] = '\0';
  len += (size_t)snprintf(buf, cap, "[");
  for (int i = 0; i < ndim && len < cap; ++i)
    len += (size_t)snprintf(buf + len, cap - len, "%s%lld", i ? ", " : "", (long long)shape[i]);
  if (len < cap) snprintf(buf + len, cap - len, "]");
  return buf;
}

static int host_is_little_endian(void) {
  const uint32_t one = 1;
  unsigned char b;
  memcpy(&b, &one, 1);
  return b == 1;
}

/* ------------------------------------------------------------------------- */
/* Sorted name index (duplicate detection, look-up)                          */
/* ------------------------------------------------------------------------- */

typedef struct name_ref {
  const char *name;
  size_t idx;
} name_ref;

static int cmp_name_ref(const void *a, const void *b) {
  const name_ref *x = a, *y = b;
  const int c = strcmp(x->name, y->name);
  if (c) return c;
  return (x->idx > y->idx) - (x->idx < y->idx);
}

/* Sorts refs by name; returns the index (into the caller's array) of the
 * second occurrence of the first repeated name found, or (size_t)-1. */
static size_t sort_and_find_duplicate(name_ref *refs, size_t n) {
  qsort(refs, n, sizeof *refs, cmp_name_ref);
  for (size_t i = 1; i < n; ++i)
    if (!strcmp(refs[i - 1].name, refs[i].name)) return refs[i].idx;
  return (size_t)-1;
}

static long find_sorted(const name_ref *refs, size_t n, const char *name) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    const int c = strcmp(refs[mid].name, name);
    if (c == 0) return (long)refs[mid].idx;
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return -1;
}

/* ------------------------------------------------------------------------- */
/* Writing                                                                   */
/* ------------------------------------------------------------------------- */

static md_status check_table(const char *path, const md_st_tensor *t, size_t n,
                             int need_data, md_errbuf *eb) {
  if (n > 0 && !t) return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "%s: NULL tensor table", path);
  for (size_t i = 0; i < n; ++i) {
    const char *nm = t[i].name;
    if (!nm || !*nm)
      return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "%s: tensor %zu has an empty name", path, i);
    if (strlen(nm) > MD_ST_MAX_NAME)
      return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "%s: tensor name longer than %d bytes: '%.64s...'",
                     path, (int)MD_ST_MAX_NAME, nm);
    if (!strcmp(nm, "__metadata__"))
      return md_fail(eb, MD_ERR_INVALID_ARGUMENT,
                     "%s: '__metadata__' is reserved and cannot name a tensor", path);
    if (!dtype_ok(t[i].dtype))
      return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "%s: tensor '%s' has an unknown dtype %d", path,
                     nm, (int)t[i].dtype);
    if (t[i].ndim < 0 || t[i].ndim > MD_ST_MAX_DIMS)
      return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "%s: tensor '%s' has %d dimensions (0 to %d)",
                     path, nm, t[i].ndim, (int)MD_ST_MAX_DIMS);
    const int64_t bytes = shape_bytes(t[i].dtype, t[i].ndim, t[i].shape);
    if (bytes < 0)
      return md_fail(eb, MD_ERR_INVALID_ARGUMENT,
                     "%s: tensor '%s' has a negative dimension or too many elements", path, nm);
    if (need_data && bytes > 0 && !t[i].data)
      return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "%s: tensor '%s' has no data pointer", path, nm);
  }
  if (n > 1) {
    name_ref *refs = malloc(n * sizeof *refs);
    if (!refs) return md_fail(eb, MD_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    for (size_t i = 0; i < n; ++i) refs[i] = (name_ref){t[i].name, i};
    const size_t dup = sort_and_find_duplicate(refs, n);
    free(refs);
    if (dup != (size_t)-1)
      return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "%s: tensor name '%s' appears twice", path,
                     t[dup].name);
  }
  return MD_OK;
}

static md_status check_meta(const char *path, const md_st_meta *m, size_t n, md_errbuf *eb) {
  if (n > 0 && !m) return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "%s: NULL metadata list", path);
  for (size_t i = 0; i < n; ++i) {
    if (!m[i].key || !m[i].value)
      return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "%s: metadata entry %zu has a NULL %s", path, i,
                     m[i].key ? "value" : "key");
    if (!strcmp(m[i].key, MD_ST_DIGEST_KEY))
      return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "%s: metadata key '%s' is reserved", path,
                     MD_ST_DIGEST_KEY);
    for (size_t j = 0; j < i; ++j)
      if (!strcmp(m[i].key, m[j].key))
        return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "%s: metadata key '%s' appears twice", path,
                       m[i].key);
  }
  return MD_OK;
}

/* An integer as a raw JSON number (exact, never in exponent notation). */
static cJSON *raw_int(int64_t v) {
  char buf[32];
  snprintf(buf, sizeof buf, "%lld", (long long)v);
  return cJSON_CreateRaw(buf);
}

static int add_int_array(cJSON *obj, const char *key, const int64_t *v, int n) {
  cJSON *arr = cJSON_AddArrayToObject(obj, key);
  if (!arr) return 0;
  for (int i = 0; i < n; ++i) {
    cJSON *x = raw_int(v[i]);
    if (!x || !cJSON_AddItemToArray(arr, x)) {
      cJSON_Delete(x);
      return 0;
    }
  }
  return 1;
}

/* The JSON header text (cJSON_free it), or NULL when out of memory. */
static char *build_header(const md_st_tensor *t, size_t n, const int64_t *begin,
                          const md_st_meta *meta, size_t n_meta) {
  cJSON *root = cJSON_CreateObject();
  cJSON *sums = cJSON_CreateObject();
  int ok = root && sums;
  hd_meta *hm = malloc((n_meta ? n_meta : 1) * sizeof *hm);
  hd_tensor *ht = malloc((n ? n : 1) * sizeof *ht);
  ok = ok && hm && ht;
  for (size_t i = 0; ok && i < n; ++i) {
    char d[MD_ST_DIGEST_HEX + 1];
    const int64_t bytes = shape_bytes(t[i].dtype, t[i].ndim, t[i].shape);
    tensor_digest(t[i].data, (size_t)bytes, d);
    ok = cJSON_AddStringToObject(sums, t[i].name, d) != NULL;
    ht[i] = (hd_tensor){t[i].name, t[i].dtype, t[i].ndim, t[i].shape, begin[i], begin[i] + bytes};
  }
  if (ok) {
    char hd[MD_ST_DIGEST_HEX + 1];
    for (size_t i = 0; i < n_meta; ++i) hm[i] = (hd_meta){meta[i].key, meta[i].value};
    header_digest(hm, n_meta, ht, n, hd);
    ok = cJSON_AddStringToObject(sums, "__metadata__", hd) != NULL;
  }
  free(hm);
  free(ht);
  char *sums_text = ok ? cJSON_PrintUnformatted(sums) : NULL;
  cJSON_Delete(sums);
  cJSON *m = ok && sums_text ? cJSON_AddObjectToObject(root, "__metadata__") : NULL;
  ok = m != NULL;
  for (size_t i = 0; ok && i < n_meta; ++i)
    ok = cJSON_AddStringToObject(m, meta[i].key, meta[i].value) != NULL;
  if (ok) ok = cJSON_AddStringToObject(m, MD_ST_DIGEST_KEY, sums_text) != NULL;
  cJSON_free(sums_text);
  for (size_t i = 0; ok && i < n; ++i) {
    cJSON *e = cJSON_AddObjectToObject(root, t[i].name);
    const int64_t bytes = shape_bytes(t[i].dtype, t[i].ndim, t[i].shape);
    const int64_t off[2] = {begin[i], begin[i] + bytes};
    ok = e && cJSON_AddStringToObject(e, "dtype", md_st_dtype_name(t[i].dtype)) &&
         add_int_array(e, "shape", t[i].shape, t[i].ndim) &&
         add_int_array(e, "data_offsets", off, 2);
  }
  char *text = ok ? cJSON_PrintUnformatted(root) : NULL;
  cJSON_Delete(root);
  return text;
}

md_status md_safetensors_write(const char *path, const md_st_tensor *tensors, size_t n,
                               const md_st_meta *meta, size_t n_meta, md_errbuf *eb) {
  if (!path || !*path) return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "empty output path");
  if (!host_is_little_endian())
    return md_fail(eb, MD_ERR_UNSUPPORTED, "%s: safetensors needs a little-endian host", path);
  md_status rc = check_table(path, tensors, n, 1, eb);
  if (rc == MD_OK) rc = check_meta(path, meta, n_meta, eb);
  if (rc != MD_OK) return rc;

  /* Layout: larger item sizes first (each tensor aligned to its item size,
   * since the data section starts on an 8-byte boundary), caller order within
   * one item size. */
  int64_t *begin = malloc((n ? n : 1) * sizeof *begin);
  size_t *order = malloc((n ? n : 1) * sizeof *order);
  if (!begin || !order) {
    free(begin);
    free(order);
    return md_fail(eb, MD_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
  }
  size_t k = 0;
  int64_t off = 0;
  for (size_t isz = 8; isz >= 1; isz /= 2)
    for (size_t i = 0; i < n; ++i)
      if (md_st_dtype_size(tensors[i].dtype) == isz) {
        const int64_t bytes = shape_bytes(tensors[i].dtype, tensors[i].ndim, tensors[i].shape);
        if (off > INT64_MAX - bytes) {
          free(begin);
          free(order);
          return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "%s: tensors too large", path);
        }
        order[k++] = i;
        begin[i] = off;
        off += bytes;
      }

  char *json = build_header(tensors, n, begin, meta, n_meta);
  free(begin);
  if (!json) {
    free(order);
    return md_fail(eb, MD_ERR_OUT_OF_MEMORY, "%s: out of memory building the header", path);
  }
  const size_t jlen = strlen(json);
  const size_t pad = (8 - (8 + jlen) % 8) % 8;
  const uint64_t hlen = (uint64_t)(jlen + pad);
  unsigned char pre[8];
  for (int i = 0; i < 8; ++i) pre[i] = (unsigned char)(hlen >> (8 * i));
  static const char spaces[8] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};

  md_atomic_file af;
  rc = md_atomic_open(&af, path, eb);
  if (rc != MD_OK) {
    cJSON_free(json);
    free(order);
    return rc;
  }
  int ok = fwrite(pre, 1, 8, af.f) == 8 && fwrite(json, 1, jlen, af.f) == jlen &&
           fwrite(spaces, 1, pad, af.f) == pad;
  for (size_t j = 0; ok && j < n; ++j) {
    const md_st_tensor *t = &tensors[order[j]];
    const size_t bytes = (size_t)shape_bytes(t->dtype, t->ndim, t->shape);
    if (bytes) ok = fwrite(t->data, 1, bytes, af.f) == bytes;
  }
  const int e = errno;
  cJSON_free(json);
  free(order);
  if (!ok) {
    md_atomic_abort(&af);
    return md_fail(eb, MD_ERR_IO, "cannot write %s: %s (any earlier file is unchanged)", path,
                   strerror(e ? e : EIO));
  }
  return md_atomic_commit(&af, eb);
}

/* ------------------------------------------------------------------------- */
/* Reading                                                                   */
/* ------------------------------------------------------------------------- */

typedef struct st_entry {
  char *name;
  md_st_dtype dtype;
  int ndim;
  int64_t shape[MD_ST_MAX_DIMS];
  int64_t begin, end; /* in the data section */
  char digest[MD_ST_DIGEST_HEX + 1]; /* "" when the file has no checksums */
} st_entry;

struct md_safetensors {
  FILE *f;
  char *path;
  int64_t data_start; /* file offset of the data section */
  int64_t data_len;
  size_t n;
  st_entry *t;
  name_ref *by_name; /* n entries, sorted by name */
  size_t n_meta;
  md_st_meta *meta;  /* owned strings */
  char *digests;     /* the MD_ST_DIGEST_KEY entry's text, or NULL */
};

void md_safetensors_close(md_safetensors *st) {
  if (!st) return;
  if (st->f) fclose(st->f);
  for (size_t i = 0; i < st->n; ++i) free(st->t[i].name);
  for (size_t i = 0; i < st->n_meta; ++i) {
    free((char *)st->meta[i].key);
    free((char *)st->meta[i].value);
  }
  free(st->t);
  free(st->by_name);
  free(st->meta);
  free(st->digests);
  free(st->path);
  free(st);
}

static char *dup_str(const char *s) {
  const size_t len = strlen(s);
  char *d = malloc(len + 1);
  if (d) memcpy(d, s, len + 1);
  return d;
}

/* What a file that is not safetensors looks like, from its first bytes. */
static const char *foreign_kind(const unsigned char *b, size_t n) {
  if (n >= 8 && !memcmp(b, "\x89PNG\r\n\x1a\n", 8)) return "a PNG image";
  if (n >= 6 && !memcmp(b, "\x93NUMPY", 6)) return "a NumPy .npy file";
  if (n >= 4 && !memcmp(b, "PK\x03\x04", 4)) return "a zip archive (e.g. a PyTorch .pt file)";
  if (n >= 2 && b[0] == 0x1f && b[1] == 0x8b) return "a gzip file";
  if (n >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff) return "a JPEG image";
  if (n >= 2 && b[0] == 0x80 && b[1] <= 5) return "a Python pickle";
  return NULL;
}

/* A JSON number that is an integer in [0, 2^53]; 0 otherwise. */
static int json_uint(const cJSON *x, int64_t *out) {
  if (!cJSON_IsNumber(x)) return 0;
  const double v = x->valuedouble;
  if (!(v >= 0.0) || v > 9007199254740992.0 || v != floor(v)) return 0;
  *out = (int64_t)v;
  return 1;
}

static md_status parse_entry(const char *path, const cJSON *e, st_entry *t, md_errbuf *eb) {
  const char *nm = t->name;
  if (!cJSON_IsObject(e))
    return md_fail(eb, MD_ERR_FORMAT, "%s: tensor '%s': header entry is not an object", path, nm);
  const cJSON *dt = NULL, *sh = NULL, *off = NULL;
  for (const cJSON *c = e->child; c; c = c->next) {
    const cJSON **slot = !strcmp(c->string, "dtype")          ? &dt
                         : !strcmp(c->string, "shape")        ? &sh
                         : !strcmp(c->string, "data_offsets") ? &off
                                                              : NULL;
    if (!slot)
      return md_fail(eb, MD_ERR_FORMAT, "%s: tensor '%s': unknown field '%s'", path, nm,
                     c->string);
    if (*slot)
      return md_fail(eb, MD_ERR_FORMAT, "%s: tensor '%s': field '%s' appears twice", path, nm,
                     c->string);
    *slot = c;
  }
  if (!dt || !sh || !off)
    return md_fail(eb, MD_ERR_FORMAT, "%s: tensor '%s': missing field '%s'", path, nm,
                   !dt ? "dtype" : !sh ? "shape" : "data_offsets");
  if (!cJSON_IsString(dt))
    return md_fail(eb, MD_ERR_FORMAT, "%s: tensor '%s': dtype is not a string", path, nm);
  if (!dtype_from_name(dt->valuestring, &t->dtype))
    return md_fail(eb, MD_ERR_FORMAT, "%s: tensor '%s': unknown dtype '%.32s'", path, nm,
                   dt->valuestring);
  if (!cJSON_IsArray(sh))
    return md_fail(eb, MD_ERR_FORMAT, "%s: tensor '%s': shape is not a list", path, nm);
  const int ndim = cJSON_GetArraySize(sh);
  if (ndim > MD_ST_MAX_DIMS)
    return md_fail(eb, MD_ERR_FORMAT, "%s: tensor '%s': %d dimensions (at most %d)", path, nm,
                   ndim, (int)MD_ST_MAX_DIMS);
  t->ndim = 0;
  for (const cJSON *d = sh->child; d; d = d->next) {
    if (!json_uint(d, &t->shape[t->ndim]))
      return md_fail(eb, MD_ERR_FORMAT,
                     "%s: tensor '%s': dimension %d of the shape is not a non-negative integer",
                     path, nm, t->ndim);
    t->ndim++;
  }
  if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2 ||
      !json_uint(off->child, &t->begin) || !json_uint(off->child->next, &t->end))
    return md_fail(eb, MD_ERR_FORMAT,
                   "%s: tensor '%s': data_offsets is not a pair of non-negative integers", path,
                   nm);
  const int64_t bytes = shape_bytes(t->dtype, t->ndim, t->shape);
  char sb[160];
  if (bytes < 0)
    return md_fail(eb, MD_ERR_FORMAT, "%s: tensor '%s': shape %s is too large", path, nm,
                   shape_str(sb, sizeof sb, t->ndim, t->shape));
  if (t->end < t->begin)
    return md_fail(eb, MD_ERR_FORMAT, "%s: tensor '%s': data_offsets [%lld, %lld) end before "
                   "they begin", path, nm, (long long)t->begin, (long long)t->end);
  if (t->end - t->begin != bytes)
    return md_fail(eb, MD_ERR_FORMAT,
                   "%s: tensor '%s': data_offsets [%lld, %lld) hold %lld bytes but %s %s needs "
                   "%lld", path, nm, (long long)t->begin, (long long)t->end,
                   (long long)(t->end - t->begin), md_st_dtype_name(t->dtype),
                   shape_str(sb, sizeof sb, t->ndim, t->shape), (long long)bytes);
  return MD_OK;
}

static md_status parse_metadata(md_safetensors *st, const cJSON *m, md_errbuf *eb) {
  if (!cJSON_IsObject(m))
    return md_fail(eb, MD_ERR_FORMAT, "%s: '__metadata__' is not an object", st->path);
  const size_t n = (size_t)cJSON_GetArraySize(m);
  st->meta = calloc(n ? n : 1, sizeof *st->meta);
  if (!st->meta) return md_fail(eb, MD_ERR_OUT_OF_MEMORY, "%s: out of memory", st->path);
  for (const cJSON *c = m->child; c; c = c->next) {
    if (!cJSON_IsString(c))
      return md_fail(eb, MD_ERR_FORMAT, "%s: metadata '%s' is not a string", st->path, c->string);
    if (!strcmp(c->string, MD_ST_DIGEST_KEY)) {
      if (st->digests)
        return md_fail(eb, MD_ERR_FORMAT, "%s: metadata key '%s' appears twice", st->path,
                       MD_ST_DIGEST_KEY);
      if (!(st->digests = dup_str(c->valuestring)))
        return md_fail(eb, MD_ERR_OUT_OF_MEMORY, "%s: out of memory", st->path);
      continue;
    }
    md_st_meta *e = &st->meta[st->n_meta];
    e->key = dup_str(c->string);
    e->value = e->key ? dup_str(c->valuestring) : NULL;
    if (!e->key || !e->value) {
      free((char *)e->key);
      e->key = NULL;
      return md_fail(eb, MD_ERR_OUT_OF_MEMORY, "%s: out of memory", st->path);
    }
    st->n_meta++;
  }
  if (st->n_meta < 2) return MD_OK;
  name_ref *refs = malloc(st->n_meta * sizeof *refs);
  if (!refs) return md_fail(eb, MD_ERR_OUT_OF_MEMORY, "%s: out of memory", st->path);
  for (size_t i = 0; i < st->n_meta; ++i) refs[i] = (name_ref){st->meta[i].key, i};
  const size_t dup = sort_and_find_duplicate(refs, st->n_meta);
  free(refs);
  if (dup != (size_t)-1)
    return md_fail(eb, MD_ERR_FORMAT, "%s: metadata key '%s' appears twice", st->path,
                   st->meta[dup].key);
  return MD_OK;
}

static int cmp_by_offset(const void *a, const void *b) {
  const st_entry *x = *(const st_entry *const *)a, *y = *(const st_entry *const *)b;
  if (x->begin != y->begin) return (x->begin > y->begin) - (x->begin < y->begin);
  return (x->end > y->end) - (x->end < y->end);
}

/* The tensors must tile the data section: sorted by offset, each begins where
 * the previous one ends, and the last ends at the end of the file. */
static md_status check_coverage(md_safetensors *st, md_errbuf *eb) {
  const st_entry **by_off = malloc((st->n ? st->n : 1) * sizeof *by_off);
  if (!by_off) return md_fail(eb, MD_ERR_OUT_OF_MEMORY, "%s: out of memory", st->path);
  for (size_t i = 0; i < st->n; ++i) by_off[i] = &st->t[i];
  qsort(by_off, st->n, sizeof *by_off, cmp_by_offset);
  md_status rc = MD_OK;
  int64_t expect = 0;
  const st_entry *prev = NULL;
  for (size_t i = 0; i < st->n && rc == MD_OK; ++i) {
    const st_entry *t = by_off[i];
    if (t->end > st->data_len)
      rc = md_fail(eb, MD_ERR_FORMAT,
                   "%s: tensor '%s': data_offsets [%lld, %lld) go past the end of the %lld-byte "
                   "data section (file byte %lld > file size %lld)", st->path, t->name,
                   (long long)t->begin, (long long)t->end, (long long)st->data_len,
                   (long long)(st->data_start + t->end),
                   (long long)(st->data_start + st->data_len));
    else if (t->begin < expect)
      rc = md_fail(eb, MD_ERR_FORMAT, "%s: tensors '%s' [%lld, %lld) and '%s' [%lld, %lld) "
                   "overlap (data-section byte %lld, file byte %lld)", st->path, prev->name,
                   (long long)prev->begin, (long long)prev->end, t->name, (long long)t->begin,
                   (long long)t->end, (long long)t->begin, (long long)(st->data_start + t->begin));
    else if (t->begin > expect)
      rc = md_fail(eb, MD_ERR_FORMAT, "%s: data-section bytes [%lld, %lld) (file bytes %lld to "
                   "%lld) belong to no tensor (gap before tensor '%s')", st->path,
                   (long long)expect, (long long)t->begin, (long long)(st->data_start + expect),
                   (long long)(st->data_start + t->begin - 1), t->name);
    expect = t->end;
    prev = t;
  }
  if (rc == MD_OK && expect != st->data_len)
    rc = md_fail(eb, MD_ERR_FORMAT, "%s: %lld bytes after the last tensor (file bytes %lld to "
                 "%lld) belong to no tensor", st->path, (long long)(st->data_len - expect),
                 (long long)(st->data_start + expect),
                 (long long)(st->data_start + st->data_len - 1));
  free(by_off);
  return rc;
}

/* The checksum of every tensor, from the MD_ST_DIGEST_KEY metadata entry. */
static md_status parse_digests(md_safetensors *st, md_errbuf *eb) {
  cJSON *d = cJSON_Parse(st->digests);
  md_status rc = MD_OK;
  if (!cJSON_IsObject(d))
    rc = md_fail(eb, MD_ERR_FORMAT, "%s: metadata '%s' is not a JSON object", st->path,
                 MD_ST_DIGEST_KEY);
  const char *header_sum = NULL;
  for (const cJSON *c = d ? d->child : NULL; c && rc == MD_OK; c = c->next) {
    const long i = find_sorted(st->by_name, st->n, c->string);
    const char *v = cJSON_IsString(c) ? c->valuestring : NULL;
    const int is_header = !strcmp(c->string, "__metadata__");
    if (v && strlen(v) == MD_ST_DIGEST_HEX &&
        strspn(v, "0123456789abcdef") == MD_ST_DIGEST_HEX && is_header)
      header_sum = v;
    else if (is_header)
      rc = md_fail(eb, MD_ERR_FORMAT, "%s: the checksum of the header is malformed", st->path);
    else if (i < 0)
      rc = md_fail(eb, MD_ERR_FORMAT, "%s: a checksum names tensor '%s', which the file lacks",
                   st->path, c->string);
    else if (!v || strlen(v) != MD_ST_DIGEST_HEX || strspn(v, "0123456789abcdef") != MD_ST_DIGEST_HEX)
      rc = md_fail(eb, MD_ERR_FORMAT, "%s: the checksum of tensor '%s' is malformed", st->path,
                   c->string);
    else
      memcpy(st->t[i].digest, v, MD_ST_DIGEST_HEX + 1);
  }
  for (size_t i = 0; i < st->n && rc == MD_OK; ++i)
    if (!st->t[i].digest[0])
      rc = md_fail(eb, MD_ERR_FORMAT, "%s: tensor '%s' has no checksum", st->path, st->t[i].name);
  if (rc == MD_OK && !header_sum)
    rc = md_fail(eb, MD_ERR_FORMAT, "%s: the header has no checksum", st->path);
  if (rc == MD_OK) {
    hd_meta *hm = malloc((st->n_meta ? st->n_meta : 1) * sizeof *hm);
    hd_tensor *ht = malloc((st->n ? st->n : 1) * sizeof *ht);
    if (!hm || !ht) {
      rc = md_fail(eb, MD_ERR_OUT_OF_MEMORY, "%s: out of memory", st->path);
    } else {
      for (size_t i = 0; i < st->n_meta; ++i) hm[i] = (hd_meta){st->meta[i].key, st->meta[i].value};
      for (size_t i = 0; i < st->n; ++i) {
        const st_entry *e = &st->t[i];
        ht[i] = (hd_tensor){e->name, e->dtype, e->ndim, e->shape, e->begin, e->end};
      }
      char hd[MD_ST_DIGEST_HEX + 1];
      header_digest(hm, st->n_meta, ht, st->n, hd);
      if (strcmp(hd, header_sum))
        rc = md_fail(eb, MD_ERR_FORMAT, "%s: the header (file bytes 8 to %lld: metadata, tensor "
                     "names, shapes or offsets) does not match the checksum written with it: the "
                     "file is damaged", st->path, (long long)st->data_start - 1);
    }
    free(hm);
    free(ht);
  }
  cJSON_Delete(d);
  return rc;
}

static md_status parse_header(md_safetensors *st, const char *hdr, size_t hlen,
                              md_errbuf *eb) {
  const char *path = st->path;
  const char *nul = memchr(hdr, '\0', hlen);
  if (nul)
    return md_fail(eb, MD_ERR_FORMAT, "%s: the JSON header holds a NUL byte at file byte %lld",
                   path, (long long)(8 + (nul - hdr)));
  if (hdr[0] != '{')
    return md_fail(eb, MD_ERR_FORMAT, "%s: the header (file byte 8) does not start with '{': "
                   "not a safetensors file", path);
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(hdr, hlen, &end, 0);
  if (!root) {
    const long long at = end ? (long long)(8 + (end - hdr)) : 8;
    return md_fail(eb, MD_ERR_FORMAT, "%s: the header is not valid JSON (error near file "
                   "byte %lld)", path, at);
  }
  md_status rc = MD_OK;
  for (const char *p = end; p < hdr + hlen; ++p)
    if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
      rc = md_fail(eb, MD_ERR_FORMAT, "%s: unexpected byte after the JSON header at file "
                   "byte %lld", path, (long long)(8 + (p - hdr)));
      break;
    }
  if (rc == MD_OK && !cJSON_IsObject(root))
    rc = md_fail(eb, MD_ERR_FORMAT, "%s: the header is JSON but not an object", path);
  if (rc != MD_OK) {
    cJSON_Delete(root);
    return rc;
  }
  size_t count = 0;
  const cJSON *meta = NULL;
  for (const cJSON *c = root->child; c; c = c->next) {
    if (strcmp(c->string, "__metadata__")) {
      ++count;
    } else if (meta) {
      cJSON_Delete(root);
      return md_fail(eb, MD_ERR_FORMAT, "%s: '__metadata__' appears twice", path);
    } else {
      meta = c;
    }
  }
  st->t = calloc(count ? count : 1, sizeof *st->t);
  st->by_name = malloc((count ? count : 1) * sizeof *st->by_name);
  if (!st->t || !st->by_name) rc = md_fail(eb, MD_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
  if (rc == MD_OK && meta) rc = parse_metadata(st, meta, eb);
  for (const cJSON *c = root->child; c && rc == MD_OK; c = c->next) {
    if (c == meta) continue;
    st_entry *t = &st->t[st->n];
    t->name = dup_str(c->string);
    if (!t->name) {
      rc = md_fail(eb, MD_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
      break;
    }
    st->n++;
    rc = parse_entry(path, c, t, eb);
  }
  cJSON_Delete(root);
  if (rc != MD_OK) return rc;
  for (size_t i = 0; i < st->n; ++i) st->by_name[i] = (name_ref){st->t[i].name, i};
  const size_t dup = sort_and_find_duplicate(st->by_name, st->n);
  if (dup != (size_t)-1)
    return md_fail(eb, MD_ERR_FORMAT, "%s: tensor '%s' appears twice in the header", path,
                   st->t[dup].name);
  rc = check_coverage(st, eb);
  if (rc == MD_OK && st->digests) rc = parse_digests(st, eb);
  return rc;
}

md_status md_safetensors_open(const char *path, md_safetensors **out, md_errbuf *eb) {
  if (!out) return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "NULL output handle");
  *out = NULL;
  if (!path) return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "NULL path");
  if (!host_is_little_endian())
    return md_fail(eb, MD_ERR_UNSUPPORTED, "%s: safetensors needs a little-endian host", path);
  md_safetensors *st = calloc(1, sizeof *st);
  if (!st || !(st->path = dup_str(path))) {
    free(st);
    return md_fail(eb, MD_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
  }
  md_status rc = MD_OK;
  char *hdr = NULL;
  st->f = fopen(path, "rb");
  if (!st->f) {
    rc = md_fail(eb, MD_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    goto done;
  }
  struct stat sb;
  if (fstat(fileno(st->f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
    rc = md_fail(eb, MD_ERR_IO, "%s is not a regular file", path);
    goto done;
  }
  const int64_t fsize = (int64_t)sb.st_size;
  unsigned char pre[8];
  const size_t got = fread(pre, 1, 8, st->f);
  if (got < 8) {
    const char *kind = foreign_kind(pre, got);
    rc = kind ? md_fail(eb, MD_ERR_FORMAT, "%s is %s, not a safetensors file", path, kind)
              : md_fail(eb, MD_ERR_FORMAT, "%s: truncated: %lld bytes, fewer than the 8-byte "
                        "header length", path, (long long)fsize);
    goto done;
  }
  uint64_t hlen = 0;
  for (int i = 0; i < 8; ++i) hlen |= (uint64_t)pre[i] << (8 * i);
  if (hlen > (uint64_t)(fsize - 8) || hlen > MD_ST_MAX_HEADER) {
    const char *kind = foreign_kind(pre, 8);
    if (kind)
      rc = md_fail(eb, MD_ERR_FORMAT, "%s is %s, not a safetensors file", path, kind);
    else if (hlen > MD_ST_MAX_HEADER && hlen <= (uint64_t)(fsize - 8))
      rc = md_fail(eb, MD_ERR_FORMAT, "%s: header length %llu (bytes 0-7) exceeds the %d-byte "
                   "limit", path, (unsigned long long)hlen, (int)MD_ST_MAX_HEADER);
    else
      rc = md_fail(eb, MD_ERR_FORMAT, "%s: header length %llu (bytes 0-7) goes past the end "
                   "of the %lld-byte file: truncated or not a safetensors file", path,
                   (unsigned long long)hlen, (long long)fsize);
    goto done;
  }
  if (hlen < 2) {
    rc = md_fail(eb, MD_ERR_FORMAT, "%s: header length %llu (bytes 0-7) is too small for a "
                 "JSON object", path, (unsigned long long)hlen);
    goto done;
  }
  hdr = malloc((size_t)hlen + 1);
  if (!hdr) {
    rc = md_fail(eb, MD_ERR_OUT_OF_MEMORY, "%s: out of memory for a %llu-byte header", path,
                 (unsigned long long)hlen);
    goto done;
  }
  if (fread(hdr, 1, (size_t)hlen, st->f) != (size_t)hlen) {
    rc = md_fail(eb, MD_ERR_IO, "%s: read error in the header", path);
    goto done;
  }
  hdr[hlen] = '\0';
  st->data_start = 8 + (int64_t)hlen;
  st->data_len = fsize - st->data_start;
  rc = parse_header(st, hdr, (size_t)hlen, eb);
done:
  free(hdr);
  if (rc != MD_OK) {
    md_safetensors_close(st);
    return rc;
  }
  *out = st;
  return MD_OK;
}

size_t md_safetensors_count(const md_safetensors *st) { return st ? st->n : 0; }

md_status md_safetensors_info(const md_safetensors *st, size_t i, md_st_tensor *out) {
  if (!st || !out || i >= st->n) return MD_ERR_RANGE;
  const st_entry *t = &st->t[i];
  memset(out, 0, sizeof *out);
  out->name = t->name;
  out->dtype = t->dtype;
  out->ndim = t->ndim;
  memcpy(out->shape, t->shape, sizeof out->shape);
  out->data = NULL;
  return MD_OK;
}

long md_safetensors_find(const md_safetensors *st, const char *name) {
  if (!st || !name) return -1;
  return find_sorted(st->by_name, st->n, name);
}

md_status md_safetensors_read(md_safetensors *st, size_t i, void *dst, size_t dst_bytes,
                              md_errbuf *eb) {
  if (!st || i >= st->n)
    return md_fail(eb, MD_ERR_RANGE, "safetensors: tensor index %zu out of range", i);
  const st_entry *t = &st->t[i];
  const int64_t bytes = t->end - t->begin;
  if ((uint64_t)bytes != (uint64_t)dst_bytes)
    return md_fail(eb, MD_ERR_SHAPE, "%s: tensor '%s' has %lld bytes, the destination %zu",
                   st->path, t->name, (long long)bytes, dst_bytes);
  if (bytes == 0) return MD_OK;
  if (!dst) return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "%s: NULL destination", st->path);
  const int64_t at = st->data_start + t->begin;
  if (fseeko(st->f, (off_t)at, SEEK_SET) != 0)
    return md_fail(eb, MD_ERR_IO, "%s: cannot seek to file byte %lld (tensor '%s'): %s",
                   st->path, (long long)at, t->name, strerror(errno));
  const size_t got = fread(dst, 1, (size_t)bytes, st->f);
  if (got != (size_t)bytes)
    return md_fail(eb, MD_ERR_IO, "%s: tensor '%s': the file ended or failed at byte %lld "
                   "(expected %lld bytes from byte %lld)", st->path, t->name,
                   (long long)(at + (int64_t)got), (long long)bytes, (long long)at);
  if (t->digest[0]) {
    char d[MD_ST_DIGEST_HEX + 1];
    tensor_digest(dst, (size_t)bytes, d);
    if (strcmp(d, t->digest))
      return md_fail(eb, MD_ERR_FORMAT, "%s: tensor '%s' (file bytes %lld to %lld) does not "
                     "match the checksum written with it: the file is damaged", st->path,
                     t->name, (long long)at, (long long)(at + bytes - 1));
  }
  return MD_OK;
}

size_t md_safetensors_meta_count(const md_safetensors *st) { return st ? st->n_meta : 0; }

int md_safetensors_checked(const md_safetensors *st) { return st && st->digests; }

md_status md_safetensors_meta_at(const md_safetensors *st, size_t i, md_st_meta *out) {
  if (!st || !out || i >= st->n_meta) return MD_ERR_RANGE;
  *out = st->meta[i];
  return MD_OK;
}

const char *md_safetensors_meta_get(const md_safetensors *st, const char *key) {
  if (!st || !key) return NULL;
  for (size_t i = 0; i < st->n_meta; ++i)
    if (!strcmp(st->meta[i].key, key)) return st->meta[i].value;
  return NULL;
}

md_status md_safetensors_load(md_safetensors *st, const md_st_tensor *table, size_t n,
                              unsigned flags, md_errbuf *eb) {
  if (!st) return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "NULL safetensors handle");
  md_status rc = check_table(st->path, table, n, 1, eb);
  if (rc != MD_OK) return rc;
  long *src = malloc((n ? n : 1) * sizeof *src);
  unsigned char *used = calloc(st->n ? st->n : 1, 1);
  if (!src || !used) {
    free(src);
    free(used);
    return md_fail(eb, MD_ERR_OUT_OF_MEMORY, "%s: out of memory", st->path);
  }
  /* Check everything first: a mismatch must leave the destinations untouched. */
  size_t n_missing = 0, first_missing = 0;
  for (size_t i = 0; i < n && rc == MD_OK; ++i) {
    src[i] = md_safetensors_find(st, table[i].name);
    if (src[i] < 0) {
      if (!n_missing++) first_missing = i;
      continue;
    }
    used[src[i]] = 1;
    const st_entry *f = &st->t[src[i]];
    int same = f->dtype == table[i].dtype && f->ndim == table[i].ndim;
    for (int d = 0; same && d < f->ndim; ++d) same = f->shape[d] == table[i].shape[d];
    if (!same) {
      char a[160], b[160];
      rc = md_fail(eb, MD_ERR_SHAPE, "%s: tensor '%s' is %s %s in the file but %s %s is "
                   "expected", st->path, f->name, md_st_dtype_name(f->dtype),
                   shape_str(a, sizeof a, f->ndim, f->shape), md_st_dtype_name(table[i].dtype),
                   shape_str(b, sizeof b, table[i].ndim, table[i].shape));
    }
  }
  if (rc == MD_OK && n_missing && !(flags & MD_ST_LOAD_ALLOW_MISSING)) {
    char b[160];
    const md_st_tensor *t = &table[first_missing];
    rc = md_fail(eb, MD_ERR_FORMAT, "%s: missing tensor '%s' (%s %s)%s", st->path, t->name,
                 md_st_dtype_name(t->dtype), shape_str(b, sizeof b, t->ndim, t->shape),
                 n_missing > 1 ? " and others" : "");
  }
  if (rc == MD_OK && !(flags & MD_ST_LOAD_IGNORE_UNEXPECTED)) {
    size_t n_unexpected = 0, first = 0;
    for (size_t j = 0; j < st->n; ++j)
      if (!used[j] && !n_unexpected++) first = j;
    if (n_unexpected)
      rc = md_fail(eb, MD_ERR_FORMAT, "%s: unexpected tensor '%s'%s", st->path, st->t[first].name,
                   n_unexpected > 1 ? " and others" : "");
  }
  /* With checksums, every tensor is checked before any destination changes. */
  if (rc == MD_OK && st->digests) {
    int64_t largest = 0;
    for (size_t i = 0; i < n; ++i)
      if (src[i] >= 0 && st->t[src[i]].end - st->t[src[i]].begin > largest)
        largest = st->t[src[i]].end - st->t[src[i]].begin;
    void *scratch = largest > 0 ? malloc((size_t)largest) : NULL;
    if (largest > 0 && !scratch)
      rc = md_fail(eb, MD_ERR_OUT_OF_MEMORY, "%s: out of memory", st->path);
    for (size_t i = 0; i < n && rc == MD_OK; ++i) {
      if (src[i] < 0) continue;
      const st_entry *f = &st->t[src[i]];
      rc = md_safetensors_read(st, (size_t)src[i], scratch, (size_t)(f->end - f->begin), eb);
    }
    free(scratch);
  }
  for (size_t i = 0; i < n && rc == MD_OK; ++i) {
    if (src[i] < 0) continue;
    const st_entry *f = &st->t[src[i]];
    rc = md_safetensors_read(st, (size_t)src[i], table[i].data, (size_t)(f->end - f->begin), eb);
  }
  free(src);
  free(used);
  return rc;
}

md_status md_safetensors_load_file(const char *path, const md_st_tensor *table, size_t n,
                                   unsigned flags, md_errbuf *eb) {
  md_safetensors *st = NULL;
  md_status rc = md_safetensors_open(path, &st, eb);
  if (rc != MD_OK) return rc;
  rc = md_safetensors_load(st, table, n, flags, eb);
  md_safetensors_close(st);
  return rc;
}
