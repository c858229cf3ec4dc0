/* The residual addition (see maxdrop/residual.h). */
#include "maxdrop/residual.h"

#include <stddef.h>

md_status md_residual_add_forward(int64_t n, const float *a, const float *b, float *y) {
  if (n < 0) return MD_ERR_SHAPE;
  if (n > 0 && (!a || !b || !y)) return MD_ERR_INVALID_ARGUMENT;
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
  return MD_OK;
}

md_status md_residual_add_backward(int64_t n, const float *dy, float *da, float *db) {
  if (n < 0) return MD_ERR_SHAPE;
  if (n > 0 && !dy) return MD_ERR_INVALID_ARGUMENT;
  if (da) {
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) da[i] += dy[i];
  }
  if (db) {
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) db[i] += dy[i];
  }
  return MD_OK;
}
