/* Throughput of the data pipeline alone: one epoch of 50000 CIFAR-10 training
 * images in batches of 128 (shuffle, crop, flip, normalise), synchronous and
 * with the prefetch thread, then the same with Cutout, then evaluation mode.
 *   driver_loader_bench [CIFAR10_DIR [EPOCHS]]
 * Reads data_batch_1..5.bin from CIFAR10_DIR when they are there, otherwise
 * uses random pixels. Prints images per second (median over EPOCHS). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "maxdrop/loader.h"

enum { N = 50000, REC = 3073, E = 3072 };

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int load(const char *dir, uint8_t *images, int32_t *labels) {
  uint8_t *rec = malloc(REC);
  if (!rec) return 0;
  for (int f = 0; f < 5; ++f) {
    char path[4096];
    snprintf(path, sizeof path, "%s/data_batch_%d.bin", dir, f + 1);
    FILE *fp = fopen(path, "rb");
    if (!fp) {
      free(rec);
      return 0;
    }
    for (int i = 0; i < 10000; ++i) {
      if (fread(rec, 1, REC, fp) != REC) {
        fclose(fp);
        free(rec);
        return 0;
      }
      const int64_t k = (int64_t)f * 10000 + i;
      labels[k] = rec[0];
      memcpy(images + k * E, rec + 1, E);
    }
    fclose(fp);
  }
  free(rec);
  return 1;
}

static int cmp(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double run(const char *name, md_loader_config cfg, const uint8_t *images,
                  const int32_t *labels, int epochs) {
  md_loader *ld;
  md_errbuf eb;
  if (md_loader_create(&ld, &cfg, images, labels, N, &eb) != MD_OK) {
    fprintf(stderr, "driver_loader_bench: %s\n", eb.msg);
    exit(1);
  }
  double *t = malloc((size_t)epochs * sizeof *t);
  double checksum = 0;
  for (int e = 0; e < epochs; ++e) {
    const double t0 = now();
    md_loader_start_epoch(ld, e);
    md_batch b;
    while (md_loader_next(ld, &b) == MD_OK && b.size > 0) checksum += b.images[0];
    t[e] = now() - t0;
  }
  qsort(t, (size_t)epochs, sizeof *t, cmp);
  const double med = t[epochs / 2];
  printf("%-28s %9.0f images/s  (median epoch %.3f s; checksum %.3f)\n", name, N / med, med,
         checksum);
  free(t);
  md_loader_destroy(ld);
  return N / med;
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "../shared/data/cifar-10-batches-bin";
  const int epochs = argc > 2 ? atoi(argv[2]) : 5;
  if (epochs < 1) return 2;
  uint8_t *images = malloc((size_t)N * E);
  int32_t *labels = malloc((size_t)N * sizeof *labels);
  if (!images || !labels) return 1;
  if (load(dir, images, labels)) {
    printf("data: CIFAR-10 training set from %s\n", dir);
  } else {
    printf("data: random pixels (no CIFAR-10 in %s)\n", dir);
    md_rng r;
    md_rng_init(&r, 1, 1);
    for (int64_t i = 0; i < (int64_t)N * E; ++i) images[i] = (uint8_t)(md_rng_u64(&r) >> 56);
    for (int i = 0; i < N; ++i) labels[i] = i % 10;
  }
  md_loader_config cfg = md_loader_default_config();
  cfg.batch_size = 128;
  cfg.prefetch = 0;
  run("train, synchronous", cfg, images, labels, epochs);
  cfg.prefetch = 1;
  run("train, prefetch thread", cfg, images, labels, epochs);
  cfg.cutout_holes = 1;
  cfg.cutout_length = 16;
  run("train + Cutout, prefetch", cfg, images, labels, epochs);
  cfg.cutout_holes = 0;
  cfg.train = 0;
  run("eval, prefetch thread", cfg, images, labels, epochs);
  free(images);
  free(labels);
  return 0;
}
