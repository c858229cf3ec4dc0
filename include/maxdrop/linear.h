/* maxdrop/linear.h - fully connected layer, as torch.nn.Linear.
 *
 *   y = x weight^T + bias        x (N, in_f), weight (out_f, in_f), y (N, out_f)
 *
 * Backward ACCUMULATES (+=) into dx, dweight and dbias (the caller zeroes
 * gradients once per step); dx may be NULL (no input gradient), dweight may be
 * NULL (frozen weight), dbias must be NULL when the layer has no bias and may
 * be NULL when its gradient is not wanted. No scratch memory is needed. The
 * GEMMs run single-threaded on OpenMP threads over fixed blocks of rows, so
 * the results do not depend on the number of threads. */
#ifndef MAXDROP_LINEAR_H
#define MAXDROP_LINEAR_H

#include <stdint.h>

#include "maxdrop/api.h"
#include "maxdrop/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct md_linear_desc {
  int in_f, out_f; /* features, >= 1 */
  int has_bias;    /* 0 or 1 */
} md_linear_desc;

/* MD_ERR_INVALID_ARGUMENT for NULL or a field out of range. */
MD_API md_status md_linear_check(const md_linear_desc *d);

/* Number of weight elements, out_f * in_f (0 for a bad descriptor). */
MD_API int64_t md_linear_weight_numel(const md_linear_desc *d);

/* Forward for a batch of n rows. MD_ERR_EMPTY when n == 0, MD_ERR_SHAPE when
 * n < 0; bias must be NULL exactly when !d->has_bias. */
MD_API md_status md_linear_forward(const md_linear_desc *d, int n,
                                   const float *x,      /* (n, in_f) */
                                   const float *weight, /* (out_f, in_f) */
                                   const float *bias,   /* (out_f) or NULL */
                                   float *y);           /* (n, out_f) */

/* Backward: dx += dy weight, dweight += dy^T x, dbias += column sums of dy. */
MD_API md_status md_linear_backward(const md_linear_desc *d, int n,
                                    const float *x,      /* (n, in_f) */
                                    const float *weight, /* (out_f, in_f) */
                                    const float *dy,     /* (n, out_f) */
                                    float *dx,           /* (n, in_f) or NULL */
                                    float *dweight,      /* (out_f, in_f) or NULL */
                                    float *dbias);       /* (out_f) or NULL */

#ifdef __cplusplus
}
#endif

#endif
