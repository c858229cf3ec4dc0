/* MaxDropout and MaxDropoutV2: every option and edge case against a naive
 * model written here from the reference's definition (PyTorch semantics:
 * min()/max() propagate NaN, q = (x - lo) / (hi - lo) in float32, drop when
 * q > (float)(1 - rate)). */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "md_test_util.h"
#include "maxdrop/maxdropout.h"

/* ------------------------------------------------------------------------ */
/* The naive model.                                                          */
/* ------------------------------------------------------------------------ */

/* md_shape_numel of a valid, non-empty test shape. */
static int64_t count(md_shape s) {
  const int64_t n = md_shape_numel(s);
  if (n <= 0 || n > (int64_t)1 << 40) {
    fail_msg("bad test shape");
    abort();
  }
  return n;
}

/* PyTorch's min/max: NaN as soon as one operand is NaN. */
static float nan_min(float a, float b) { return (isnan(a) || isnan(b)) ? NAN : (b < a ? b : a); }
static float nan_max(float a, float b) { return (isnan(a) || isnan(b)) ? NAN : (b > a ? b : a); }

static int64_t group_of(md_maxdrop_stats stats, md_shape s, int64_t i) {
  const int64_t hw = s.h * s.w;
  const int64_t n = i / (s.c * hw), c = (i / hw) % s.c;
  switch (stats) {
    case MD_MAXDROP_STATS_BATCH: return 0;
    case MD_MAXDROP_STATS_SAMPLE: return n;
    case MD_MAXDROP_STATS_CHANNEL: return c;
    default: return n * s.c + c;
  }
}

/* drop[i] = 1 when element i is dropped. `x` holds the scores the rule is
 * applied to, with `ngroups` groups given by gid[i]. */
static void ref_rule(const float *x, const int64_t *gid, int64_t numel, int64_t ngroups,
                     md_maxdrop_norm norm, float rate, unsigned char *drop) {
  float *lo = malloc((size_t)ngroups * sizeof *lo);
  float *hi = malloc((size_t)ngroups * sizeof *hi);
  float *nrm = malloc((size_t)ngroups * sizeof *nrm);
  float *mx = malloc((size_t)ngroups * sizeof *mx);
  double *ss = malloc((size_t)ngroups * sizeof *ss);
  assert_non_null(lo);
  assert_non_null(hi);
  assert_non_null(nrm);
  assert_non_null(mx);
  assert_non_null(ss);
  const float t = (float)(1.0 - (double)rate);
  for (int64_t g = 0; g < ngroups; ++g) {
    lo[g] = INFINITY;
    hi[g] = -INFINITY;
    mx[g] = -INFINITY;
    ss[g] = 0.0;
  }
  for (int64_t i = 0; i < numel; ++i) {
    lo[gid[i]] = nan_min(lo[gid[i]], x[i]);
    hi[gid[i]] = nan_max(hi[gid[i]], x[i]);
    ss[gid[i]] += (double)x[i] * (double)x[i];
  }
  for (int64_t g = 0; g < ngroups; ++g) nrm[g] = (float)sqrt(ss[g]);
  for (int64_t i = 0; i < numel; ++i) mx[gid[i]] = nan_max(mx[gid[i]], x[i] / nrm[gid[i]]);
  for (int64_t i = 0; i < numel; ++i) {
    const int64_t g = gid[i];
    if (norm == MD_MAXDROP_NORM_MINMAX) {
      const float q = (x[i] - lo[g]) / (hi[g] - lo[g]);
      drop[i] = q > t;
    } else {
      const float thr = t * mx[g];
      drop[i] = x[i] / nrm[g] > thr;
    }
  }
  free(lo);
  free(hi);
  free(nrm);
  free(mx);
  free(ss);
}

/* The expected output and keep flags of a training forward. */
static void ref_forward(const md_maxdrop_config *cfg, float rate, md_shape s, const float *x,
                        float *y, unsigned char *kept) {
  const int64_t numel = count(s);
  unsigned char *drop = malloc((size_t)numel);
  assert_non_null(drop);
  if (!cfg->v2) {
    int64_t *gid = malloc((size_t)numel * sizeof *gid);
    assert_non_null(gid);
    int64_t ng = 0;
    for (int64_t i = 0; i < numel; ++i) {
      gid[i] = group_of(cfg->stats, s, i);
      if (gid[i] + 1 > ng) ng = gid[i] + 1;
    }
    ref_rule(x, gid, numel, ng, cfg->norm, rate, drop);
    free(gid);
  } else {
    const int64_t hw = s.h * s.w, npos = s.n * hw;
    float *score = malloc((size_t)npos * sizeof *score);
    int64_t *gid = malloc((size_t)npos * sizeof *gid);
    unsigned char *pdrop = malloc((size_t)npos);
    assert_non_null(score);
    assert_non_null(gid);
    assert_non_null(pdrop);
    for (int64_t n = 0; n < s.n; ++n)
      for (int64_t p = 0; p < hw; ++p) {
        float sum = 0.0f;
        for (int64_t c = 0; c < s.c; ++c) sum += x[(n * s.c + c) * hw + p];
        score[n * hw + p] = sum;
        gid[n * hw + p] = n;
      }
    ref_rule(score, gid, npos, s.n, cfg->norm, rate, pdrop);
    for (int64_t i = 0; i < numel; ++i) {
      const int64_t n = i / (s.c * hw), p = i % hw;
      drop[i] = pdrop[n * hw + p];
    }
    free(score);
    free(gid);
    free(pdrop);
  }
  for (int64_t i = 0; i < numel; ++i) {
    y[i] = drop[i] ? 0.0f : x[i];
    kept[i] = !drop[i];
  }
  free(drop);
}

/* ------------------------------------------------------------------------ */
/* Helpers.                                                                  */
/* ------------------------------------------------------------------------ */

static md_maxdrop_config make_cfg(float rate, md_maxdrop_norm norm, md_maxdrop_stats stats,
                                  int v2) {
  md_maxdrop_config c = md_maxdrop_default_config();
  c.rate = rate;
  c.norm = norm;
  c.stats = stats;
  c.v2 = v2;
  return c;
}

static void assert_mask(const md_maxdrop *m, const unsigned char *kept, int64_t numel) {
  assert_int_equal(m->numel, numel);
  for (int64_t i = 0; i < numel; ++i)
    if (md_maxdrop_kept(m, i) != kept[i])
      fail_msg("mask bit %lld: got %d, want %d", (long long)i, md_maxdrop_kept(m, i), kept[i]);
}

/* Runs the layer and the model on x; checks y (bit for bit) and the mask. */
static void check_case(const md_maxdrop_config *cfg, md_shape s, const float *x) {
  const int64_t numel = count(s);
  float *y = malloc((size_t)numel * sizeof *y);
  float *want = malloc((size_t)numel * sizeof *want);
  unsigned char *kept = malloc((size_t)numel);
  assert_non_null(y);
  assert_non_null(want);
  assert_non_null(kept);
  md_maxdrop m;
  assert_int_equal(md_maxdrop_init(&m, cfg, 1, 256), MD_OK);
  assert_int_equal(md_maxdrop_forward(&m, s, x, y, 1), MD_OK);
  ref_forward(cfg, cfg->rate, s, x, want, kept);
  md_assert_floats_identical(y, want, (size_t)numel);
  assert_mask(&m, kept, numel);
  md_maxdrop_free(&m);
  free(y);
  free(want);
  free(kept);
}

static float *alloc_uniform(int64_t numel, float lo, float hi, uint64_t stream) {
  float *x = malloc((size_t)numel * sizeof *x);
  assert_non_null(x);
  md_fill_uniform(x, (size_t)numel, lo, hi, stream);
  return x;
}

static const md_shape shapes[] = {
    {2, 3, 5, 7}, {3, 5, 7, 9}, {4, 64, 4, 4}, {1, 1, 1, 1000}, {5, 7, 1, 1},
    {2, 16, 8, 8}, {1, 1, 1, 1}, {3, 2, 1, 33}, {2, 130, 3, 3}};
enum { n_shapes = sizeof shapes / sizeof shapes[0] };
static const md_maxdrop_stats all_stats[] = {MD_MAXDROP_STATS_BATCH, MD_MAXDROP_STATS_SAMPLE,
                                             MD_MAXDROP_STATS_CHANNEL,
                                             MD_MAXDROP_STATS_SAMPLE_CHANNEL};
static const float rates[] = {0.0f, 0.05f, 0.3f, 0.5f, 0.9f, 1.0f};

/* ------------------------------------------------------------------------ */
/* Configuration.                                                            */
/* ------------------------------------------------------------------------ */

static void test_default_config(void **state) {
  (void)state;
  const md_maxdrop_config c = md_maxdrop_default_config();
  assert_float_equal(c.rate, 0.3f, 0.0f);
  assert_int_equal(c.random_rate, 0);
  assert_int_equal(c.norm, MD_MAXDROP_NORM_MINMAX);
  assert_int_equal(c.stats, MD_MAXDROP_STATS_BATCH);
  assert_int_equal(c.v2, 0);
  assert_int_equal(md_maxdrop_config_check(&c), MD_OK);
}

static void test_config_rejects_bad_values(void **state) {
  (void)state;
  md_maxdrop_config c = md_maxdrop_default_config();
  const float bad[] = {-0.0001f, 1.0001f, -1.0f, 2.0f, NAN, INFINITY, -INFINITY};
  md_maxdrop m;
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; ++k) {
    c.rate = bad[k];
    assert_int_equal(md_maxdrop_config_check(&c), MD_ERR_INVALID_ARGUMENT);
    assert_int_equal(md_maxdrop_init(&m, &c, 1, 256), MD_ERR_INVALID_ARGUMENT);
  }
  c = md_maxdrop_default_config();
  c.rate = 0.0f;
  assert_int_equal(md_maxdrop_config_check(&c), MD_OK);
  c.rate = 1.0f;
  assert_int_equal(md_maxdrop_config_check(&c), MD_OK);
  c.norm = (md_maxdrop_norm)2;
  assert_int_equal(md_maxdrop_config_check(&c), MD_ERR_INVALID_ARGUMENT);
  c = md_maxdrop_default_config();
  c.stats = (md_maxdrop_stats)4;
  assert_int_equal(md_maxdrop_config_check(&c), MD_ERR_INVALID_ARGUMENT);
  c.stats = (md_maxdrop_stats)-1;
  assert_int_equal(md_maxdrop_config_check(&c), MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_maxdrop_config_check(NULL), MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_maxdrop_init(NULL, &c, 1, 256), MD_ERR_INVALID_ARGUMENT);
}

/* A rate made invalid after init is refused by forward. */
static void test_forward_rejects_bad_rate(void **state) {
  (void)state;
  md_maxdrop_config c = md_maxdrop_default_config();
  md_maxdrop m;
  assert_int_equal(md_maxdrop_init(&m, &c, 1, 256), MD_OK);
  float x[4] = {1, 2, 3, 4}, y[4];
  m.cfg.rate = 1.5f;
  assert_int_equal(md_maxdrop_forward(&m, md_shape4(1, 1, 1, 4), x, y, 1), MD_ERR_INVALID_ARGUMENT);
  m.cfg.rate = NAN;
  assert_int_equal(md_maxdrop_forward(&m, md_shape4(1, 1, 1, 4), x, y, 1), MD_ERR_INVALID_ARGUMENT);
  m.cfg.rate = -0.5f;
  assert_int_equal(md_maxdrop_forward(&m, md_shape4(1, 1, 1, 4), x, y, 1), MD_ERR_INVALID_ARGUMENT);
  md_maxdrop_free(&m);
}

/* ------------------------------------------------------------------------ */
/* The reference rule.                                                       */
/* ------------------------------------------------------------------------ */

/* Worked by hand: 0..9 at rate 0.3: q = x / 9, threshold 0.7f; q(6) = 0.667
 * is kept, q(7) = 0.778 dropped. */
static void test_hand_example(void **state) {
  (void)state;
  const md_maxdrop_config c = md_maxdrop_default_config();
  md_maxdrop m;
  assert_int_equal(md_maxdrop_init(&m, &c, 1, 256), MD_OK);
  const float x[10] = {5, 0, 9, 1, 8, 2, 7, 3, 6, 4};
  const float want[10] = {5, 0, 0, 1, 0, 2, 0, 3, 6, 4};
  float y[10];
  assert_int_equal(md_maxdrop_forward(&m, md_shape4(1, 1, 1, 10), x, y, 1), MD_OK);
  md_assert_floats_identical(y, want, 10);
  for (int i = 0; i < 10; ++i) assert_int_equal(md_maxdrop_kept(&m, i), want[i] == x[i]);
  assert_float_equal(m.last_rate, 0.3f, 0.0f);
  /* The same numbers shifted negative: q is unchanged. */
  float xn[10], yn[10], wn[10];
  for (int i = 0; i < 10; ++i) {
    xn[i] = x[i] - 20.0f;
    wn[i] = want[i] == 0.0f && x[i] != 0.0f ? 0.0f : xn[i];
  }
  assert_int_equal(md_maxdrop_forward(&m, md_shape4(1, 1, 1, 10), xn, yn, 1), MD_OK);
  md_assert_floats_identical(yn, wn, 10);
  md_maxdrop_free(&m);
}

static void test_every_grouping_matches_model(void **state) {
  (void)state;
  for (int si = 0; si < n_shapes; ++si) {
    const int64_t numel = count(shapes[si]);
    float *x = alloc_uniform(numel, -2.0f, 3.0f, 100 + (uint64_t)si);
    for (size_t gi = 0; gi < 4; ++gi)
      for (size_t ri = 0; ri < sizeof rates / sizeof rates[0]; ++ri)
        for (int norm = 0; norm < 2; ++norm) {
          const md_maxdrop_config c = make_cfg(rates[ri], (md_maxdrop_norm)norm, all_stats[gi], 0);
          check_case(&c, shapes[si], x);
        }
    free(x);
  }
}

/* Post-ReLU data: many exact zeros, so lo = 0 and whole maps are constant. */
static void test_post_relu_data(void **state) {
  (void)state;
  const md_shape s = {4, 8, 6, 6};
  const int64_t numel = count(s);
  float *x = alloc_uniform(numel, -1.0f, 1.0f, 7);
  for (int64_t i = 0; i < numel; ++i) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
  for (int64_t i = 0; i < 36; ++i) x[3 * 36 + i] = 0.0f; /* one all-zero map */
  for (size_t gi = 0; gi < 4; ++gi)
    for (int norm = 0; norm < 2; ++norm) {
      const md_maxdrop_config c = make_cfg(0.3f, (md_maxdrop_norm)norm, all_stats[gi], 0);
      check_case(&c, s, x);
    }
  free(x);
}

static void test_v2_matches_model(void **state) {
  (void)state;
  for (int si = 0; si < n_shapes; ++si) {
    const int64_t numel = count(shapes[si]);
    float *x = alloc_uniform(numel, -1.0f, 2.0f, 200 + (uint64_t)si);
    for (size_t ri = 0; ri < sizeof rates / sizeof rates[0]; ++ri)
      for (int norm = 0; norm < 2; ++norm) {
        const md_maxdrop_config c = make_cfg(rates[ri], (md_maxdrop_norm)norm,
                                             MD_MAXDROP_STATS_BATCH, 1);
        check_case(&c, shapes[si], x);
      }
    free(x);
  }
}

/* V2 drops a position in every channel or in none. Worked by hand: one
 * sample, 2 channels, 4 positions; sums 0, 2, 4, 10 -> q 0, 0.2, 0.4, 1. */
static void test_v2_hand_example(void **state) {
  (void)state;
  const md_maxdrop_config c = make_cfg(0.5f, MD_MAXDROP_NORM_MINMAX, MD_MAXDROP_STATS_BATCH, 1);
  md_maxdrop m;
  assert_int_equal(md_maxdrop_init(&m, &c, 1, 256), MD_OK);
  const float x[8] = {0, 1, 3, 9, 0, 1, 1, 1};
  const float want[8] = {0, 1, 3, 0, 0, 1, 1, 0};
  float y[8];
  assert_int_equal(md_maxdrop_forward(&m, md_shape4(1, 2, 2, 2), x, y, 1), MD_OK);
  md_assert_floats_identical(y, want, 8);
  for (int i = 0; i < 8; ++i) assert_int_equal(md_maxdrop_kept(&m, i), (i % 4) != 3);
  md_maxdrop_free(&m);
}

/* Sums in float32 in channel order: 1e8 + 1 - 1e8 is 0 in float, so a
 * position whose exact sum is largest can score lowest. */
static void test_v2_float_channel_sum(void **state) {
  (void)state;
  const md_maxdrop_config c = make_cfg(0.5f, MD_MAXDROP_NORM_MINMAX, MD_MAXDROP_STATS_BATCH, 1);
  md_maxdrop m;
  assert_int_equal(md_maxdrop_init(&m, &c, 1, 256), MD_OK);
  /* positions: p0 = 1e8 + 1 - 1e8 (float: 0), p1 = 0.5 + 0 + 0, p2 = 0 */
  const float x[9] = {1e8f, 0.5f, 0.0f, 1.0f, 0.0f, 0.0f, -1e8f, 0.0f, 0.0f};
  float y[9];
  assert_int_equal(md_maxdrop_forward(&m, md_shape4(1, 3, 1, 3), x, y, 1), MD_OK);
  /* scores 0, 0.5, 0: lo 0, hi 0.5; only p1 (q = 1) is dropped */
  const float want[9] = {1e8f, 0.0f, 0.0f, 1.0f, 0.0f, 0.0f, -1e8f, 0.0f, 0.0f};
  md_assert_floats_identical(y, want, 9);
  md_maxdrop_free(&m);
}

/* ------------------------------------------------------------------------ */
/* NaN, constants, infinities.                                               */
/* ------------------------------------------------------------------------ */

static void check_identity(const md_maxdrop_config *c, md_shape s, const float *x) {
  const int64_t numel = count(s);
  float *y = malloc((size_t)numel * sizeof *y);
  assert_non_null(y);
  md_maxdrop m;
  assert_int_equal(md_maxdrop_init(&m, c, 1, 256), MD_OK);
  assert_int_equal(md_maxdrop_forward(&m, s, x, y, 1), MD_OK);
  md_assert_floats_identical(y, x, (size_t)numel);
  for (int64_t i = 0; i < numel; ++i) assert_int_equal(md_maxdrop_kept(&m, i), 1);
  md_maxdrop_free(&m);
  free(y);
}

static void test_nan_anywhere_drops_nothing(void **state) {
  (void)state;
  const md_shape s = {2, 3, 4, 5};
  const int64_t numel = count(s);
  float *x = alloc_uniform(numel, -1.0f, 1.0f, 9);
  const int64_t where[3] = {0, numel / 2, numel - 1};
  for (int k = 0; k < 3; ++k) {
    float *xc = malloc((size_t)numel * sizeof *xc);
    assert_non_null(xc);
    memcpy(xc, x, (size_t)numel * sizeof *xc);
    xc[where[k]] = NAN;
    for (int norm = 0; norm < 2; ++norm)
      for (float rate = 0.0f; rate <= 1.0f; rate += 0.25f) {
        const md_maxdrop_norm nm = (md_maxdrop_norm)norm;
        const md_maxdrop_config c = make_cfg(rate, nm, MD_MAXDROP_STATS_BATCH, 0);
        check_identity(&c, s, xc);
        /* V2: the NaN sits in one sample; that sample is untouched */
        const md_maxdrop_config c2 = make_cfg(rate, nm, MD_MAXDROP_STATS_BATCH, 1);
        check_case(&c2, s, xc);
      }
    free(xc);
  }
  free(x);
}

/* With per-group statistics a NaN only protects its own group. */
static void test_nan_is_local_to_its_group(void **state) {
  (void)state;
  const md_shape s = {3, 4, 5, 5};
  const int64_t numel = count(s);
  float *x = alloc_uniform(numel, 0.0f, 1.0f, 10);
  x[1 * 100 + 2 * 25 + 7] = NAN; /* sample 1, channel 2 */
  for (size_t gi = 1; gi < 4; ++gi) {
    const md_maxdrop_config c = make_cfg(0.3f, MD_MAXDROP_NORM_MINMAX, all_stats[gi], 0);
    check_case(&c, s, x);
    /* and something outside the NaN's group was dropped */
    float *y = malloc((size_t)numel * sizeof *y);
    assert_non_null(y);
    md_maxdrop m;
    assert_int_equal(md_maxdrop_init(&m, &c, 1, 256), MD_OK);
    assert_int_equal(md_maxdrop_forward(&m, s, x, y, 1), MD_OK);
    int64_t dropped = 0, dropped_in_nan_group = 0;
    for (int64_t i = 0; i < numel; ++i) {
      const int64_t n = i / 100, ch = (i / 25) % 4;
      const int in_group = (all_stats[gi] == MD_MAXDROP_STATS_SAMPLE && n == 1) ||
                           (all_stats[gi] == MD_MAXDROP_STATS_CHANNEL && ch == 2) ||
                           (all_stats[gi] == MD_MAXDROP_STATS_SAMPLE_CHANNEL && n == 1 && ch == 2);
      if (!md_maxdrop_kept(&m, i)) {
        dropped++;
        dropped_in_nan_group += in_group;
      }
    }
    assert_true(dropped > 0);
    assert_int_equal(dropped_in_nan_group, 0);
    md_maxdrop_free(&m);
    free(y);
  }
  free(x);
}

static void test_constant_and_all_zero(void **state) {
  (void)state;
  const md_shape s = {2, 4, 3, 3};
  const int64_t numel = count(s);
  float *x = malloc((size_t)numel * sizeof *x);
  assert_non_null(x);
  const float values[3] = {0.0f, 2.5f, -7.0f};
  for (int k = 0; k < 3; ++k) {
    for (int64_t i = 0; i < numel; ++i) x[i] = values[k];
    for (size_t gi = 0; gi < 4; ++gi)
      for (int norm = 0; norm < 2; ++norm)
        for (int v2 = 0; v2 < 2; ++v2) {
          const md_maxdrop_config c = make_cfg(1.0f, (md_maxdrop_norm)norm, all_stats[gi], v2);
          if (norm == MD_MAXDROP_NORM_L2 && values[k] != 0.0f) {
            /* L2 has no 0/0 for a non-zero constant: every x / ||x|| equals
             * the max, so at rate 1 a positive constant is dropped entirely
             * and a negative one kept; the model decides */
            check_case(&c, s, x);
          } else {
            check_identity(&c, s, x);
          }
        }
  }
  free(x);
}

static void test_infinities_follow_ieee(void **state) {
  (void)state;
  const md_maxdrop_config c = make_cfg(0.3f, MD_MAXDROP_NORM_MINMAX, MD_MAXDROP_STATS_BATCH, 0);
  /* hi = +inf: (x - lo) / inf = 0 for finite x, inf / inf = NaN: all kept. */
  const float a[6] = {1, 5, INFINITY, 3, 9, 2};
  check_identity(&c, md_shape4(1, 1, 1, 6), a);
  /* lo = -inf: (x + inf) / inf = NaN for every element: all kept. */
  const float b[6] = {1, 5, -INFINITY, 3, 9, 2};
  check_identity(&c, md_shape4(1, 1, 1, 6), b);
  const float ab[6] = {1, INFINITY, -INFINITY, 3, 9, 2};
  check_identity(&c, md_shape4(1, 1, 1, 6), ab);
  /* Finite but hi - lo overflows: q is 0 or inf / inf: all kept. */
  const float big[5] = {-3e38f, 3e38f, 0.0f, 2.9e38f, 1.0f};
  check_identity(&c, md_shape4(1, 1, 1, 5), big);
  /* And all of them against the model, in every mode. */
  const float *cases[4] = {a, b, ab, big};
  const int64_t lens[4] = {6, 6, 6, 5};
  for (int k = 0; k < 4; ++k)
    for (int norm = 0; norm < 2; ++norm)
      for (size_t ri = 0; ri < sizeof rates / sizeof rates[0]; ++ri) {
        const md_maxdrop_config cc = make_cfg(rates[ri], (md_maxdrop_norm)norm,
                                              MD_MAXDROP_STATS_BATCH, 0);
        check_case(&cc, md_shape4(1, 1, 1, lens[k]), cases[k]);
      }
  /* Infinity in one of several groups. */
  const md_shape s = {2, 2, 3, 3};
  float x[36];
  md_fill_uniform(x, 36, -1.0f, 1.0f, 11);
  x[4] = INFINITY;
  x[20] = -INFINITY;
  for (size_t gi = 0; gi < 4; ++gi)
    for (int norm = 0; norm < 2; ++norm)
      for (int v2 = 0; v2 < 2; ++v2) {
        const md_maxdrop_config cc = make_cfg(0.4f, (md_maxdrop_norm)norm, all_stats[gi], v2);
        check_case(&cc, s, x);
      }
}

/* ------------------------------------------------------------------------ */
/* Rates and threshold ties.                                                 */
/* ------------------------------------------------------------------------ */

static void test_rate_zero_and_one(void **state) {
  (void)state;
  const md_shape s = {2, 3, 4, 4};
  const int64_t numel = count(s);
  float *x = alloc_uniform(numel, -3.0f, 3.0f, 12);
  /* the minimum appears three times */
  float lo = INFINITY;
  for (int64_t i = 0; i < numel; ++i) lo = x[i] < lo ? x[i] : lo;
  x[5] = lo;
  x[50] = lo;
  md_maxdrop_config c = make_cfg(0.0f, MD_MAXDROP_NORM_MINMAX, MD_MAXDROP_STATS_BATCH, 0);
  check_identity(&c, s, x);
  c.rate = 1.0f;
  float *y = malloc((size_t)numel * sizeof *y);
  assert_non_null(y);
  md_maxdrop m;
  assert_int_equal(md_maxdrop_init(&m, &c, 1, 256), MD_OK);
  assert_int_equal(md_maxdrop_forward(&m, s, x, y, 1), MD_OK);
  int64_t survivors = 0;
  for (int64_t i = 0; i < numel; ++i) {
    if (x[i] == lo) {
      assert_int_equal(md_maxdrop_kept(&m, i), 1);
      assert_float_equal(y[i], lo, 0.0f);
      survivors++;
    } else {
      assert_int_equal(md_maxdrop_kept(&m, i), 0);
      assert_float_equal(y[i], 0.0f, 0.0f);
    }
  }
  assert_true(survivors >= 3);
  md_maxdrop_free(&m);
  free(y);
  free(x);
}

/* q equal to the float threshold is kept; the next float up is dropped. */
static void test_threshold_ties_are_kept(void **state) {
  (void)state;
  const float rates_t[] = {0.3f, 0.5f, 0.1f, 0.77f};
  const float los[] = {0.0f, 1.0f, -2.5f, 0.125f};
  const float his[] = {1.0f, 3.0f, 4.0f, 0.875f};
  int ties = 0;
  for (size_t r = 0; r < sizeof rates_t / sizeof rates_t[0]; ++r)
    for (size_t k = 0; k < sizeof los / sizeof los[0]; ++k) {
      const float lo = los[k], hi = his[k];
      const float t = (float)(1.0 - (double)rates_t[r]);
      /* search floats near lo + t * (hi - lo) for one whose q is exactly t */
      float xt = lo + t * (hi - lo);
      for (int step = 0; step < 64; ++step) xt = nextafterf(xt, -INFINITY);
      float tie = NAN;
      for (int step = 0; step < 128; ++step, xt = nextafterf(xt, INFINITY))
        if ((xt - lo) / (hi - lo) == t) tie = xt;
      if (isnan(tie)) continue;
      ties++;
      const float above = nextafterf(tie, INFINITY);
      assert_true((above - lo) / (hi - lo) > t);
      /* 5 elements (small group) and 200 (large group: a different path) */
      float x[200], y[200];
      x[0] = lo;
      x[1] = tie;
      x[2] = hi;
      x[3] = above;
      for (int i = 4; i < 200; ++i) x[i] = lo + (hi - lo) * ((float)i / 400.0f);
      for (int len = 5; len <= 200; len += 195) {
        const md_maxdrop_config c = make_cfg(rates_t[r], MD_MAXDROP_NORM_MINMAX,
                                             MD_MAXDROP_STATS_BATCH, 0);
        md_maxdrop m;
        assert_int_equal(md_maxdrop_init(&m, &c, 1, 256), MD_OK);
        assert_int_equal(md_maxdrop_forward(&m, md_shape4(1, 1, 1, len), x, y, 1), MD_OK);
        assert_int_equal(md_maxdrop_kept(&m, 1), 1);
        assert_float_equal(y[1], tie, 0.0f);
        assert_int_equal(md_maxdrop_kept(&m, 2), 0);
        assert_int_equal(md_maxdrop_kept(&m, 3), 0);
        assert_float_equal(y[3], 0.0f, 0.0f);
        assert_int_equal(md_maxdrop_kept(&m, 0), 1);
        md_maxdrop_free(&m);
        check_case(&c, md_shape4(1, 1, 1, len), x);
      }
    }
  assert_true(ties >= 8);
  /* L2 tie: x = {1, 2, 2, top, v}; search top (a few floats above 4) and v
   * (near top * t) for a pair where v / ||x|| equals t * max(x / ||x||)
   * exactly (every quantity recomputed per candidate: v changes the norm). */
  {
    const float rate = 0.3f, t = (float)(1.0 - (double)rate);
    float tie = NAN, top = 4.0f;
    for (int k = 0; k < 64 && isnan(tie); ++k, top = nextafterf(top, INFINITY)) {
      float v = top * t;
      for (int step = 0; step < 64; ++step) v = nextafterf(v, -INFINITY);
      for (int step = 0; step < 128 && isnan(tie); ++step, v = nextafterf(v, INFINITY)) {
        const double ss = 1.0 + 4.0 + 4.0 + (double)top * top + (double)v * (double)v;
        const float nrm = (float)sqrt(ss);
        if (v / nrm == t * (top / nrm)) tie = v;
      }
      if (!isnan(tie)) break;
    }
    assert_false(isnan(tie));
    /* then 0s, which change neither the norm nor the max: 5 elements (small
     * group) and 100 (large group: a different path) */
    float x[100] = {1.0f, 2.0f, 2.0f, top, tie};
    float y[100];
    const md_maxdrop_config c = make_cfg(rate, MD_MAXDROP_NORM_L2, MD_MAXDROP_STATS_BATCH, 0);
    for (int len = 5; len <= 100; len += 95) {
      md_maxdrop m;
      assert_int_equal(md_maxdrop_init(&m, &c, 1, 256), MD_OK);
      assert_int_equal(md_maxdrop_forward(&m, md_shape4(1, 1, 1, len), x, y, 1), MD_OK);
      assert_int_equal(md_maxdrop_kept(&m, 4), 1);
      assert_int_equal(md_maxdrop_kept(&m, 3), 0);
      assert_int_equal(md_maxdrop_kept(&m, 0), 1);
      md_maxdrop_free(&m);
      check_case(&c, md_shape4(1, 1, 1, len), x);
    }
  }
}

/* Many values packed around the cut, in groups of every sign, so that a
 * threshold found by search must agree with the formula to the last bit. */
static void test_dense_values_near_the_cut(void **state) {
  (void)state;
  const float los[] = {0.0f, -1.0f, -1000.0f, 1e-30f, 3.0f, -5e-39f};
  const float his[] = {1.0f, 1.0f, -999.0f, 3e-30f, 1e6f, 5e-39f};
  const float rates_t[] = {0.3f, 0.5f, 0.999f, 0.001f};
  enum { len = 4099 };
  float x[len];
  for (size_t k = 0; k < sizeof los / sizeof los[0]; ++k)
    for (size_t r = 0; r < sizeof rates_t / sizeof rates_t[0]; ++r) {
      const float lo = los[k], hi = his[k];
      const float t = (float)(1.0 - (double)rates_t[r]);
      float v = lo + t * (hi - lo);
      for (int step = 0; step < len / 2; ++step) v = nextafterf(v, -INFINITY);
      for (int i = 0; i < len; ++i) {
        x[i] = v < lo ? lo : (v > hi ? hi : v);
        v = nextafterf(v, INFINITY);
      }
      x[len / 3] = lo;
      x[len / 5] = hi;
      for (int norm = 0; norm < 2; ++norm) {
        const md_maxdrop_config c = make_cfg(rates_t[r], (md_maxdrop_norm)norm,
                                             MD_MAXDROP_STATS_BATCH, 0);
        check_case(&c, md_shape4(1, 1, 1, len), x);
      }
    }
}

/* A large tensor in every mode (several mask words per thread, a tail). */
static void test_large_tensor(void **state) {
  (void)state;
  const md_shape s = {16, 64, 16, 16};
  const int64_t numel = count(s);
  float *x = alloc_uniform(numel, -1.0f, 4.0f, 13);
  for (size_t gi = 0; gi < 4; ++gi)
    for (int norm = 0; norm < 2; ++norm) {
      const md_maxdrop_config c = make_cfg(0.3f, (md_maxdrop_norm)norm, all_stats[gi], 0);
      check_case(&c, s, x);
    }
  const md_maxdrop_config c2 = make_cfg(0.3f, MD_MAXDROP_NORM_MINMAX, MD_MAXDROP_STATS_BATCH, 1);
  check_case(&c2, s, x);
  /* an odd flat length */
  const md_maxdrop_config c = make_cfg(0.2f, MD_MAXDROP_NORM_MINMAX, MD_MAXDROP_STATS_BATCH, 0);
  check_case(&c, md_shape4(1, 1, 1, 100003), x);
  free(x);
}

/* Outputs of 16 MiB and more, 64-byte aligned, take the streaming-store
 * path: forward (out of place and in place) and backward still match. */
static void test_large_aligned_outputs(void **state) {
  (void)state;
  const md_shape s = {1, 1, 1, (4 << 20) + 77};
  const int64_t numel = count(s);
  const size_t bytes = ((size_t)numel * sizeof(float) + 63) & ~(size_t)63;
  float *x = aligned_alloc(64, bytes), *y = aligned_alloc(64, bytes);
  float *dy = aligned_alloc(64, bytes), *dx = aligned_alloc(64, bytes);
  float *want = malloc((size_t)numel * sizeof *want);
  unsigned char *kept = malloc((size_t)numel);
  assert_non_null(x);
  assert_non_null(y);
  assert_non_null(dy);
  assert_non_null(dx);
  assert_non_null(want);
  assert_non_null(kept);
  md_fill_uniform(x, (size_t)numel, -1.0f, 3.0f, 60);
  md_fill_uniform(dy, (size_t)numel, -1.0f, 1.0f, 61);
  const md_maxdrop_config c = make_cfg(0.3f, MD_MAXDROP_NORM_MINMAX, MD_MAXDROP_STATS_BATCH, 0);
  ref_forward(&c, c.rate, s, x, want, kept);
  md_maxdrop m;
  assert_int_equal(md_maxdrop_init(&m, &c, 1, 256), MD_OK);
  assert_int_equal(md_maxdrop_forward(&m, s, x, y, 1), MD_OK);
  md_assert_floats_identical(y, want, (size_t)numel);
  assert_mask(&m, kept, numel);
  assert_int_equal(md_maxdrop_backward(&m, dy, dx), MD_OK);
  for (int64_t i = 0; i < numel; ++i) want[i] = kept[i] ? dy[i] : 0.0f;
  md_assert_floats_identical(dx, want, (size_t)numel);
  /* in place */
  ref_forward(&c, c.rate, s, x, want, kept);
  assert_int_equal(md_maxdrop_forward(&m, s, x, x, 1), MD_OK);
  md_assert_floats_identical(x, want, (size_t)numel);
  assert_mask(&m, kept, numel);
  md_maxdrop_free(&m);
  free(x);
  free(y);
  free(dy);
  free(dx);
  free(want);
  free(kept);
}

/* ------------------------------------------------------------------------ */
/* Random rate.                                                              */
/* ------------------------------------------------------------------------ */

static void test_random_rate(void **state) {
  (void)state;
  md_maxdrop_config c = make_cfg(0.4f, MD_MAXDROP_NORM_MINMAX, MD_MAXDROP_STATS_BATCH, 0);
  c.random_rate = 1;
  md_maxdrop m, m2;
  assert_int_equal(md_maxdrop_init(&m, &c, 77, 300), MD_OK);
  assert_int_equal(md_maxdrop_init(&m2, &c, 77, 300), MD_OK);
  const md_shape s = {2, 3, 4, 4};
  const int64_t numel = count(s);
  float *x = alloc_uniform(numel, 0.0f, 1.0f, 14);
  float *y = malloc((size_t)numel * sizeof *y);
  float *y2 = malloc((size_t)numel * sizeof *y2);
  float *want = malloc((size_t)numel * sizeof *want);
  unsigned char *kept = malloc((size_t)numel);
  assert_non_null(y);
  assert_non_null(y2);
  assert_non_null(want);
  assert_non_null(kept);
  double sum = 0.0;
  float first = -1.0f;
  int changed = 0;
  const int calls = 4000;
  for (int k = 0; k < calls; ++k) {
    assert_int_equal(md_maxdrop_forward(&m, s, x, y, 1), MD_OK);
    assert_true(m.last_rate >= 0.0f && m.last_rate < 0.4f);
    if (k == 0) first = m.last_rate;
    changed += m.last_rate != first;
    sum += m.last_rate;
    if (k < 50) {
      /* the same seed and stream replay the same rates */
      assert_int_equal(md_maxdrop_forward(&m2, s, x, y2, 1), MD_OK);
      assert_float_equal(m2.last_rate, m.last_rate, 0.0f);
      md_assert_floats_identical(y2, y, (size_t)numel);
      /* and the output is the rule at that rate */
      ref_forward(&c, m.last_rate, s, x, want, kept);
      md_assert_floats_identical(y, want, (size_t)numel);
      assert_mask(&m, kept, numel);
    }
  }
  assert_true(changed > calls / 2);
  /* mean of U(0, 0.4) is 0.2, standard error 0.4 / sqrt(12 * 4000) = 0.0018 */
  assert_float_equal(sum / calls, 0.2, 0.01);
  /* evaluation draws nothing and does not change last_rate */
  const float before = m.last_rate;
  assert_int_equal(md_maxdrop_forward(&m, s, x, y, 0), MD_OK);
  assert_float_equal(m.last_rate, before, 0.0f);
  /* fixed rate: last_rate is the rate */
  md_maxdrop f;
  c.random_rate = 0;
  assert_int_equal(md_maxdrop_init(&f, &c, 77, 300), MD_OK);
  assert_int_equal(md_maxdrop_forward(&f, s, x, y, 1), MD_OK);
  assert_float_equal(f.last_rate, 0.4f, 0.0f);
  md_maxdrop_free(&f);
  md_maxdrop_free(&m);
  md_maxdrop_free(&m2);
  free(x);
  free(y);
  free(y2);
  free(want);
  free(kept);
}

/* ------------------------------------------------------------------------ */
/* Evaluation, backward, in place, errors, buffers.                          */
/* ------------------------------------------------------------------------ */

static void test_eval_is_identity(void **state) {
  (void)state;
  const md_shape s = {3, 4, 5, 5};
  const int64_t numel = count(s);
  float *x = alloc_uniform(numel, -1.0f, 1.0f, 15);
  x[17] = NAN;
  x[18] = INFINITY;
  float *y = malloc((size_t)numel * sizeof *y);
  float *dy = alloc_uniform(numel, -1.0f, 1.0f, 16);
  float *dx = malloc((size_t)numel * sizeof *dx);
  assert_non_null(y);
  assert_non_null(dx);
  for (int v2 = 0; v2 < 2; ++v2) {
    const md_maxdrop_config c = make_cfg(1.0f, MD_MAXDROP_NORM_MINMAX, MD_MAXDROP_STATS_BATCH, v2);
    md_maxdrop m;
    assert_int_equal(md_maxdrop_init(&m, &c, 1, 256), MD_OK);
    assert_int_equal(md_maxdrop_forward(&m, s, x, y, 0), MD_OK);
    md_assert_floats_identical(y, x, (size_t)numel);
    assert_int_equal(m.numel, numel);
    for (int64_t i = 0; i < numel; ++i) assert_int_equal(md_maxdrop_kept(&m, i), 1);
    assert_int_equal(md_maxdrop_backward(&m, dy, dx), MD_OK);
    md_assert_floats_identical(dx, dy, (size_t)numel);
    /* in place */
    memcpy(y, x, (size_t)numel * sizeof *y);
    assert_int_equal(md_maxdrop_forward(&m, s, y, y, 0), MD_OK);
    md_assert_floats_identical(y, x, (size_t)numel);
    md_maxdrop_free(&m);
  }
  free(x);
  free(y);
  free(dy);
  free(dx);
}

static void test_backward_follows_mask(void **state) {
  (void)state;
  const md_shape s = {4, 6, 7, 7};
  const int64_t numel = count(s);
  float *x = alloc_uniform(numel, -1.0f, 1.0f, 17);
  float *y = malloc((size_t)numel * sizeof *y);
  float *dy = alloc_uniform(numel, -1.0f, 1.0f, 18);
  float *dx = malloc((size_t)numel * sizeof *dx);
  float *want = malloc((size_t)numel * sizeof *want);
  float *wy = malloc((size_t)numel * sizeof *wy);
  unsigned char *kept = malloc((size_t)numel);
  assert_non_null(y);
  assert_non_null(dx);
  assert_non_null(want);
  assert_non_null(wy);
  assert_non_null(kept);
  for (size_t gi = 0; gi < 4; ++gi)
    for (int v2 = 0; v2 < 2; ++v2) {
      const md_maxdrop_config c = make_cfg(0.35f, MD_MAXDROP_NORM_MINMAX, all_stats[gi], v2);
      md_maxdrop m;
      assert_int_equal(md_maxdrop_init(&m, &c, 1, 256), MD_OK);
      assert_int_equal(md_maxdrop_forward(&m, s, x, y, 1), MD_OK);
      ref_forward(&c, c.rate, s, x, wy, kept);
      int64_t ndrop = 0;
      for (int64_t i = 0; i < numel; ++i) {
        want[i] = kept[i] ? dy[i] : 0.0f;
        ndrop += !kept[i];
      }
      assert_true(ndrop > 0);
      assert_int_equal(md_maxdrop_backward(&m, dy, dx), MD_OK);
      md_assert_floats_identical(dx, want, (size_t)numel);
      /* dx may be dy */
      memcpy(dx, dy, (size_t)numel * sizeof *dx);
      assert_int_equal(md_maxdrop_backward(&m, dx, dx), MD_OK);
      md_assert_floats_identical(dx, want, (size_t)numel);
      md_maxdrop_free(&m);
    }
  free(x);
  free(y);
  free(dy);
  free(dx);
  free(want);
  free(wy);
  free(kept);
}

static void test_in_place_forward(void **state) {
  (void)state;
  const md_shape s = {3, 5, 6, 6};
  const int64_t numel = count(s);
  float *x = alloc_uniform(numel, -2.0f, 2.0f, 19);
  float *y = malloc((size_t)numel * sizeof *y);
  float *want = malloc((size_t)numel * sizeof *want);
  unsigned char *kept = malloc((size_t)numel);
  assert_non_null(y);
  assert_non_null(want);
  assert_non_null(kept);
  for (size_t gi = 0; gi < 4; ++gi)
    for (int norm = 0; norm < 2; ++norm)
      for (int v2 = 0; v2 < 2; ++v2) {
        const md_maxdrop_config c = make_cfg(0.3f, (md_maxdrop_norm)norm, all_stats[gi], v2);
        ref_forward(&c, c.rate, s, x, want, kept);
        memcpy(y, x, (size_t)numel * sizeof *y);
        md_maxdrop m;
        assert_int_equal(md_maxdrop_init(&m, &c, 1, 256), MD_OK);
        assert_int_equal(md_maxdrop_forward(&m, s, y, y, 1), MD_OK);
        md_assert_floats_identical(y, want, (size_t)numel);
        assert_mask(&m, kept, numel);
        md_maxdrop_free(&m);
      }
  free(x);
  free(y);
  free(want);
  free(kept);
}

static void test_errors(void **state) {
  (void)state;
  const md_maxdrop_config c = md_maxdrop_default_config();
  md_maxdrop m;
  assert_int_equal(md_maxdrop_init(&m, &c, 1, 256), MD_OK);
  float x[8] = {1, 2, 3, 4, 5, 6, 7, 8}, y[8], dx[8];
  /* backward before any forward */
  assert_int_equal(md_maxdrop_backward(&m, x, dx), MD_ERR_STATE);
  /* empty tensors: nothing is read or written */
  assert_int_equal(md_maxdrop_forward(&m, md_shape4(0, 3, 4, 4), x, y, 1), MD_ERR_EMPTY);
  assert_int_equal(md_maxdrop_forward(&m, md_shape4(2, 0, 4, 4), x, y, 1), MD_ERR_EMPTY);
  assert_int_equal(md_maxdrop_forward(&m, md_shape4(2, 3, 4, 0), x, y, 0), MD_ERR_EMPTY);
  assert_int_equal(md_maxdrop_forward(&m, md_shape4(0, 3, 4, 4), NULL, NULL, 1), MD_ERR_EMPTY);
  md_maxdrop v2m;
  md_maxdrop_config c2 = c;
  c2.v2 = 1;
  assert_int_equal(md_maxdrop_init(&v2m, &c2, 1, 256), MD_OK);
  assert_int_equal(md_maxdrop_forward(&v2m, md_shape4(1, 0, 4, 4), x, y, 1), MD_ERR_EMPTY);
  md_maxdrop_free(&v2m);
  assert_int_equal(m.numel, -1);
  /* bad shapes */
  assert_int_equal(md_maxdrop_forward(&m, md_shape4(-1, 3, 4, 4), x, y, 1), MD_ERR_SHAPE);
  assert_int_equal(md_maxdrop_forward(&m, md_shape4(INT64_MAX, 2, 2, 2), x, y, 1), MD_ERR_SHAPE);
  /* NULL pointers */
  const md_shape s8 = md_shape4(1, 1, 1, 8);
  assert_int_equal(md_maxdrop_forward(NULL, s8, x, y, 1), MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_maxdrop_forward(&m, s8, NULL, y, 1), MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_maxdrop_forward(&m, s8, x, NULL, 1), MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_maxdrop_forward(&m, s8, x, NULL, 0), MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(m.numel, -1);
  assert_int_equal(md_maxdrop_forward(&m, md_shape4(1, 1, 1, 8), x, y, 1), MD_OK);
  assert_int_equal(md_maxdrop_backward(NULL, x, dx), MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_maxdrop_backward(&m, NULL, dx), MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_maxdrop_backward(&m, x, NULL), MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_maxdrop_reserve(NULL, 10), MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_maxdrop_reserve(&m, -1), MD_ERR_INVALID_ARGUMENT);
  md_maxdrop_free(&m);
  md_maxdrop_free(&m); /* twice is harmless */
  md_maxdrop_free(NULL);
  /* after free, backward is a state error again */
  assert_int_equal(md_maxdrop_backward(&m, x, dx), MD_ERR_STATE);
}

/* Reserve once, then calls with fewer elements reuse the mask (no growth)
 * and backward touches exactly the elements of the last call. The buffers
 * are allocated to the exact size so that AddressSanitizer catches any
 * access past them. */
static void test_fewer_elements_than_reserved(void **state) {
  (void)state;
  const md_maxdrop_config c = md_maxdrop_default_config();
  md_maxdrop m;
  assert_int_equal(md_maxdrop_init(&m, &c, 1, 256), MD_OK);
  assert_int_equal(md_maxdrop_reserve(&m, 10000), MD_OK);
  const uint64_t *mask = m.mask;
  const size_t words = m.mask_words;
  assert_true(words * 64 >= 10000);
  float *big = alloc_uniform(10000, 0.0f, 1.0f, 20);
  float *bigy = malloc(10000 * sizeof *bigy);
  assert_non_null(bigy);
  assert_int_equal(md_maxdrop_forward(&m, md_shape4(10, 10, 10, 10), big, bigy, 1), MD_OK);
  const md_shape s = {1, 1, 1, 37};
  float *x = alloc_uniform(37, 0.0f, 1.0f, 21);
  float *y = malloc(37 * sizeof *y);
  float *dy = alloc_uniform(37, -1.0f, 1.0f, 22);
  float *dx = malloc(37 * sizeof *dx);
  assert_non_null(y);
  assert_non_null(dx);
  assert_int_equal(md_maxdrop_forward(&m, s, x, y, 1), MD_OK);
  assert_ptr_equal(m.mask, mask);
  assert_int_equal(m.mask_words, words);
  assert_int_equal(m.numel, 37);
  check_case(&c, s, x);
  assert_int_equal(md_maxdrop_backward(&m, dy, dx), MD_OK);
  for (int i = 0; i < 37; ++i)
    assert_float_equal(dx[i], md_maxdrop_kept(&m, i) ? dy[i] : 0.0f, 0.0f);
  /* growing beyond the reservation still works */
  float *huge = alloc_uniform(20000, 0.0f, 1.0f, 23);
  float *hugey = malloc(20000 * sizeof *hugey);
  assert_non_null(hugey);
  assert_int_equal(md_maxdrop_forward(&m, md_shape4(1, 1, 1, 20000), huge, hugey, 1), MD_OK);
  assert_true(m.mask_words * 64 >= 20000);
  check_case(&c, md_shape4(1, 1, 1, 20000), huge);
  md_maxdrop_free(&m);
  free(big);
  free(bigy);
  free(x);
  free(y);
  free(dy);
  free(dx);
  free(huge);
  free(hugey);
}

/* The same input gives the same output and mask with 1 and 2 threads. */
static void test_thread_count_independent(void **state) {
  (void)state;
  const md_shape s = {8, 32, 12, 12};
  const int64_t numel = count(s);
  float *x = alloc_uniform(numel, -1.0f, 1.0f, 24);
  float *y1 = malloc((size_t)numel * sizeof *y1);
  float *y2 = malloc((size_t)numel * sizeof *y2);
  assert_non_null(y1);
  assert_non_null(y2);
  const int saved = omp_get_max_threads();
  for (size_t gi = 0; gi < 4; ++gi)
    for (int norm = 0; norm < 2; ++norm)
      for (int v2 = 0; v2 < 2; ++v2) {
        md_maxdrop_config c = make_cfg(0.3f, (md_maxdrop_norm)norm, all_stats[gi], v2);
        c.random_rate = gi == 1;
        md_maxdrop a, b;
        assert_int_equal(md_maxdrop_init(&a, &c, 5, 260), MD_OK);
        assert_int_equal(md_maxdrop_init(&b, &c, 5, 260), MD_OK);
        omp_set_num_threads(1);
        assert_int_equal(md_maxdrop_forward(&a, s, x, y1, 1), MD_OK);
        omp_set_num_threads(2);
        assert_int_equal(md_maxdrop_forward(&b, s, x, y2, 1), MD_OK);
        md_assert_floats_identical(y2, y1, (size_t)numel);
        assert_int_equal(memcmp(a.mask, b.mask, (size_t)((numel + 63) / 64) * 8), 0);
        omp_set_num_threads(1);
        assert_int_equal(md_maxdrop_backward(&a, x, y1), MD_OK);
        omp_set_num_threads(2);
        assert_int_equal(md_maxdrop_backward(&b, x, y2), MD_OK);
        md_assert_floats_identical(y2, y1, (size_t)numel);
        md_maxdrop_free(&a);
        md_maxdrop_free(&b);
      }
  omp_set_num_threads(saved);
  free(x);
  free(y1);
  free(y2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_default_config),
      cmocka_unit_test(test_config_rejects_bad_values),
      cmocka_unit_test(test_forward_rejects_bad_rate),
      cmocka_unit_test(test_hand_example),
      cmocka_unit_test(test_every_grouping_matches_model),
      cmocka_unit_test(test_post_relu_data),
      cmocka_unit_test(test_v2_matches_model),
      cmocka_unit_test(test_v2_hand_example),
      cmocka_unit_test(test_v2_float_channel_sum),
      cmocka_unit_test(test_nan_anywhere_drops_nothing),
      cmocka_unit_test(test_nan_is_local_to_its_group),
      cmocka_unit_test(test_constant_and_all_zero),
      cmocka_unit_test(test_infinities_follow_ieee),
      cmocka_unit_test(test_rate_zero_and_one),
      cmocka_unit_test(test_threshold_ties_are_kept),
      cmocka_unit_test(test_dense_values_near_the_cut),
      cmocka_unit_test(test_large_tensor),
      cmocka_unit_test(test_large_aligned_outputs),
      cmocka_unit_test(test_random_rate),
      cmocka_unit_test(test_eval_is_identity),
      cmocka_unit_test(test_backward_follows_mask),
      cmocka_unit_test(test_in_place_forward),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_fewer_elements_than_reserved),
      cmocka_unit_test(test_thread_count_independent),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
