/* maxdrop/npy.h - NumPy .npy files (format versions 1.0, 2.0 and 3.0).
 *
 * Reads little-endian float32 ('<f4') and uint8 ('|u1') C-order arrays of up
 * to 8 dimensions; writes float32 and uint8 arrays in format 1.0, atomically
 * (temporary file in the same folder, fsync, rename). Anything else (another
 * dtype, Fortran order, a bad magic string, a header that does not parse, a
 * data section shorter or longer than the shape says) is rejected with
 * MD_ERR_FORMAT and a message that names the file and the problem. */
#ifndef MAXDROP_NPY_H
#define MAXDROP_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "maxdrop/api.h"
#include "maxdrop/status.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { MD_NPY_MAX_DIMS = 8 };

typedef enum md_npy_dtype { MD_NPY_F32 = 0, MD_NPY_U8 = 1 } md_npy_dtype;

typedef struct md_npy_array {
  md_npy_dtype dtype;
  int ndim;
  int64_t dims[MD_NPY_MAX_DIMS];
  int64_t numel;
  void *data; /* float* or uint8_t*, numel elements; owned, free with md_npy_free */
} md_npy_array;

MD_API md_status md_npy_read(const char *path, md_npy_array *out, md_errbuf *eb);
MD_API void md_npy_free(md_npy_array *a);
MD_API md_status md_npy_write(const char *path, md_npy_dtype dtype, int ndim,
                              const int64_t *dims, const void *data, md_errbuf *eb);

#ifdef __cplusplus
}
#endif

#endif
