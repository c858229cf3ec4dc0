/* maxdrop/loader.h - epoch-based batch loader with a prefetch thread.
 *
 * The loader reads a caller-owned uint8 dataset (N images C x H x W, labels
 * int32) and produces float32 batches (B, C, H, W) with int32 labels (B), in
 * epochs of ceil(N / B) batches; the last batch of an epoch holds the
 * remaining N - (nbatches-1)*B images (never dropped, as PyTorch's DataLoader
 * with drop_last=False).
 *
 * Training mode, epoch e:
 *   - order: the identity permutation shuffled by Fisher-Yates, for
 *     i = N-1 down to 1: j = md_rng_below(r, i+1), swap(perm[i], perm[j]),
 *     with r = md_loader_epoch_rng(seed, MD_STREAM_DATA_ORDER, e);
 *   - per image, in epoch order: md_augment_draw then md_augment_image
 *     (maxdrop/augment.h), drawing from
 *     md_loader_epoch_rng(seed, MD_STREAM_AUGMENT, e);
 *   - then on the whole batch, when enabled: Cutout (md_cutout, its stream
 *     md_loader_epoch_rng(seed, MD_STREAM_CUTOUT, e)), then RandomErasing
 *     (md_erasing, stream md_loader_epoch_rng(seed, MD_STREAM_ERASING, e)).
 * Evaluation mode: dataset order, normalisation only.
 *
 * Reproducibility and resuming: every stream of epoch e starts afresh from
 * (seed, e) (md_loader_epoch_rng), so the batches of an epoch depend only on
 * the seed, the epoch index, the batch size and the data; not on earlier
 * epochs, on thread timing or on whether prefetching is on. Resuming a run at
 * an epoch boundary e needs no saved loader state: create a loader with the
 * same seed and call md_loader_start_epoch(ld, e).
 *
 * Prefetching: with cfg.prefetch = 1 a background thread (pthreads) fills the
 * next batch while the caller works on the current one (two buffers). The
 * batch handed out by md_loader_next stays valid, and is the caller's to read
 * or modify, until the next call of md_loader_next, md_loader_start_epoch or
 * md_loader_destroy. Everything is allocated in md_loader_create. */
#ifndef MAXDROP_LOADER_H
#define MAXDROP_LOADER_H

#include <stdint.h>

#include "maxdrop/api.h"
#include "maxdrop/augment.h"
#include "maxdrop/random_erasing.h"
#include "maxdrop/rng.h"
#include "maxdrop/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct md_loader_config {
  int64_t batch_size;          /* B >= 1; default 128 */
  int train;                   /* 1: shuffle + augmentation; 0: evaluation; default 1 */
  int prefetch;                /* 1: background thread; 0: synchronous; default 1 */
  uint64_t seed;               /* the run's seed; default 0 */
  md_augment_config aug;       /* shape, crop padding, flip, mean/std; default CIFAR */
  int cutout_holes;            /* Cutout: holes per image, 0 = off (default) */
  int cutout_length;           /* Cutout: side of a hole (16 CIFAR-10, 8 CIFAR-100) */
  int erasing;                 /* 1: RandomErasing with erasing_cfg; default 0 */
  md_erasing_config erasing_cfg; /* default md_erasing_default_config() */
} md_loader_config;

/* batch 128, training, prefetch on, seed 0, md_augment_cifar_config(), no
 * Cutout, no RandomErasing. */
MD_API md_loader_config md_loader_default_config(void);

/* One batch. `size` is 0 when the epoch has no batch left. */
typedef struct md_batch {
  int64_t size;            /* B of this batch (the last one may be smaller) */
  int64_t index;           /* batch number within the epoch, 0-based */
  int64_t epoch;           /* the epoch it belongs to */
  float *images;           /* (B, C, H, W) */
  int32_t *labels;         /* (B) */
  const int64_t *sources;  /* (B) dataset index of each image */
  const md_crop_flip *choices; /* (B) crop/flip of each image (identity in evaluation) */
} md_batch;

typedef struct md_loader md_loader;

/* images (n, C, H, W) uint8 and labels (n) int32 >= 0 are the caller's and
 * must outlive the loader (they are not copied). MD_ERR_INVALID_ARGUMENT for a
 * bad configuration or n < 1; MD_ERR_RANGE for a negative label (the message
 * names it); MD_ERR_OUT_OF_MEMORY; MD_ERR_STATE when the thread cannot start. */
MD_API md_status md_loader_create(md_loader **out, const md_loader_config *cfg,
                                  const uint8_t *images, const int32_t *labels, int64_t n,
                                  md_errbuf *eb);

/* Stops the thread and frees everything. Accepts NULL. */
MD_API void md_loader_destroy(md_loader *ld);

/* Number of batches per epoch: ceil(n / B). */
MD_API int64_t md_loader_num_batches(const md_loader *ld);

/* Starts (or restarts) epoch `epoch` >= 0 at its first batch; a batch of an
 * earlier epoch still held by the caller becomes invalid, and prefetched work
 * is discarded. MD_ERR_INVALID_ARGUMENT for epoch < 0 or >= 2^32. */
MD_API md_status md_loader_start_epoch(md_loader *ld, int64_t epoch);

/* Hands out the epoch's next batch (batch->size = 0 after the last one) and
 * releases the previous one. MD_ERR_STATE before md_loader_start_epoch. */
MD_API md_status md_loader_next(md_loader *ld, md_batch *batch);

/* Epoch e's start of stream `stream` of `seed`: the stream positioned at block
 * e * MD_LOADER_EPOCH_BLOCKS (2^32 blocks = 2^34 words per epoch, far more than
 * an epoch draws). In NumPy: numpy.random.Philox(key=seed + stream * 2**64,
 * counter=e * 2**32 - 1) (NumPy increments before each block; for e = 0 use
 * counter 2**256 - 1). */
#define MD_LOADER_EPOCH_BLOCKS (UINT64_C(1) << 32)
MD_API md_rng md_loader_epoch_rng(uint64_t seed, uint64_t stream, int64_t epoch);

#ifdef __cplusplus
}
#endif

#endif /* MAXDROP_LOADER_H */
