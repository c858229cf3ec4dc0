/* Average pooling, k x k with stride k, and global (see maxdrop/pool.h).
 * Both are one kernel over kh x kw windows with strides kh, kw; one N*C
 * plane is one unit of work. */
#include "maxdrop/pool.h"

#include <stddef.h>

static md_status check(md_shape in, int64_t kh, int64_t kw, const void *a, const void *b) {
  const int64_t numel = md_shape_numel(in);
  if (!a || !b) return MD_ERR_INVALID_ARGUMENT;
  if (kh < 1 || kw < 1) return MD_ERR_INVALID_ARGUMENT;
  if (numel < 0) return MD_ERR_SHAPE;
  if (numel == 0) return MD_ERR_EMPTY;
  if (kh > in.h || kw > in.w) return MD_ERR_SHAPE;
  return MD_OK;
}

static void pool_forward(md_shape in, int64_t kh, int64_t kw, const float *x, float *y) {
  const int64_t H = in.h, W = in.w, OH = H / kh, OW = W / kw;
  const int64_t planes = in.n * in.c;
  const double inv = 1.0 / (double)(kh * kw);
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < planes; ++p) {
    const float *xp = x + p * H * W;
    float *yp = y + p * OH * OW;
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        double acc = 0.0;
        for (int64_t i = 0; i < kh; ++i) {
          const float *row = xp + (oh * kh + i) * W + ow * kw;
          for (int64_t j = 0; j < kw; ++j) acc += (double)row[j];
        }
        yp[oh * OW + ow] = (float)(acc * inv);
      }
  }
}

static void pool_backward(md_shape in, int64_t kh, int64_t kw, const float *dy, float *dx) {
  const int64_t H = in.h, W = in.w, OH = H / kh, OW = W / kw;
  const int64_t planes = in.n * in.c;
  const double area = (double)(kh * kw);
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < planes; ++p) {
    const float *gp = dy + p * OH * OW;
    float *dp = dx + p * H * W;
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        const float g = (float)((double)gp[oh * OW + ow] / area);
        for (int64_t i = 0; i < kh; ++i) {
          float *row = dp + (oh * kh + i) * W + ow * kw;
          for (int64_t j = 0; j < kw; ++j) row[j] += g;
        }
      }
  }
}

md_status md_avgpool2d_forward(md_shape in, int k, const float *x, float *y) {
  const md_status st = check(in, k, k, x, y);
  if (st != MD_OK) return st;
  pool_forward(in, k, k, x, y);
  return MD_OK;
}

md_status md_avgpool2d_backward(md_shape in, int k, const float *dy, float *dx) {
  const md_status st = check(in, k, k, dy, dx);
  if (st != MD_OK) return st;
  pool_backward(in, k, k, dy, dx);
  return MD_OK;
}

md_status md_global_avgpool_forward(md_shape in, const float *x, float *y) {
  const md_status st = check(in, in.h > 0 ? in.h : 1, in.w > 0 ? in.w : 1, x, y);
  if (st != MD_OK) return st;
  pool_forward(in, in.h, in.w, x, y);
  return MD_OK;
}

md_status md_global_avgpool_backward(md_shape in, const float *dy, float *dx) {
  const md_status st = check(in, in.h > 0 ? in.h : 1, in.w > 0 ? in.w : 1, dy, dx);
  if (st != MD_OK) return st;
  pool_backward(in, in.h, in.w, dy, dx);
  return MD_OK;
}
