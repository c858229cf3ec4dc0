/* NumPy .npy reading and writing (see maxdrop/npy.h). */
#include "maxdrop/npy.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/errbuf.h"
#include "maxdrop/atomic_file.h"

static const char magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

/* Finds the value text that follows 'key': in the header dict; NULL if absent. */
static const char *find_key(const char *hdr, const char *key) {
  char pat[32];
  const char quotes[2] = {'\'', '"'};
  for (int q = 0; q < 2; ++q) {
    snprintf(pat, sizeof pat, "%c%s%c", quotes[q], key, quotes[q]);
    const char *p = strstr(hdr, pat);
    if (!p) continue;
    p += strlen(pat);
    while (isspace((unsigned char)*p)) ++p;
    if (*p != ':') return NULL;
    ++p;
    while (isspace((unsigned char)*p)) ++p;
    return p;
  }
  return NULL;
}

static md_status parse_header(const char *path, const char *hdr, md_npy_array *out,
                              md_errbuf *eb) {
  const char *p = hdr;
  while (isspace((unsigned char)*p)) ++p;
  const char *e = hdr + strlen(hdr);
  while (e > p && isspace((unsigned char)e[-1])) --e;
  if (*p != '{' || e == p || e[-1] != '}')
    return md_fail(eb, MD_ERR_FORMAT, "%s: .npy header is not a dictionary", path);

  const char *descr = find_key(hdr, "descr");
  if (!descr || (*descr != '\'' && *descr != '"'))
    return md_fail(eb, MD_ERR_FORMAT, "%s: .npy header has no 'descr' string", path);
  const char q = *descr++;
  const char *dend = strchr(descr, q);
  if (!dend || dend - descr > 16)
    return md_fail(eb, MD_ERR_FORMAT, "%s: .npy header has a malformed 'descr'", path);
  char d[17];
  memcpy(d, descr, (size_t)(dend - descr));
  d[dend - descr] = '\0';
  if (!strcmp(d, "<f4")) out->dtype = MD_NPY_F32;
  else if (!strcmp(d, "|u1") || !strcmp(d, "<u1") || !strcmp(d, "u1") || !strcmp(d, "|b1"))
    out->dtype = MD_NPY_U8;
  else if (!strcmp(d, ">f4"))
    return md_fail(eb, MD_ERR_FORMAT, "%s: big-endian float32 ('>f4') is not supported; "
                   "save the array as little-endian float32", path);
  else
    return md_fail(eb, MD_ERR_FORMAT, "%s: dtype '%s' is not supported; expected float32 "
                   "('<f4'), e.g. x.astype(numpy.float32)", path, d);

  const char *fo = find_key(hdr, "fortran_order");
  if (!fo) return md_fail(eb, MD_ERR_FORMAT, "%s: .npy header has no 'fortran_order'", path);
  if (!strncmp(fo, "True", 4))
    return md_fail(eb, MD_ERR_FORMAT, "%s: Fortran-order arrays are not supported; save "
                   "a C-contiguous array (numpy.ascontiguousarray)", path);
  if (strncmp(fo, "False", 5))
    return md_fail(eb, MD_ERR_FORMAT, "%s: malformed 'fortran_order' value", path);

  const char *sh = find_key(hdr, "shape");
  if (!sh || *sh != '(')
    return md_fail(eb, MD_ERR_FORMAT, "%s: .npy header has no 'shape' tuple", path);
  ++sh;
  out->ndim = 0;
  out->numel = 1;
  for (;;) {
    while (isspace((unsigned char)*sh)) ++sh;
    if (*sh == ')') break;
    if (!isdigit((unsigned char)*sh))
      return md_fail(eb, MD_ERR_FORMAT, "%s: malformed 'shape' in .npy header", path);
    errno = 0;
    char *end;
    const long long v = strtoll(sh, &end, 10);
    if (errno == ERANGE || v < 0)
      return md_fail(eb, MD_ERR_FORMAT, "%s: dimension out of range in 'shape'", path);
    if (out->ndim == MD_NPY_MAX_DIMS)
      return md_fail(eb, MD_ERR_FORMAT, "%s: more than %d dimensions", path, MD_NPY_MAX_DIMS);
    out->dims[out->ndim++] = v;
    if (v != 0 && out->numel > INT64_MAX / 8 / v)
      return md_fail(eb, MD_ERR_FORMAT, "%s: shape too large", path);
    out->numel *= v;
    sh = end;
    while (isspace((unsigned char)*sh)) ++sh;
    if (*sh == ',') ++sh;
    else if (*sh != ')')
      return md_fail(eb, MD_ERR_FORMAT, "%s: malformed 'shape' in .npy header", path);
  }
  return MD_OK;
}

md_status md_npy_read(const char *path, md_npy_array *out, md_errbuf *eb) {
  memset(out, 0, sizeof *out);
  FILE *f = fopen(path, "rb");
  if (!f) return md_fail(eb, MD_ERR_IO, "cannot open %s: %s", path, strerror(errno));
  struct stat st;
  if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
    fclose(f);
    return md_fail(eb, MD_ERR_IO, "%s is not a regular file", path);
  }
  const int64_t fsize = (int64_t)st.st_size;
  unsigned char pre[12];
  md_status rc = MD_OK;
  char *hdr = NULL;
  if (fsize < 10 || fread(pre, 1, 10, f) != 10) {
    rc = md_fail(eb, MD_ERR_FORMAT, "%s: %lld bytes, too short for a .npy file", path,
                 (long long)fsize);
    goto done;
  }
  if (memcmp(pre, magic, 6) != 0) {
    rc = md_fail(eb, MD_ERR_FORMAT, "%s: not a .npy file (bad magic string)", path);
    goto done;
  }
  const int major = pre[6];
  int64_t hlen, hstart;
  if (major == 1) {
    hlen = pre[8] | (pre[9] << 8);
    hstart = 10;
  } else if (major == 2 || major == 3) {
    if (fsize < 12 || fread(pre + 10, 1, 2, f) != 2) {
      rc = md_fail(eb, MD_ERR_FORMAT, "%s: truncated .npy preamble", path);
      goto done;
    }
    hlen = (int64_t)pre[8] | ((int64_t)pre[9] << 8) | ((int64_t)pre[10] << 16) |
           ((int64_t)pre[11] << 24);
    hstart = 12;
  } else {
    rc = md_fail(eb, MD_ERR_FORMAT, "%s: unsupported .npy format version %d.%d", path, major,
                 pre[7]);
    goto done;
  }
  if (hstart + hlen > fsize || hlen > (1 << 20)) {
    rc = md_fail(eb, MD_ERR_FORMAT, "%s: truncated .npy header (%lld header bytes declared, "
                 "file has %lld bytes)", path, (long long)hlen, (long long)fsize);
    goto done;
  }
  hdr = malloc((size_t)hlen + 1);
  if (!hdr) {
    rc = md_fail(eb, MD_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    goto done;
  }
  if (fread(hdr, 1, (size_t)hlen, f) != (size_t)hlen) {
    rc = md_fail(eb, MD_ERR_FORMAT, "%s: truncated .npy header", path);
    goto done;
  }
  hdr[hlen] = '\0';
  if (strlen(hdr) != (size_t)hlen) {
    rc = md_fail(eb, MD_ERR_FORMAT, "%s: .npy header contains a NUL byte", path);
    goto done;
  }
  rc = parse_header(path, hdr, out, eb);
  if (rc != MD_OK) goto done;
  const int64_t isz = out->dtype == MD_NPY_F32 ? 4 : 1;
  const int64_t want = out->numel * isz, have = fsize - hstart - hlen;
  if (have != want) {
    rc = md_fail(eb, MD_ERR_FORMAT, "%s: data section is %lld bytes but the shape needs "
                 "%lld (file %s)", path, (long long)have, (long long)want,
                 have < want ? "truncated" : "has trailing bytes");
    goto done;
  }
  out->data = malloc(want > 0 ? (size_t)want : 1);
  if (!out->data) {
    rc = md_fail(eb, MD_ERR_OUT_OF_MEMORY, "%s: cannot allocate %lld bytes", path,
                 (long long)want);
    goto done;
  }
  if (want > 0 && fread(out->data, 1, (size_t)want, f) != (size_t)want) {
    rc = md_fail(eb, MD_ERR_IO, "%s: read error", path);
    goto done;
  }
done:
  free(hdr);
  fclose(f);
  if (rc != MD_OK) md_npy_free(out);
  return rc;
}

void md_npy_free(md_npy_array *a) {
  if (!a) return;
  free(a->data);
  a->data = NULL;
  a->numel = 0;
  a->ndim = 0;
}

md_status md_npy_write(const char *path, md_npy_dtype dtype, int ndim, const int64_t *dims,
                       const void *data, md_errbuf *eb) {
  if (ndim < 0 || ndim > MD_NPY_MAX_DIMS)
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "%s: %d dimensions", path, ndim);
  if (dtype != MD_NPY_F32 && dtype != MD_NPY_U8)
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "%s: unknown dtype", path);
  char hdr[512];
  int len = snprintf(hdr, sizeof hdr, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                     dtype == MD_NPY_F32 ? "<f4" : "|u1");
  int64_t numel = 1;
  if (ndim > 0 && !dims)
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "%s: no dimensions given", path);
  for (int i = 0; i < ndim; ++i) {
    if (dims[i] < 0) return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "%s: negative dimension", path);
    if (dims[i] != 0 && numel > INT64_MAX / 8 / dims[i])
      return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "%s: shape too large", path);
    numel *= dims[i];
    len += snprintf(hdr + len, sizeof hdr - (size_t)len, "%s%lld", i ? ", " : "",
                    (long long)dims[i]);
  }
  if (numel > 0 && !data)
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "%s: no data to write", path);
  /* (), (5,), (2, 3): a one-element tuple keeps its trailing comma */
  len += snprintf(hdr + len, sizeof hdr - (size_t)len, "%s), }", ndim == 1 ? "," : "");
  /* pad with spaces so that the data starts on a 64-byte boundary */
  const int total = 10 + len + 1;
  const int pad = (64 - total % 64) % 64;
  memset(hdr + len, ' ', (size_t)pad);
  len += pad;
  hdr[len++] = '\n';
  md_atomic_file af;
  md_status rc = md_atomic_open(&af, path, eb);
  if (rc != MD_OK) return rc;
  unsigned char pre[10];
  memcpy(pre, magic, 6);
  pre[6] = 1;
  pre[7] = 0;
  pre[8] = (unsigned char)(len & 0xff);
  pre[9] = (unsigned char)(len >> 8);
  const size_t bytes = (size_t)numel * (dtype == MD_NPY_F32 ? 4u : 1u);
  errno = 0;
  if (fwrite(pre, 1, 10, af.f) != 10 || fwrite(hdr, 1, (size_t)len, af.f) != (size_t)len ||
      (bytes && fwrite(data, 1, bytes, af.f) != bytes)) {
    const int e = errno ? errno : EIO;
    md_atomic_abort(&af);
    return md_fail(eb, MD_ERR_IO, "cannot write %s: %s", path, strerror(e));
  }
  return md_atomic_commit(&af, eb);
}
