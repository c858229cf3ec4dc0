/* maxdrop/cutout.h - Cutout (DeVries & Taylor 2017), as in the reference code.
 *
 * Per image of an N x C x H x W batch, n_holes times: a centre (y, x) uniform
 * over the H x W grid; rows y - L/2 .. y + L/2 - 1 and the same columns
 * (L/2 rounded down), clipped at the border, are set to 0 in every channel.
 * Holes at the border are therefore smaller. Evaluation: identity.
 * Backward: dx = dy outside the holes, 0 inside. */
#ifndef MAXDROP_CUTOUT_H
#define MAXDROP_CUTOUT_H

#include <stdint.h>

#include "maxdrop/api.h"
#include "maxdrop/rng.h"
#include "maxdrop/status.h"
#include "maxdrop/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct md_cutout {
  int n_holes;      /* >= 0 */
  int length;       /* side L of a hole, >= 0 */
  md_rng rng;
  uint8_t *keep;    /* N x H x W, 1 = kept; of the last forward */
  int64_t keep_cap; /* capacity of keep, in elements */
  md_shape shape;   /* shape of the last forward (n = -1 before any) */
} md_cutout;

/* MD_ERR_INVALID_ARGUMENT for negative n_holes or length. */
MD_API md_status md_cutout_init(md_cutout *c, int n_holes, int length, uint64_t seed,
                                uint64_t stream);
MD_API void md_cutout_free(md_cutout *c);

/* Sizes the keep-mask for batches of `shape` up front, so that forward calls
 * on batches no larger do not allocate (forward grows it otherwise).
 * MD_ERR_SHAPE for a negative or overflowing shape. */
MD_API md_status md_cutout_reserve(md_cutout *c, md_shape shape);

/* y may be x. MD_ERR_EMPTY for a shape without elements, MD_ERR_SHAPE for a
 * negative or overflowing one. training = 0 copies x to y and records an
 * all-kept mask. */
MD_API md_status md_cutout_forward(md_cutout *c, md_shape shape, const float *x, float *y,
                                   int training);
/* dx = dy outside the holes of the last forward, 0 inside; dx may be dy.
 * MD_ERR_STATE before any forward. */
MD_API md_status md_cutout_backward(const md_cutout *c, const float *dy, float *dx);

#ifdef __cplusplus
}
#endif

#endif
