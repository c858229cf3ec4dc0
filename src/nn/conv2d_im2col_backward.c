/* Conv2d backward, im2col method (see conv2d_plan.h); gradients accumulate:
 *   dx      += col2im(weight^T * dy)     one SGEMM per tile, threads over images
 *   dweight += dy * im2col(x)^T          one SGEMM per tile, threads over channel
 *                                        chunks of dweight, tiles summed in order
 * (dbias is summed in conv2d.c). */
#include <cblas.h>
#include <omp.h>

#include "nn/conv2d_plan.h"

/* The (oc x cols) dy block of tile tl: a view into dy for a tile inside one
 * image, else gathered into `buf`. Returns it and sets *ld. */
static const float *dy_block(const md_conv_plan *pl, const md_conv_tile *tl, const float *dy,
                             float *buf, int *ld) {
  const size_t y_img = (size_t)pl->oc * pl->p;
  if (pl->per_tile == 1) {
    *ld = pl->p;
    return dy + (size_t)tl->img0 * y_img + tl->p0;
  }
  const int cols = (tl->img1 - tl->img0) * pl->p;
  for (int i = tl->img0; i < tl->img1; ++i) {
    const float *src = dy + (size_t)i * y_img;
    float *dst = buf + (size_t)(i - tl->img0) * pl->p;
    for (int o = 0; o < pl->oc; ++o) {
      const float *s = src + (size_t)o * pl->p;
      float *r = dst + (size_t)o * cols;
      for (int j = 0; j < pl->p; ++j) r[j] = s[j];
    }
  }
  *ld = cols;
  return buf;
}

/* dx of the images of tile t. */
static void dx_tile(const md_conv_plan *pl, int t, const float *weight, const float *dy,
                    float *dx, float *col, float *out) {
  const md_conv_tile tl = md_conv_plan_tile(pl, t);
  const int cols = (tl.img1 - tl.img0) * (tl.p1 - tl.p0);
  const size_t x_img = (size_t)pl->g.c * pl->g.h * pl->g.w;
  int lddy;
  const float *dyt = dy_block(pl, &tl, dy, out, &lddy);
  if (pl->col_floats == 0) {
    /* 1x1 stride 1 inside one image: dx[:, p0:p1] += weight^T dy directly */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, pl->k, cols, pl->oc, 1.0f, weight,
                pl->k, dyt, lddy, 1.0f, dx + (size_t)tl.img0 * x_img + tl.p0, pl->p);
    return;
  }
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, pl->k, cols, pl->oc, 1.0f, weight,
              pl->k, dyt, lddy, 0.0f, col, cols);
  md_col2im_add(&pl->g, col, cols, tl.img1 - tl.img0, 0, pl->g.c, tl.p0, tl.p1,
                dx + (size_t)tl.img0 * x_img, x_img);
}

/* dweight columns of channels [c0, c1), summed over every tile in order. */
static void dw_chunk(const md_conv_plan *pl, int c0, int c1, const float *x, const float *dy,
                     float *dweight, float *col, float *out) {
  const size_t x_img = (size_t)pl->g.c * pl->g.h * pl->g.w;
  const int rows = (c1 - c0) * pl->kk;
  for (int t = 0; t < pl->n_tiles; ++t) {
    const md_conv_tile tl = md_conv_plan_tile(pl, t);
    const int cols = (tl.img1 - tl.img0) * (tl.p1 - tl.p0);
    int lddy;
    const float *dyt = dy_block(pl, &tl, dy, out, &lddy);
    const float *b;
    int ldb;
    if (pl->col_floats == 0) {
      b = x + (size_t)tl.img0 * x_img + (size_t)c0 * pl->p + tl.p0;
      ldb = pl->p;
    } else {
      md_im2col(&pl->g, x + (size_t)tl.img0 * x_img, x_img, tl.img1 - tl.img0, c0, c1, tl.p0,
                tl.p1, col, cols);
      b = col;
      ldb = cols;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, pl->oc, rows, cols, 1.0f, dyt, lddy,
                b, ldb, 1.0f, dweight + (size_t)c0 * pl->kk, pl->k);
  }
}

void md_conv_im2col_backward(const md_conv_plan *pl, const float *x, const float *weight,
                             const float *dy, float *dx, float *dweight, float *ws,
                             size_t ws_floats) {
  if (dx) {
    const int nt = md_conv_plan_threads(pl, ws, ws_floats, pl->n_units);
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (int u = 0; u < pl->n_units; ++u) {
      float *mine = md_conv_plan_thread_ws(pl, ws, omp_get_thread_num());
      float *out = mine ? mine + pl->col_floats : NULL;
      if (pl->per_tile == 1) {
        for (int s = 0; s < pl->sub; ++s)
          dx_tile(pl, u * pl->sub + s, weight, dy, dx, mine, out);
      } else {
        dx_tile(pl, u, weight, dy, dx, mine, out);
      }
    }
  }
  if (dweight) {
    const int nt = md_conv_plan_threads(pl, ws, ws_floats, pl->n_chunks);
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (int ch = 0; ch < pl->n_chunks; ++ch) {
      float *mine = md_conv_plan_thread_ws(pl, ws, omp_get_thread_num());
      int c0, c1;
      md_conv_plan_chunk(pl, ch, &c0, &c1);
      dw_chunk(pl, c0, c1, x, dy, dweight, mine, mine ? mine + pl->col_floats : NULL);
    }
  }
}
