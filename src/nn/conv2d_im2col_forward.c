/* Conv2d forward, im2col method: y = weight * im2col(x) (+ bias), one SGEMM
 * per tile (see conv2d_plan.h). */
#include <cblas.h>
#include <omp.h>

#include "nn/conv2d_epilogue.h"
#include "nn/conv2d_plan.h"

/* Output tile t; `mine` is this thread's workspace region. */
static void forward_tile(const md_conv_plan *pl, int t, const float *x, const float *weight,
                         const float *bias, const md_conv_epilogue *ep, float *y,
                         float *mine) {
  /* scratch: im2col block, output block, im2col's own; none for a direct 1x1 */
  float *col = mine, *out = mine ? col + pl->col_floats : NULL;
  float *pad = mine ? out + pl->out_floats : NULL;
  const md_conv_tile tl = md_conv_plan_tile(pl, t);
  const int cols = (tl.img1 - tl.img0) * (tl.p1 - tl.p0);
  const size_t x_img = (size_t)pl->g.c * pl->g.h * pl->g.w; /* floats per x image */
  const size_t y_img = (size_t)pl->oc * pl->p;              /* floats per y image */

  /* B: the (K x cols) im2col block, in scratch or read straight from x */
  const float *b;
  int ldb;
  if (pl->col_floats == 0) {
    b = x + (size_t)tl.img0 * x_img + tl.p0;
    ldb = pl->p;
  } else {
    md_im2col(&pl->g, x + (size_t)tl.img0 * x_img, x_img, tl.img1 - tl.img0, 0, pl->g.c,
              tl.p0, tl.p1, col, cols, pad);
    b = col;
    ldb = cols;
  }

  if (pl->per_tile == 1) {
    /* inside one image: the GEMM writes y directly, row stride P */
    float *yt = y + (size_t)tl.img0 * y_img + tl.p0;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, pl->oc, cols, pl->k, 1.0f,
                weight, pl->k, b, ldb, 0.0f, yt, pl->p);
    if (bias) {
      for (int o = 0; o < pl->oc; ++o) {
        float *r = yt + (size_t)o * pl->p;
        const float bo = bias[o];
        for (int j = 0; j < cols; ++j) r[j] += bo;
      }
    }
    if (ep) {
      for (int o = 0; o < pl->oc; ++o) {
        const size_t at = (size_t)(yt - y) + (size_t)o * pl->p;
        md_conv_epilogue_row(ep, o, y + at, y + at, ep->add ? ep->add + at : NULL,
                             (size_t)cols);
      }
    }
  } else {
    /* whole images: GEMM into (oc x cols) scratch, then scatter image by image */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, pl->oc, cols, pl->k, 1.0f,
                weight, pl->k, b, ldb, 0.0f, out, cols);
    for (int i = tl.img0; i < tl.img1; ++i) {
      float *yi = y + (size_t)i * y_img;
      const float *src = out + (size_t)(i - tl.img0) * pl->p;
      for (int o = 0; o < pl->oc; ++o) {
        const float bo = bias ? bias[o] : 0.0f;
        const float *s = src + (size_t)o * cols;
        float *r = yi + (size_t)o * pl->p;
        for (int j = 0; j < pl->p; ++j) r[j] = s[j] + bo;
        if (ep) {
          const size_t at = (size_t)(r - y);
          md_conv_epilogue_row(ep, o, r, r, ep->add ? ep->add + at : NULL, (size_t)pl->p);
        }
      }
    }
  }
}

void md_conv_im2col_forward(const md_conv_plan *pl, const float *x, const float *weight,
                            const float *bias, const md_conv_epilogue *ep, float *y,
                            float *ws, size_t ws_floats) {
  const int nt = md_conv_plan_threads(pl, ws, ws_floats, pl->n_tiles);
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
  for (int t = 0; t < pl->n_tiles; ++t) {
    float *mine = md_conv_plan_thread_ws(pl, ws, omp_get_thread_num());
    forward_tile(pl, t, x, weight, bias, ep, y, mine);
  }
}
