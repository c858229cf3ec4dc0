/* Training-checkpoint conventions: random-stream packing and exact metadata
 * numbers (see maxdrop/checkpoint.h). */
#include "maxdrop/checkpoint.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/errbuf.h"

void md_ckpt_rng_pack(const md_rng *r, uint64_t out[MD_CKPT_RNG_WORDS]) {
  out[0] = r->key[0];
  out[1] = r->key[1];
  out[2] = r->block;
  out[3] = r->pos;
  for (int i = 0; i < 4; ++i) out[4 + i] = r->buf[i];
}

md_status md_ckpt_require_checksums(const md_safetensors *f, const char *path,
                                   md_errbuf *eb) {
  const char *fmt = md_safetensors_meta_get(f, MD_CKPT_KEY_FORMAT);
  if (fmt && !strcmp(fmt, MD_CKPT_FORMAT_NAME) && !md_safetensors_checked(f))
    return md_fail(eb, MD_ERR_FORMAT,
                   "%s says it is a maxdrop checkpoint but carries no checksums (metadata '%s'): "
                   "its header was damaged, or another program wrote it",
                   path, MD_ST_DIGEST_KEY);
  return MD_OK;
}

md_status md_ckpt_rng_unpack(const uint64_t in[MD_CKPT_RNG_WORDS], md_rng *r, md_errbuf *eb) {
  md_rng t;
  t.key[0] = in[0];
  t.key[1] = in[1];
  t.block = in[2];
  if (in[3] > 4)
    return md_fail(eb, MD_ERR_FORMAT, "random-stream state: position %llu is not in 0..4",
                   (unsigned long long)in[3]);
  t.pos = (uint32_t)in[3];
  for (int i = 0; i < 4; ++i) t.buf[i] = in[4 + i];
  if (t.pos < 4) {
    uint64_t want[4];
    if (t.block == 0)
      return md_fail(eb, MD_ERR_FORMAT,
                     "random-stream state: a partly read block before block 0");
    md_rng_block(&t, t.block - 1, want);
    if (memcmp(want, t.buf, sizeof want) != 0)
      return md_fail(eb, MD_ERR_FORMAT, "random-stream state (seed %llu, stream %llu): the "
                     "buffered words are not block %llu of the stream",
                     (unsigned long long)t.key[0], (unsigned long long)t.key[1],
                     (unsigned long long)(t.block - 1));
  }
  *r = t;
  return MD_OK;
}

const char *md_ckpt_format_double(char *buf, size_t cap, double v) {
  for (int prec = 1; prec <= 17; ++prec) {
    snprintf(buf, cap, "%.*g", prec, v);
    if (strtod(buf, NULL) == v || isnan(v)) break;
  }
  return buf;
}

const char *md_ckpt_format_int(char *buf, size_t cap, int64_t v) {
  snprintf(buf, cap, "%lld", (long long)v);
  return buf;
}

md_status md_ckpt_parse_double(const char *key, const char *text, double *out, md_errbuf *eb) {
  if (!text || !*text || isspace((unsigned char)*text))
    return md_fail(eb, MD_ERR_FORMAT, "metadata '%s': not a number", key ? key : "?");
  char *end;
  errno = 0;
  const double v = strtod(text, &end);
  if (*end || end == text || errno == ERANGE)
    return md_fail(eb, MD_ERR_FORMAT, "metadata '%s': '%.64s' is not a number", key ? key : "?",
                   text);
  *out = v;
  return MD_OK;
}

md_status md_ckpt_parse_int(const char *key, const char *text, int64_t *out, md_errbuf *eb) {
  if (!text || !*text || isspace((unsigned char)*text))
    return md_fail(eb, MD_ERR_FORMAT, "metadata '%s': not an integer", key ? key : "?");
  char *end;
  errno = 0;
  const long long v = strtoll(text, &end, 10);
  if (*end || end == text || errno == ERANGE)
    return md_fail(eb, MD_ERR_FORMAT, "metadata '%s': '%.64s' is not an integer",
                   key ? key : "?", text);
  *out = (int64_t)v;
  return MD_OK;
}
