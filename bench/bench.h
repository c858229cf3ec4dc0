/* Benchmarks run by `maxdrop bench <name>`. Each prints one JSON object per
 * line and per measurement on `out` and returns a process exit code. */
#ifndef MD_BENCH_H
#define MD_BENCH_H

#include <stdio.h>

typedef struct md_bench_opts {
  int threads; /* OpenMP threads (already applied by the caller) */
  int reps;    /* timed repetitions per measurement; the median is reported */
  int batch;   /* batch size of the benchmarked shapes */
  int offset;  /* tensors start this many floats past a 64-byte boundary */
} md_bench_opts;

/* Memory-copy bandwidth of this machine, then MaxDropout forward + backward
 * (training, reference configuration) on the ResNet-18 stage outputs. */
int md_bench_maxdropout(const md_bench_opts *o, FILE *out);

#endif
