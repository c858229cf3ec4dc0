/* Softmax cross-entropy with integer labels, mean over the batch (see
 * maxdrop/loss.h). */
#include "maxdrop/loss.h"

#include <math.h>
#include <stddef.h>

md_status md_softmax_xent(int64_t n, int64_t classes, const float *logits,
                          const int32_t *labels, double *loss, float *dlogits,
                          int32_t *pred, int64_t *n_correct) {
  if (n < 0 || classes < 0) return MD_ERR_SHAPE;
  if (n == 0 || classes == 0) return MD_ERR_EMPTY;
  if (classes > INT32_MAX) return MD_ERR_INVALID_ARGUMENT;
  if (n > INT64_MAX / classes) return MD_ERR_SHAPE;
  if (!logits || !labels) return MD_ERR_INVALID_ARGUMENT;
  /* Every label first: a bad one must stop the call before any read. */
  for (int64_t i = 0; i < n; ++i)
    if (labels[i] < 0 || (int64_t)labels[i] >= classes) return MD_ERR_RANGE;

  const int64_t K = classes;
  const double inv_n = 1.0 / (double)n;
  double total = 0.0;
  int64_t correct = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float *z = logits + i * K;
    const int32_t t = labels[i];
    /* Maximum and argmax: first index of the largest; a NaN counts as largest. */
    int64_t best = 0;
    for (int64_t j = 1; j < K; ++j) {
      if (isnan(z[best])) break;
      if (isnan(z[j]) || z[j] > z[best]) best = j;
    }
    const double m = (double)z[best];
    double sum = 0.0;
    for (int64_t j = 0; j < K; ++j) sum += exp((double)z[j] - m);
    /* loss_i = log(sum) - (z_t - m): z_t - m is exact in double. */
    const double li = log(sum) - ((double)z[t] - m);
    total += li;
    if (pred) pred[i] = (int32_t)best;
    correct += best == t;
    if (dlogits) {
      float *g = dlogits + i * K;
      const double inv_sum = 1.0 / sum;
      for (int64_t j = 0; j < K; ++j) {
        const double p = exp((double)z[j] - m) * inv_sum;
        g[j] += (float)((p - (j == t ? 1.0 : 0.0)) * inv_n);
      }
    }
  }
  if (loss) *loss = total * inv_n;
  if (n_correct) *n_correct = correct;
  return MD_OK;
}
