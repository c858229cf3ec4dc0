/* Conv2d backward: the three gradients, each accumulated (+=).
 *   dbias   += dy summed over images and positions
 *   dx      += col2im(weight^T * dy)     one SGEMM per tile, threads over images
 *   dweight += dy * im2col(x)^T          one SGEMM per tile, threads over channel
 *                                        chunks of dweight, tiles summed in order */
#include <cblas.h>
#include <omp.h>

#include "maxdrop/conv2d.h"
#include "nn/blas_threads.h"
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

md_status md_conv2d_backward(const md_conv2d_desc *d, md_shape in, const float *x,
                             const float *weight, const float *dy, float *dx, float *dweight,
                             float *dbias, float *ws, size_t ws_floats) {
  md_conv_plan pl;
  md_status st = md_conv_plan_make(d, in, &pl);
  if (st != MD_OK) return st;
  if (!dy || (dx && !weight) || (dweight && !x) || (dbias && !d->has_bias))
    return MD_ERR_INVALID_ARGUMENT;
  if (md_conv_plan_threads(&pl, ws, ws_floats, 1) == 0) return MD_ERR_INVALID_ARGUMENT;
  md_blas_one_thread();
  const size_t share = md_conv_plan_thread_floats(&pl);

  if (dbias) {
    const int nt = md_conv_plan_threads(&pl, ws, ws_floats, pl.oc);
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int o = 0; o < pl.oc; ++o) {
      double s = 0.0;
      for (int i = 0; i < pl.n; ++i) {
        const float *r = dy + ((size_t)i * pl.oc + o) * pl.p;
        for (int j = 0; j < pl.p; ++j) s += r[j];
      }
      dbias[o] += (float)s;
    }
  }

  if (dx) {
    const int nt = md_conv_plan_threads(&pl, ws, ws_floats, pl.n_units);
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (int u = 0; u < pl.n_units; ++u) {
      float *mine = share ? ws + (size_t)omp_get_thread_num() * share : NULL;
      float *out = mine ? mine + pl.col_floats : NULL;
      if (pl.per_tile == 1) {
        for (int s = 0; s < pl.sub; ++s) dx_tile(&pl, u * pl.sub + s, weight, dy, dx, mine, out);
      } else {
        dx_tile(&pl, u, weight, dy, dx, mine, out);
      }
    }
  }

  if (dweight) {
    const int nt = md_conv_plan_threads(&pl, ws, ws_floats, pl.n_chunks);
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (int ch = 0; ch < pl.n_chunks; ++ch) {
      float *mine = share ? ws + (size_t)omp_get_thread_num() * share : NULL;
      const int c0 = (int)((int64_t)ch * pl.g.c / pl.n_chunks);
      const int c1 = (int)((int64_t)(ch + 1) * pl.g.c / pl.n_chunks);
      dw_chunk(&pl, c0, c1, x, dy, dweight, mine, mine ? mine + pl.col_floats : NULL);
    }
  }
  return MD_OK;
}
