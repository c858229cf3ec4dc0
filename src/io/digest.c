/* SHA-256 and MD5 through Nettle (see maxdrop/digest.h). */
#include "maxdrop/digest.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <nettle/md5.h>
#include <nettle/sha2.h>

#include "core/errbuf.h"

static void to_hex(const uint8_t *d, size_t n, char *hex) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; ++i) {
    hex[2 * i] = digits[d[i] >> 4];
    hex[2 * i + 1] = digits[d[i] & 15];
  }
  hex[2 * n] = '\0';
}

void md_sha256_hex(const void *data, size_t n, char hex[MD_SHA256_HEX_LEN + 1]) {
  struct sha256_ctx ctx;
  uint8_t d[SHA256_DIGEST_SIZE];
  sha256_init(&ctx);
  sha256_update(&ctx, n, data);
  sha256_digest(&ctx, sizeof d, d);
  to_hex(d, sizeof d, hex);
}

void md_md5_hex(const void *data, size_t n, char hex[MD_MD5_HEX_LEN + 1]) {
  struct md5_ctx ctx;
  uint8_t d[MD5_DIGEST_SIZE];
  md5_init(&ctx);
  md5_update(&ctx, n, data);
  md5_digest(&ctx, sizeof d, d);
  to_hex(d, sizeof d, hex);
}

typedef void (*update_fn)(void *ctx, size_t n, const uint8_t *data);

static void sha256_up(void *ctx, size_t n, const uint8_t *data) { sha256_update(ctx, n, data); }
static void md5_up(void *ctx, size_t n, const uint8_t *data) { md5_update(ctx, n, data); }

static md_status hash_file(const char *path, void *ctx, update_fn up, md_errbuf *eb) {
  FILE *f = fopen(path, "rb");
  if (!f) return md_fail(eb, MD_ERR_IO, "cannot open %s: %s", path, strerror(errno));
  uint8_t buf[1 << 16];
  size_t got;
  while ((got = fread(buf, 1, sizeof buf, f)) > 0) up(ctx, got, buf);
  const int bad = ferror(f);
  const int e = errno;
  fclose(f);
  if (bad) return md_fail(eb, MD_ERR_IO, "cannot read %s: %s", path, strerror(e));
  return MD_OK;
}

md_status md_sha256_file(const char *path, char hex[MD_SHA256_HEX_LEN + 1], md_errbuf *eb) {
  struct sha256_ctx ctx;
  sha256_init(&ctx);
  hex[0] = '\0';
  const md_status st = hash_file(path, &ctx, sha256_up, eb);
  if (st != MD_OK) return st;
  uint8_t d[SHA256_DIGEST_SIZE];
  sha256_digest(&ctx, sizeof d, d);
  to_hex(d, sizeof d, hex);
  return MD_OK;
}

md_status md_md5_file(const char *path, char hex[MD_MD5_HEX_LEN + 1], md_errbuf *eb) {
  struct md5_ctx ctx;
  md5_init(&ctx);
  hex[0] = '\0';
  const md_status st = hash_file(path, &ctx, md5_up, eb);
  if (st != MD_OK) return st;
  uint8_t d[MD5_DIGEST_SIZE];
  md5_digest(&ctx, sizeof d, d);
  to_hex(d, sizeof d, hex);
  return MD_OK;
}
