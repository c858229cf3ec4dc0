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

#endif
