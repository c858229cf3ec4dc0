/* maxdrop/random_erasing.h - RandomErasing (Zhong et al., AAAI 2020).
 *
 * Per image of an N x C x H x W batch: with probability p, up to max_attempts
 * times draw a target area U(scale_lo, scale_hi) * H * W and an aspect ratio
 * U(ratio_lo, ratio_hi); h = round(sqrt(area * ratio)), w = round(sqrt(area /
 * ratio)); when h < H and w < W, the top-left corner is uniform over the
 * positions where the rectangle fits, the rectangle is filled and the image is
 * done; when no attempt fits, the image is left alone. Evaluation: identity.
 * Backward: dx = dy outside the erased rectangle, 0 inside. */
#ifndef MAXDROP_RANDOM_ERASING_H
#define MAXDROP_RANDOM_ERASING_H

#include <stdint.h>

#include "maxdrop/api.h"
#include "maxdrop/rng.h"
#include "maxdrop/status.h"
#include "maxdrop/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum md_erasing_fill {
  MD_ERASING_FILL_ZERO = 0,   /* 0 in every channel */
  MD_ERASING_FILL_RANDOM = 1, /* an independent standard normal value per element */
  MD_ERASING_FILL_VALUE = 2   /* value[c] in channel c (e.g. the dataset mean) */
} md_erasing_fill;

enum { MD_ERASING_MAX_CHANNELS = 16 };

typedef struct md_erasing_config {
  float p;                 /* probability of erasing an image; default 0.5 */
  float scale_lo, scale_hi; /* area fraction range; default 0.02, 0.4 */
  float ratio_lo, ratio_hi; /* aspect ratio range; default 0.3, 1/0.3 */
  int max_attempts;        /* default 100 */
  md_erasing_fill fill;    /* default MD_ERASING_FILL_RANDOM */
  float value[MD_ERASING_MAX_CHANNELS]; /* for MD_ERASING_FILL_VALUE */
} md_erasing_config;

MD_API md_erasing_config md_erasing_default_config(void);
/* MD_ERR_INVALID_ARGUMENT: p outside [0, 1], scale not 0 < lo <= hi <= 1,
 * ratio not 0 < lo <= hi < inf, max_attempts < 1, unknown fill (NaN fails
 * every check). */
MD_API md_status md_erasing_config_check(const md_erasing_config *cfg);

typedef struct md_erasing {
  md_erasing_config cfg;
  md_rng rng;
  uint8_t *keep;    /* N x H x W, 1 = kept; of the last forward */
  int64_t keep_cap;
  md_shape shape;   /* shape of the last forward (n = -1 before any) */
} md_erasing;

MD_API md_status md_erasing_init(md_erasing *e, const md_erasing_config *cfg,
                                 uint64_t seed, uint64_t stream);
MD_API void md_erasing_free(md_erasing *e);
/* Sizes the keep-mask for batches of `shape` up front, so that forward calls
 * on batches no larger do not allocate (forward grows it otherwise). */
MD_API md_status md_erasing_reserve(md_erasing *e, md_shape shape);
/* y may be x. MD_ERR_EMPTY for a shape without elements; MD_ERR_SHAPE when
 * C > MD_ERASING_MAX_CHANNELS with MD_ERASING_FILL_VALUE. training = 0 copies
 * x to y and records an all-kept mask.
 * Draws per image, in this order: u < p decides whether to erase; then per
 * attempt the area fraction and the ratio (uniform doubles), and for the
 * attempt that fits the top row and left column (md_rng_below); with
 * MD_ERASING_FILL_RANDOM one md_rng_normal per erased element, channel by
 * channel, row by row. */
MD_API md_status md_erasing_forward(md_erasing *e, md_shape shape, const float *x,
                                    float *y, int training);
/* dx = dy outside the erased rectangles of the last forward, 0 inside; dx may
 * be dy. MD_ERR_STATE before any forward. */
MD_API md_status md_erasing_backward(const md_erasing *e, const float *dy, float *dx);

#ifdef __cplusplus
}
#endif

#endif
