/* MaxDropout and MaxDropoutV2 (see maxdrop/maxdropout.h).
 *
 * Straightforward form: for every statistics group, one pass finds min, max
 * (NaN-propagating, as PyTorch's min()/max()) and a second pass applies the
 * reference formula element by element. */
#include "maxdrop/maxdropout.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

md_maxdrop_config md_maxdrop_default_config(void) {
  md_maxdrop_config c;
  c.rate = 0.3f;
  c.random_rate = 0;
  c.norm = MD_MAXDROP_NORM_MINMAX;
  c.stats = MD_MAXDROP_STATS_BATCH;
  c.v2 = 0;
  return c;
}

md_status md_maxdrop_config_check(const md_maxdrop_config *cfg) {
  if (!cfg) return MD_ERR_INVALID_ARGUMENT;
  if (!(cfg->rate >= 0.0f && cfg->rate <= 1.0f)) return MD_ERR_INVALID_ARGUMENT;
  if (cfg->norm != MD_MAXDROP_NORM_MINMAX && cfg->norm != MD_MAXDROP_NORM_L2)
    return MD_ERR_INVALID_ARGUMENT;
  if (cfg->stats != MD_MAXDROP_STATS_BATCH && cfg->stats != MD_MAXDROP_STATS_SAMPLE &&
      cfg->stats != MD_MAXDROP_STATS_CHANNEL && cfg->stats != MD_MAXDROP_STATS_SAMPLE_CHANNEL)
    return MD_ERR_INVALID_ARGUMENT;
  return MD_OK;
}

md_status md_maxdrop_init(md_maxdrop *m, const md_maxdrop_config *cfg, uint64_t seed,
                          uint64_t stream) {
  if (!m) return MD_ERR_INVALID_ARGUMENT;
  const md_status st = md_maxdrop_config_check(cfg);
  if (st != MD_OK) return st;
  m->cfg = *cfg;
  md_rng_init(&m->rng, seed, stream);
  m->mask = NULL;
  m->mask_words = 0;
  m->numel = -1;
  m->last_rate = cfg->rate;
  return MD_OK;
}

md_status md_maxdrop_reserve(md_maxdrop *m, int64_t numel) {
  if (!m || numel < 0) return MD_ERR_INVALID_ARGUMENT;
  const size_t words = (size_t)((numel + 63) / 64);
  if (words <= m->mask_words) return MD_OK;
  uint64_t *p = realloc(m->mask, words * sizeof *p);
  if (!p) return MD_ERR_OUT_OF_MEMORY;
  m->mask = p;
  m->mask_words = words;
  return MD_OK;
}

void md_maxdrop_free(md_maxdrop *m) {
  if (!m) return;
  free(m->mask);
  m->mask = NULL;
  m->mask_words = 0;
  m->numel = -1;
}

/* One statistics group: nseg segments of seglen elements, segment s starting
 * at base + s * stride. */
typedef struct group {
  int64_t base, nseg, seglen, stride;
} group;

static void set_bit(uint64_t *mask, int64_t i, int kept) {
  if (kept)
    mask[i >> 6] |= UINT64_C(1) << (i & 63);
  else
    mask[i >> 6] &= ~(UINT64_C(1) << (i & 63));
}

/* PyTorch-like NaN-propagating min / max over a group; *has_nan set when any
 * element is NaN. */
static void group_minmax(const float *x, group g, float *lo, float *hi, int *has_nan) {
  float l = INFINITY, h = -INFINITY;
  int nan = 0;
  for (int64_t s = 0; s < g.nseg; ++s) {
    const float *p = x + g.base + s * g.stride;
    for (int64_t j = 0; j < g.seglen; ++j) {
      const float v = p[j];
      if (isnan(v)) nan = 1;
      if (v < l) l = v;
      if (v > h) h = v;
    }
  }
  *lo = l;
  *hi = h;
  *has_nan = nan;
}

static void apply_minmax(const float *x, float *y, uint64_t *mask, group g, float t) {
  float lo, hi;
  int nan;
  group_minmax(x, g, &lo, &hi, &nan);
  const float d = hi - lo;
  for (int64_t s = 0; s < g.nseg; ++s) {
    const int64_t off = g.base + s * g.stride;
    for (int64_t j = 0; j < g.seglen; ++j) {
      const float v = x[off + j];
      const float q = (v - lo) / d;
      const int drop = !nan && q > t;
      y[off + j] = drop ? 0.0f : v;
      set_bit(mask, off + j, !drop);
    }
  }
}

static void apply_l2(const float *x, float *y, uint64_t *mask, group g, float t) {
  double ss = 0.0;
  int nan = 0;
  for (int64_t s = 0; s < g.nseg; ++s) {
    const float *p = x + g.base + s * g.stride;
    for (int64_t j = 0; j < g.seglen; ++j) {
      ss += (double)p[j] * (double)p[j];
      if (isnan(p[j])) nan = 1;
    }
  }
  const float nrm = (float)sqrt(ss);
  float mx = -INFINITY;
  for (int64_t s = 0; s < g.nseg && !nan; ++s) {
    const float *p = x + g.base + s * g.stride;
    for (int64_t j = 0; j < g.seglen; ++j) {
      const float n = p[j] / nrm;
      if (isnan(n)) nan = 1;
      if (n > mx) mx = n;
    }
  }
  const float thr = t * mx;
  for (int64_t s = 0; s < g.nseg; ++s) {
    const int64_t off = g.base + s * g.stride;
    for (int64_t j = 0; j < g.seglen; ++j) {
      const float v = x[off + j];
      const int drop = !nan && v / nrm > thr;
      y[off + j] = drop ? 0.0f : v;
      set_bit(mask, off + j, !drop);
    }
  }
}

/* MaxDropoutV2: per sample, the channel sum s[p] = sum_c x[n, c, p] (float,
 * channel order) is normalised over the H x W map; a position whose score
 * passes the threshold is dropped in every channel. */
static void apply_v2(const md_maxdrop_config *cfg, md_shape sh, const float *x, float *y,
                     uint64_t *mask, float t) {
  const int64_t hw = sh.h * sh.w, chw = sh.c * hw;
  for (int64_t n = 0; n < sh.n; ++n) {
    const float *xn = x + n * chw;
    float lo = INFINITY, hi = -INFINITY, mx = -INFINITY;
    int nan = 0;
    double ss = 0.0;
    for (int64_t p = 0; p < hw; ++p) {
      float s = 0.0f;
      for (int64_t c = 0; c < sh.c; ++c) s += xn[c * hw + p];
      if (isnan(s)) nan = 1;
      if (s < lo) lo = s;
      if (s > hi) hi = s;
      ss += (double)s * (double)s;
    }
    const float nrm = (float)sqrt(ss);
    if (cfg->norm == MD_MAXDROP_NORM_L2) {
      for (int64_t p = 0; p < hw && !nan; ++p) {
        float s = 0.0f;
        for (int64_t c = 0; c < sh.c; ++c) s += xn[c * hw + p];
        const float q = s / nrm;
        if (isnan(q)) nan = 1;
        if (q > mx) mx = q;
      }
    }
    const float thr = t * mx;
    for (int64_t p = 0; p < hw; ++p) {
      float s = 0.0f;
      for (int64_t c = 0; c < sh.c; ++c) s += xn[c * hw + p];
      int drop;
      if (cfg->norm == MD_MAXDROP_NORM_L2)
        drop = !nan && s / nrm > thr;
      else
        drop = !nan && (s - lo) / (hi - lo) > t;
      for (int64_t c = 0; c < sh.c; ++c) {
        const int64_t i = n * chw + c * hw + p;
        y[i] = drop ? 0.0f : x[i];
        set_bit(mask, i, !drop);
      }
    }
  }
}

md_status md_maxdrop_forward(md_maxdrop *m, md_shape shape, const float *x, float *y,
                             int training) {
  if (!m) return MD_ERR_INVALID_ARGUMENT;
  const int64_t numel = md_shape_numel(shape);
  if (numel < 0) return MD_ERR_SHAPE;
  if (numel == 0) return MD_ERR_EMPTY;
  if (!x || !y) return MD_ERR_INVALID_ARGUMENT;
  md_status st = md_maxdrop_config_check(&m->cfg);
  if (st != MD_OK) return st;
  st = md_maxdrop_reserve(m, numel);
  if (st != MD_OK) return st;

  const size_t words = (size_t)((numel + 63) / 64);
  if (!training) {
    if (y != x) memmove(y, x, (size_t)numel * sizeof *y);
    for (size_t k = 0; k < words; ++k) m->mask[k] = ~UINT64_C(0);
    if (numel & 63) m->mask[words - 1] = (UINT64_C(1) << (numel & 63)) - 1;
    m->numel = numel;
    return MD_OK;
  }

  float rate = m->cfg.rate;
  if (m->cfg.random_rate) rate = rate * md_rng_uniform(&m->rng);
  m->last_rate = rate;
  const float t = (float)(1.0 - (double)rate);
  memset(m->mask, 0, words * sizeof *m->mask);

  if (m->cfg.v2) {
    apply_v2(&m->cfg, shape, x, y, m->mask, t);
  } else {
    const int64_t hw = shape.h * shape.w;
    group g;
    int64_t ngroups, gstep;
    switch (m->cfg.stats) {
      case MD_MAXDROP_STATS_SAMPLE:
        g = (group){0, 1, shape.c * hw, 0};
        ngroups = shape.n;
        gstep = shape.c * hw;
        break;
      case MD_MAXDROP_STATS_CHANNEL:
        g = (group){0, shape.n, hw, shape.c * hw};
        ngroups = shape.c;
        gstep = hw;
        break;
      case MD_MAXDROP_STATS_SAMPLE_CHANNEL:
        g = (group){0, 1, hw, 0};
        ngroups = shape.n * shape.c;
        gstep = hw;
        break;
      default:
        g = (group){0, 1, numel, 0};
        ngroups = 1;
        gstep = 0;
        break;
    }
    for (int64_t k = 0; k < ngroups; ++k) {
      g.base = k * gstep;
      if (m->cfg.norm == MD_MAXDROP_NORM_L2)
        apply_l2(x, y, m->mask, g, t);
      else
        apply_minmax(x, y, m->mask, g, t);
    }
  }
  m->numel = numel;
  return MD_OK;
}

md_status md_maxdrop_backward(const md_maxdrop *m, const float *dy, float *dx) {
  if (!m || !dy || !dx) return MD_ERR_INVALID_ARGUMENT;
  if (m->numel < 0) return MD_ERR_STATE;
  for (int64_t i = 0; i < m->numel; ++i) dx[i] = md_maxdrop_kept(m, i) ? dy[i] : 0.0f;
  return MD_OK;
}
