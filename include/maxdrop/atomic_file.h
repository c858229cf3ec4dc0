/* maxdrop/atomic_file.h - write a file so that it is either whole or absent.
 *
 * md_atomic_open creates a temporary file beside `path`; md_atomic_commit
 * flushes, fsyncs and renames it over `path` (then fsyncs the folder), so an
 * earlier file at `path` survives any failure before the rename: a full disk,
 * a crash, a signal. md_atomic_abort removes the temporary file. */
#ifndef MAXDROP_ATOMIC_FILE_H
#define MAXDROP_ATOMIC_FILE_H

#include <stdio.h>

#include "maxdrop/api.h"
#include "maxdrop/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct md_atomic_file {
  FILE *f;          /* write through this */
  char path[4096];  /* final path */
  char tmp[4096];   /* temporary path */
} md_atomic_file;

MD_API md_status md_atomic_open(md_atomic_file *af, const char *path, md_errbuf *eb);
/* Commits; on any failure the temporary file is removed, `path` is untouched
 * and MD_ERR_IO is returned with the reason (e.g. "No space left on device"). */
MD_API md_status md_atomic_commit(md_atomic_file *af, md_errbuf *eb);
MD_API void md_atomic_abort(md_atomic_file *af);

#ifdef __cplusplus
}
#endif

#endif
