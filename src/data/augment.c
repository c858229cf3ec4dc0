/* Per-image crop, flip and normalisation (see maxdrop/augment.h). */
#include "maxdrop/augment.h"

#include <math.h>
#include <string.h>

#include "core/errbuf.h"

md_augment_config md_augment_cifar_config(void) {
  md_augment_config c;
  memset(&c, 0, sizeof c);
  c.channels = 3;
  c.height = 32;
  c.width = 32;
  c.pad = 4;
  c.flip = 1;
  /* As the reference writes them: [x / 255.0 for x in (...)] in double, then
   * torch.as_tensor(..., dtype=float32) rounds each quotient once. */
  const double mean255[3] = {125.3, 123.0, 113.9};
  const double std255[3] = {63.0, 62.1, 66.7};
  for (int i = 0; i < 3; ++i) {
    c.mean[i] = (float)(mean255[i] / 255.0);
    c.std[i] = (float)(std255[i] / 255.0);
  }
  return c;
}

md_status md_augment_config_check(const md_augment_config *cfg, md_errbuf *eb) {
  if (!cfg) return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "no augmentation configuration");
  if (cfg->channels < 1 || cfg->channels > MD_AUGMENT_MAX_CHANNELS)
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "image channels %d outside 1..%d",
                   cfg->channels, MD_AUGMENT_MAX_CHANNELS);
  if (cfg->height < 1 || cfg->width < 1)
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "image size %d x %d has no pixels",
                   cfg->height, cfg->width);
  if (cfg->pad < 0 || cfg->pad > 4096)
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "crop padding %d outside 0..4096", cfg->pad);
  if (cfg->flip != 0 && cfg->flip != 1)
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "flip must be 0 or 1, not %d", cfg->flip);
  for (int c = 0; c < cfg->channels; ++c) {
    if (!isfinite(cfg->mean[c]))
      return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "mean of channel %d is not finite", c);
    if (!isfinite(cfg->std[c]) || !(cfg->std[c] > 0.0f))
      return md_fail(eb, MD_ERR_INVALID_ARGUMENT,
                     "std of channel %d is %g; it must be finite and > 0", c,
                     (double)cfg->std[c]);
  }
  return MD_OK;
}

md_status md_augment_init(md_augment *a, const md_augment_config *cfg, md_errbuf *eb) {
  const md_status st = md_augment_config_check(cfg, eb);
  if (st != MD_OK) return st;
  memset(a, 0, sizeof *a);
  a->cfg = *cfg;
  for (int c = 0; c < cfg->channels; ++c) {
    const float m = cfg->mean[c], s = cfg->std[c];
    for (int v = 0; v < 256; ++v) {
      /* Two separately rounded float32 operations, as ToTensor then Normalize. */
      const float x = (float)v / 255.0f;
      a->lut[c][v] = (x - m) / s;
    }
  }
  return MD_OK;
}

md_crop_flip md_crop_flip_identity(const md_augment *a) {
  const md_crop_flip p = {a->cfg.pad, a->cfg.pad, 0};
  return p;
}

md_crop_flip md_augment_draw(const md_augment *a, md_rng *r) {
  const uint64_t span = 2 * (uint64_t)a->cfg.pad + 1;
  md_crop_flip p;
  p.dy = (int)md_rng_below(r, span);
  p.dx = (int)md_rng_below(r, span);
  p.flip = a->cfg.flip ? (md_rng_uniform(r) < 0.5f) : 0;
  return p;
}

void md_augment_image(const md_augment *a, const uint8_t *src, md_crop_flip p, float *dst) {
  const int C = a->cfg.channels, H = a->cfg.height, W = a->cfg.width, pad = a->cfg.pad;
  /* Output (y, x) reads source row y + dy - pad and column
   * (flip ? W-1-x : x) + dx - pad; outside the source it reads the pad value 0. */
  const int oy = p.dy - pad, ox = p.dx - pad;
  /* Output columns [x0, x1) read inside the source; the rest is padding. */
  int x0, x1;
  if (!p.flip) {
    x0 = ox < 0 ? -ox : 0;
    x1 = W - (ox > 0 ? ox : 0);
  } else {
    /* sx = W-1-x+ox in [0, W)  <=>  x in [ox, W+ox) */
    x0 = ox > 0 ? ox : 0;
    x1 = W + (ox < 0 ? ox : 0);
  }
  /* A padding wider than the image can leave no column inside. */
  if (x0 > W) x0 = W;
  if (x1 < x0) x1 = x0;
  for (int c = 0; c < C; ++c) {
    const float *lut = a->lut[c];
    const float zero = lut[0];
    const uint8_t *plane = src + (int64_t)c * H * W;
    float *out = dst + (int64_t)c * H * W;
    for (int y = 0; y < H; ++y) {
      float *orow = out + (int64_t)y * W;
      const int sy = y + oy;
      if (sy < 0 || sy >= H) {
        for (int x = 0; x < W; ++x) orow[x] = zero;
        continue;
      }
      const uint8_t *srow = plane + (int64_t)sy * W;
      for (int x = 0; x < x0; ++x) orow[x] = zero;
      if (!p.flip) {
        for (int x = x0; x < x1; ++x) orow[x] = lut[srow[x + ox]];
      } else {
        for (int x = x0; x < x1; ++x) orow[x] = lut[srow[W - 1 - x + ox]];
      }
      for (int x = x1; x < W; ++x) orow[x] = zero;
    }
  }
}

void md_normalize_image(const md_augment *a, const uint8_t *src, float *dst) {
  const int C = a->cfg.channels;
  const int64_t hw = (int64_t)a->cfg.height * a->cfg.width;
  for (int c = 0; c < C; ++c) {
    const float *lut = a->lut[c];
    const uint8_t *plane = src + c * hw;
    float *out = dst + c * hw;
    for (int64_t i = 0; i < hw; ++i) out[i] = lut[plane[i]];
  }
}
