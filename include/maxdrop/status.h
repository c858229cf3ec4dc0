/* maxdrop/status.h - status codes returned by every library function.
 *
 * The library never prints and never exits. Each fallible function returns an
 * md_status; MD_OK is zero and every error is negative. Functions that read
 * files or parse user data also fill an optional md_errbuf with a sentence that
 * names the problem (file, tensor, byte offset...), for the caller to show. */
#ifndef MAXDROP_STATUS_H
#define MAXDROP_STATUS_H

#include <stddef.h>

#include "maxdrop/api.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum md_status {
  MD_OK = 0,
  MD_ERR_INVALID_ARGUMENT = -1, /* a parameter is out of its documented range */
  MD_ERR_OUT_OF_MEMORY = -2,    /* an allocation failed */
  MD_ERR_SHAPE = -3,            /* tensor shapes do not fit together */
  MD_ERR_EMPTY = -4,            /* a tensor with zero elements where data is needed */
  MD_ERR_IO = -5,               /* a file could not be opened, read or written */
  MD_ERR_FORMAT = -6,           /* a file is malformed, truncated or of a foreign kind */
  MD_ERR_UNSUPPORTED = -7,      /* a valid request this build does not handle */
  MD_ERR_RANGE = -8,            /* a value (label, index) lies outside its range */
  MD_ERR_NUMERIC = -9,          /* a NaN or infinity where a finite number is required */
  MD_ERR_STATE = -10            /* the call is not valid in the object's current state */
} md_status;

/* A short, static, English description of a status code. Never NULL. */
MD_API const char *md_strerror(md_status status);

/* Detail for one failed call. Functions that accept an md_errbuf* write a
 * NUL-terminated sentence into it on failure; NULL may be passed to skip it. */
typedef struct md_errbuf {
  char msg[512];
} md_errbuf;

/* Clears an error buffer (msg becomes ""). Accepts NULL. */
MD_API void md_errbuf_clear(md_errbuf *eb);

#ifdef __cplusplus
}
#endif

#endif /* MAXDROP_STATUS_H */
