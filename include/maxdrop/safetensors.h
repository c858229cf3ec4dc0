/* maxdrop/safetensors.h - named tensors in the safetensors format.
 *
 * The file format (https://github.com/huggingface/safetensors):
 *   bytes 0..7    N, the header length, unsigned 64-bit little-endian
 *   bytes 8..8+N  a JSON object, UTF-8, possibly padded with trailing spaces:
 *                   { "__metadata__": {"key": "string value", ...},   (optional)
 *                     "name": {"dtype": "F32", "shape": [d0, d1, ...],
 *                              "data_offsets": [begin, end]}, ... }
 *   the rest      the data section: each tensor's elements, row-major and
 *                 little-endian, at [begin, end) counted from the section's
 *                 first byte. The tensors cover the section exactly: no gap,
 *                 no overlap, end - begin == numel * item size. A tensor of
 *                 shape [] is a scalar (one element).
 *
 * maxdrop writes float32 tensors (model parameters, BatchNorm statistics,
 * momentum buffers) and int64/uint64 ones (BatchNorm num_batches_tracked as a
 * PyTorch-compatible I64 scalar, random-stream states as U64 vectors), plus
 * string metadata. Files are written atomically (maxdrop/atomic_file.h): a
 * failed write leaves an earlier file at the same path untouched. The header
 * is padded so that the data section starts on an 8-byte boundary, and 8-byte
 * dtypes are laid out before the others so that every tensor is aligned to its
 * item size; header keys keep the caller's order.
 *
 * Reading validates the whole header against the file size before any data is
 * read: a file shorter than 8 bytes or than its declared header, a foreign file
 * (PNG, .npy, zip/PyTorch .pt, gzip...), a header that is not JSON or not an
 * object, an entry that is not an object or lacks a field, an unknown dtype, a
 * bad shape, offsets out of range, overlapping, leaving a gap or a tail, or not
 * matching numel * item size, a duplicate name, non-string metadata: each is
 * MD_ERR_FORMAT with a message naming the file and the tensor or the byte
 * offset. All standard safetensors dtypes can be listed; loading into a table
 * needs exactly the table's dtype.
 *
 * Checksums: maxdrop adds to the metadata the entry MD_ST_DIGEST_KEY, a
 * JSON object giving for every tensor the first 16 hex digits of the SHA-256
 * of its bytes, and under "__metadata__" those of a SHA-256 of the rest of
 * the header (every other metadata entry, and each tensor's name, dtype,
 * shape and offsets; see header_digest in src/io/safetensors.c). Other
 * readers ignore the entry. When a file has it, opening checks the header
 * (a damaged one is MD_ERR_FORMAT), and each tensor is checked as it is
 * read (MD_ERR_FORMAT naming the tensor and its file bytes);
 * md_safetensors_load checks every tensor before writing any destination. The entry is not listed among the metadata on reading,
 * and callers cannot write that key themselves. A file without it (written
 * by other tools) is read unchecked.
 *
 * Only little-endian hosts are supported (MD_ERR_UNSUPPORTED elsewhere). */
#ifndef MAXDROP_SAFETENSORS_H
#define MAXDROP_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "maxdrop/api.h"
#include "maxdrop/status.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
  MD_ST_MAX_DIMS = 8,          /* most dimensions of one tensor */
  MD_ST_MAX_NAME = 256,        /* longest tensor name or metadata key, in bytes */
  MD_ST_MAX_HEADER = 100000000 /* largest accepted JSON header, in bytes */
};

/* Element types: the dtype strings of the safetensors format. */
#define MD_ST_DIGEST_KEY "maxdrop.sha256"

typedef enum md_st_dtype {
  MD_ST_F32 = 0, /* "F32" */
  MD_ST_I64,     /* "I64" */
  MD_ST_U64,     /* "U64" */
  MD_ST_F64,     /* "F64" */
  MD_ST_F16,     /* "F16" */
  MD_ST_BF16,    /* "BF16" */
  MD_ST_I32,     /* "I32" */
  MD_ST_I16,     /* "I16" */
  MD_ST_I8,      /* "I8" */
  MD_ST_U32,     /* "U32" */
  MD_ST_U16,     /* "U16" */
  MD_ST_U8,      /* "U8" */
  MD_ST_BOOL,    /* "BOOL" */
  MD_ST_F8_E4M3, /* "F8_E4M3" */
  MD_ST_F8_E5M2, /* "F8_E5M2" */
  MD_ST_N_DTYPES
} md_st_dtype;

/* "F32", ...; "?" for a value out of range. */
MD_API const char *md_st_dtype_name(md_st_dtype dtype);
/* Bytes per element; 0 for a value out of range. */
MD_API size_t md_st_dtype_size(md_st_dtype dtype);

/* One named tensor of a caller's table: the source when writing, the
 * destination when loading. `data` points to numel * item size bytes in
 * row-major order, typically into a model's contiguous parameter buffer. */
typedef struct md_st_tensor {
  const char *name;
  md_st_dtype dtype;
  int ndim;                        /* 0 (scalar) .. MD_ST_MAX_DIMS */
  int64_t shape[MD_ST_MAX_DIMS];
  void *data;
} md_st_tensor;

/* One metadata entry ("__metadata__" of the header): both NUL-terminated. */
typedef struct md_st_meta {
  const char *key;
  const char *value;
} md_st_meta;

/* Elements of a table entry (product of its shape; 1 for a scalar), or -1
 * when a dimension is negative or the product overflows. */
MD_API int64_t md_st_numel(const md_st_tensor *t);

/* Writes n tensors and n_meta metadata entries to `path`, atomically.
 * MD_ERR_INVALID_ARGUMENT (nothing written) for an empty, too long, repeated
 * or reserved ("__metadata__") name, a bad dtype, ndim or shape, a NULL data
 * pointer for a non-empty tensor, a repeated or NULL metadata key or value;
 * MD_ERR_IO when the file cannot be written (an earlier file at `path` is
 * then unchanged). */
MD_API md_status md_safetensors_write(const char *path, const md_st_tensor *tensors,
                                      size_t n, const md_st_meta *meta, size_t n_meta,
                                      md_errbuf *eb);

/* An open, validated file. The tensors' data stays on disk until read. */
typedef struct md_safetensors md_safetensors;

/* Opens and validates `path` (see the top of this header). On success *out
 * owns the file until md_safetensors_close; on failure *out is NULL. */
MD_API md_status md_safetensors_open(const char *path, md_safetensors **out, md_errbuf *eb);
MD_API void md_safetensors_close(md_safetensors *st);

/* Tensors in header order (the order of the JSON object, metadata excluded). */
MD_API size_t md_safetensors_count(const md_safetensors *st);

/* Description of tensor i (< count): name (owned by st), dtype, ndim, shape,
 * and `data` = NULL. Returns MD_ERR_RANGE for a bad index. */
MD_API md_status md_safetensors_info(const md_safetensors *st, size_t i, md_st_tensor *out);

/* Index of the tensor called `name`, or -1. */
MD_API long md_safetensors_find(const md_safetensors *st, const char *name);

/* Reads tensor i's bytes into dst, which holds dst_bytes (must equal the
 * tensor's size). MD_ERR_RANGE for a bad index, MD_ERR_SHAPE for a size
 * mismatch, MD_ERR_IO when the file cannot be read (e.g. it shrank). */
MD_API md_status md_safetensors_read(md_safetensors *st, size_t i, void *dst, size_t dst_bytes,
                                     md_errbuf *eb);

/* Metadata entries, in header order; strings owned by st. */
MD_API size_t md_safetensors_meta_count(const md_safetensors *st);

/* 1 when the file carries maxdrop's checksums (and they matched its header),
 * 0 when it has none. */
MD_API int md_safetensors_checked(const md_safetensors *st);
MD_API md_status md_safetensors_meta_at(const md_safetensors *st, size_t i, md_st_meta *out);
/* The value stored under `key`, or NULL. */
MD_API const char *md_safetensors_meta_get(const md_safetensors *st, const char *key);

/* Options of md_safetensors_load. */
enum {
  MD_ST_LOAD_STRICT = 0,            /* the file holds exactly the table's tensors */
  MD_ST_LOAD_IGNORE_UNEXPECTED = 1, /* tensors of the file absent from the table are ignored */
  MD_ST_LOAD_ALLOW_MISSING = 2      /* table entries absent from the file are left untouched */
};

/* Fills a caller's table from the file: every entry's data receives the
 * tensor of the same name. The whole table is checked against the header
 * before any byte is copied, so a mismatch leaves every destination untouched:
 *   - a table entry the file lacks:           MD_ERR_FORMAT "missing tensor 'x'"
 *   - a file tensor the table lacks:          MD_ERR_FORMAT "unexpected tensor 'x'"
 *   - same name, other dtype or shape:        MD_ERR_SHAPE, naming both shapes
 *   - a repeated name or bad entry in table:  MD_ERR_INVALID_ARGUMENT
 * (the first two unless `flags` relax them). A read error while copying
 * (MD_ERR_IO) can leave the table partly filled. */
MD_API md_status md_safetensors_load(md_safetensors *st, const md_st_tensor *table, size_t n,
                                     unsigned flags, md_errbuf *eb);

/* Convenience: open `path`, load the table (flags as above), close. */
MD_API md_status md_safetensors_load_file(const char *path, const md_st_tensor *table,
                                          size_t n, unsigned flags, md_errbuf *eb);

#ifdef __cplusplus
}
#endif

#endif /* MAXDROP_SAFETENSORS_H */
