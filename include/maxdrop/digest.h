/* maxdrop/digest.h - SHA-256 and MD5 of files and buffers (through Nettle).
 *
 * Digests are returned as lower-case hexadecimal, NUL-terminated: 64 digits
 * for SHA-256, 32 for MD5, as sha256sum and md5sum print them. */
#ifndef MAXDROP_DIGEST_H
#define MAXDROP_DIGEST_H

#include <stddef.h>

#include "maxdrop/api.h"
#include "maxdrop/status.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { MD_SHA256_HEX_LEN = 64, MD_MD5_HEX_LEN = 32 };

MD_API void md_sha256_hex(const void *data, size_t n, char hex[MD_SHA256_HEX_LEN + 1]);
MD_API void md_md5_hex(const void *data, size_t n, char hex[MD_MD5_HEX_LEN + 1]);

/* MD_ERR_IO (with the path and the reason) when the file cannot be read. */
MD_API md_status md_sha256_file(const char *path, char hex[MD_SHA256_HEX_LEN + 1],
                                md_errbuf *eb);
MD_API md_status md_md5_file(const char *path, char hex[MD_MD5_HEX_LEN + 1],
                             md_errbuf *eb);

#ifdef __cplusplus
}
#endif

#endif /* MAXDROP_DIGEST_H */
