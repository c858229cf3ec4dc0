/* maxdrop/tensor.h - the shape of an N x C x H x W float32 buffer.
 *
 * maxdrop's kernels work on flat, contiguous, row-major float buffers; a shape
 * says how to read them. A flat tensor of L elements is {1, 1, 1, L}; a matrix
 * of N rows and F features is {N, F, 1, 1}. */
#ifndef MAXDROP_TENSOR_H
#define MAXDROP_TENSOR_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct md_shape {
  int64_t n, c, h, w;
} md_shape;

static inline md_shape md_shape4(int64_t n, int64_t c, int64_t h, int64_t w) {
  md_shape s = {n, c, h, w};
  return s;
}

/* Number of elements, or -1 when a dimension is negative or the product
 * overflows. */
static inline int64_t md_shape_numel(md_shape s) {
  if (s.n < 0 || s.c < 0 || s.h < 0 || s.w < 0) return -1;
  int64_t p = 1;
  const int64_t d[4] = {s.n, s.c, s.h, s.w};
  for (int i = 0; i < 4; ++i) {
    if (d[i] != 0 && p > INT64_MAX / d[i]) return -1;
    p *= d[i];
  }
  return p;
}

#ifdef __cplusplus
}
#endif

#endif
