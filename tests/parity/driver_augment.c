/* Runs one epoch of the batch loader over a dataset given as .npy files and
 * writes what it produced, for tests/parity/test_augment_parity.py:
 *   driver_augment IMAGES.npy LABELS.npy SEED EPOCH BATCH TRAIN PREFETCH OUTDIR
 * IMAGES uint8 (N, 3, 32, 32), LABELS uint8 (N). Writes to OUTDIR (float32):
 *   images.npy (N, 3, 32, 32)  the epoch's batches, concatenated
 *   labels.npy (N), sources.npy (N), choices.npy (N, 3) = dy, dx, flip
 *   sizes.npy (number of batches) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maxdrop/loader.h"
#include "maxdrop/npy.h"

static int die(const char *what, const md_errbuf *eb) {
  fprintf(stderr, "driver_augment: %s: %s\n", what, eb->msg);
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 9) {
    fprintf(stderr, "usage: driver_augment IMAGES.npy LABELS.npy SEED EPOCH BATCH TRAIN "
                    "PREFETCH OUTDIR\n");
    return 2;
  }
  md_errbuf eb = {{0}};
  md_npy_array im, lb;
  if (md_npy_read(argv[1], &im, &eb) != MD_OK) return die("images", &eb);
  if (md_npy_read(argv[2], &lb, &eb) != MD_OK) return die("labels", &eb);
  if (im.dtype != MD_NPY_U8 || im.ndim != 4 || im.dims[1] != 3 || im.dims[2] != 32 ||
      im.dims[3] != 32 || lb.dtype != MD_NPY_U8 || lb.ndim != 1 || lb.dims[0] != im.dims[0]) {
    fprintf(stderr, "driver_augment: expected uint8 (N,3,32,32) images and (N) labels\n");
    return 2;
  }
  const int64_t n = im.dims[0], E = 3 * 32 * 32;
  int32_t *labels = malloc((size_t)n * sizeof *labels);
  float *out = malloc((size_t)(n * E) * sizeof *out);
  float *olab = malloc((size_t)n * sizeof *olab), *osrc = malloc((size_t)n * sizeof *osrc);
  float *ochoice = malloc((size_t)n * 3 * sizeof *ochoice);
  float *osizes = malloc((size_t)n * sizeof *osizes);
  if (!labels || !out || !olab || !osrc || !ochoice || !osizes) return 1;
  for (int64_t i = 0; i < n; ++i) labels[i] = ((const uint8_t *)lb.data)[i];

  md_loader_config cfg = md_loader_default_config();
  cfg.seed = strtoull(argv[3], NULL, 0);
  const int64_t epoch = strtoll(argv[4], NULL, 10);
  cfg.batch_size = strtoll(argv[5], NULL, 10);
  cfg.train = atoi(argv[6]);
  cfg.prefetch = atoi(argv[7]);
  md_loader *ld;
  if (md_loader_create(&ld, &cfg, im.data, labels, n, &eb) != MD_OK) return die("loader", &eb);
  if (md_loader_start_epoch(ld, epoch) != MD_OK) return 1;
  int64_t pos = 0, nb = 0;
  md_batch b;
  for (;;) {
    if (md_loader_next(ld, &b) != MD_OK) return 1;
    if (b.size == 0) break;
    memcpy(out + pos * E, b.images, (size_t)(b.size * E) * sizeof *out);
    for (int64_t i = 0; i < b.size; ++i) {
      olab[pos + i] = (float)b.labels[i];
      osrc[pos + i] = (float)b.sources[i];
      ochoice[(pos + i) * 3 + 0] = (float)b.choices[i].dy;
      ochoice[(pos + i) * 3 + 1] = (float)b.choices[i].dx;
      ochoice[(pos + i) * 3 + 2] = (float)b.choices[i].flip;
    }
    osizes[nb++] = (float)b.size;
    pos += b.size;
  }
  md_loader_destroy(ld);
  const char *dir = argv[8];
  char path[4096];
  const int64_t d_img[4] = {n, 3, 32, 32}, d_n[1] = {n}, d_ch[2] = {n, 3}, d_nb[1] = {nb};
  struct {
    const char *name;
    int ndim;
    const int64_t *dims;
    const float *data;
  } files[5] = {{"images", 4, d_img, out},
                {"labels", 1, d_n, olab},
                {"sources", 1, d_n, osrc},
                {"choices", 2, d_ch, ochoice},
                {"sizes", 1, d_nb, osizes}};
  for (int f = 0; f < 5; ++f) {
    snprintf(path, sizeof path, "%s/%s.npy", dir, files[f].name);
    if (md_npy_write(path, MD_NPY_F32, files[f].ndim, files[f].dims, files[f].data, &eb) !=
        MD_OK)
      return die(path, &eb);
  }
  md_npy_free(&im);
  md_npy_free(&lb);
  free(labels);
  free(out);
  free(olab);
  free(osrc);
  free(ochoice);
  free(osizes);
  return 0;
}
