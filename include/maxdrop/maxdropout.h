/* maxdrop/maxdropout.h - MaxDropout (Santos et al., ICPR 2020) and MaxDropoutV2.
 *
 * Training mode, reference behaviour (the defaults): over the whole tensor,
 * lo = min(x), hi = max(x); q = (x - lo) / (hi - lo) in float32; an element is
 * dropped (set to 0) when q > (float)(1 - rate), strictly; kept values are NOT
 * rescaled. A constant tensor or one holding a NaN anywhere is returned
 * unchanged (the reference's 0/0 and NaN comparisons are false). Backward:
 * dx = dy where kept, 0 where dropped. Evaluation mode: identity.
 *
 * Options (see md_maxdrop_config): the rate drawn U(0, rate) per call (paper)
 * instead of fixed (code); L2 normalisation (paper: x / ||x||_2 compared with
 * (1 - rate) * max of that) instead of min-max (code); statistics per batch
 * (code), per sample, per channel (over the batch, like BatchNorm) or per
 * sample and channel; and MaxDropoutV2 (Santos et al. 2022: sum over channels,
 * min-max per sample over the H x W map, drop whole positions in every
 * channel). */
#ifndef MAXDROP_MAXDROPOUT_H
#define MAXDROP_MAXDROPOUT_H

#include <stddef.h>
#include <stdint.h>

#include "maxdrop/api.h"
#include "maxdrop/rng.h"
#include "maxdrop/status.h"
#include "maxdrop/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum md_maxdrop_norm {
  MD_MAXDROP_NORM_MINMAX = 0, /* reference code */
  MD_MAXDROP_NORM_L2 = 1      /* paper, Algorithm 1 */
} md_maxdrop_norm;

typedef enum md_maxdrop_stats {
  MD_MAXDROP_STATS_BATCH = 0,         /* one group: the whole tensor (reference) */
  MD_MAXDROP_STATS_SAMPLE = 1,        /* one group per sample n */
  MD_MAXDROP_STATS_CHANNEL = 2,       /* one group per channel c, over all samples */
  MD_MAXDROP_STATS_SAMPLE_CHANNEL = 3 /* one group per (n, c) feature map */
} md_maxdrop_stats;

typedef struct md_maxdrop_config {
  double rate;            /* in [0, 1]; default 0.3. A double, like the Python float
                           * of the reference: the threshold is (float)(1.0 - rate) */
  int random_rate;        /* 1: rate ~ U(0, rate) drawn per call (paper); 0: fixed */
  md_maxdrop_norm norm;   /* default MD_MAXDROP_NORM_MINMAX */
  md_maxdrop_stats stats; /* default MD_MAXDROP_STATS_BATCH; ignored by V2 */
  int v2;                 /* 1: MaxDropoutV2 (needs an N x C x H x W shape) */
} md_maxdrop_config;

/* The reference configuration: rate 0.3, fixed, min-max, per batch, V1. */
MD_API md_maxdrop_config md_maxdrop_default_config(void);

/* Checks a configuration: MD_ERR_INVALID_ARGUMENT when the rate is outside
 * [0, 1] (or NaN) or an enum is out of range. */
MD_API md_status md_maxdrop_config_check(const md_maxdrop_config *cfg);

/* A MaxDropout layer: configuration, its own random stream (used only when
 * random_rate is set) and the keep-mask of the last forward call. */
typedef struct md_maxdrop {
  md_maxdrop_config cfg;
  md_rng rng;
  uint64_t *mask;     /* bit i set = element i kept; 64 elements per word */
  size_t mask_words;  /* capacity of mask, in words */
  int64_t numel;      /* elements covered by the last forward (-1 before any) */
  double last_rate;   /* rate used by the last training forward */
} md_maxdrop;

/* Initialises m. The rng stream is only drawn from when cfg->random_rate. */
MD_API md_status md_maxdrop_init(md_maxdrop *m, const md_maxdrop_config *cfg,
                                 uint64_t seed, uint64_t stream);

/* Reserves mask space for tensors of up to `numel` elements, so that later
 * forward calls do not allocate. */
MD_API md_status md_maxdrop_reserve(md_maxdrop *m, int64_t numel);

/* Releases the mask. m may be re-initialised afterwards. */
MD_API void md_maxdrop_free(md_maxdrop *m);

/* Forward. x and y are `shape` buffers; y may be x (in place). training = 0
 * copies x to y and records an all-kept mask. With random_rate, each training
 * call draws rate = cfg.rate * (double)md_rng_uniform(&m->rng) once (kept in
 * last_rate); evaluation draws nothing. Errors, checked in this order:
 * MD_ERR_INVALID_ARGUMENT for a NULL m, MD_ERR_SHAPE for a negative or
 * overflowing shape, MD_ERR_EMPTY for a tensor without elements (x and y are
 * not touched and may be NULL), MD_ERR_INVALID_ARGUMENT for a NULL x or y or
 * an invalid m->cfg, MD_ERR_OUT_OF_MEMORY when the mask cannot grow. On error
 * the layer (mask, numel, rng) is unchanged. Results do not depend on the
 * OpenMP thread count. Large tensors are fastest 64-byte aligned. */
MD_API md_status md_maxdrop_forward(md_maxdrop *m, md_shape shape, const float *x,
                                    float *y, int training);

/* Backward of the last forward: dx[i] = mask[i] ? dy[i] : 0 over the numel of
 * that call. dx may be dy. MD_ERR_STATE before any forward. */
MD_API md_status md_maxdrop_backward(const md_maxdrop *m, const float *dy, float *dx);

/* Whether element i was kept by the last forward (i < m->numel). */
static inline int md_maxdrop_kept(const md_maxdrop *m, int64_t i) {
  return (int)((m->mask[i >> 6] >> (i & 63)) & 1u);
}

#ifdef __cplusplus
}
#endif

#endif
