/* Conv2d forward, Winograd method (see winograd.h and conv2d_plan.h): the
 * transformed weights U, then per block of tiles V = B^T x B for every input
 * channel, one GEMM over the channels per transform point, M[xi] = U[xi] V[xi],
 * and y = A^T M A + bias. Maps up to 32x32 go to the channels-last kernels
 * (conv2d_winograd_nhwc.c). */
#include <cblas.h>
#include <omp.h>

#include "nn/conv2d_epilogue.h"
#include "nn/conv2d_plan.h"
#include "nn/conv2d_winograd.h"

void md_conv_wino_weights(const md_conv_plan *pl, const float *weight, float *u,
                          const float *ws, size_t ws_floats) {
  const int c = pl->g.c, oc = pl->oc;
  const size_t xs = (size_t)oc * c;
  const int nt = md_conv_plan_threads(pl, ws, ws_floats, oc);
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int o = 0; o < oc; ++o)
    md_wino_weights_row(&pl->wg, weight + (size_t)o * c * 9, c, u + (size_t)o * c, xs);
}

static void forward_block(const md_conv_plan *pl, int b, const float *x, const float *u,
                          const float *bias, float *y, float *mine) {
  const md_wino_block bl = md_conv_plan_block(pl, b);
  const md_wino_geom *wg = &pl->wg;
  const int c = pl->g.c, oc = pl->oc;
  const int tpi = (bl.tr1 - bl.tr0) * wg->tw;   /* tiles per image in the block */
  const int t = (bl.img1 - bl.img0) * tpi;       /* GEMM columns */
  const size_t x_img = (size_t)c * wg->h * wg->w, y_img = (size_t)oc * wg->oh * wg->ow;
  float *v = mine + MD_WINO_V_OFFSET(pl);
  float *m = mine + MD_WINO_M_OFFSET(pl);
  float *scratch = mine + MD_WINO_SCRATCH_OFFSET(pl);

  int r0, r1;
  md_wino_input_rows(wg, bl.tr0, bl.tr1, &r0, &r1);
  for (int i = bl.img0; i < bl.img1; ++i)
    for (int ci = 0; ci < c; ++ci) {
      if (ci + 1 < c || i + 1 < bl.img1) /* the next plane: (i, ci + 1) or (i + 1, 0) */
        md_prefetch_floats(x + i * x_img + (size_t)(ci + 1) * wg->h * wg->w +
                               (size_t)r0 * wg->w,
                           (size_t)(r1 - r0) * wg->w);
      md_wino_input(wg, x + i * x_img + (size_t)ci * wg->h * wg->w, bl.tr0, bl.tr1,
                    v + (size_t)ci * t + (size_t)(i - bl.img0) * tpi, (size_t)c * t, scratch);
    }
  for (int xi = 0; xi < pl->npts; ++xi)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, oc, t, c, 1.0f,
                u + (size_t)xi * oc * c, c, v + (size_t)xi * c * t, t, 0.0f,
                m + (size_t)xi * oc * t, t);
  for (int i = bl.img0; i < bl.img1; ++i)
    for (int o = 0; o < oc; ++o)
      md_wino_output(wg, m + (size_t)o * t + (size_t)(i - bl.img0) * tpi, (size_t)oc * t,
                     bl.tr0, bl.tr1, bias ? bias[o] : 0.0f,
                     y + i * y_img + (size_t)o * wg->oh * wg->ow, scratch);
}

void md_conv_winograd_forward(const md_conv_plan *pl, const float *x, const float *weight,
                              const float *bias, const md_conv_epilogue *ep, float *y,
                              float *ws, size_t ws_floats) {
  float *u = ws; /* the shared region */
  md_conv_wino_weights(pl, weight, u, ws, ws_floats);
  if (pl->nhwc) {
    md_conv_winograd_nhwc_forward(pl, x, u, bias, ep, y, ws, ws_floats);
    return;
  }
  const int nt = md_conv_plan_threads(pl, ws, ws_floats, pl->n_blocks);
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
  for (int b = 0; b < pl->n_blocks; ++b)
    forward_block(pl, b, x, u, bias, y, md_conv_plan_thread_ws(pl, ws, omp_get_thread_num()));
  if (!ep) return;
  /* large maps: the output step as a pass of its own, plane by plane */
  const size_t ohw = (size_t)pl->wg.oh * pl->wg.ow;
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t q = 0; q < (int64_t)pl->n * pl->oc; ++q) {
    const size_t at = (size_t)q * ohw;
    md_conv_epilogue_row(ep, (int)(q % pl->oc), y + at, y + at, ep->add ? ep->add + at : NULL,
                         ohw);
  }
}
