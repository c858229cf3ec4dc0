/* BatchNorm2d forwards with the following residual addition and ReLU fused
 * into the normalisation pass (the models' conv-BN-ReLU and
 * BN-add-ReLU sequences): one pass over memory instead of three, the same
 * bits as md_batchnorm_forward_* followed by md_residual_add_forward and
 * md_relu_forward. */
#ifndef MD_NN_BATCHNORM_FUSED_H
#define MD_NN_BATCHNORM_FUSED_H

#include "maxdrop/batchnorm.h"

typedef struct md_bn_epilogue {
  const float *add; /* added after the normalisation (same shape as y), or NULL */
  int relu;         /* then ReLU when non-zero */
} md_bn_epilogue;

/* As md_batchnorm_forward_train / _eval, then y = relu?(y + add?) per ep
 * (NULL: neither). `add` may be y itself only if it is not x. */
md_status md_batchnorm_forward_train_ep(md_shape s, const float *x, const float *weight,
                                        const float *bias, float momentum, float eps,
                                        float *running_mean, float *running_var,
                                        int64_t *num_batches_tracked, float *save_mean,
                                        float *save_invstd, const md_bn_epilogue *ep,
                                        float *y);

md_status md_batchnorm_forward_eval_ep(md_shape s, const float *x, const float *weight,
                                       const float *bias, const float *running_mean,
                                       const float *running_var, float eps,
                                       const md_bn_epilogue *ep, float *y);

/* The per-channel float terms md_batchnorm_forward_eval_ep normalises with,
 * y = (x - mean[c]) * scale[c] + shift[c], for channels [0, C): for a
 * convolution that applies the BatchNorm to its own output
 * (nn/conv2d_epilogue.h) with the same bits. */
md_status md_batchnorm_eval_terms(int64_t C, const float *weight, const float *bias,
                                  const float *running_mean, const float *running_var,
                                  float eps, float *mean, float *scale, float *shift);

#endif
