/* Conv2d, Winograd method on channels-last blocks, for small maps (see
 * conv2d_plan.h): a block of whole images is transposed to (H, W, C), every
 * transform is a vector operation over channels, and the GEMMs take the
 * transformed data as (tiles x channels):
 *   forward         M[xi]^T (t x oc) = V[xi]^T (t x c) U[xi]^T
 *   backward-data   dV[xi]^T (t x c) = Z[xi]^T (t x oc) U[xi]
 *   backward-weight dU[xi] (oc x c) += Z[xi] (oc x t) V[xi]^T (t x c)
 * Same blocks, units, chunks and order of sums as the channel-first kernels. */
#include <cblas.h>
#include <omp.h>
#include <string.h>

#include "nn/conv2d_epilogue.h"
#include "nn/conv2d_plan.h"
#include "nn/conv2d_winograd.h"
#include "nn/transpose.h"

static void forward_block(const md_conv_plan *pl, int b, const float *x, const float *u,
                          const float *bias, const md_conv_epilogue *ep, float *y,
                          float *mine) {
  const md_wino_block bl = md_conv_plan_block(pl, b);
  const md_wino_geom *wg = &pl->wg;
  const int c = pl->g.c, oc = pl->oc, nimg = bl.img1 - bl.img0;
  const int hw = wg->h * wg->w, ohw = wg->oh * wg->ow;
  const int t = nimg * wg->th * wg->tw;
  float *v = mine + MD_WINO_V_OFFSET(pl), *m = mine + MD_WINO_M_OFFSET(pl);
  float *scratch = mine + MD_WINO_SCRATCH_OFFSET(pl);
  float *xt = mine + MD_WINO_R1_OFFSET(pl), *yt = mine + MD_WINO_R2_OFFSET(pl);
  for (int i = 0; i < nimg; ++i)
    md_to_channels_last(x + (size_t)(bl.img0 + i) * c * hw, hw, 0, c, xt + (size_t)i * hw * c);
  md_wino_nhwc_input(wg, xt, c, nimg, 0, c, v, (size_t)t * c, scratch);
  for (int xi = 0; xi < pl->npts; ++xi)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, t, oc, c, 1.0f, v + (size_t)xi * t * c,
                c, u + (size_t)xi * oc * c, c, 0.0f, m + (size_t)xi * t * oc, oc);
  md_wino_nhwc_output(wg, m, (size_t)t * oc, oc, nimg, bias, yt, scratch);
  for (int i = 0; i < nimg; ++i) {
    const size_t at = (size_t)(bl.img0 + i) * oc * ohw;
    if (ep)
      md_from_channels_last_ep(yt + (size_t)i * ohw * oc, oc, ohw, y + at, ep,
                               ep->add ? ep->add + at : NULL);
    else
      md_from_channels_last(yt + (size_t)i * ohw * oc, oc, ohw, y + at, 0);
  }
}

void md_conv_winograd_nhwc_forward(const md_conv_plan *pl, const float *x, const float *u,
                                   const float *bias, const md_conv_epilogue *ep, float *y,
                                   float *ws, size_t ws_floats) {
  const int nt = md_conv_plan_threads(pl, ws, ws_floats, pl->n_blocks);
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
  for (int b = 0; b < pl->n_blocks; ++b)
    forward_block(pl, b, x, u, bias, ep, y,
                  md_conv_plan_thread_ws(pl, ws, omp_get_thread_num()));
}

/* dyt (images x OH x OW x oc) of block bl, and Z from it. */
static void dy_block(const md_conv_plan *pl, const md_wino_block *bl, const float *dy,
                     float *dyt, float *z, float *scratch) {
  const md_wino_geom *wg = &pl->wg;
  const int oc = pl->oc, nimg = bl->img1 - bl->img0, ohw = wg->oh * wg->ow;
  const int t = nimg * wg->th * wg->tw;
  for (int i = 0; i < nimg; ++i)
    md_to_channels_last(dy + (size_t)(bl->img0 + i) * oc * ohw, ohw, 0, oc,
                        dyt + (size_t)i * ohw * oc);
  md_wino_nhwc_dy(wg, dyt, oc, nimg, z, (size_t)t * oc, scratch);
}

static void dx_block(const md_conv_plan *pl, int b, const float *u, const float *dy, float *dx,
                     float *mine) {
  const md_wino_block bl = md_conv_plan_block(pl, b);
  const md_wino_geom *wg = &pl->wg;
  const int c = pl->g.c, oc = pl->oc, nimg = bl.img1 - bl.img0, hw = wg->h * wg->w;
  const int t = nimg * wg->th * wg->tw;
  float *dv = mine + MD_WINO_V_OFFSET(pl), *z = mine + MD_WINO_M_OFFSET(pl);
  float *scratch = mine + MD_WINO_SCRATCH_OFFSET(pl);
  float *dyt = mine + MD_WINO_R1_OFFSET(pl), *dxt = mine + MD_WINO_R2_OFFSET(pl);
  dy_block(pl, &bl, dy, dyt, z, scratch);
  for (int xi = 0; xi < pl->npts; ++xi)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, t, c, oc, 1.0f,
                z + (size_t)xi * t * oc, oc, u + (size_t)xi * oc * c, c, 0.0f,
                dv + (size_t)xi * t * c, c);
  memset(dxt, 0, sizeof(float) * (size_t)nimg * hw * c);
  md_wino_nhwc_input_adjoint(wg, dv, (size_t)t * c, c, nimg, dxt, scratch);
  for (int i = 0; i < nimg; ++i)
    md_from_channels_last(dxt + (size_t)i * hw * c, c, hw, dx + (size_t)(bl.img0 + i) * c * hw,
                          1);
}

void md_conv_winograd_nhwc_dx(const md_conv_plan *pl, const float *u, const float *dy,
                              float *dx, float *ws, size_t ws_floats) {
  const int nt = md_conv_plan_threads(pl, ws, ws_floats, pl->n_blocks);
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
  for (int b = 0; b < pl->n_blocks; ++b)
    dx_block(pl, b, u, dy, dx, md_conv_plan_thread_ws(pl, ws, omp_get_thread_num()));
}

/* Columns [c0, c1) of dU (npts x oc x c), summed over every block in order. */
static void du_chunk(const md_conv_plan *pl, int c0, int c1, const float *x, const float *dy,
                     float *du, float *mine) {
  const md_wino_geom *wg = &pl->wg;
  const int c = pl->g.c, oc = pl->oc, cc = c1 - c0, hw = wg->h * wg->w;
  float *v = mine + MD_WINO_V_OFFSET(pl), *z = mine + MD_WINO_M_OFFSET(pl);
  float *scratch = mine + MD_WINO_SCRATCH_OFFSET(pl);
  float *xt = mine + MD_WINO_R1_OFFSET(pl), *dyt = mine + MD_WINO_R2_OFFSET(pl);
  for (size_t r = 0; r < (size_t)pl->npts * oc; ++r)
    memset(du + r * c + c0, 0, sizeof(float) * (size_t)cc);
  for (int b = 0; b < pl->n_blocks; ++b) {
    const md_wino_block bl = md_conv_plan_block(pl, b);
    const int nimg = bl.img1 - bl.img0, t = nimg * wg->th * wg->tw;
    for (int i = 0; i < nimg; ++i)
      md_to_channels_last(x + (size_t)(bl.img0 + i) * c * hw, hw, c0, c1,
                          xt + (size_t)i * hw * cc);
    md_wino_nhwc_input(wg, xt, cc, nimg, 0, cc, v, (size_t)t * cc, scratch);
    dy_block(pl, &bl, dy, dyt, z, scratch);
    for (int xi = 0; xi < pl->npts; ++xi)
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, oc, cc, t, 1.0f,
                  z + (size_t)xi * t * oc, oc, v + (size_t)xi * t * cc, cc, 1.0f,
                  du + (size_t)xi * oc * c + c0, c);
  }
}

void md_conv_winograd_nhwc_du(const md_conv_plan *pl, const float *x, const float *dy,
                              float *du, float *ws, size_t ws_floats) {
  const int nt = md_conv_plan_threads(pl, ws, ws_floats, pl->n_chunks);
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
  for (int ch = 0; ch < pl->n_chunks; ++ch) {
    int c0, c1;
    md_conv_plan_chunk(pl, ch, &c0, &c1);
    du_chunk(pl, c0, c1, x, dy, du, md_conv_plan_thread_ws(pl, ws, omp_get_thread_num()));
  }
}
