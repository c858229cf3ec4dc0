/* Conv2d forward, Winograd F(2x2, 3x3) method (see winograd.h and
 * conv2d_plan.h): per block of tiles, V = B^T x B for every input channel,
 * sixteen GEMMs M[xi] = U[xi] V[xi] over the channels, y = A^T M A + bias. */
#include <cblas.h>
#include <omp.h>

#include "nn/conv2d_plan.h"
#include "nn/conv2d_winograd.h"

void md_conv_wino_weights(const md_conv_plan *pl, const float *weight, float *u,
                          const float *ws, size_t ws_floats) {
  const int c = pl->g.c, oc = pl->oc;
  const size_t xs = (size_t)oc * c;
  const int nt = md_conv_plan_threads(pl, ws, ws_floats, oc);
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int o = 0; o < oc; ++o)
    for (int ci = 0; ci < c; ++ci)
      md_wino_weight(weight + ((size_t)o * c + ci) * 9, u + (size_t)o * c + ci, xs);
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

  for (int i = bl.img0; i < bl.img1; ++i)
    for (int ci = 0; ci < c; ++ci)
      md_wino_input(wg, x + i * x_img + (size_t)ci * wg->h * wg->w, bl.tr0, bl.tr1,
                    v + (size_t)ci * t + (size_t)(i - bl.img0) * tpi, (size_t)c * t, scratch);
  for (int xi = 0; xi < 16; ++xi)
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
                              const float *bias, float *y, float *ws, size_t ws_floats) {
  float *u = ws; /* the shared region */
  md_conv_wino_weights(pl, weight, u, ws, ws_floats);
  const int nt = md_conv_plan_threads(pl, ws, ws_floats, pl->n_blocks);
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
  for (int b = 0; b < pl->n_blocks; ++b)
    forward_block(pl, b, x, u, bias, y, md_conv_plan_thread_ws(pl, ws, omp_get_thread_num()));
}
