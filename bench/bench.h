/* Benchmarks run by `maxdrop bench <name>`. Each prints one JSON object per
 * line and per measurement on `out` and returns a process exit code. */
#ifndef MD_BENCH_H
#define MD_BENCH_H

#include <stdio.h>

#include "maxdrop/model.h"

typedef struct md_bench_opts {
  int threads; /* OpenMP threads (already applied by the caller) */
  int reps;    /* timed repetitions per measurement; the median is reported */
  int batch;   /* batch size of the benchmarked shapes */
  int offset;  /* tensors start this many floats past a 64-byte boundary */
} md_bench_opts;

/* Memory-copy bandwidth of this machine, then MaxDropout forward + backward
 * (training, reference configuration) on the ResNet-18 stage outputs. */
int md_bench_maxdropout(const md_bench_opts *o, FILE *out);

/* Options of `maxdrop bench train-step`. */
typedef struct md_bench_train_opts {
  md_model_config cfg; /* the model */
  int batch;           /* batch size */
  int steps;           /* timed steps (and evaluation forwards); medians reported */
} md_bench_train_opts;

/* Median time of a whole training step (forward, loss, backward, SGD) and of
 * an evaluation forward, images per second and peak resident memory, as one
 * JSON object. */
int md_bench_train_step(const md_bench_train_opts *o, FILE *out);

/* Options of `maxdrop bench loader`. */
typedef struct md_bench_loader_opts {
  const char *data; /* --data, or NULL for the search order */
  int batch;        /* batch size */
  int epochs;       /* timed epochs per mode; medians reported */
  int limit;        /* first N training images (0 = all) */
  int cutout;       /* 1: Cutout (1 hole of 16) in the training pipeline */
  int erasing;      /* 1: RandomErasing in the training pipeline */
} md_bench_loader_opts;

/* Images per second of the data pipeline alone (CIFAR-10 training set,
 * uint8 -> augmented, normalised float batches), without prefetching, in
 * training and in evaluation mode: one JSON object per mode. */
int md_bench_loader(const md_bench_loader_opts *o, FILE *out);

/* Monotonic clock in seconds; the median of v[0..n) (v is not changed). */
double md_bench_now_s(void);
double md_bench_median(const double *v, int n);

#endif
