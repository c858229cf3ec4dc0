/* maxdrop/rng.h - seedable random streams (Philox4x64-10, counter-based).
 *
 * Every random consumer (data order, augmentation, weight initialisation, each
 * dropout layer) owns one md_rng, created from the run's seed and a stream id
 * of its own. Streams with different ids are independent: the stream id is half
 * of the Philox key, the seed the other half, and the counter starts at zero.
 *
 * Block b of a stream is philox4x64_10(counter = {b, 0, 0, 0}, key = {seed,
 * stream}); md_rng_u64 returns its four words in order, then moves to block b+1.
 * This is the generator of Salmon et al. (SC'11), the same function as NumPy's
 * numpy.random.Philox, so any stream can be reproduced outside maxdrop.
 *
 * Kernels that draw in parallel reserve a range of blocks with md_rng_reserve
 * and compute block i directly with md_philox4x64: the numbers then do not
 * depend on how the work is split between threads. */
#ifndef MAXDROP_RNG_H
#define MAXDROP_RNG_H

#include <stdint.h>

#include "maxdrop/api.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Well-known stream ids. Layers number their streams from MD_STREAM_LAYER. */
enum {
  MD_STREAM_DATA_ORDER = 1,  /* shuffling of the training set */
  MD_STREAM_AUGMENT = 2,     /* crops, flips */
  MD_STREAM_CUTOUT = 3,      /* Cutout hole centres */
  MD_STREAM_ERASING = 4,     /* RandomErasing */
  MD_STREAM_INIT = 5,        /* weight initialisation */
  MD_STREAM_LAYER = 256      /* + layer index: dropout / MaxDropout layers */
};

/* A random stream. Plain data: copy it to save it, copy it back to restore. */
typedef struct md_rng {
  uint64_t key[2]; /* {seed, stream} */
  uint64_t block;  /* index of the next block to generate */
  uint64_t buf[4]; /* the current block */
  uint32_t pos;    /* next unread word of buf; 4 = empty */
} md_rng;

/* The Philox4x64-10 bijection: out = philox(ctr, key). */
MD_API void md_philox4x64(const uint64_t ctr[4], const uint64_t key[2],
                          uint64_t out[4]);

/* Starts stream `stream` of seed `seed` at block 0. */
MD_API void md_rng_init(md_rng *r, uint64_t seed, uint64_t stream);

/* Next 64 random bits. */
MD_API uint64_t md_rng_u64(md_rng *r);

/* Uniform float in [0, 1): the top 24 bits of one word, times 2^-24. */
MD_API float md_rng_uniform(md_rng *r);

/* Uniform double in [0, 1): the top 53 bits of one word, times 2^-53. */
MD_API double md_rng_uniform_double(md_rng *r);

/* Uniform integer in [0, n), without modulo bias; n must be >= 1. */
MD_API uint64_t md_rng_below(md_rng *r, uint64_t n);

/* Standard normal sample (Box-Muller on two uniform doubles). */
MD_API double md_rng_normal(md_rng *r);

/* Reserves `nblocks` consecutive blocks for a counter-based kernel and returns
 * the index of the first one; the stream continues after them. Any partly read
 * block is discarded first. */
MD_API uint64_t md_rng_reserve(md_rng *r, uint64_t nblocks);

/* Block `block` of stream r (does not move r). */
MD_API void md_rng_block(const md_rng *r, uint64_t block, uint64_t out[4]);

/* The top 24 bits of a word as a float in [0, 1). */
static inline float md_u64_to_unit_float(uint64_t w) {
  return (float)(w >> 40) * (1.0f / 16777216.0f);
}

#ifdef __cplusplus
}
#endif

#endif /* MAXDROP_RNG_H */
