/* maxdrop/batchnorm.h - BatchNorm2d over N x C x H x W float32 buffers.
 *
 * Semantics of PyTorch's nn.BatchNorm2d(C, eps, momentum, affine=True):
 *
 * Training: per channel c, over the M = N*H*W values of that channel,
 *   mean = sum(x) / M,  var = sum((x - mean)^2) / M       (BIASED variance)
 *   y    = (x - mean) / sqrt(var + eps) * weight[c] + bias[c]
 * and the running statistics move towards the batch ones with
 *   running_mean = (1 - momentum) * running_mean + momentum * mean
 *   running_var  = (1 - momentum) * running_var  + momentum * var * M / (M - 1)
 * (the UNBIASED variance). The statistics are accumulated in double, two
 * passes (mean first, then the squared deviations).
 * A channel with a single value (M == 1) cannot be normalised in training
 * mode: such a call returns MD_ERR_SHAPE and writes nothing, neither y nor the
 * running statistics nor the counter. (PyTorch raises too, but only after its
 * module has already incremented num_batches_tracked.)
 *
 * Evaluation: y = (x - running_mean) / sqrt(running_var + eps) * weight + bias.
 *
 * Backward ACCUMULATES (+=) into dx, dweight and dbias; the caller zeroes them
 * once per step. The training-mode backward is the full gradient through the
 * batch statistics:
 *   xhat = (x - mean) * invstd
 *   dx  += weight * invstd * (dy - mean(dy) - xhat * mean(dy * xhat))
 *   dweight += sum(dy * xhat),  dbias += sum(dy)
 * The evaluation-mode backward treats the running statistics as constants.
 * The caller keeps, per layer, the forward's input x and a C-float buffer
 * save_mean between the forward and the backward; nothing else is saved and
 * nothing is allocated.
 *
 * num_batches_tracked: the forward increments *num_batches_tracked by one on
 * success when the pointer is not NULL (PyTorch's counter of the same name,
 * an int64 buffer of the module); pass NULL when the model keeps no counter.
 *
 * Work is split over channels (OpenMP); every sum runs in a fixed order, so
 * the results do not depend on the thread count.
 *
 * Errors (nothing is written on error): MD_ERR_INVALID_ARGUMENT for a NULL
 * required pointer, eps negative or not finite, momentum outside [0, 1], or
 * only one of running_mean / running_var given; MD_ERR_SHAPE for a negative or
 * overflowing shape, or M == 1 in training; MD_ERR_EMPTY when the shape has no
 * elements. */
#ifndef MAXDROP_BATCHNORM_H
#define MAXDROP_BATCHNORM_H

#include <stdint.h>

#include "maxdrop/api.h"
#include "maxdrop/status.h"
#include "maxdrop/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MD_BN_DEFAULT_EPS 1e-5f
#define MD_BN_DEFAULT_MOMENTUM 0.1f

/* Training-mode forward. y may be x only if the backward is not needed (the
 * backward reads x). running_mean and running_var are both NULL (no running
 * statistics) or both given. save_mean receives the batch mean per channel:
 * keep it for the backward. save_invstd, when not NULL, receives
 * 1 / sqrt(biased var + eps) per channel (PyTorch's save_invstd; the backward
 * does not need it). */
MD_API md_status md_batchnorm_forward_train(
    md_shape s,
    const float *x,               /* (N, C, H, W) */
    const float *weight,          /* (C) */
    const float *bias,            /* (C) */
    float momentum,               /* in [0, 1]; PyTorch's default 0.1 */
    float eps,                    /* >= 0; PyTorch's default 1e-5 */
    float *running_mean,          /* (C) updated in place, or NULL */
    float *running_var,           /* (C) updated in place, or NULL */
    int64_t *num_batches_tracked, /* incremented by 1 on success, or NULL */
    float *save_mean,             /* (C) out */
    float *save_invstd,           /* (C) out, or NULL */
    float *y);                    /* (N, C, H, W) out */

/* Evaluation-mode forward with the running statistics. y may be x. */
MD_API md_status md_batchnorm_forward_eval(
    md_shape s,
    const float *x,            /* (N, C, H, W) */
    const float *weight,       /* (C) */
    const float *bias,         /* (C) */
    const float *running_mean, /* (C) */
    const float *running_var,  /* (C) */
    float eps,
    float *y);                 /* (N, C, H, W) out */

/* Training-mode backward: accumulates into dx, dweight, dbias (each may be
 * NULL to skip it). x is the forward's input, save_mean what that forward
 * wrote and eps the forward's eps. The float save_mean only centres the sums:
 * in the same pass over x and dy that sums the gradient, the backward
 * recomputes the batch mean and variance in double, so that a rounded float
 * statistic costs no accuracy (it would for a batch of M == 2 values per
 * channel, whose dx is proportional to eps / var, or for a channel whose mean
 * is large next to its spread). dx must not overlap x, dy or the other
 * outputs. M == 1 returns MD_ERR_SHAPE, as in the forward. */
MD_API md_status md_batchnorm_backward_train(
    md_shape s,
    const float *x,         /* (N, C, H, W) */
    const float *dy,        /* (N, C, H, W) */
    const float *weight,    /* (C) */
    const float *save_mean, /* (C) */
    float eps,
    float *dx,              /* (N, C, H, W) +=, or NULL */
    float *dweight,         /* (C) +=, or NULL */
    float *dbias);          /* (C) +=, or NULL */

/* Evaluation-mode backward (running statistics held constant):
 *   dx += dy * weight / sqrt(running_var + eps)
 *   dweight += sum(dy * (x - running_mean) / sqrt(running_var + eps))
 *   dbias += sum(dy)
 * Same aliasing rules as the training backward. */
MD_API md_status md_batchnorm_backward_eval(
    md_shape s,
    const float *x,            /* (N, C, H, W) */
    const float *dy,           /* (N, C, H, W) */
    const float *weight,       /* (C) */
    const float *running_mean, /* (C) */
    const float *running_var,  /* (C) */
    float eps,
    float *dx,                 /* (N, C, H, W) +=, or NULL */
    float *dweight,            /* (C) +=, or NULL */
    float *dbias);             /* (C) +=, or NULL */

#ifdef __cplusplus
}
#endif

#endif /* MAXDROP_BATCHNORM_H */
