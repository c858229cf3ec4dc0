/* RandomErasing: one random rectangle per image (see maxdrop/random_erasing.h). */
#include "maxdrop/random_erasing.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

md_erasing_config md_erasing_default_config(void) {
  md_erasing_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.p = 0.5f;
  cfg.scale_lo = 0.02f;
  cfg.scale_hi = 0.4f;
  cfg.ratio_lo = 0.3f;
  cfg.ratio_hi = 1.0f / 0.3f;
  cfg.max_attempts = 100;
  cfg.fill = MD_ERASING_FILL_RANDOM;
  return cfg;
}

md_status md_erasing_config_check(const md_erasing_config *cfg) {
  if (!cfg) return MD_ERR_INVALID_ARGUMENT;
  /* Written so that NaN fails every comparison. */
  if (!(cfg->p >= 0.0f && cfg->p <= 1.0f)) return MD_ERR_INVALID_ARGUMENT;
  if (!(cfg->scale_lo > 0.0f && cfg->scale_lo <= cfg->scale_hi && cfg->scale_hi <= 1.0f))
    return MD_ERR_INVALID_ARGUMENT;
  if (!(cfg->ratio_lo > 0.0f && cfg->ratio_lo <= cfg->ratio_hi && isfinite(cfg->ratio_hi)))
    return MD_ERR_INVALID_ARGUMENT;
  if (cfg->max_attempts < 1) return MD_ERR_INVALID_ARGUMENT;
  if (cfg->fill != MD_ERASING_FILL_ZERO && cfg->fill != MD_ERASING_FILL_RANDOM &&
      cfg->fill != MD_ERASING_FILL_VALUE)
    return MD_ERR_INVALID_ARGUMENT;
  return MD_OK;
}

md_status md_erasing_init(md_erasing *e, const md_erasing_config *cfg, uint64_t seed,
                          uint64_t stream) {
  if (!e) return MD_ERR_INVALID_ARGUMENT;
  memset(e, 0, sizeof *e);
  e->shape = md_shape4(-1, 0, 0, 0);
  const md_status rc = md_erasing_config_check(cfg);
  if (rc != MD_OK) return rc;
  e->cfg = *cfg;
  md_rng_init(&e->rng, seed, stream);
  return MD_OK;
}

void md_erasing_free(md_erasing *e) {
  if (!e) return;
  free(e->keep);
  e->keep = NULL;
  e->keep_cap = 0;
  e->shape = md_shape4(-1, 0, 0, 0);
}

md_status md_erasing_reserve(md_erasing *e, md_shape shape) {
  if (!e) return MD_ERR_INVALID_ARGUMENT;
  if (md_shape_numel(shape) < 0) return MD_ERR_SHAPE;
  const int64_t need = md_shape_numel(md_shape4(shape.n, 1, shape.h, shape.w));
  if (need < 0) return MD_ERR_SHAPE;
  if (need <= e->keep_cap) return MD_OK;
  if ((uint64_t)need > SIZE_MAX) return MD_ERR_OUT_OF_MEMORY;
  uint8_t *k = realloc(e->keep, (size_t)need);
  if (!k) return MD_ERR_OUT_OF_MEMORY;
  e->keep = k;
  e->keep_cap = need;
  return MD_OK;
}

/* Draws the rectangle of one image: returns 1 and sets top/left/h/w when an
 * attempt fits, 0 when the image is not erased (by chance or because no
 * attempt fitted). */
static int draw_rect(md_erasing *e, int64_t H, int64_t W, int64_t *top, int64_t *left,
                     int64_t *rh, int64_t *rw) {
  const md_erasing_config *cfg = &e->cfg;
  if (!(md_rng_uniform(&e->rng) < cfg->p)) return 0;
  const double area = (double)H * (double)W;
  for (int a = 0; a < cfg->max_attempts; ++a) {
    const double s = cfg->scale_lo + (cfg->scale_hi - cfg->scale_lo) * md_rng_uniform_double(&e->rng);
    const double r = cfg->ratio_lo + (cfg->ratio_hi - cfg->ratio_lo) * md_rng_uniform_double(&e->rng);
    const double target = s * area;
    const int64_t h = (int64_t)llround(sqrt(target * r));
    const int64_t w = (int64_t)llround(sqrt(target / r));
    if (h < H && w < W) {
      *top = (int64_t)md_rng_below(&e->rng, (uint64_t)(H - h + 1));
      *left = (int64_t)md_rng_below(&e->rng, (uint64_t)(W - w + 1));
      *rh = h;
      *rw = w;
      return 1;
    }
  }
  return 0;
}

md_status md_erasing_forward(md_erasing *e, md_shape shape, const float *x, float *y,
                             int training) {
  const int64_t numel = md_shape_numel(shape);
  if (numel < 0) return MD_ERR_SHAPE;
  if (numel == 0) return MD_ERR_EMPTY;
  if (!e || !x || !y) return MD_ERR_INVALID_ARGUMENT;
  if (e->cfg.fill == MD_ERASING_FILL_VALUE && shape.c > MD_ERASING_MAX_CHANNELS)
    return MD_ERR_SHAPE;
  const md_status rc = md_erasing_reserve(e, shape);
  if (rc != MD_OK) return rc;
  const int64_t N = shape.n, C = shape.c, H = shape.h, W = shape.w, HW = H * W;
  e->shape = shape;
  memset(e->keep, 1, (size_t)(N * HW));
  if (y != x) memcpy(y, x, (size_t)numel * sizeof *x);
  if (!training) return MD_OK;
  /* Sequential on purpose: the draws (and the random fill values) come in a
   * fixed order, image by image, so results do not depend on threads. */
  for (int64_t n = 0; n < N; ++n) {
    int64_t top, left, rh, rw;
    if (!draw_rect(e, H, W, &top, &left, &rh, &rw)) continue;
    uint8_t *k = e->keep + n * HW;
    for (int64_t r = top; r < top + rh; ++r) memset(k + r * W + left, 0, (size_t)rw);
    for (int64_t ch = 0; ch < C; ++ch) {
      float *img = y + (n * C + ch) * HW;
      for (int64_t r = top; r < top + rh; ++r) {
        float *row = img + r * W + left;
        for (int64_t i = 0; i < rw; ++i) {
          switch (e->cfg.fill) {
          case MD_ERASING_FILL_RANDOM: row[i] = (float)md_rng_normal(&e->rng); break;
          case MD_ERASING_FILL_VALUE: row[i] = e->cfg.value[ch]; break;
          default: row[i] = 0.0f; break;
          }
        }
      }
    }
  }
  return MD_OK;
}

md_status md_erasing_backward(const md_erasing *e, const float *dy, float *dx) {
  if (!e || e->shape.n < 0) return MD_ERR_STATE;
  if (!dy || !dx) return MD_ERR_INVALID_ARGUMENT;
  const int64_t N = e->shape.n, C = e->shape.c, HW = e->shape.h * e->shape.w;
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < N * C; ++p) {
    const uint8_t *k = e->keep + (p / C) * HW;
    const float *g = dy + p * HW;
    float *o = dx + p * HW;
    for (int64_t i = 0; i < HW; ++i) o[i] = k[i] ? g[i] : 0.0f;
  }
  return MD_OK;
}
