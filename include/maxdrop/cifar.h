/* maxdrop/cifar.h - the CIFAR-10 and CIFAR-100 binary files.
 *
 * CIFAR-10 (cifar-10-batches-bin/): data_batch_1..5.bin (training) and
 * test_batch.bin, records of 1 label byte + 3072 pixel bytes; class names in
 * batches.meta.txt. CIFAR-100 (cifar-100-binary/): train.bin and test.bin,
 * records of 1 coarse-label byte + 1 fine-label byte + 3072 pixel bytes; class
 * names in fine_label_names.txt and coarse_label_names.txt. The 3072 pixel
 * bytes are three 32 x 32 planes R, G, B, each row-major, top row first; they
 * are kept in that layout, so image i is a (3, 32, 32) uint8 tensor.
 * Classification uses the fine label of CIFAR-100 (100 classes).
 *
 * Every file is validated before use: it must exist, hold a whole number of
 * records, and every label must be in range. A CIFAR-100 file read as
 * CIFAR-10 (or the reverse) is recognised by its size and reported as such; a
 * size that is a multiple of both record sizes is decided by the labels. Each
 * error message names the file, its size and what was expected. */
#ifndef MAXDROP_CIFAR_H
#define MAXDROP_CIFAR_H

#include <stdint.h>

#include "maxdrop/api.h"
#include "maxdrop/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum md_cifar_kind {
  MD_CIFAR_AUTO = 0, /* decide from the file (size, then labels) */
  MD_CIFAR_10 = 10,
  MD_CIFAR_100 = 100
} md_cifar_kind;

typedef enum md_cifar_split { MD_CIFAR_TRAIN = 0, MD_CIFAR_TEST = 1 } md_cifar_split;

enum {
  MD_CIFAR_SIDE = 32,
  MD_CIFAR_CHANNELS = 3,
  MD_CIFAR_IMAGE_BYTES = 3 * 32 * 32, /* 3072 */
  MD_CIFAR10_RECORD_BYTES = 1 + 3072,
  MD_CIFAR100_RECORD_BYTES = 2 + 3072,
  MD_CIFAR100_COARSE_CLASSES = 20,
  MD_CIFAR_NAME_MAX = 64 /* longest class name kept, NUL included */
};

/* A loaded set of images. Release with md_cifar_free. */
typedef struct md_cifar {
  md_cifar_kind kind;      /* MD_CIFAR_10 or MD_CIFAR_100 */
  int num_classes;         /* 10 or 100 */
  int64_t n;               /* number of images */
  uint8_t *images;         /* (n, 3, 32, 32) */
  uint8_t *labels;         /* (n,) class in [0, num_classes); CIFAR-100: fine label */
  uint8_t *coarse_labels;  /* (n,) CIFAR-100 superclass in [0, 20); NULL for CIFAR-10 */
  char **class_names;      /* num_classes names, or NULL when the names file is absent */
  char **coarse_names;     /* 20 superclass names (CIFAR-100), or NULL when absent */
} md_cifar;

/* "CIFAR-10", "CIFAR-100" or "CIFAR (auto)". */
MD_API const char *md_cifar_kind_name(md_cifar_kind kind);

/* Image i of d: 3072 bytes, (3, 32, 32). */
static inline const uint8_t *md_cifar_image(const md_cifar *d, int64_t i) {
  return d->images + i * (int64_t)MD_CIFAR_IMAGE_BYTES;
}

/* Loads every record of one file. kind may be MD_CIFAR_AUTO. The class names
 * are read from the names file in the same folder when it exists (a names
 * file with the wrong number of names is an error). Errors: MD_ERR_IO (cannot
 * open or read), MD_ERR_FORMAT (size, or a file of the other kind),
 * MD_ERR_RANGE (a label out of range), MD_ERR_OUT_OF_MEMORY. *out is zeroed on
 * failure. */
MD_API md_status md_cifar_read_file(const char *path, md_cifar_kind kind, md_cifar *out,
                                    md_errbuf *eb);

/* Loads the standard split from the folder `dir` that holds the files:
 * CIFAR-10 training = data_batch_1..5.bin in order (50000 images), test =
 * test_batch.bin; CIFAR-100 training = train.bin, test = test.bin. With
 * MD_CIFAR_AUTO the kind is chosen by which of these files exist. */
MD_API md_status md_cifar_load_split(const char *dir, md_cifar_kind kind,
                                     md_cifar_split split, md_cifar *out, md_errbuf *eb);

/* Reads the class names of d->kind from the folder `dir` into d (replacing
 * any it has). A missing names file is not an error: the names stay NULL. */
MD_API md_status md_cifar_load_names(md_cifar *d, const char *dir, md_errbuf *eb);

MD_API void md_cifar_free(md_cifar *d);

/* One record, read on its own (one seek, one read) after the file's size and
 * kind are validated. */
typedef struct md_cifar_record {
  md_cifar_kind kind;
  int64_t count;                        /* records in the file */
  int label;                            /* class (CIFAR-100: fine label) */
  int coarse_label;                     /* CIFAR-100 superclass; -1 for CIFAR-10 */
  char class_name[MD_CIFAR_NAME_MAX];   /* "" when no names file is present */
  uint8_t image[MD_CIFAR_IMAGE_BYTES];  /* (3, 32, 32) */
} md_cifar_record;

/* Errors as md_cifar_read_file, and MD_ERR_RANGE for an index outside
 * [0, count). */
MD_API md_status md_cifar_read_record(const char *path, md_cifar_kind kind, int64_t index,
                                      md_cifar_record *out, md_errbuf *eb);

/* Where the data is: the first candidate folder that exists and contains
 * cifar-10-batches-bin/ or cifar-100-binary/, in this order: `explicit_dir`
 * (when not NULL or ""), $MAXDROP_DATA, ./data, ../shared/data. An explicit
 * folder is the only candidate when given (a wrong --data is an error, not a
 * silent fall-back); it may also be a cifar-10-batches-bin or
 * cifar-100-binary folder itself. MD_ERR_IO, naming every place tried, when
 * nothing is found. */
typedef struct md_cifar_location {
  char root[4096];     /* the chosen folder */
  char cifar10[4096];  /* its CIFAR-10 folder, or "" */
  char cifar100[4096]; /* its CIFAR-100 folder, or "" */
} md_cifar_location;

MD_API md_status md_cifar_find_data(const char *explicit_dir, md_cifar_location *out,
                                    md_errbuf *eb);

#ifdef __cplusplus
}
#endif

#endif
