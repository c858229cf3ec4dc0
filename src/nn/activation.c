/* ReLU forward and backward (see maxdrop/activation.h). */
#include "maxdrop/activation.h"

#include <stddef.h>

static md_status check(int64_t n, const void *a, const void *b) {
  if (n < 0) return MD_ERR_SHAPE;
  if (n > 0 && (!a || !b)) return MD_ERR_INVALID_ARGUMENT;
  return MD_OK;
}

md_status md_relu_forward(int64_t n, const float *x, float *y) {
  const md_status st = check(n, x, y);
  if (st != MD_OK) return st;
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    /* As torch.relu: NaN (v < 0 is false) and -0 pass through unchanged. */
    y[i] = v < 0.0f ? 0.0f : v;
  }
  return MD_OK;
}

md_status md_relu_backward(int64_t n, const float *ref, const float *dy, float *dx) {
  md_status st = check(n, ref, dy);
  if (st == MD_OK) st = check(n, dx, dx);
  if (st != MD_OK) return st;
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) dx[i] += ref[i] <= 0.0f ? 0.0f : dy[i];
  return MD_OK;
}

md_status md_relu_backward_inplace(int64_t n, const float *ref, float *d) {
  const md_status st = check(n, ref, d);
  if (st != MD_OK) return st;
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) d[i] = ref[i] <= 0.0f ? 0.0f : d[i];
  return MD_OK;
}
