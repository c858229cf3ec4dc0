/* Inverted Dropout: keep decisions from the documented counter-based stream
 * layout, keep-rate statistics, 1 / (1 - p) scaling, p = 0 and p = 1, eval,
 * backward, in place, errors and thread-count independence. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "md_test_util.h"
#include "maxdrop/dropout.h"

/* Element i of a call whose reserved blocks start at `first` is kept when
 * word i % 4 of philox({first + i / 4, 0, 0, 0}, {seed, stream}), read as
 * (word >> 40) * 2^-24, is >= p. Recomputed here from the bijection. */
static int model_keep(uint64_t seed, uint64_t stream, uint64_t first, int64_t i, double p) {
  const uint64_t ctr[4] = {first + (uint64_t)i / 4, 0, 0, 0};
  const uint64_t key[2] = {seed, stream};
  uint64_t out[4];
  md_philox4x64(ctr, key, out);
  const float u = (float)(out[i % 4] >> 40) / 16777216.0f;
  return (double)u >= p;
}

static float *alloc_uniform(int64_t n, float lo, float hi, uint64_t stream) {
  float *x = malloc((size_t)n * sizeof *x);
  assert_non_null(x);
  md_fill_uniform(x, (size_t)n, lo, hi, stream);
  return x;
}

static void test_init_validates_p(void **state) {
  (void)state;
  md_dropout d;
  const float bad[] = {-0.01f, 1.01f, NAN, INFINITY, -INFINITY};
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; ++k)
    assert_int_equal(md_dropout_init(&d, bad[k], 1, 256), MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_dropout_init(NULL, 0.5f, 1, 256), MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_dropout_init(&d, 0.0f, 1, 256), MD_OK);
  assert_int_equal(d.numel, -1);
  md_dropout_free(&d);
  assert_int_equal(md_dropout_init(&d, 1.0f, 1, 256), MD_OK);
  md_dropout_free(&d);
}

/* Two consecutive calls follow the stream layout exactly: the second call
 * starts at block ceil(n1 / 4). */
static void test_decisions_follow_stream_layout(void **state) {
  (void)state;
  const uint64_t seed = 31, stream = 258;
  const float p = 0.4f;
  const float scale = (float)(1.0 / (1.0 - (double)p));
  md_dropout d;
  assert_int_equal(md_dropout_init(&d, p, seed, stream), MD_OK);
  const int64_t n1 = 1001, n2 = 515;
  float *x = alloc_uniform(n1, -2.0f, 2.0f, 40);
  float *y = malloc((size_t)n1 * sizeof *y);
  assert_non_null(y);
  assert_int_equal(md_dropout_forward(&d, n1, x, y, 1), MD_OK);
  assert_int_equal(d.numel, n1);
  assert_float_equal(d.scale, scale, 0.0f);
  for (int64_t i = 0; i < n1; ++i) {
    const int keep = model_keep(seed, stream, 0, i, p);
    assert_int_equal(md_dropout_kept(&d, i), keep);
    const float want = keep ? x[i] * scale : 0.0f;
    md_assert_floats_identical(&y[i], &want, 1);
  }
  assert_int_equal(md_dropout_forward(&d, n2, x, y, 1), MD_OK);
  const uint64_t first2 = (uint64_t)(n1 + 3) / 4;
  for (int64_t i = 0; i < n2; ++i) {
    const int keep = model_keep(seed, stream, first2, i, p);
    assert_int_equal(md_dropout_kept(&d, i), keep);
    const float want = keep ? x[i] * scale : 0.0f;
    md_assert_floats_identical(&y[i], &want, 1);
  }
  md_dropout_free(&d);
  free(x);
  free(y);
}

/* The kept fraction is 1 - p within 5 standard errors; kept values are
 * x / (1 - p) rounded once: x * (float)(1 / (1 - p)). */
static void test_keep_rate_and_scaling(void **state) {
  (void)state;
  const int64_t n = 200000;
  float *x = alloc_uniform(n, 0.5f, 1.5f, 41);
  float *y = malloc((size_t)n * sizeof *y);
  assert_non_null(y);
  const float ps[] = {0.1f, 0.3f, 0.5f, 0.9f, 0.999f};
  for (size_t k = 0; k < sizeof ps / sizeof ps[0]; ++k) {
    md_dropout d;
    assert_int_equal(md_dropout_init(&d, ps[k], 3, 259 + k), MD_OK);
    assert_int_equal(md_dropout_forward(&d, n, x, y, 1), MD_OK);
    const float scale = (float)(1.0 / (1.0 - (double)ps[k]));
    int64_t kept = 0;
    for (int64_t i = 0; i < n; ++i) {
      if (md_dropout_kept(&d, i)) {
        kept++;
        const float want = x[i] * scale;
        md_assert_floats_identical(&y[i], &want, 1);
      } else {
        assert_float_equal(y[i], 0.0f, 0.0f);
      }
    }
    const double q = 1.0 - (double)ps[k];
    const double se = sqrt(q * (1.0 - q) / (double)n);
    const double frac = (double)kept / (double)n;
    if (fabs(frac - q) > 5.0 * se + 1e-6)
      fail_msg("p = %g: kept fraction %.5f, want %.5f +- %.5f", (double)ps[k], frac, q, 5 * se);
    /* the expected value of y is x: mean(y) / mean(x) close to 1 */
    double sy = 0.0, sx = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      sy += y[i];
      sx += x[i];
    }
    if (ps[k] <= 0.5f) assert_float_equal(sy / sx, 1.0, 0.02);
    md_dropout_free(&d);
  }
  free(x);
  free(y);
}

static void test_p_zero_is_identity(void **state) {
  (void)state;
  md_dropout d;
  assert_int_equal(md_dropout_init(&d, 0.0f, 1, 256), MD_OK);
  const int64_t n = 777;
  float *x = alloc_uniform(n, -5.0f, 5.0f, 42);
  x[3] = INFINITY;
  x[4] = -0.0f;
  float *y = malloc((size_t)n * sizeof *y);
  float *dx = malloc((size_t)n * sizeof *dx);
  assert_non_null(y);
  assert_non_null(dx);
  assert_int_equal(md_dropout_forward(&d, n, x, y, 1), MD_OK);
  md_assert_floats_identical(y, x, (size_t)n);
  assert_float_equal(d.scale, 1.0f, 0.0f);
  for (int64_t i = 0; i < n; ++i) assert_int_equal(md_dropout_kept(&d, i), 1);
  assert_int_equal(md_dropout_backward(&d, x, dx), MD_OK);
  md_assert_floats_identical(dx, x, (size_t)n);
  md_dropout_free(&d);
  free(x);
  free(y);
  free(dx);
}

static void test_p_one_gives_zeros_without_nan(void **state) {
  (void)state;
  md_dropout d;
  assert_int_equal(md_dropout_init(&d, 1.0f, 1, 256), MD_OK);
  const int64_t n = 300;
  float *x = alloc_uniform(n, -5.0f, 5.0f, 43);
  x[0] = INFINITY;
  x[1] = -INFINITY;
  x[2] = 3e38f;
  float *y = malloc((size_t)n * sizeof *y);
  float *dy = alloc_uniform(n, -5.0f, 5.0f, 44);
  float *dx = malloc((size_t)n * sizeof *dx);
  assert_non_null(y);
  assert_non_null(dx);
  dy[5] = INFINITY;
  assert_int_equal(md_dropout_forward(&d, n, x, y, 1), MD_OK);
  assert_float_equal(d.scale, 0.0f, 0.0f);
  for (int64_t i = 0; i < n; ++i) {
    assert_int_equal(md_dropout_kept(&d, i), 0);
    assert_true(y[i] == 0.0f && !signbit(y[i]));
  }
  assert_int_equal(md_dropout_backward(&d, dy, dx), MD_OK);
  for (int64_t i = 0; i < n; ++i) assert_true(dx[i] == 0.0f);
  md_dropout_free(&d);
  free(x);
  free(y);
  free(dy);
  free(dx);
}

static void test_eval_is_identity(void **state) {
  (void)state;
  md_dropout d;
  assert_int_equal(md_dropout_init(&d, 0.7f, 1, 256), MD_OK);
  const int64_t n = 129;
  float *x = alloc_uniform(n, -1.0f, 1.0f, 45);
  x[7] = NAN;
  float *y = malloc((size_t)n * sizeof *y);
  float *dx = malloc((size_t)n * sizeof *dx);
  assert_non_null(y);
  assert_non_null(dx);
  const md_rng before = d.rng;
  assert_int_equal(md_dropout_forward(&d, n, x, y, 0), MD_OK);
  md_assert_floats_identical(y, x, (size_t)n);
  assert_int_equal(memcmp(&before, &d.rng, sizeof before), 0); /* nothing drawn */
  for (int64_t i = 0; i < n; ++i) assert_int_equal(md_dropout_kept(&d, i), 1);
  assert_int_equal(md_dropout_backward(&d, x, dx), MD_OK);
  md_assert_floats_identical(dx, x, (size_t)n);
  memcpy(y, x, (size_t)n * sizeof *y);
  assert_int_equal(md_dropout_forward(&d, n, y, y, 0), MD_OK);
  md_assert_floats_identical(y, x, (size_t)n);
  md_dropout_free(&d);
  free(x);
  free(y);
  free(dx);
}

static void test_backward_and_in_place(void **state) {
  (void)state;
  const float p = 0.25f;
  const float scale = (float)(1.0 / (1.0 - (double)p));
  md_dropout a, b;
  assert_int_equal(md_dropout_init(&a, p, 9, 260), MD_OK);
  assert_int_equal(md_dropout_init(&b, p, 9, 260), MD_OK);
  const int64_t n = 5000;
  float *x = alloc_uniform(n, -1.0f, 1.0f, 46);
  float *y = malloc((size_t)n * sizeof *y);
  float *yi = malloc((size_t)n * sizeof *yi);
  float *dy = alloc_uniform(n, -1.0f, 1.0f, 47);
  float *dx = malloc((size_t)n * sizeof *dx);
  float *want = malloc((size_t)n * sizeof *want);
  assert_non_null(y);
  assert_non_null(yi);
  assert_non_null(dx);
  assert_non_null(want);
  assert_int_equal(md_dropout_forward(&a, n, x, y, 1), MD_OK);
  memcpy(yi, x, (size_t)n * sizeof *yi);
  assert_int_equal(md_dropout_forward(&b, n, yi, yi, 1), MD_OK);
  md_assert_floats_identical(yi, y, (size_t)n);
  for (int64_t i = 0; i < n; ++i)
    want[i] = model_keep(9, 260, 0, i, p) ? dy[i] * scale : 0.0f;
  assert_int_equal(md_dropout_backward(&a, dy, dx), MD_OK);
  md_assert_floats_identical(dx, want, (size_t)n);
  memcpy(dx, dy, (size_t)n * sizeof *dx);
  assert_int_equal(md_dropout_backward(&b, dx, dx), MD_OK);
  md_assert_floats_identical(dx, want, (size_t)n);
  md_dropout_free(&a);
  md_dropout_free(&b);
  free(x);
  free(y);
  free(yi);
  free(dy);
  free(dx);
  free(want);
}

static void test_errors(void **state) {
  (void)state;
  md_dropout d;
  assert_int_equal(md_dropout_init(&d, 0.5f, 1, 256), MD_OK);
  float x[8] = {1, 2, 3, 4, 5, 6, 7, 8}, y[8];
  assert_int_equal(md_dropout_backward(&d, x, y), MD_ERR_STATE);
  assert_int_equal(md_dropout_forward(&d, 0, x, y, 1), MD_ERR_EMPTY);
  assert_int_equal(md_dropout_forward(&d, 0, NULL, NULL, 0), MD_ERR_EMPTY);
  assert_int_equal(md_dropout_forward(&d, -3, x, y, 1), MD_ERR_SHAPE);
  assert_int_equal(md_dropout_forward(NULL, 8, x, y, 1), MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_dropout_forward(&d, 8, NULL, y, 1), MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_dropout_forward(&d, 8, x, NULL, 1), MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(d.numel, -1);
  d.p = 2.0f; /* made invalid after init */
  assert_int_equal(md_dropout_forward(&d, 8, x, y, 1), MD_ERR_INVALID_ARGUMENT);
  d.p = NAN;
  assert_int_equal(md_dropout_forward(&d, 8, x, y, 1), MD_ERR_INVALID_ARGUMENT);
  d.p = 0.5f;
  assert_int_equal(md_dropout_forward(&d, 8, x, y, 1), MD_OK);
  assert_int_equal(md_dropout_backward(NULL, x, y), MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_dropout_backward(&d, NULL, y), MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_dropout_backward(&d, x, NULL), MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_dropout_reserve(NULL, 4), MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_dropout_reserve(&d, -4), MD_ERR_INVALID_ARGUMENT);
  md_dropout_free(&d);
  md_dropout_free(&d);
  md_dropout_free(NULL);
  assert_int_equal(md_dropout_backward(&d, x, y), MD_ERR_STATE);
}

/* After reserving, smaller calls neither reallocate nor touch elements past
 * their own count (exact-size buffers for AddressSanitizer). */
static void test_fewer_elements_than_reserved(void **state) {
  (void)state;
  md_dropout d;
  assert_int_equal(md_dropout_init(&d, 0.5f, 1, 256), MD_OK);
  assert_int_equal(md_dropout_reserve(&d, 4096), MD_OK);
  const uint64_t *mask = d.mask;
  float *big = alloc_uniform(4096, 0.0f, 1.0f, 48);
  float *bigy = malloc(4096 * sizeof *bigy);
  assert_non_null(bigy);
  assert_int_equal(md_dropout_forward(&d, 4096, big, bigy, 1), MD_OK);
  const int64_t n = 13;
  float *x = alloc_uniform(n, 0.0f, 1.0f, 49);
  float *y = malloc((size_t)n * sizeof *y);
  float *dx = malloc((size_t)n * sizeof *dx);
  assert_non_null(y);
  assert_non_null(dx);
  assert_int_equal(md_dropout_forward(&d, n, x, y, 1), MD_OK);
  assert_ptr_equal(d.mask, mask);
  assert_int_equal(d.numel, n);
  for (int64_t i = 0; i < n; ++i)
    assert_int_equal(md_dropout_kept(&d, i), model_keep(1, 256, 1024, i, 0.5f));
  assert_int_equal(md_dropout_backward(&d, x, dx), MD_OK);
  for (int64_t i = 0; i < n; ++i)
    assert_float_equal(dx[i], md_dropout_kept(&d, i) ? x[i] * 2.0f : 0.0f, 0.0f);
  md_dropout_free(&d);
  free(big);
  free(bigy);
  free(x);
  free(y);
  free(dx);
}

static void test_thread_count_independent(void **state) {
  (void)state;
  const int64_t n = 300007;
  float *x = alloc_uniform(n, -1.0f, 1.0f, 50);
  float *y1 = malloc((size_t)n * sizeof *y1);
  float *y2 = malloc((size_t)n * sizeof *y2);
  assert_non_null(y1);
  assert_non_null(y2);
  const int saved = omp_get_max_threads();
  md_dropout a, b;
  assert_int_equal(md_dropout_init(&a, 0.3f, 11, 261), MD_OK);
  assert_int_equal(md_dropout_init(&b, 0.3f, 11, 261), MD_OK);
  for (int call = 0; call < 3; ++call) {
    omp_set_num_threads(1);
    assert_int_equal(md_dropout_forward(&a, n - call, x, y1, 1), MD_OK);
    omp_set_num_threads(2);
    assert_int_equal(md_dropout_forward(&b, n - call, x, y2, 1), MD_OK);
    md_assert_floats_identical(y2, y1, (size_t)(n - call));
    assert_int_equal(memcmp(a.mask, b.mask, (size_t)((n - call + 63) / 64) * 8), 0);
    omp_set_num_threads(1);
    assert_int_equal(md_dropout_backward(&a, x, y1), MD_OK);
    omp_set_num_threads(2);
    assert_int_equal(md_dropout_backward(&b, x, y2), MD_OK);
    md_assert_floats_identical(y2, y1, (size_t)(n - call));
  }
  omp_set_num_threads(saved);
  md_dropout_free(&a);
  md_dropout_free(&b);
  free(x);
  free(y1);
  free(y2);
}

/* A 16 MiB, 64-byte aligned gradient takes the streaming-store path. */
static void test_large_aligned_backward(void **state) {
  (void)state;
  const int64_t n = (4 << 20) + 33;
  const size_t bytes = ((size_t)n * sizeof(float) + 63) & ~(size_t)63;
  float *x = aligned_alloc(64, bytes), *y = aligned_alloc(64, bytes);
  float *dx = aligned_alloc(64, bytes);
  assert_non_null(x);
  assert_non_null(y);
  assert_non_null(dx);
  md_fill_uniform(x, (size_t)n, -1.0f, 1.0f, 52);
  md_dropout d;
  assert_int_equal(md_dropout_init(&d, 0.5f, 4, 262), MD_OK);
  assert_int_equal(md_dropout_forward(&d, n, x, y, 1), MD_OK);
  assert_int_equal(md_dropout_backward(&d, x, dx), MD_OK);
  for (int64_t i = 0; i < n; ++i) {
    const int keep = model_keep(4, 262, 0, i, 0.5f);
    const float want = keep ? x[i] * 2.0f : 0.0f;
    if (dx[i] != want || y[i] != want)
      fail_msg("element %lld: y %g dx %g, want %g", (long long)i, (double)y[i], (double)dx[i],
               (double)want);
  }
  md_dropout_free(&d);
  free(x);
  free(y);
  free(dx);
}

/* Different calls and different streams give different masks. */
static void test_masks_vary(void **state) {
  (void)state;
  const int64_t n = 4096;
  float *x = alloc_uniform(n, 1.0f, 2.0f, 51);
  float *y = malloc((size_t)n * sizeof *y);
  assert_non_null(y);
  md_dropout a, b;
  assert_int_equal(md_dropout_init(&a, 0.5f, 1, 256), MD_OK);
  assert_int_equal(md_dropout_init(&b, 0.5f, 1, 257), MD_OK);
  assert_int_equal(md_dropout_forward(&a, n, x, y, 1), MD_OK);
  uint64_t *first = malloc((size_t)(n / 64) * 8);
  assert_non_null(first);
  memcpy(first, a.mask, (size_t)(n / 64) * 8);
  assert_int_equal(md_dropout_forward(&a, n, x, y, 1), MD_OK);
  assert_int_not_equal(memcmp(first, a.mask, (size_t)(n / 64) * 8), 0);
  assert_int_equal(md_dropout_forward(&b, n, x, y, 1), MD_OK);
  assert_int_not_equal(memcmp(first, b.mask, (size_t)(n / 64) * 8), 0);
  md_dropout_free(&a);
  md_dropout_free(&b);
  free(first);
  free(x);
  free(y);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_init_validates_p),
      cmocka_unit_test(test_decisions_follow_stream_layout),
      cmocka_unit_test(test_keep_rate_and_scaling),
      cmocka_unit_test(test_p_zero_is_identity),
      cmocka_unit_test(test_p_one_gives_zeros_without_nan),
      cmocka_unit_test(test_eval_is_identity),
      cmocka_unit_test(test_backward_and_in_place),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_fewer_elements_than_reserved),
      cmocka_unit_test(test_thread_count_independent),
      cmocka_unit_test(test_large_aligned_backward),
      cmocka_unit_test(test_masks_vary),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
