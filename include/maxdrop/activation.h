/* maxdrop/activation.h - ReLU over flat float32 buffers.
 *
 * Forward: y = x < 0 ? 0 : x, element-wise, as PyTorch's torch.relu: a NaN
 * input stays NaN and -0 stays -0.
 *
 * Backward: the gradient passes where the forward's output was positive and
 * is 0 elsewhere, x == 0 included (PyTorch's choice): "passes" is decided by
 * ref[i] <= 0 being false, where ref is EITHER the forward's input x OR its
 * output y. Both give the same mask, so a model may run the forward in place
 * (y == x) and keep only the output. A NaN in ref lets the gradient pass, as
 * in PyTorch.
 *
 * All functions work element by element (OpenMP over the elements), so their
 * results do not depend on the thread count. Errors: MD_ERR_SHAPE when
 * n < 0; MD_ERR_INVALID_ARGUMENT for a NULL pointer with n > 0. n == 0 is a
 * valid empty call. */
#ifndef MAXDROP_ACTIVATION_H
#define MAXDROP_ACTIVATION_H

#include <stdint.h>

#include "maxdrop/api.h"
#include "maxdrop/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* y = relu(x). y may be x (in place). */
MD_API md_status md_relu_forward(int64_t n,
                                 const float *x, /* (n) */
                                 float *y);      /* (n) out */

/* dx += (ref > 0) ? dy : 0, ref being the forward's input or output.
 * dx must not overlap ref or dy (dx == dy would add the gradient to itself);
 * use md_relu_backward_inplace for an in-place pass over one buffer. */
MD_API md_status md_relu_backward(int64_t n,
                                  const float *ref, /* (n) x or y of the forward */
                                  const float *dy,  /* (n) */
                                  float *dx);       /* (n) += */

/* In-place variant for a model that reuses one gradient buffer:
 * d[i] = (ref[i] > 0) ? d[i] : 0. Not an accumulation: d holds dy on entry
 * and the gradient wrt the ReLU's input on return. d must not overlap ref. */
MD_API md_status md_relu_backward_inplace(int64_t n,
                                          const float *ref, /* (n) x or y of the forward */
                                          float *d);        /* (n) dy in, dx out */

#ifdef __cplusplus
}
#endif

#endif /* MAXDROP_ACTIVATION_H */
