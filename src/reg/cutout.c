/* Cutout: square holes of side L, zero in every channel (see maxdrop/cutout.h). */
#include "maxdrop/cutout.h"

#include <stdlib.h>
#include <string.h>

md_status md_cutout_init(md_cutout *c, int n_holes, int length, uint64_t seed,
                         uint64_t stream) {
  if (!c) return MD_ERR_INVALID_ARGUMENT;
  memset(c, 0, sizeof *c);
  c->shape = md_shape4(-1, 0, 0, 0);
  if (n_holes < 0 || length < 0) return MD_ERR_INVALID_ARGUMENT;
  c->n_holes = n_holes;
  c->length = length;
  md_rng_init(&c->rng, seed, stream);
  return MD_OK;
}

void md_cutout_free(md_cutout *c) {
  if (!c) return;
  free(c->keep);
  c->keep = NULL;
  c->keep_cap = 0;
  c->shape = md_shape4(-1, 0, 0, 0);
}

md_status md_cutout_reserve(md_cutout *c, md_shape shape) {
  if (!c) return MD_ERR_INVALID_ARGUMENT;
  if (md_shape_numel(shape) < 0) return MD_ERR_SHAPE;
  const int64_t need = md_shape_numel(md_shape4(shape.n, 1, shape.h, shape.w));
  if (need < 0) return MD_ERR_SHAPE;
  if (need <= c->keep_cap) return MD_OK;
  if ((uint64_t)need > SIZE_MAX) return MD_ERR_OUT_OF_MEMORY;
  uint8_t *k = realloc(c->keep, (size_t)need);
  if (!k) return MD_ERR_OUT_OF_MEMORY;
  c->keep = k;
  c->keep_cap = need;
  return MD_OK;
}

/* Clips the span [centre - half, centre + half) to [0, size). */
static void span(int64_t centre, int64_t half, int64_t size, int64_t *lo, int64_t *hi) {
  int64_t a = centre - half, b = centre + half;
  if (a < 0) a = 0;
  if (b > size) b = size;
  *lo = a;
  *hi = b;
}

md_status md_cutout_forward(md_cutout *c, md_shape shape, const float *x, float *y,
                            int training) {
  const int64_t numel = md_shape_numel(shape);
  if (numel < 0) return MD_ERR_SHAPE;
  if (numel == 0) return MD_ERR_EMPTY;
  if (!c || !x || !y) return MD_ERR_INVALID_ARGUMENT;
  const md_status rc = md_cutout_reserve(c, shape);
  if (rc != MD_OK) return rc;
  const int64_t N = shape.n, C = shape.c, H = shape.h, W = shape.w, HW = H * W;
  c->shape = shape;
  memset(c->keep, 1, (size_t)(N * HW));
  if (!training) {
    if (y != x) memcpy(y, x, (size_t)numel * sizeof *x);
    return MD_OK;
  }
  /* Holes are drawn in a fixed order (image, hole; row then column), so the
   * result does not depend on the thread count. */
  const int64_t half = c->length / 2;
  for (int64_t n = 0; n < N; ++n) {
    uint8_t *k = c->keep + n * HW;
    for (int h = 0; h < c->n_holes; ++h) {
      const int64_t cy = (int64_t)md_rng_below(&c->rng, (uint64_t)H);
      const int64_t cx = (int64_t)md_rng_below(&c->rng, (uint64_t)W);
      int64_t y0, y1, x0, x1;
      span(cy, half, H, &y0, &y1);
      span(cx, half, W, &x0, &x1);
      for (int64_t r = y0; r < y1; ++r) memset(k + r * W + x0, 0, (size_t)(x1 - x0));
    }
  }
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < N * C; ++p) {
    const uint8_t *k = c->keep + (p / C) * HW;
    const float *xs = x + p * HW;
    float *ys = y + p * HW;
    for (int64_t i = 0; i < HW; ++i) ys[i] = k[i] ? xs[i] : 0.0f;
  }
  return MD_OK;
}

md_status md_cutout_backward(const md_cutout *c, const float *dy, float *dx) {
  if (!c || c->shape.n < 0) return MD_ERR_STATE;
  if (!dy || !dx) return MD_ERR_INVALID_ARGUMENT;
  const int64_t N = c->shape.n, C = c->shape.c, HW = c->shape.h * c->shape.w;
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < N * C; ++p) {
    const uint8_t *k = c->keep + (p / C) * HW;
    const float *g = dy + p * HW;
    float *o = dx + p * HW;
    for (int64_t i = 0; i < HW; ++i) o[i] = k[i] ? g[i] : 0.0f;
  }
  return MD_OK;
}
