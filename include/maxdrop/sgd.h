/* maxdrop/sgd.h - stochastic gradient descent with momentum, as torch.optim.SGD.
 *
 * The optimizer works on ONE contiguous float32 buffer of n parameters, the
 * matching buffer of n gradients and (when momentum > 0) a buffer of n
 * momentum values: a model keeps all its trainable parameters in one
 * allocation, so one call updates the whole network. Weight decay applies to
 * every element (the reference code decays BatchNorm weights and biases too).
 *
 * Update of element i, the formula and the operation order of PyTorch 1.13's
 * torch.optim.SGD (single-tensor path, foreach=False, maximize=False):
 *
 *   d   = g[i]                                   (gradient)
 *   if weight_decay != 0:  d = fma(p[i], wd, d)           d = g + wd * p
 *   if momentum != 0:
 *     first step:          buf[i] = d
 *     later steps:         buf[i] = fma(d, 1 - dampening, buf[i] * momentum)
 *     if nesterov:         d = fma(buf[i], momentum, d)   d = d + momentum * buf
 *     else:                d = buf[i]
 *   p[i] = fma(d, -lr, p[i])                              p = p - lr * d
 *
 * Every coefficient is rounded to float32 first, as PyTorch converts a Python
 * scalar to the tensor's dtype. PyTorch's CPU kernels compute `a + alpha * b`
 * with a fused multiply-add (vec::fmadd, and the scalar tail compiled with
 * FMA contraction in AVX2/AVX-512 builds); maxdrop uses C's fmaf, which is
 * exactly rounded everywhere, so the results are bit-identical to PyTorch on
 * CPUs where PyTorch runs its AVX2 or AVX-512 kernels (what
 * tests/parity/test_sgd_schedule_parity.py checks). The multiplication
 * buf * momentum is rounded on its own, as PyTorch's mul_ is.
 *
 * The result does not depend on the number of OpenMP threads: each element
 * is updated on its own. */
#ifndef MAXDROP_SGD_H
#define MAXDROP_SGD_H

#include <stdint.h>

#include "maxdrop/api.h"
#include "maxdrop/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Hyper-parameters. The learning rate is not here: it is passed to each step,
 * because a schedule changes it (see maxdrop/lr_schedule.h). */
typedef struct md_sgd_config {
  double momentum;     /* >= 0; 0 = plain SGD, no momentum buffer */
  double dampening;    /* >= 0; must be 0 with nesterov */
  double weight_decay; /* >= 0; L2 penalty added to the gradient */
  int nesterov;        /* nonzero: Nesterov momentum (needs momentum > 0) */
} md_sgd_config;

/* The reference code's settings: momentum 0.9, dampening 0, weight decay 5e-4,
 * Nesterov. */
static inline md_sgd_config md_sgd_config_reference(void) {
  md_sgd_config c = {0.9, 0.0, 5e-4, 1};
  return c;
}

/* An optimizer. Plain data: save `steps` in a checkpoint (with the momentum
 * buffer) and restore it to continue exactly where training stopped. */
typedef struct md_sgd {
  md_sgd_config cfg;
  int64_t n;     /* number of parameters updated by each step */
  int64_t steps; /* steps taken so far; while 0, the next step initialises the
                    momentum buffer from the gradient (PyTorch's "momentum_buffer
                    is None"), so the buffer's prior contents do not matter */
} md_sgd;

/* Checks the configuration (the same rules as torch.optim.SGD: every value
 * finite and >= 0; nesterov needs momentum > 0 and dampening 0) and starts an
 * optimizer for n >= 0 parameters with steps = 0. MD_ERR_INVALID_ARGUMENT
 * with a message otherwise. */
MD_API md_status md_sgd_init(md_sgd *opt, const md_sgd_config *cfg, int64_t n, md_errbuf *eb);

/* One update of the n parameters with learning rate lr (finite, >= 0):
 *   params    (n)  updated in place
 *   grads     (n)  read only
 *   momentum  (n)  the momentum buffer, updated in place; may be NULL when
 *                  cfg.momentum == 0 (it is then not touched)
 * Increments opt->steps. No allocation. MD_ERR_INVALID_ARGUMENT for a bad lr
 * or a NULL buffer that is needed. */
MD_API md_status md_sgd_step(md_sgd *opt, double lr, float *params, const float *grads,
                             float *momentum);

#ifdef __cplusplus
}
#endif

#endif /* MAXDROP_SGD_H */
