/* Inverted Dropout (see maxdrop/dropout.h).
 *
 * Element i of a training forward call uses word i % 4 of block first + i / 4
 * of the layer's stream, where `first` is the start of the ceil(numel / 4)
 * blocks the call reserves: it is kept when that word, as a float in [0, 1)
 * (md_u64_to_unit_float), is >= p. The decisions therefore do not depend on
 * how the elements are split between threads. */
#include "maxdrop/dropout.h"

#include <stdlib.h>
#include <string.h>

#include "reg/maskops.h"

static int valid_p(double p) { return p >= 0.0 && p <= 1.0; }

md_status md_dropout_init(md_dropout *d, double p, uint64_t seed, uint64_t stream) {
  if (!d || !valid_p(p)) return MD_ERR_INVALID_ARGUMENT;
  d->p = p;
  md_rng_init(&d->rng, seed, stream);
  d->mask = NULL;
  d->mask_words = 0;
  d->numel = -1;
  d->scale = 1.0f;
  return MD_OK;
}

md_status md_dropout_reserve(md_dropout *d, int64_t numel) {
  if (!d || numel < 0) return MD_ERR_INVALID_ARGUMENT;
  const size_t words = (size_t)((numel + 63) / 64);
  if (words <= d->mask_words) return MD_OK;
  uint64_t *p = realloc(d->mask, words * sizeof *p);
  if (!p) return MD_ERR_OUT_OF_MEMORY;
  d->mask = p;
  d->mask_words = words;
  return MD_OK;
}

void md_dropout_free(md_dropout *d) {
  if (!d) return;
  free(d->mask);
  d->mask = NULL;
  d->mask_words = 0;
  d->numel = -1;
}

md_status md_dropout_forward(md_dropout *d, int64_t numel, const float *x, float *y,
                             int training) {
  if (!d) return MD_ERR_INVALID_ARGUMENT;
  if (numel < 0) return MD_ERR_SHAPE;
  if (numel == 0) return MD_ERR_EMPTY;
  if (!x || !y || !valid_p(d->p)) return MD_ERR_INVALID_ARGUMENT;
  md_status st = md_dropout_reserve(d, numel);
  if (st != MD_OK) return st;

  const int64_t words = (numel + 63) / 64;
  if (!training) {
    if (y != x) memmove(y, x, (size_t)numel * sizeof *y);
    md_mask_set_all(d->mask, numel);
    d->scale = 1.0f;
    d->numel = numel;
    return MD_OK;
  }

  const double p = d->p;
  /* As PyTorch: the scale 1 / (1 - p) is computed in double, then rounded. */
  const float scale = p >= 1.0 ? 0.0f : (float)(1.0 / (1.0 - p));
  const uint64_t first = md_rng_reserve(&d->rng, (uint64_t)((numel + 3) / 4));
  uint64_t *mask = d->mask;
  const md_rng *rng = &d->rng;
  /* One mask word (64 elements = 16 Philox blocks) per iteration: no two
   * threads ever touch the same word. */
#pragma omp parallel for schedule(static)
  for (int64_t k = 0; k < words; ++k) {
    const int64_t i0 = k * 64;
    const int64_t n = numel - i0 < 64 ? numel - i0 : 64;
    uint64_t bits = 0;
    for (int64_t j = 0; j < n; j += 4) {
      uint64_t r[4];
      md_rng_block(rng, first + (uint64_t)((i0 + j) / 4), r);
      for (int64_t l = 0; l < 4 && j + l < n; ++l) {
        const int64_t i = i0 + j + l;
        const int keep = (double)md_u64_to_unit_float(r[l]) >= p;
        bits |= (uint64_t)keep << (j + l);
        y[i] = keep ? x[i] * scale : 0.0f;
      }
    }
    mask[k] = bits;
  }
  d->scale = scale;
  d->numel = numel;
  return MD_OK;
}

md_status md_dropout_backward(const md_dropout *d, const float *dy, float *dx) {
  if (!d || !dy || !dx) return MD_ERR_INVALID_ARGUMENT;
  if (d->numel < 0) return MD_ERR_STATE;
  md_mask_apply(d->mask, d->numel, dy, d->scale, dx);
  return MD_OK;
}
