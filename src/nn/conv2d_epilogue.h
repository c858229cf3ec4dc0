/* Conv2d forward with what follows it in evaluation fused into the pass that
 * stores its output: an evaluation-mode BatchNorm (as per-channel float
 * terms, see md_batchnorm_eval_terms), a residual addition and a ReLU. Each
 * output value v of channel o becomes
 *   v = (v - mean[o]) * scale[o] + shift[o];  v = v + add[i];  v = v < 0 ? 0 : v
 * (each step only when asked), the same operations in the same order as
 * md_batchnorm_forward_eval_ep, so the fused forward gives the bits of the
 * separate layers. */
#ifndef MD_NN_CONV2D_EPILOGUE_H
#define MD_NN_CONV2D_EPILOGUE_H

#include <stddef.h>

#include "maxdrop/conv2d.h"

typedef struct md_conv_epilogue {
  const float *mean, *scale, *shift; /* (out_c) each, or all NULL: no affine step */
  const float *add;                  /* (N, out_c, OH, OW), not y itself; or NULL */
  int relu;
} md_conv_epilogue;

/* md_conv2d_forward, then ep (NULL: plain forward). MD_ERR_INVALID_ARGUMENT
 * when ep->add is y or only some of mean / scale / shift are given. */
md_status md_conv2d_forward_ep(const md_conv2d_desc *d, md_shape in, const float *x,
                               const float *weight, const float *bias,
                               const md_conv_epilogue *ep, float *y, float *ws,
                               size_t ws_floats);

/* dst[j] = ep(src[j]) for j < n, output channel o; add_row is ep->add at the
 * same place as dst (NULL when ep->add is NULL). src may be dst. */
void md_conv_epilogue_row(const md_conv_epilogue *ep, int o, const float *src, float *dst,
                          const float *add_row, size_t n);

/* The step's value function, shared by every path. */
static inline float md_conv_epilogue_value(float v, float mean, float scale, float shift,
                                           int affine, const float *add, int relu) {
  if (affine) v = (v - mean) * scale + shift;
  if (add) v = v + *add;
  if (relu) v = v < 0.0f ? 0.0f : v;
  return v;
}

#endif
