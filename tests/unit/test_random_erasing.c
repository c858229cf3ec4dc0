/* RandomErasing: probability, rectangle size and ratio ranges, placement,
 * bounded attempts, fill modes, evaluation, configuration checks, errors,
 * backward and reproducibility. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "md_test_util.h"
#include "maxdrop/random_erasing.h"

static md_erasing_config zero_fill(float p) {
  md_erasing_config cfg = md_erasing_default_config();
  cfg.p = p;
  cfg.fill = MD_ERASING_FILL_ZERO;
  return cfg;
}

/* The erased rectangle of image n read from the keep-mask; returns 0 when the
 * image was not erased, fails unless the erased pixels form one rectangle. */
static int find_rect(const md_erasing *e, int64_t n, int *top, int *left, int *h, int *w) {
  const int H = (int)e->shape.h, W = (int)e->shape.w;
  const uint8_t *k = e->keep + n * H * W;
  int r0 = H, r1 = -1, c0 = W, c1 = -1, count = 0;
  for (int r = 0; r < H; ++r)
    for (int c = 0; c < W; ++c)
      if (!k[r * W + c]) {
        count++;
        if (r < r0) r0 = r;
        if (r > r1) r1 = r;
        if (c < c0) c0 = c;
        if (c > c1) c1 = c;
      }
  if (!count) return 0;
  if (count != (r1 - r0 + 1) * (c1 - c0 + 1))
    fail_msg("image %lld: erased pixels are not one rectangle", (long long)n);
  *top = r0;
  *left = c0;
  *h = r1 - r0 + 1;
  *w = c1 - c0 + 1;
  return 1;
}

static void test_defaults(void **state) {
  (void)state;
  const md_erasing_config cfg = md_erasing_default_config();
  assert_true(cfg.p == 0.5f);
  assert_true(cfg.scale_lo == 0.02f && cfg.scale_hi == 0.4f);
  assert_true(cfg.ratio_lo == 0.3f && cfg.ratio_hi == 1.0f / 0.3f);
  assert_int_equal(cfg.max_attempts, 100);
  assert_int_equal(cfg.fill, MD_ERASING_FILL_RANDOM);
  assert_int_equal(md_erasing_config_check(&cfg), MD_OK);
}

/* The fraction of erased images is p (the default ranges always fit on 32x32
 * after a few attempts). */
static void test_probability(void **state) {
  (void)state;
  enum { N = 4000, H = 32, W = 32 };
  float *x = malloc(sizeof(float) * N * H * W);
  assert_non_null(x);
  const float ps[4] = {0.0f, 0.3f, 0.5f, 1.0f};
  for (int k = 0; k < 4; ++k) {
    md_fill_uniform(x, (size_t)N * H * W, 1.0f, 2.0f, 1);
    md_erasing e;
    const md_erasing_config cfg = zero_fill(ps[k]);
    assert_int_equal(md_erasing_init(&e, &cfg, 5, MD_STREAM_ERASING), MD_OK);
    assert_int_equal(md_erasing_forward(&e, md_shape4(N, 1, H, W), x, x, 1), MD_OK);
    int erased = 0, t, l, h, w;
    for (int n = 0; n < N; ++n) erased += find_rect(&e, n, &t, &l, &h, &w);
    const double want = (double)N * ps[k], sd = sqrt(N * ps[k] * (1.0 - ps[k]));
    print_message("p=%.2f: %d of %d images erased\n", (double)ps[k], erased, N);
    if (fabs(erased - want) > 5 * sd + 0.5)
      fail_msg("p=%.2f: %d erased, expected %.0f", (double)ps[k], erased, want);
    md_erasing_free(&e);
  }
  free(x);
}

/* Every rectangle fits strictly inside the image and comes from some area
 * fraction and aspect ratio within the configured ranges: with the
 * continuous sides in [h - 1/2, h + 1/2] and [w - 1/2, w + 1/2], the implied
 * fraction and ratio intervals must meet the configured ones. */
static void test_area_and_ratio_in_range(void **state) {
  (void)state;
  enum { N = 3000, H = 40, W = 30 };
  float *x = malloc(sizeof(float) * N * H * W);
  assert_non_null(x);
  md_fill_uniform(x, (size_t)N * H * W, 1.0f, 2.0f, 2);
  md_erasing_config cfg = zero_fill(1.0f);
  cfg.scale_lo = 0.05f;
  cfg.scale_hi = 0.2f;
  cfg.ratio_lo = 0.5f;
  cfg.ratio_hi = 2.0f;
  md_erasing e;
  assert_int_equal(md_erasing_init(&e, &cfg, 6, MD_STREAM_ERASING), MD_OK);
  assert_int_equal(md_erasing_forward(&e, md_shape4(N, 1, H, W), x, x, 1), MD_OK);
  const double A = (double)H * W;
  double smin = 1, smax = 0;
  for (int n = 0; n < N; ++n) {
    int t, l, h, w;
    assert_true(find_rect(&e, n, &t, &l, &h, &w));
    assert_true(h < H && w < W && t + h <= H && l + w <= W);
    const double slo = (h - 0.5) * (w - 0.5) / A, shi = (h + 0.5) * (w + 0.5) / A;
    const double rlo = (h - 0.5) / (w + 0.5), rhi = (h + 0.5) / (w - 0.5);
    if (!(shi >= cfg.scale_lo && slo <= cfg.scale_hi))
      fail_msg("image %d: %dx%d is no area fraction in range", n, h, w);
    if (!(rhi >= cfg.ratio_lo && rlo <= cfg.ratio_hi))
      fail_msg("image %d: %dx%d is no aspect ratio in range", n, h, w);
    const double s = (double)h * w / A;
    if (s < smin) smin = s;
    if (s > smax) smax = s;
  }
  /* and the range is actually explored */
  assert_true(smin < 0.07 && smax > 0.17);
  md_erasing_free(&e);
  free(x);
}

/* Fixed fraction 1/4 and ratio 1 on 32x32: always 16x16, top-left corner
 * uniform over the 17 x 17 positions where it fits. */
static void test_fixed_size_and_uniform_corner(void **state) {
  (void)state;
  enum { N = 8000, H = 32, W = 32, P = 17 };
  float *x = malloc(sizeof(float) * N * H * W);
  assert_non_null(x);
  md_fill_uniform(x, (size_t)N * H * W, 1.0f, 2.0f, 3);
  md_erasing_config cfg = zero_fill(1.0f);
  cfg.scale_lo = cfg.scale_hi = 0.25f;
  cfg.ratio_lo = cfg.ratio_hi = 1.0f;
  md_erasing e;
  assert_int_equal(md_erasing_init(&e, &cfg, 8, MD_STREAM_ERASING), MD_OK);
  assert_int_equal(md_erasing_forward(&e, md_shape4(N, 1, H, W), x, x, 1), MD_OK);
  long rows[P] = {0}, cols[P] = {0};
  for (int n = 0; n < N; ++n) {
    int t, l, h, w;
    assert_true(find_rect(&e, n, &t, &l, &h, &w));
    assert_int_equal(h, 16);
    assert_int_equal(w, 16);
    rows[t]++;
    cols[l]++;
  }
  double c2r = 0, c2c = 0;
  const double ex = (double)N / P;
  for (int i = 0; i < P; ++i) {
    c2r += (rows[i] - ex) * (rows[i] - ex) / ex;
    c2c += (cols[i] - ex) * (cols[i] - ex) / ex;
  }
  print_message("corner chi2: rows %.1f, columns %.1f (df 16)\n", c2r, c2c);
  assert_true(c2r < 50.0); /* df 16: mean 16, sd 5.7 */
  assert_true(c2c < 50.0);
  md_erasing_free(&e);
  free(x);
}

/* Attempts are bounded: a rectangle that can never fit leaves the image
 * alone; with a fit probability q per attempt, k attempts erase a fraction
 * 1 - (1 - q)^k of the images. */
static void test_attempts(void **state) {
  (void)state;
  enum { N = 4000, H = 10, W = 10 };
  float *x = malloc(sizeof(float) * N * H * W), *y = malloc(sizeof(float) * N * H * W);
  assert_non_null(x);
  assert_non_null(y);
  md_fill_uniform(x, (size_t)N * H * W, 1.0f, 2.0f, 4);
  /* the whole image (h = H is not < H): never fits */
  md_erasing_config cfg = zero_fill(1.0f);
  cfg.scale_lo = cfg.scale_hi = 1.0f;
  cfg.ratio_lo = cfg.ratio_hi = 1.0f;
  md_erasing e;
  assert_int_equal(md_erasing_init(&e, &cfg, 1, MD_STREAM_ERASING), MD_OK);
  assert_int_equal(md_erasing_forward(&e, md_shape4(N, 1, H, W), x, y, 1), MD_OK);
  md_assert_floats_identical(y, x, (size_t)N * H * W);
  for (int i = 0; i < N * H * W; ++i) assert_int_equal(e.keep[i], 1);
  md_erasing_free(&e);

  /* fraction 0.5 of 100 pixels, ratio r in [0.3, 1/0.3]: h = round(sqrt(50 r))
   * < 10 needs r < 9.5^2 / 50, w = round(sqrt(50 / r)) < 10 needs
   * r > 50 / 9.5^2 */
  cfg.scale_lo = cfg.scale_hi = 0.5f;
  cfg.ratio_lo = 0.3f;
  cfg.ratio_hi = 1.0f / 0.3f;
  const double q = (9.5 * 9.5 / 50 - 50 / (9.5 * 9.5)) / ((double)cfg.ratio_hi - cfg.ratio_lo);
  const int ks[3] = {1, 3, 100};
  for (int i = 0; i < 3; ++i) {
    cfg.max_attempts = ks[i];
    assert_int_equal(md_erasing_init(&e, &cfg, 2, MD_STREAM_ERASING), MD_OK);
    assert_int_equal(md_erasing_forward(&e, md_shape4(N, 1, H, W), x, y, 1), MD_OK);
    int erased = 0, t, l, h, w;
    for (int n = 0; n < N; ++n) erased += find_rect(&e, n, &t, &l, &h, &w);
    const double pe = 1.0 - pow(1.0 - q, ks[i]), sd = sqrt(N * pe * (1 - pe));
    print_message("%d attempts: %d of %d erased, expected %.1f\n", ks[i], erased, N, N * pe);
    if (fabs(erased - N * pe) > 5 * sd + 0.5)
      fail_msg("%d attempts: %d erased, expected %.1f", ks[i], erased, N * pe);
    md_erasing_free(&e);
  }
  free(x);
  free(y);
}

static void check_fill(md_erasing_fill fill) {
  enum { N = 200, C = 3, H = 16, W = 16, NUM = N * C * H * W };
  float *x = malloc(sizeof(float) * NUM), *y = malloc(sizeof(float) * NUM);
  assert_non_null(x);
  assert_non_null(y);
  md_fill_uniform(x, NUM, 10.0f, 11.0f, 5); /* far from any fill value */
  md_erasing_config cfg = md_erasing_default_config();
  cfg.p = 1.0f;
  cfg.fill = fill;
  cfg.value[0] = 0.25f;
  cfg.value[1] = -1.5f;
  cfg.value[2] = 3.0f;
  md_erasing e;
  assert_int_equal(md_erasing_init(&e, &cfg, 9, MD_STREAM_ERASING), MD_OK);
  assert_int_equal(md_erasing_forward(&e, md_shape4(N, C, H, W), x, y, 1), MD_OK);
  double s = 0, s2 = 0;
  long cnt = 0, distinct_pairs = 0;
  for (int n = 0; n < N; ++n) {
    int t, l, h, w;
    assert_true(find_rect(&e, n, &t, &l, &h, &w));
    for (int c = 0; c < C; ++c)
      for (int r = 0; r < H; ++r)
        for (int q = 0; q < W; ++q) {
          const size_t i = (((size_t)n * C + c) * H + r) * W + q;
          const int in = r >= t && r < t + h && q >= l && q < l + w;
          if (!in) {
            assert_true(y[i] == x[i]);
            continue;
          }
          if (fill == MD_ERASING_FILL_ZERO) assert_true(y[i] == 0.0f);
          if (fill == MD_ERASING_FILL_VALUE) assert_true(y[i] == cfg.value[c]);
          if (fill == MD_ERASING_FILL_RANDOM) {
            assert_true(isfinite(y[i]) && fabsf(y[i]) < 8.0f);
            s += y[i];
            s2 += (double)y[i] * y[i];
            ++cnt;
            if (q > l) distinct_pairs += y[i] != y[i - 1];
          }
        }
  }
  if (fill == MD_ERASING_FILL_RANDOM) {
    const double mean = s / cnt, var = s2 / cnt - mean * mean;
    print_message("random fill: %ld values, mean %.4f, variance %.4f\n", cnt, mean, var);
    assert_true(cnt > 10000);
    assert_true(fabs(mean) < 5.0 / sqrt((double)cnt));
    assert_true(fabs(var - 1.0) < 0.05);
    assert_true(distinct_pairs > cnt / 2);
  }
  md_erasing_free(&e);
  free(x);
  free(y);
}

static void test_fill_zero(void **state) {
  (void)state;
  check_fill(MD_ERASING_FILL_ZERO);
}
static void test_fill_value(void **state) {
  (void)state;
  check_fill(MD_ERASING_FILL_VALUE);
}
static void test_fill_random(void **state) {
  (void)state;
  check_fill(MD_ERASING_FILL_RANDOM);
}

static void test_value_fill_too_many_channels(void **state) {
  (void)state;
  enum { C = MD_ERASING_MAX_CHANNELS + 1, NUM = C * 4 * 4 };
  float x[NUM];
  md_fill_uniform(x, NUM, 0.0f, 1.0f, 6);
  md_erasing_config cfg = md_erasing_default_config();
  cfg.fill = MD_ERASING_FILL_VALUE;
  md_erasing e;
  assert_int_equal(md_erasing_init(&e, &cfg, 1, MD_STREAM_ERASING), MD_OK);
  assert_int_equal(md_erasing_forward(&e, md_shape4(1, C, 4, 4), x, x, 1), MD_ERR_SHAPE);
  md_erasing_free(&e);
}

static void test_invalid_configs(void **state) {
  (void)state;
  md_erasing_config bad[14];
  for (int i = 0; i < 14; ++i) bad[i] = md_erasing_default_config();
  bad[0].p = -0.1f;
  bad[1].p = 1.1f;
  bad[2].p = NAN;
  bad[3].scale_lo = 0.0f;
  bad[4].scale_lo = 0.5f, bad[4].scale_hi = 0.4f;
  bad[5].scale_hi = 1.5f;
  bad[6].scale_lo = NAN;
  bad[7].ratio_lo = 0.0f;
  bad[8].ratio_lo = 2.0f, bad[8].ratio_hi = 1.0f;
  bad[9].ratio_hi = INFINITY;
  bad[10].max_attempts = 0;
  bad[11].max_attempts = -3;
  bad[12].fill = (md_erasing_fill)7;
  bad[13].ratio_lo = -1.0f;
  for (int i = 0; i < 14; ++i) {
    if (md_erasing_config_check(&bad[i]) != MD_ERR_INVALID_ARGUMENT)
      fail_msg("bad configuration %d accepted", i);
    md_erasing e;
    assert_int_equal(md_erasing_init(&e, &bad[i], 1, 4), MD_ERR_INVALID_ARGUMENT);
    md_erasing_free(&e); /* safe after a failed init */
  }
  assert_int_equal(md_erasing_config_check(NULL), MD_ERR_INVALID_ARGUMENT);
  /* edges that are valid */
  md_erasing_config ok = md_erasing_default_config();
  ok.p = 0.0f;
  ok.scale_lo = ok.scale_hi = 1.0f;
  ok.ratio_lo = ok.ratio_hi = 1.0f;
  ok.max_attempts = 1;
  assert_int_equal(md_erasing_config_check(&ok), MD_OK);
}

static void test_empty_and_eval(void **state) {
  (void)state;
  enum { NUM = 4 * 3 * 8 * 8 };
  float x[NUM], y[NUM], dy[NUM], dx[NUM];
  md_fill_uniform(x, NUM, -2.0f, 2.0f, 7);
  md_fill_uniform(dy, NUM, -1.0f, 1.0f, 8);
  md_erasing_config cfg = md_erasing_default_config();
  cfg.p = 1.0f;
  md_erasing e;
  assert_int_equal(md_erasing_init(&e, &cfg, 1, MD_STREAM_ERASING), MD_OK);
  assert_int_equal(md_erasing_backward(&e, dy, dx), MD_ERR_STATE);
  assert_int_equal(md_erasing_forward(&e, md_shape4(0, 3, 8, 8), x, y, 1), MD_ERR_EMPTY);
  assert_int_equal(md_erasing_forward(&e, md_shape4(4, 0, 8, 8), x, y, 1), MD_ERR_EMPTY);
  assert_int_equal(md_erasing_forward(&e, md_shape4(4, 3, 0, 8), x, y, 1), MD_ERR_EMPTY);
  assert_int_equal(md_erasing_forward(&e, md_shape4(4, 3, 8, 0), x, y, 0), MD_ERR_EMPTY);
  assert_int_equal(md_erasing_forward(&e, md_shape4(4, 3, -8, 8), x, y, 1), MD_ERR_SHAPE);
  assert_int_equal(md_erasing_forward(&e, md_shape4(4, 3, 8, 8), x, y, 0), MD_OK);
  md_assert_floats_identical(y, x, NUM);
  assert_int_equal(md_erasing_backward(&e, dy, dx), MD_OK);
  md_assert_floats_identical(dx, dy, NUM);
  md_erasing_free(&e);
}

static void test_backward_and_reproducible(void **state) {
  (void)state;
  enum { N = 12, C = 3, H = 12, W = 12, NUM = N * C * H * W };
  static float x[NUM], a[NUM], b[NUM], dy[NUM], dx[NUM];
  md_fill_uniform(x, NUM, 1.0f, 2.0f, 9);
  md_fill_uniform(dy, NUM, -1.0f, 1.0f, 10);
  md_erasing_config cfg = md_erasing_default_config(); /* random fill */
  cfg.p = 1.0f;
  md_erasing e1, e2, e3;
  assert_int_equal(md_erasing_init(&e1, &cfg, 77, MD_STREAM_ERASING), MD_OK);
  assert_int_equal(md_erasing_init(&e2, &cfg, 77, MD_STREAM_ERASING), MD_OK);
  assert_int_equal(md_erasing_init(&e3, &cfg, 78, MD_STREAM_ERASING), MD_OK);
  const md_shape s = md_shape4(N, C, H, W);
  assert_int_equal(md_erasing_forward(&e1, s, x, a, 1), MD_OK);
  memcpy(b, x, sizeof b);
  assert_int_equal(md_erasing_forward(&e2, s, b, b, 1), MD_OK); /* in place */
  md_assert_floats_identical(b, a, NUM);
  assert_int_equal(md_erasing_forward(&e3, s, x, b, 1), MD_OK);
  assert_true(memcmp(a, b, sizeof a) != 0);

  assert_int_equal(md_erasing_backward(&e1, dy, dx), MD_OK);
  long zeros = 0;
  for (int i = 0; i < NUM; ++i) {
    const int erased = !e1.keep[(i / (C * H * W)) * H * W + i % (H * W)];
    assert_int_equal(erased, a[i] != x[i]); /* x in [1, 2): a random fill never equals */
    const float want = erased ? 0.0f : dy[i];
    if (dx[i] != want) fail_msg("element %d: dx %g, want %g", i, (double)dx[i], (double)want);
    zeros += erased;
  }
  assert_true(zeros > 0);
  md_erasing_free(&e1);
  md_erasing_free(&e2);
  md_erasing_free(&e3);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_probability),
      cmocka_unit_test(test_area_and_ratio_in_range),
      cmocka_unit_test(test_fixed_size_and_uniform_corner),
      cmocka_unit_test(test_attempts),
      cmocka_unit_test(test_fill_zero),
      cmocka_unit_test(test_fill_value),
      cmocka_unit_test(test_fill_random),
      cmocka_unit_test(test_value_fill_too_many_channels),
      cmocka_unit_test(test_invalid_configs),
      cmocka_unit_test(test_empty_and_eval),
      cmocka_unit_test(test_backward_and_reproducible),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
