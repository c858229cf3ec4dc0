/* MaxDropout and MaxDropoutV2 (see maxdrop/maxdropout.h).
 *
 * The reference rule, per statistics group, is
 *   q(x) = (x - lo) / (hi - lo)   (float subtraction, then float division)
 *   drop  <=>  q(x) > t,   t = (float)(1 - rate).
 * When lo, hi and d = hi - lo are finite and d > 0, q is monotone
 * non-decreasing in x (a rounded subtraction, then a rounded division by a
 * positive number), so the dropped elements are exactly those >= one float
 * x*, the smallest float in [lo, hi] whose q passes the threshold. x* is
 * found by bisection over the ordered float bit patterns, evaluating the
 * exact formula, and the mask pass becomes one comparison per element. The
 * L2 rule (x / ||x|| > t * max(x / ||x||)) is monotone the same way. All
 * other cases (NaN, a constant group, infinities) either drop nothing or
 * fall back to the element-wise formula.
 *
 * min and max are exact, so their parallel reduction gives the same result
 * for any thread count; the L2 sum of squares is always accumulated by one
 * thread per group in a fixed order. Mask words are written whole by the
 * thread that owns all their elements, or OR-ed atomically into a cleared
 * mask where a word straddles two groups. Large 64-byte-aligned outputs are
 * written with streaming stores (see reg/maskops.h). */
#include "maxdrop/maxdropout.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "reg/maskops.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#elif defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Groups processed one after the other, each with all threads inside it,
 * when there are fewer than this many; otherwise one group per thread at a
 * time. A constant, so that the split never depends on the thread count. */
enum { FEW_GROUPS = 8 };

/* Elements per parallel chunk: a multiple of 64, so chunks own whole words. */
enum { CHUNK = 1 << 14 };

md_maxdrop_config md_maxdrop_default_config(void) {
  md_maxdrop_config c;
  c.rate = 0.3;
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

/* ------------------------------------------------------------------------ */
/* Statistics.                                                               */
/* ------------------------------------------------------------------------ */

typedef struct stats {
  float lo, hi; /* meaningless when nan */
  int nan;      /* some element is NaN */
} stats;

static const stats stats_empty = {INFINITY, -INFINITY, 0};

static void stats_merge(stats *a, stats b) {
  a->lo = b.lo < a->lo ? b.lo : a->lo;
  a->hi = b.hi > a->hi ? b.hi : a->hi;
  a->nan |= b.nan;
}

/* min, max and NaN presence of x[0 .. n-1]. */
static stats stats_range(const float *x, int64_t n) {
  stats s = stats_empty;
  int64_t i = 0;
#if defined(__AVX512F__)
  __m512 lo0 = _mm512_set1_ps(INFINITY), lo1 = lo0, hi0 = _mm512_set1_ps(-INFINITY), hi1 = hi0;
  __mmask16 nan = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512 a = _mm512_loadu_ps(x + i), b = _mm512_loadu_ps(x + i + 16);
    lo0 = _mm512_min_ps(lo0, a);
    hi0 = _mm512_max_ps(hi0, a);
    lo1 = _mm512_min_ps(lo1, b);
    hi1 = _mm512_max_ps(hi1, b);
    nan |= _mm512_cmp_ps_mask(a, b, _CMP_UNORD_Q);
  }
  for (; i + 16 <= n; i += 16) {
    const __m512 a = _mm512_loadu_ps(x + i);
    lo0 = _mm512_min_ps(lo0, a);
    hi0 = _mm512_max_ps(hi0, a);
    nan |= _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q);
  }
  s.lo = _mm512_reduce_min_ps(_mm512_min_ps(lo0, lo1));
  s.hi = _mm512_reduce_max_ps(_mm512_max_ps(hi0, hi1));
  s.nan = nan != 0;
#elif defined(__SSE2__)
  __m128 lo0 = _mm_set1_ps(INFINITY), lo1 = lo0, hi0 = _mm_set1_ps(-INFINITY), hi1 = hi0;
  __m128 nan = _mm_setzero_ps();
  for (; i + 8 <= n; i += 8) {
    const __m128 a = _mm_loadu_ps(x + i), b = _mm_loadu_ps(x + i + 4);
    lo0 = _mm_min_ps(lo0, a);
    hi0 = _mm_max_ps(hi0, a);
    lo1 = _mm_min_ps(lo1, b);
    hi1 = _mm_max_ps(hi1, b);
    nan = _mm_or_ps(nan, _mm_cmpunord_ps(a, b));
  }
  float l[8], h[8];
  _mm_storeu_ps(l, lo0);
  _mm_storeu_ps(l + 4, lo1);
  _mm_storeu_ps(h, hi0);
  _mm_storeu_ps(h + 4, hi1);
  for (int k = 0; k < 8; ++k) {
    s.lo = l[k] < s.lo ? l[k] : s.lo;
    s.hi = h[k] > s.hi ? h[k] : s.hi;
  }
  s.nan = _mm_movemask_ps(nan) != 0;
#endif
  for (; i < n; ++i) {
    const float v = x[i];
    s.nan |= v != v;
    s.lo = v < s.lo ? v : s.lo;
    s.hi = v > s.hi ? v : s.hi;
  }
  return s;
}

/* min / max / NaN of a long range with all threads. */
static stats stats_range_parallel(const float *x, int64_t n) {
  stats s = stats_empty;
  const int64_t chunks = (n + CHUNK - 1) / CHUNK;
#pragma omp parallel
  {
    stats local = stats_empty;
#pragma omp for schedule(static) nowait
    for (int64_t k = 0; k < chunks; ++k) {
      const int64_t i0 = k * CHUNK;
      stats_merge(&local, stats_range(x + i0, n - i0 < CHUNK ? n - i0 : CHUNK));
    }
#pragma omp critical(md_maxdrop_stats)
    stats_merge(&s, local);
  }
  return s;
}

/* Sum of squares in double, in a fixed order (one thread). */
static double sumsq_range(const float *x, int64_t n) {
  int64_t i = 0;
  double s = 0.0;
#if defined(__AVX512F__)
  __m512d a0 = _mm512_setzero_pd(), a1 = a0;
  for (; i + 16 <= n; i += 16) {
    const __m512d u = _mm512_cvtps_pd(_mm256_loadu_ps(x + i));
    const __m512d v = _mm512_cvtps_pd(_mm256_loadu_ps(x + i + 8));
    /* the square of a float is exact in double: fma rounds once, as + */
    a0 = _mm512_fmadd_pd(u, u, a0);
    a1 = _mm512_fmadd_pd(v, v, a1);
  }
  s = _mm512_reduce_add_pd(_mm512_add_pd(a0, a1));
#endif
  for (; i < n; ++i) s += (double)x[i] * (double)x[i];
  return s;
}

/* ------------------------------------------------------------------------ */
/* The decision of a group.                                                  */
/* ------------------------------------------------------------------------ */

/* Groups smaller than this apply the formula to each element: cheaper than
 * the ~32 evaluations of the bisection. */
enum { SMALL_GROUP = 64 };

/* The drop test of one element: min-max (x - lo) / d > t, or L2
 * x / nrm > thr. */
typedef struct pred {
  int l2;
  float lo, d, t;
  float nrm, thr;
} pred;

static int pred_drop(const pred *p, float x) {
  return p->l2 ? x / p->nrm > p->thr : (x - p->lo) / p->d > p->t;
}

typedef enum rule_kind {
  RULE_KEEP_ALL, /* nothing dropped */
  RULE_CUT,      /* dropped iff x >= cut (NaN-free, finite group) */
  RULE_FORMULA   /* pred_drop element by element */
} rule_kind;

typedef struct rule {
  rule_kind kind;
  float cut;  /* RULE_CUT */
  pred p;     /* RULE_FORMULA */
  int stream; /* write y with streaming stores (64-byte aligned, large) */
} rule;

static const rule rule_keep_all = {RULE_KEEP_ALL, 0.0f, {0, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f}, 0};

static rule formula_rule(const pred *p) {
  rule r = rule_keep_all;
  r.kind = RULE_FORMULA;
  r.p = *p;
  return r;
}

/* Floats in increasing order <-> unsigned keys in increasing order. */
static uint32_t float_key(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

static float key_float(uint32_t k) {
  const uint32_t u = (k & 0x80000000u) ? (k & 0x7fffffffu) : ~k;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

/* For a predicate monotone over the finite floats [lo, hi] holding every
 * element of a group of `size` elements: the cut rule (or, for a small
 * group, the formula itself). */
static rule cut_rule(const pred *p, float lo, float hi, int64_t size) {
  rule r = rule_keep_all;
  if (!pred_drop(p, hi)) return r;
  if (size < SMALL_GROUP) return formula_rule(p);
  r.kind = RULE_CUT;
  if (pred_drop(p, lo)) {
    r.cut = lo;
    return r;
  }
  /* invariant: pred(key a) false, pred(key b) true */
  uint32_t a = float_key(lo), b = float_key(hi);
  while (b - a > 1) {
    const uint32_t mid = a + (b - a) / 2;
    if (pred_drop(p, key_float(mid)))
      b = mid;
    else
      a = mid;
  }
  r.cut = key_float(b);
  return r;
}

static rule minmax_rule(stats s, float t, int64_t size) {
  if (s.nan) return rule_keep_all;         /* every q is NaN */
  const float d = s.hi - s.lo;
  if (!(d != 0.0f)) return rule_keep_all;  /* constant: 0 / 0 */
  const pred p = {0, s.lo, d, t, 0.0f, 0.0f};
  if (isfinite(s.lo) && isfinite(s.hi) && isfinite(d)) return cut_rule(&p, s.lo, s.hi, size);
  return formula_rule(&p);                 /* infinities: IEEE decides */
}

/* L2 rule: n = x / nrm, drop iff n > t * max(n). Outside the finite case
 * nothing is ever dropped: an infinite x makes nrm infinite and its n NaN
 * (so max(n) is NaN); an infinite nrm of finite values makes every n +-0 and
 * the threshold +-0; a zero nrm makes every n 0 / 0. */
static rule l2_rule(stats s, double ss, float t, int64_t size) {
  const float nrm = (float)sqrt(ss);
  if (s.nan || !isfinite(s.lo) || !isfinite(s.hi) || !isfinite(nrm) || !(nrm > 0.0f))
    return rule_keep_all;
  const pred p = {1, 0.0f, 0.0f, 0.0f, nrm, t * (s.hi / nrm)};
  return cut_rule(&p, s.lo, s.hi, size);
}

/* ------------------------------------------------------------------------ */
/* Applying a rule.                                                          */
/* ------------------------------------------------------------------------ */

/* Keep bits of x[0 .. len-1] (len <= 64) under r; writes y. */
static uint64_t apply_word(const rule *r, const float *x, float *y, int len) {
  uint64_t bits = 0;
  if (r->kind == RULE_CUT) {
#if defined(__AVX512F__)
    if (len == 64) {
      const __m512 c = _mm512_set1_ps(r->cut);
      for (int k = 0; k < 4; ++k) {
        const __m512 v = _mm512_loadu_ps(x + 16 * k);
        const __mmask16 m = _mm512_cmp_ps_mask(v, c, _CMP_LT_OQ);
        if (r->stream)
          _mm512_stream_ps(y + 16 * k, _mm512_maskz_mov_ps(m, v));
        else
          _mm512_storeu_ps(y + 16 * k, _mm512_maskz_mov_ps(m, v));
        bits |= (uint64_t)m << (16 * k);
      }
      return bits;
    }
#elif defined(__SSE2__)
    if (len == 64) {
      const __m128 c = _mm_set1_ps(r->cut);
      for (int k = 0; k < 16; ++k) {
        const __m128 v = _mm_loadu_ps(x + 4 * k);
        const __m128 m = _mm_cmplt_ps(v, c);
        _mm_storeu_ps(y + 4 * k, _mm_and_ps(m, v));
        bits |= (uint64_t)_mm_movemask_ps(m) << (4 * k);
      }
      return bits;
    }
#endif
    for (int j = 0; j < len; ++j) {
      const int keep = x[j] < r->cut;
      bits |= (uint64_t)keep << j;
      y[j] = keep ? x[j] : 0.0f;
    }
  } else if (r->kind == RULE_FORMULA) {
    for (int j = 0; j < len; ++j) {
      const int keep = !pred_drop(&r->p, x[j]);
      bits |= (uint64_t)keep << j;
      y[j] = keep ? x[j] : 0.0f;
    }
  } else {
    if (y != x) memmove(y, x, (size_t)len * sizeof *y);
    bits = len == 64 ? ~UINT64_C(0) : (UINT64_C(1) << len) - 1;
  }
  return bits;
}

/* Applies r to elements [i0, i1) of the tensor. Words lying wholly inside
 * the range, or ending the tensor, are stored; the others are OR-ed
 * atomically (the caller has cleared them). */
static void apply_range(const rule *r, const float *x, float *y, uint64_t *mask, int64_t i0,
                        int64_t i1, int64_t numel) {
  int64_t i = i0;
  while (i < i1) {
    const int64_t w = i >> 6, wstart = w << 6;
    const int64_t wend = wstart + 64 < numel ? wstart + 64 : numel;
    const int64_t stop = wend < i1 ? wend : i1;
    const uint64_t bits = apply_word(r, x + i, y + i, (int)(stop - i)) << (i - wstart);
    if (i == wstart && stop == wend) {
      mask[w] = bits;
    } else {
#pragma omp atomic
      mask[w] |= bits;
    }
    i = stop;
  }
}

static void apply_range_parallel(const rule *r, const float *x, float *y, uint64_t *mask,
                                 int64_t i0, int64_t i1, int64_t numel) {
  rule rs = *r;
  rs.stream = md_mask_should_stream(y + i0, i1 - i0);
  /* chunk boundaries at multiples of CHUNK (word-aligned) */
  const int64_t c0 = i0 / CHUNK, c1 = (i1 + CHUNK - 1) / CHUNK;
#pragma omp parallel
  {
#pragma omp for schedule(static) nowait
    for (int64_t k = c0; k < c1; ++k) {
      const int64_t a = k * CHUNK > i0 ? k * CHUNK : i0;
      const int64_t b = (k + 1) * CHUNK < i1 ? (k + 1) * CHUNK : i1;
      apply_range(&rs, x, y, mask, a, b, numel);
    }
#if defined(__AVX512F__)
    if (rs.stream) _mm_sfence(); /* streaming stores visible before the barrier */
#endif
  }
}

/* ------------------------------------------------------------------------ */
/* MaxDropout (V1).                                                          */
/* ------------------------------------------------------------------------ */

/* A statistics group: nseg segments of seglen elements, segment s starting
 * at base + s * stride. */
typedef struct group {
  int64_t base, nseg, seglen, stride;
} group;

/* The rule of group g. With `parallel`, all threads share the min / max
 * reduction (exact, so any split gives the same result); the L2 sum of
 * squares is always accumulated by one thread in segment order. */
static rule group_rule(const group *g, const float *x, md_maxdrop_norm norm, float t,
                       int parallel) {
  stats s = stats_empty;
  double ss = 0.0;
  if (parallel && g->nseg == 1) {
    s = stats_range_parallel(x + g->base, g->seglen);
  } else if (parallel) {
#pragma omp parallel
    {
      stats local = stats_empty;
#pragma omp for schedule(static) nowait
      for (int64_t k = 0; k < g->nseg; ++k)
        stats_merge(&local, stats_range(x + g->base + k * g->stride, g->seglen));
#pragma omp critical(md_maxdrop_stats)
      stats_merge(&s, local);
    }
  } else {
    for (int64_t k = 0; k < g->nseg; ++k)
      stats_merge(&s, stats_range(x + g->base + k * g->stride, g->seglen));
  }
  const int64_t size = g->nseg * g->seglen;
  if (norm != MD_MAXDROP_NORM_L2) return minmax_rule(s, t, size);
  for (int64_t k = 0; k < g->nseg; ++k) ss += sumsq_range(x + g->base + k * g->stride, g->seglen);
  return l2_rule(s, ss, t, size);
}

static void forward_v1(const md_maxdrop_config *cfg, md_shape sh, int64_t numel,
                       const float *x, float *y, uint64_t *mask, float t) {
  const int64_t hw = sh.h * sh.w;
  group g = {0, 1, numel, 0};
  int64_t ngroups = 1, gstep = 0;
  switch (cfg->stats) {
    case MD_MAXDROP_STATS_SAMPLE:
      g = (group){0, 1, sh.c * hw, 0};
      ngroups = sh.n;
      gstep = sh.c * hw;
      break;
    case MD_MAXDROP_STATS_CHANNEL:
      g = (group){0, sh.n, hw, sh.c * hw};
      ngroups = sh.c;
      gstep = hw;
      break;
    case MD_MAXDROP_STATS_SAMPLE_CHANNEL:
      g = (group){0, 1, hw, 0};
      ngroups = sh.n * sh.c;
      gstep = hw;
      break;
    default:
      break;
  }
  /* Groups share mask words unless there is only one. */
  if (ngroups > 1) memset(mask, 0, (size_t)((numel + 63) / 64) * sizeof *mask);

  if (ngroups < FEW_GROUPS) {
    for (int64_t k = 0; k < ngroups; ++k) {
      g.base = k * gstep;
      const rule r = group_rule(&g, x, cfg->norm, t, 1);
      if (g.nseg == 1) {
        apply_range_parallel(&r, x, y, mask, g.base, g.base + g.seglen, numel);
      } else {
#pragma omp parallel for schedule(static)
        for (int64_t s = 0; s < g.nseg; ++s) {
          const int64_t a = g.base + s * g.stride;
          apply_range(&r, x, y, mask, a, a + g.seglen, numel);
        }
      }
    }
  } else {
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t k = 0; k < ngroups; ++k) {
      group gk = g;
      gk.base = k * gstep;
      const rule r = group_rule(&gk, x, cfg->norm, t, 0);
      for (int64_t s = 0; s < gk.nseg; ++s) {
        const int64_t a = gk.base + s * gk.stride;
        apply_range(&r, x, y, mask, a, a + gk.seglen, numel);
      }
    }
  }
}

/* ------------------------------------------------------------------------ */
/* MaxDropoutV2.                                                             */
/* ------------------------------------------------------------------------ */

/* Positions per block of channel sums kept on the stack. */
enum { V2_BLOCK = 256 };

/* Channel sums s[p] = x[0, p] + x[1, p] + ... (float, in channel order) for
 * positions p0 .. p0+len-1 of one sample (xs: C x hw). */
static void v2_sums(const float *xs, int64_t c, int64_t hw, int64_t p0, int len, float *s) {
  for (int j = 0; j < len; ++j) s[j] = 0.0f;
  for (int64_t ch = 0; ch < c; ++ch) {
    const float *row = xs + ch * hw + p0;
    for (int j = 0; j < len; ++j) s[j] += row[j];
  }
}

/* ORs keep[0 .. len-1] into bits i0 .. i0+len-1 of the cleared mask. Words
 * inside [own0, own1) belong to the calling thread alone; the others are
 * updated atomically. */
static void put_bits(uint64_t *mask, int64_t i0, int len, const unsigned char *keep,
                     int64_t own0, int64_t own1) {
  int j = 0;
  while (j < len) {
    const int64_t i = i0 + j, w = i >> 6;
    const int n = (int)(64 - (i & 63)) < len - j ? (int)(64 - (i & 63)) : len - j;
    uint64_t bits = 0;
    for (int k = 0; k < n; ++k) bits |= (uint64_t)keep[j + k] << k;
    bits <<= (i & 63);
    if (w * 64 >= own0 && w * 64 + 64 <= own1) {
      mask[w] |= bits;
    } else {
#pragma omp atomic
      mask[w] |= bits;
    }
    j += n;
  }
}

static void forward_v2(const md_maxdrop_config *cfg, md_shape sh, int64_t numel,
                       const float *x, float *y, uint64_t *mask, float t) {
  const int64_t hw = sh.h * sh.w, chw = sh.c * hw;
  memset(mask, 0, (size_t)((numel + 63) / 64) * sizeof *mask);
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t n = 0; n < sh.n; ++n) {
    const float *xs = x + n * chw;
    float s[V2_BLOCK];
    unsigned char keep[V2_BLOCK];
    stats st = stats_empty;
    double ss = 0.0;
    for (int64_t p0 = 0; p0 < hw; p0 += V2_BLOCK) {
      const int len = (int)(hw - p0 < V2_BLOCK ? hw - p0 : V2_BLOCK);
      v2_sums(xs, sh.c, hw, p0, len, s);
      stats_merge(&st, stats_range(s, len));
      if (cfg->norm == MD_MAXDROP_NORM_L2) ss += sumsq_range(s, len);
    }
    const rule r =
        cfg->norm == MD_MAXDROP_NORM_L2 ? l2_rule(st, ss, t, hw) : minmax_rule(st, t, hw);
    for (int64_t p0 = 0; p0 < hw; p0 += V2_BLOCK) {
      const int len = (int)(hw - p0 < V2_BLOCK ? hw - p0 : V2_BLOCK);
      if (r.kind != RULE_KEEP_ALL) {
        v2_sums(xs, sh.c, hw, p0, len, s);
        float dummy[64];
        for (int j = 0; j < len; j += 64) {
          const int l = len - j < 64 ? len - j : 64;
          const uint64_t b = apply_word(&r, s + j, dummy, l);
          for (int q = 0; q < l; ++q) keep[j + q] = (unsigned char)((b >> q) & 1u);
        }
      } else {
        memset(keep, 1, (size_t)len);
      }
      for (int64_t ch = 0; ch < sh.c; ++ch) {
        const int64_t i0 = n * chw + ch * hw + p0;
        for (int j = 0; j < len; ++j) y[i0 + j] = keep[j] ? x[i0 + j] : 0.0f;
        put_bits(mask, i0, len, keep, n * chw, (n + 1) * chw);
      }
    }
  }
}

/* ------------------------------------------------------------------------ */
/* Entry points.                                                             */
/* ------------------------------------------------------------------------ */

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

  if (!training) {
    if (y != x) memmove(y, x, (size_t)numel * sizeof *y);
    md_mask_set_all(m->mask, numel);
    m->numel = numel;
    return MD_OK;
  }

  double rate = m->cfg.rate;
  if (m->cfg.random_rate) rate = rate * (double)md_rng_uniform(&m->rng);
  m->last_rate = rate;
  /* PyTorch compares with the Python float 1 - rate rounded to float32. */
  const float t = (float)(1.0 - rate);
  if (m->cfg.v2)
    forward_v2(&m->cfg, shape, numel, x, y, m->mask, t);
  else
    forward_v1(&m->cfg, shape, numel, x, y, m->mask, t);
  m->numel = numel;
  return MD_OK;
}

md_status md_maxdrop_backward(const md_maxdrop *m, const float *dy, float *dx) {
  if (!m || !dy || !dx) return MD_ERR_INVALID_ARGUMENT;
  if (m->numel < 0) return MD_ERR_STATE;
  md_mask_apply(m->mask, m->numel, dy, 1.0f, dx);
  return MD_OK;
}
