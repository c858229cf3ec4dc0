/* Cutout: hole geometry and its distribution against the exact expectation,
 * all channels, evaluation, degenerate configurations, errors, backward and
 * reproducibility. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "md_test_util.h"
#include "maxdrop/cutout.h"

/* Rows (or columns) covered by a hole of side L centred at c in [0, size):
 * c - L/2 .. c + L/2 - 1, clipped, counted directly. */
static int covered(int c, int L, int size) {
  int n = 0;
  for (int r = c - L / 2; r <= c + L / 2 - 1; ++r) n += r >= 0 && r < size;
  return n;
}

static int in_hole(int r, int c, int L) { return r >= c - L / 2 && r <= c + L / 2 - 1; }

/* Fills x with values that are never 0 (so a 0 can only come from a hole). */
static void fill_nonzero(float *x, size_t n, uint64_t stream) {
  md_fill_uniform(x, n, 1.0f, 2.0f, stream);
}

/* One hole per image on many images: every hole is one of the rectangles a
 * centre in the grid gives, the same in every channel, the rest untouched, and
 * the histogram of hole areas matches the exact distribution obtained by
 * enumerating all H x W centres (chi-square). */
static void check_area_distribution(int H, int W, int L) {
  enum { N = 6000, C = 3 };
  const size_t numel = (size_t)N * C * H * W;
  float *x = malloc(numel * sizeof *x), *y = malloc(numel * sizeof *y);
  assert_non_null(x);
  assert_non_null(y);
  fill_nonzero(x, numel, 1);
  md_cutout c;
  assert_int_equal(md_cutout_init(&c, 1, L, 2024, MD_STREAM_CUTOUT), MD_OK);
  assert_int_equal(md_cutout_forward(&c, md_shape4(N, C, H, W), x, y, 1), MD_OK);

  /* exact: P(area = a) = #{centres with rows * cols = a} / (H W) */
  const int amax = H * W;
  double *expect = calloc((size_t)amax + 1, sizeof *expect);
  long *seen = calloc((size_t)amax + 1, sizeof *seen);
  assert_non_null(expect);
  assert_non_null(seen);
  for (int cy = 0; cy < H; ++cy)
    for (int cx = 0; cx < W; ++cx) expect[covered(cy, L, H) * covered(cx, L, W)] += 1.0;
  for (int a = 0; a <= amax; ++a) expect[a] *= (double)N / (H * W);

  for (int n = 0; n < N; ++n) {
    const float *img = y + (size_t)n * C * H * W;
    const float *src = x + (size_t)n * C * H * W;
    /* which centre gives exactly this zero pattern? */
    int match = 0;
    for (int cy = 0; cy < H && !match; ++cy)
      for (int cx = 0; cx < W && !match; ++cx) {
        int ok = 1;
        for (int r = 0; r < H && ok; ++r)
          for (int q = 0; q < W && ok; ++q)
            ok = (img[r * W + q] == 0.0f) == (in_hole(r, cy, L) && in_hole(q, cx, L));
        match = ok;
      }
    if (!match) fail_msg("image %d: the zeroed pixels are not the hole of any centre", n);
    int area = 0;
    for (int i = 0; i < H * W; ++i) {
      const int hole = img[i] == 0.0f;
      area += hole;
      for (int ch = 0; ch < C; ++ch) {
        const float v = img[ch * H * W + i];
        if (hole) assert_true(v == 0.0f);
        else assert_true(v == src[ch * H * W + i]);
        assert_int_equal(c.keep[(size_t)n * H * W + i], !hole);
      }
    }
    seen[area]++;
  }
  double chi2 = 0;
  int bins = 0;
  for (int a = 0; a <= amax; ++a) {
    if (expect[a] == 0.0) {
      if (seen[a]) fail_msg("L=%d on %dx%d: area %d seen %ld times, impossible", L, H, W, a,
                            seen[a]);
      continue;
    }
    chi2 += (seen[a] - expect[a]) * (seen[a] - expect[a]) / expect[a];
    ++bins;
  }
  /* df = bins - 1; the bound is about 6 standard deviations above the mean */
  const double df = bins - 1, bound = df + 6.0 * sqrt(2.0 * df) + 6.0;
  print_message("L=%d on %dx%d: %d area values, chi2 %.2f (bound %.2f)\n", L, H, W, bins,
                chi2, bound);
  assert_true(bins >= 3);
  assert_true(chi2 < bound);
  free(expect);
  free(seen);
  md_cutout_free(&c);
  free(x);
  free(y);
}

static void test_area_distribution_even_length(void **state) {
  (void)state;
  check_area_distribution(9, 7, 6);
}

static void test_area_distribution_odd_length(void **state) {
  (void)state;
  check_area_distribution(8, 11, 5); /* L = 5: rows y-2 .. y+1, four rows */
}

/* With several holes each pixel survives with probability (1 - p)^k where p
 * is the fraction of centres whose hole covers it: checked pixel by pixel. */
static void test_pixel_coverage_several_holes(void **state) {
  (void)state;
  enum { N = 8000, H = 6, W = 5, L = 4, K = 2 };
  float *x = malloc(sizeof(float) * N * H * W);
  assert_non_null(x);
  fill_nonzero(x, (size_t)N * H * W, 3);
  md_cutout c;
  assert_int_equal(md_cutout_init(&c, K, L, 7, MD_STREAM_CUTOUT), MD_OK);
  assert_int_equal(md_cutout_forward(&c, md_shape4(N, 1, H, W), x, x, 1), MD_OK);
  for (int r = 0; r < H; ++r)
    for (int q = 0; q < W; ++q) {
      int cov = 0;
      for (int cy = 0; cy < H; ++cy)
        for (int cx = 0; cx < W; ++cx) cov += in_hole(r, cy, L) && in_hole(q, cx, L);
      const double pkeep = pow(1.0 - (double)cov / (H * W), K);
      long kept = 0;
      for (int n = 0; n < N; ++n) kept += x[(size_t)n * H * W + r * W + q] != 0.0f;
      const double sd = sqrt(N * pkeep * (1 - pkeep));
      if (fabs(kept - N * pkeep) > 5 * sd + 1)
        fail_msg("pixel (%d,%d): kept %ld of %d, expected %.1f", r, q, kept, N, N * pkeep);
    }
  md_cutout_free(&c);
  free(x);
}

/* A hole at least twice the image covers it whatever the centre. */
static void test_large_hole_covers_image(void **state) {
  (void)state;
  float x[2 * 3 * 4 * 5];
  fill_nonzero(x, 120, 4);
  md_cutout c;
  assert_int_equal(md_cutout_init(&c, 1, 10, 1, MD_STREAM_CUTOUT), MD_OK);
  assert_int_equal(md_cutout_forward(&c, md_shape4(2, 3, 4, 5), x, x, 1), MD_OK);
  for (int i = 0; i < 120; ++i) assert_true(x[i] == 0.0f);
  md_cutout_free(&c);
}

static void test_no_holes_or_zero_length_is_identity(void **state) {
  (void)state;
  enum { NUM = 2 * 3 * 8 * 8 };
  float x[NUM], y[NUM];
  fill_nonzero(x, NUM, 5);
  const int cfgs[2][2] = {{0, 16}, {3, 0}};
  for (int k = 0; k < 2; ++k) {
    md_cutout c;
    assert_int_equal(md_cutout_init(&c, cfgs[k][0], cfgs[k][1], 1, MD_STREAM_CUTOUT), MD_OK);
    assert_int_equal(md_cutout_forward(&c, md_shape4(2, 3, 8, 8), x, y, 1), MD_OK);
    md_assert_floats_identical(y, x, NUM);
    for (int i = 0; i < 2 * 8 * 8; ++i) assert_int_equal(c.keep[i], 1);
    md_cutout_free(&c);
  }
}

static void test_eval_is_identity(void **state) {
  (void)state;
  enum { NUM = 4 * 3 * 8 * 8 };
  float x[NUM], y[NUM], dy[NUM], dx[NUM];
  md_fill_uniform(x, NUM, -3.0f, 3.0f, 6);
  md_fill_uniform(dy, NUM, -1.0f, 1.0f, 7);
  md_cutout c;
  assert_int_equal(md_cutout_init(&c, 2, 4, 1, MD_STREAM_CUTOUT), MD_OK);
  assert_int_equal(md_cutout_forward(&c, md_shape4(4, 3, 8, 8), x, y, 0), MD_OK);
  md_assert_floats_identical(y, x, NUM);
  assert_int_equal(md_cutout_backward(&c, dy, dx), MD_OK);
  md_assert_floats_identical(dx, dy, NUM);
  md_cutout_free(&c);
}

static void test_invalid_config_rejected(void **state) {
  (void)state;
  md_cutout c;
  assert_int_equal(md_cutout_init(&c, -1, 8, 1, 3), MD_ERR_INVALID_ARGUMENT);
  md_cutout_free(&c); /* safe after a failed init */
  assert_int_equal(md_cutout_init(&c, 1, -8, 1, 3), MD_ERR_INVALID_ARGUMENT);
  md_cutout_free(&c);
}

static void test_empty_and_bad_shapes(void **state) {
  (void)state;
  float x[4] = {1, 2, 3, 4}, y[4];
  md_cutout c;
  assert_int_equal(md_cutout_init(&c, 1, 2, 1, MD_STREAM_CUTOUT), MD_OK);
  assert_int_equal(md_cutout_forward(&c, md_shape4(0, 1, 2, 2), x, y, 1), MD_ERR_EMPTY);
  assert_int_equal(md_cutout_forward(&c, md_shape4(1, 0, 2, 2), x, y, 1), MD_ERR_EMPTY);
  assert_int_equal(md_cutout_forward(&c, md_shape4(1, 1, 0, 2), x, y, 1), MD_ERR_EMPTY);
  assert_int_equal(md_cutout_forward(&c, md_shape4(1, 1, 2, 0), x, y, 0), MD_ERR_EMPTY);
  assert_int_equal(md_cutout_forward(&c, md_shape4(1, -1, 2, 2), x, y, 1), MD_ERR_SHAPE);
  assert_int_equal(md_cutout_forward(&c, md_shape4(INT64_MAX, 2, 2, 2), x, y, 1),
                   MD_ERR_SHAPE);
  /* nothing was recorded: backward still has no forward to follow */
  assert_int_equal(md_cutout_backward(&c, x, y), MD_ERR_STATE);
  md_cutout_free(&c);
}

static void test_backward_uses_mask(void **state) {
  (void)state;
  enum { N = 8, C = 3, H = 6, W = 6, NUM = N * C * H * W };
  float x[NUM], y[NUM], dy[NUM], dx[NUM];
  fill_nonzero(x, NUM, 8);
  md_fill_uniform(dy, NUM, -1.0f, 1.0f, 9);
  md_cutout c;
  assert_int_equal(md_cutout_init(&c, 1, 4, 3, MD_STREAM_CUTOUT), MD_OK);
  assert_int_equal(md_cutout_backward(&c, dy, dx), MD_ERR_STATE);
  assert_int_equal(md_cutout_forward(&c, md_shape4(N, C, H, W), x, y, 1), MD_OK);
  assert_int_equal(md_cutout_backward(&c, dy, dx), MD_OK);
  int zeros = 0;
  for (int i = 0; i < NUM; ++i) {
    const float want = y[i] == 0.0f ? 0.0f : dy[i];
    if (dx[i] != want) fail_msg("element %d: dx %g, want %g", i, (double)dx[i], (double)want);
    zeros += y[i] == 0.0f;
  }
  assert_true(zeros > 0);
  /* in place */
  float g[NUM];
  memcpy(g, dy, sizeof g);
  assert_int_equal(md_cutout_backward(&c, g, g), MD_OK);
  md_assert_floats_identical(g, dx, NUM);
  md_cutout_free(&c);
}

static void test_reproducible_and_in_place(void **state) {
  (void)state;
  enum { NUM = 16 * 3 * 10 * 10 };
  static float x[NUM], a[NUM], b[NUM], d[NUM];
  fill_nonzero(x, NUM, 10);
  md_cutout c1, c2, c3;
  assert_int_equal(md_cutout_init(&c1, 2, 5, 99, MD_STREAM_CUTOUT), MD_OK);
  assert_int_equal(md_cutout_init(&c2, 2, 5, 99, MD_STREAM_CUTOUT), MD_OK);
  assert_int_equal(md_cutout_init(&c3, 2, 5, 100, MD_STREAM_CUTOUT), MD_OK);
  const md_shape s = md_shape4(16, 3, 10, 10);
  assert_int_equal(md_cutout_forward(&c1, s, x, a, 1), MD_OK);
  memcpy(b, x, sizeof b);
  assert_int_equal(md_cutout_forward(&c2, s, b, b, 1), MD_OK); /* in place */
  md_assert_floats_identical(b, a, NUM);
  assert_int_equal(md_cutout_forward(&c3, s, x, d, 1), MD_OK);
  assert_true(memcmp(a, d, sizeof a) != 0); /* another seed, other holes */
  /* the stream moves on: a second call gives other holes */
  assert_int_equal(md_cutout_forward(&c1, s, x, d, 1), MD_OK);
  assert_true(memcmp(a, d, sizeof a) != 0);
  md_cutout_free(&c1);
  md_cutout_free(&c2);
  md_cutout_free(&c3);
}

/* reserve sizes the mask once; later smaller batches keep the same buffer */
static void test_reserve(void **state) {
  (void)state;
  float x[2 * 1 * 4 * 4];
  fill_nonzero(x, 32, 11);
  md_cutout c;
  assert_int_equal(md_cutout_init(&c, 1, 2, 1, MD_STREAM_CUTOUT), MD_OK);
  assert_int_equal(md_cutout_reserve(&c, md_shape4(4, 3, 4, 4)), MD_OK);
  assert_int_equal(c.keep_cap, 4 * 4 * 4);
  const uint8_t *buf = c.keep;
  assert_int_equal(md_cutout_forward(&c, md_shape4(2, 1, 4, 4), x, x, 1), MD_OK);
  assert_ptr_equal(c.keep, buf);
  assert_int_equal(md_cutout_reserve(&c, md_shape4(-1, 3, 4, 4)), MD_ERR_SHAPE);
  md_cutout_free(&c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_area_distribution_even_length),
      cmocka_unit_test(test_area_distribution_odd_length),
      cmocka_unit_test(test_pixel_coverage_several_holes),
      cmocka_unit_test(test_large_hole_covers_image),
      cmocka_unit_test(test_no_holes_or_zero_length_is_identity),
      cmocka_unit_test(test_eval_is_identity),
      cmocka_unit_test(test_invalid_config_rejected),
      cmocka_unit_test(test_empty_and_bad_shapes),
      cmocka_unit_test(test_backward_uses_mask),
      cmocka_unit_test(test_reproducible_and_in_place),
      cmocka_unit_test(test_reserve),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
