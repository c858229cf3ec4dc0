/* maxdrop/dropout.h - standard (inverted) Dropout.
 *
 * Training: each element is kept with probability 1 - p and then scaled by
 * 1 / (1 - p), or set to 0. p = 0 is the identity; p = 1 gives all zeros and a
 * zero gradient (never NaN or Inf). Evaluation: identity. The keep decisions
 * come from the layer's own random stream, drawn counter-based so that they do
 * not depend on the thread count. */
#ifndef MAXDROP_DROPOUT_H
#define MAXDROP_DROPOUT_H

#include <stddef.h>
#include <stdint.h>

#include "maxdrop/api.h"
#include "maxdrop/rng.h"
#include "maxdrop/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct md_dropout {
  double p;           /* drop probability in [0, 1] */
  md_rng rng;
  uint64_t *mask;     /* bit i set = element i kept */
  size_t mask_words;
  int64_t numel;      /* elements covered by the last forward (-1 before any) */
  float scale;        /* factor applied to kept elements by the last forward */
} md_dropout;

/* MD_ERR_INVALID_ARGUMENT when p is outside [0, 1] or NaN. */
MD_API md_status md_dropout_init(md_dropout *d, double p, uint64_t seed, uint64_t stream);
MD_API md_status md_dropout_reserve(md_dropout *d, int64_t numel);
MD_API void md_dropout_free(md_dropout *d);

/* y may be x. Training: element i of the call is kept when word i % 4 of
 * block first + i / 4 (md_rng_block), as md_u64_to_unit_float, is >= p, where
 * `first` is the start of the ceil(numel / 4) blocks the call reserves with
 * md_rng_reserve; kept values are multiplied by scale = (float)(1 / (1 - p))
 * (0 when p = 1), dropped ones set to 0. Evaluation draws nothing.
 * MD_ERR_INVALID_ARGUMENT for a NULL d, MD_ERR_SHAPE when numel < 0,
 * MD_ERR_EMPTY when numel == 0, MD_ERR_INVALID_ARGUMENT for a NULL x or y or
 * a p outside [0, 1]. */
MD_API md_status md_dropout_forward(md_dropout *d, int64_t numel, const float *x,
                                    float *y, int training);

/* dx[i] = kept ? dy[i] * scale : 0; dx may be dy. MD_ERR_STATE before any forward. */
MD_API md_status md_dropout_backward(const md_dropout *d, const float *dy, float *dx);

static inline int md_dropout_kept(const md_dropout *d, int64_t i) {
  return (int)((d->mask[i >> 6] >> (i & 63)) & 1u);
}

#ifdef __cplusplus
}
#endif

#endif
