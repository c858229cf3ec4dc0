/* maxdrop/residual.h - the residual (shortcut) addition y = a + b.
 *
 * Forward: y = a + b element-wise; y may be a or b (in place).
 *
 * Backward: dy flows unchanged into both inputs. Because every backward in
 * maxdrop ACCUMULATES into its input gradient, a model normally needs no
 * separate step for it: it hands the same gradient buffer dy (of the sum) to
 * the backward of the main branch's last layer AND to the shortcut's backward
 * (or, for an identity shortcut, accumulates dy into the block input's
 * gradient with md_residual_add_backward). The two contributions then add up
 * where the branches meet, at the block's input gradient, which the caller
 * zeroed once per step. md_residual_add_backward is the explicit form:
 * da += dy and db += dy.
 *
 * Element-wise with OpenMP: results do not depend on the thread count.
 * Errors: MD_ERR_SHAPE when n < 0; MD_ERR_INVALID_ARGUMENT for a NULL
 * required pointer with n > 0. */
#ifndef MAXDROP_RESIDUAL_H
#define MAXDROP_RESIDUAL_H

#include <stdint.h>

#include "maxdrop/api.h"
#include "maxdrop/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* y = a + b. y may be a or b. */
MD_API md_status md_residual_add_forward(int64_t n,
                                         const float *a, /* (n) */
                                         const float *b, /* (n) */
                                         float *y);      /* (n) out */

/* da += dy and db += dy; either may be NULL to skip it. Neither may overlap
 * dy; da and db may not be the same buffer unless the caller wants 2 * dy. */
MD_API md_status md_residual_add_backward(int64_t n,
                                          const float *dy, /* (n) */
                                          float *da,       /* (n) +=, or NULL */
                                          float *db);      /* (n) +=, or NULL */

#ifdef __cplusplus
}
#endif

#endif /* MAXDROP_RESIDUAL_H */
