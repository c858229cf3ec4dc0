/* maxdrop/pool.h - average pooling over N x C x H x W float32 buffers.
 *
 * md_avgpool2d: k x k windows with stride k and no padding, as PyTorch's
 * F.avg_pool2d(x, k) (ResNet-18's 4x4 and Wide-ResNet's 8x8 pools). The
 * output is N x C x floor(H/k) x floor(W/k); when k does not divide H or W,
 * the last rows / columns are ignored (PyTorch's default floor mode) and get
 * no gradient. md_global_avgpool: the mean of each H x W plane, output N x C
 * (F.adaptive_avg_pool2d(x, 1) flattened).
 *
 * Each window sum runs in double, in a fixed order; work is split over the
 * N*C planes (OpenMP), so the results do not depend on the thread count.
 * Backward ACCUMULATES: dx += dy / (window size) over each window.
 *
 * Errors (nothing written): MD_ERR_INVALID_ARGUMENT for a NULL pointer or
 * k < 1; MD_ERR_SHAPE for a negative or overflowing shape, or k > H or
 * k > W; MD_ERR_EMPTY when the input has no elements. */
#ifndef MAXDROP_POOL_H
#define MAXDROP_POOL_H

#include <stdint.h>

#include "maxdrop/api.h"
#include "maxdrop/status.h"
#include "maxdrop/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Output shape of a k x k, stride k pool of `in`. */
static inline md_shape md_avgpool2d_out_shape(md_shape in, int k) {
  return md_shape4(in.n, in.c, k > 0 ? in.h / k : 0, k > 0 ? in.w / k : 0);
}

MD_API md_status md_avgpool2d_forward(md_shape in, int k,
                                      const float *x, /* (N, C, H, W) */
                                      float *y);      /* (N, C, H/k, W/k) out */

/* dx must not overlap dy. */
MD_API md_status md_avgpool2d_backward(md_shape in, int k,
                                       const float *dy, /* (N, C, H/k, W/k) */
                                       float *dx);      /* (N, C, H, W) += */

MD_API md_status md_global_avgpool_forward(md_shape in,
                                           const float *x, /* (N, C, H, W) */
                                           float *y);      /* (N, C) out */

/* dx must not overlap dy. */
MD_API md_status md_global_avgpool_backward(md_shape in,
                                            const float *dy, /* (N, C) */
                                            float *dx);      /* (N, C, H, W) += */

#ifdef __cplusplus
}
#endif

#endif /* MAXDROP_POOL_H */
