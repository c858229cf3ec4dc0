/* maxdrop/loss.h - softmax cross-entropy with integer labels, mean over the
 * batch (PyTorch's F.cross_entropy(logits, labels), reduction 'mean').
 *
 * For sample i with logits z (K values) and label t:
 *   m = max(z),  lse = m + log(sum_j exp(z_j - m)),  loss_i = lse - z_t
 * computed in double with the maximum subtracted, so that huge logits do not
 * overflow: logits (1e8, 1e8) with label 1 give ln 2. The loss is the mean of
 * loss_i over the N samples, returned as a double. The gradient of that mean
 * wrt the logits is (softmax(z) - onehot(t)) / N, ACCUMULATED (+=) into
 * dlogits like every backward (the caller zeroes it once per step).
 * A NaN or +inf logit makes that sample's loss and gradient NaN; a -inf
 * logit is a class of probability 0 (loss +inf when it is the label).
 *
 * pred[i] is the index of the largest logit of sample i (the first one on
 * ties; a NaN counts as largest, as in torch.argmax); n_correct counts the
 * samples with pred[i] == labels[i].
 *
 * Every label is checked before anything is read or written: a label outside
 * [0, K) returns MD_ERR_RANGE and leaves every output untouched, reading no
 * logit. Other errors: MD_ERR_INVALID_ARGUMENT for NULL logits / labels or
 * classes > INT32_MAX; MD_ERR_SHAPE for n < 0 or classes < 0 or an
 * overflowing n * classes; MD_ERR_EMPTY when n or classes is 0.
 *
 * The batch is processed in sample order on one thread: at CIFAR sizes
 * (128 x 100) the cost is negligible next to a convolution, and the loss
 * sum is then reproducible whatever the thread count. */
#ifndef MAXDROP_LOSS_H
#define MAXDROP_LOSS_H

#include <stdint.h>

#include "maxdrop/api.h"
#include "maxdrop/status.h"

#ifdef __cplusplus
extern "C" {
#endif

MD_API md_status md_softmax_xent(int64_t n, int64_t classes,
                                 const float *logits,   /* (N, K) */
                                 const int32_t *labels, /* (N), each in [0, K) */
                                 double *loss,          /* out: mean loss, or NULL */
                                 float *dlogits,        /* (N, K) +=, or NULL */
                                 int32_t *pred,         /* (N) out: argmax, or NULL */
                                 int64_t *n_correct);   /* out, or NULL */

#ifdef __cplusplus
}
#endif

#endif /* MAXDROP_LOSS_H */
