/* Conv2d backward, Winograd F(2x2, 3x3) method (see winograd.h and
 * conv2d_plan.h); gradients accumulate:
 *   dx      : per block, Z = A dy A^T, sixteen GEMMs dV[xi] = U[xi]^T Z[xi],
 *             dx += B dV B^T; threads over images (or blocks of whole images)
 *   dweight : per channel chunk, over all blocks in order, V = B^T x B,
 *             Z = A dy A^T, dU[xi] += Z[xi] V[xi]^T; then dw += G^T dU G;
 *             threads over chunks
 * (dbias is summed in conv2d.c). */
#include <cblas.h>
#include <omp.h>
#include <string.h>

#include "nn/conv2d_plan.h"
#include "nn/conv2d_winograd.h"

/* Z for every output channel of block bl (t columns, tpi per image). */
static void dy_transform(const md_conv_plan *pl, const md_wino_block *bl, int t, int tpi,
                         const float *dy, float *z, float *scratch) {
  const md_wino_geom *wg = &pl->wg;
  const size_t plane = (size_t)wg->oh * wg->ow;
  for (int i = bl->img0; i < bl->img1; ++i)
    for (int o = 0; o < pl->oc; ++o)
      md_wino_dy(wg, dy + ((size_t)i * pl->oc + o) * plane, bl->tr0, bl->tr1,
                 z + (size_t)o * t + (size_t)(i - bl->img0) * tpi, (size_t)pl->oc * t,
                 scratch);
}

static void dx_block(const md_conv_plan *pl, int b, const float *u, const float *dy, float *dx,
                     float *mine) {
  const md_wino_block bl = md_conv_plan_block(pl, b);
  const md_wino_geom *wg = &pl->wg;
  const int c = pl->g.c, oc = pl->oc;
  const int tpi = (bl.tr1 - bl.tr0) * wg->tw, t = (bl.img1 - bl.img0) * tpi;
  const size_t plane = (size_t)wg->h * wg->w;
  float *dv = mine + MD_WINO_V_OFFSET(pl);
  float *z = mine + MD_WINO_M_OFFSET(pl);
  float *scratch = mine + MD_WINO_SCRATCH_OFFSET(pl);
  dy_transform(pl, &bl, t, tpi, dy, z, scratch);
  for (int xi = 0; xi < 16; ++xi)
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, c, t, oc, 1.0f,
                u + (size_t)xi * oc * c, c, z + (size_t)xi * oc * t, t, 0.0f,
                dv + (size_t)xi * c * t, t);
  for (int i = bl.img0; i < bl.img1; ++i)
    for (int ci = 0; ci < c; ++ci)
      md_wino_input_adjoint(wg, dv + (size_t)ci * t + (size_t)(i - bl.img0) * tpi,
                            (size_t)c * t, bl.tr0, bl.tr1,
                            dx + ((size_t)i * c + ci) * plane, scratch);
}

static void dw_chunk(const md_conv_plan *pl, int c0, int c1, const float *x, const float *dy,
                     float *dweight, float *mine) {
  const md_wino_geom *wg = &pl->wg;
  const int c = pl->g.c, oc = pl->oc, cc = c1 - c0;
  const size_t plane = (size_t)wg->h * wg->w;
  float *v = mine + MD_WINO_V_OFFSET(pl);
  float *z = mine + MD_WINO_M_OFFSET(pl);
  float *du = mine + MD_WINO_DU_OFFSET(pl);
  float *scratch = mine + MD_WINO_SCRATCH_OFFSET(pl);
  memset(du, 0, sizeof(float) * 16 * (size_t)oc * cc);
  for (int b = 0; b < pl->n_blocks; ++b) {
    const md_wino_block bl = md_conv_plan_block(pl, b);
    const int tpi = (bl.tr1 - bl.tr0) * wg->tw, t = (bl.img1 - bl.img0) * tpi;
    for (int i = bl.img0; i < bl.img1; ++i)
      for (int ci = c0; ci < c1; ++ci)
        md_wino_input(wg, x + ((size_t)i * c + ci) * plane, bl.tr0, bl.tr1,
                      v + (size_t)(ci - c0) * t + (size_t)(i - bl.img0) * tpi, (size_t)cc * t,
                      scratch);
    dy_transform(pl, &bl, t, tpi, dy, z, scratch);
    for (int xi = 0; xi < 16; ++xi)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, oc, cc, t, 1.0f,
                  z + (size_t)xi * oc * t, t, v + (size_t)xi * cc * t, t, 1.0f,
                  du + (size_t)xi * oc * cc, cc);
  }
  for (int o = 0; o < oc; ++o)
    for (int ci = c0; ci < c1; ++ci)
      md_wino_weight_adjoint(du + (size_t)o * cc + (ci - c0), (size_t)oc * cc,
                             dweight + ((size_t)o * c + ci) * 9);
}

void md_conv_winograd_backward(const md_conv_plan *pl, const float *x, const float *weight,
                               const float *dy, float *dx, float *dweight, float *ws,
                               size_t ws_floats) {
  if (dx) {
    float *u = ws; /* the shared region */
    md_conv_wino_weights(pl, weight, u, ws, ws_floats);
    const int nt = md_conv_plan_threads(pl, ws, ws_floats, pl->n_units);
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (int un = 0; un < pl->n_units; ++un) {
      float *mine = md_conv_plan_thread_ws(pl, ws, omp_get_thread_num());
      if (pl->n_units == pl->n_blocks) {
        dx_block(pl, un, u, dy, dx, mine);
      } else { /* one image cut into wsub blocks: in order, on this thread */
        for (int s = 0; s < pl->wsub; ++s) dx_block(pl, un * pl->wsub + s, u, dy, dx, mine);
      }
    }
  }
  if (dweight) {
    const int nt = md_conv_plan_threads(pl, ws, ws_floats, pl->n_chunks);
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (int ch = 0; ch < pl->n_chunks; ++ch) {
      int c0, c1;
      md_conv_plan_chunk(pl, ch, &c0, &c1);
      dw_chunk(pl, c0, c1, x, dy, dweight, md_conv_plan_thread_ws(pl, ws, omp_get_thread_num()));
    }
  }
}
