/* Timing helpers shared by the benchmarks (bench.h). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

double md_bench_now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

double md_bench_median(const double *v, int n) {
  double *c = malloc((size_t)n * sizeof *c);
  if (!c) return v[0];
  memcpy(c, v, (size_t)n * sizeof *c);
  qsort(c, (size_t)n, sizeof *c, cmp_double);
  const double m = n % 2 ? c[n / 2] : 0.5 * (c[n / 2 - 1] + c[n / 2]);
  free(c);
  return m;
}
