/* Conv2d backward, Winograd method (see winograd.h and conv2d_plan.h);
 * gradients accumulate:
 *   dx      : per block, Z = A dy A^T, one GEMM per transform point,
 *             dV[xi] = U[xi]^T Z[xi], dx += B dV B^T; threads over images (or
 *             blocks of whole images)
 *   dweight : dU[xi] = sum over blocks in order of Z[xi] V[xi]^T, V = B^T x B;
 *             threads over chunks of input channels (each computes V for its
 *             channels and Z for all); then dw += G^T dU G
 * Maps up to 32x32 go to the channels-last kernels (conv2d_winograd_nhwc.c).
 * (dbias is summed in conv2d.c.) */
#include <cblas.h>
#include <omp.h>
#include <string.h>

#include "nn/conv2d_plan.h"
#include "nn/conv2d_winograd.h"

/* Z for every output channel of block bl (t tiles, tpi per image). */
static void dy_transform(const md_conv_plan *pl, const md_wino_block *bl, int t, int tpi,
                         const float *dy, float *z, float *scratch) {
  const md_wino_geom *wg = &pl->wg;
  const size_t plane = (size_t)wg->oh * wg->ow;
  const int r0 = 2 * bl->tr0, r1 = 2 * bl->tr1 < wg->oh ? 2 * bl->tr1 : wg->oh;
  for (int i = bl->img0; i < bl->img1; ++i)
    for (int o = 0; o < pl->oc; ++o) {
      const float *next = dy + ((size_t)i * pl->oc + o + 1) * plane;
      if (i + 1 < bl->img1 || o + 1 < pl->oc)
        md_prefetch_floats(next + (size_t)r0 * wg->ow, (size_t)(r1 - r0) * wg->ow);
      md_wino_dy(wg, dy + ((size_t)i * pl->oc + o) * plane, bl->tr0, bl->tr1,
                 z + (size_t)o * t + (size_t)(i - bl->img0) * tpi, (size_t)pl->oc * t,
                 scratch);
    }
}

/* V for input channels [c0, c1) of block bl. */
static void x_transform(const md_conv_plan *pl, const md_wino_block *bl, int t, int tpi,
                        int c0, int c1, const float *x, float *v, float *scratch) {
  const md_wino_geom *wg = &pl->wg;
  const size_t plane = (size_t)wg->h * wg->w;
  int r0, r1;
  md_wino_input_rows(wg, bl->tr0, bl->tr1, &r0, &r1);
  for (int i = bl->img0; i < bl->img1; ++i)
    for (int ci = c0; ci < c1; ++ci) {
      if (ci + 1 < c1 || i + 1 < bl->img1) {
        const int ni = ci + 1 < c1 ? i : i + 1, nc = ci + 1 < c1 ? ci + 1 : c0;
        md_prefetch_floats(x + ((size_t)ni * pl->g.c + nc) * plane + (size_t)r0 * wg->w,
                           (size_t)(r1 - r0) * wg->w);
      }
      md_wino_input(wg, x + ((size_t)i * pl->g.c + ci) * plane, bl->tr0, bl->tr1,
                    v + (size_t)(ci - c0) * t + (size_t)(i - bl->img0) * tpi,
                    (size_t)(c1 - c0) * t, scratch);
    }
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
  for (int xi = 0; xi < pl->npts; ++xi)
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, c, t, oc, 1.0f,
                u + (size_t)xi * oc * c, c, z + (size_t)xi * oc * t, t, 0.0f,
                dv + (size_t)xi * c * t, t);
  for (int i = bl.img0; i < bl.img1; ++i)
    for (int ci = 0; ci < c; ++ci)
      md_wino_input_adjoint(wg, dv + (size_t)ci * t + (size_t)(i - bl.img0) * tpi,
                            (size_t)c * t, bl.tr0, bl.tr1,
                            dx + ((size_t)i * c + ci) * plane, scratch);
}

/* Columns [c0, c1) of dU (npts x oc x c, row stride c), summed over every
 * block in order. */
static void du_chunk(const md_conv_plan *pl, int c0, int c1, const float *x, const float *dy,
                     float *du, float *mine) {
  const md_wino_geom *wg = &pl->wg;
  const int c = pl->g.c, oc = pl->oc, cc = c1 - c0;
  float *v = mine + MD_WINO_V_OFFSET(pl);
  float *z = mine + MD_WINO_M_OFFSET(pl);
  float *scratch = mine + MD_WINO_SCRATCH_OFFSET(pl);
  for (size_t r = 0; r < (size_t)pl->npts * oc; ++r)
    memset(du + r * c + c0, 0, sizeof(float) * (size_t)cc);
  for (int b = 0; b < pl->n_blocks; ++b) {
    const md_wino_block bl = md_conv_plan_block(pl, b);
    const int tpi = (bl.tr1 - bl.tr0) * wg->tw, t = (bl.img1 - bl.img0) * tpi;
    x_transform(pl, &bl, t, tpi, c0, c1, x, v, scratch);
    dy_transform(pl, &bl, t, tpi, dy, z, scratch);
    for (int xi = 0; xi < pl->npts; ++xi)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, oc, cc, t, 1.0f,
                  z + (size_t)xi * oc * t, t, v + (size_t)xi * cc * t, t, 1.0f,
                  du + (size_t)xi * oc * c + c0, c);
  }
}

void md_conv_winograd_backward(const md_conv_plan *pl, const float *x, const float *weight,
                               const float *dy, float *dx, float *dweight, float *ws,
                               size_t ws_floats) {
  float *shared = ws; /* U for backward-data, then dU for backward-weight */
  const int c = pl->g.c, oc = pl->oc;
  if (dx && pl->nhwc) {
    md_conv_wino_weights(pl, weight, shared, ws, ws_floats);
    md_conv_winograd_nhwc_dx(pl, shared, dy, dx, ws, ws_floats);
  } else if (dx) {
    md_conv_wino_weights(pl, weight, shared, ws, ws_floats);
    const int nt = md_conv_plan_threads(pl, ws, ws_floats, pl->n_units);
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (int un = 0; un < pl->n_units; ++un) {
      float *mine = md_conv_plan_thread_ws(pl, ws, omp_get_thread_num());
      if (pl->n_units == pl->n_blocks) {
        dx_block(pl, un, shared, dy, dx, mine);
      } else { /* one image cut into wsub blocks: in order, on this thread */
        for (int s = 0; s < pl->wsub; ++s) dx_block(pl, un * pl->wsub + s, shared, dy, dx, mine);
      }
    }
  }
  if (dweight) {
    int nt = md_conv_plan_threads(pl, ws, ws_floats, pl->n_chunks);
    if (pl->nhwc) {
      md_conv_winograd_nhwc_du(pl, x, dy, shared, ws, ws_floats);
    } else {
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
      for (int ch = 0; ch < pl->n_chunks; ++ch) {
        int c0, c1;
        md_conv_plan_chunk(pl, ch, &c0, &c1);
        du_chunk(pl, c0, c1, x, dy, shared,
                 md_conv_plan_thread_ws(pl, ws, omp_get_thread_num()));
      }
    }
    nt = md_conv_plan_threads(pl, ws, ws_floats, oc);
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int o = 0; o < oc; ++o)
      md_wino_weights_row_adjoint(&pl->wg, shared + (size_t)o * c, (size_t)oc * c, c,
                                  dweight + (size_t)o * c * 9);
  }
}
