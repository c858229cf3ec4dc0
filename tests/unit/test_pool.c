/* Average pooling: known values for 4x4, 8x8 and global pools, PyTorch's floor
 * mode, finite differences, accumulation and argument checks. */
#include <math.h>
#include <stdlib.h>

#include "md_test_util.h"
#include "maxdrop/pool.h"

static void test_known_values(void **state) {
  (void)state;
  float x[64];
  for (int i = 0; i < 64; ++i) x[i] = (float)i;
  float y[4];
  /* 8x8 plane 0..63, one 8x8 window: the mean 31.5. */
  assert_int_equal(md_avgpool2d_forward(md_shape4(1, 1, 8, 8), 8, x, y), MD_OK);
  const float want8[1] = {31.5f};
  md_assert_floats_identical(y, want8, 1);
  /* The same plane, 4x4 windows: means of the four quadrants. */
  assert_int_equal(md_avgpool2d_forward(md_shape4(1, 1, 8, 8), 4, x, y), MD_OK);
  const float want4[4] = {13.5f, 17.5f, 45.5f, 49.5f};
  md_assert_floats_identical(y, want4, 4);
  /* Global pool of two 4x8 planes (non-square). */
  assert_int_equal(md_global_avgpool_forward(md_shape4(1, 2, 4, 8), x, y), MD_OK);
  const float wantg[2] = {15.5f, 47.5f};
  md_assert_floats_identical(y, wantg, 2);
}

/* 5x5 input, 2x2 windows: output 2x2; the last row and column are ignored by
 * the forward and get no gradient. */
static void test_floor_mode(void **state) {
  (void)state;
  float x[25], y[4], dx[25] = {0};
  for (int i = 0; i < 25; ++i) x[i] = (float)i;
  const md_shape s = md_shape4(1, 1, 5, 5);
  assert_int_equal(md_avgpool2d_out_shape(s, 2).h, 2);
  assert_int_equal(md_avgpool2d_forward(s, 2, x, y), MD_OK);
  const float want[4] = {3, 5, 13, 15};
  md_assert_floats_identical(y, want, 4);
  const float dy[4] = {4, 8, 12, 16};
  assert_int_equal(md_avgpool2d_backward(s, 2, dy, dx), MD_OK);
  const float wantdx[25] = {1, 1, 2, 2, 0, 1, 1, 2, 2, 0, 3, 3, 4, 4, 0,
                            3, 3, 4, 4, 0, 0, 0, 0, 0, 0};
  md_assert_floats_identical(dx, wantdx, 25);
}

/* Pooling is linear: finite differences of L = sum(r * y) match exactly up
 * to rounding. */
static void check_fd(md_shape s, int k) {
  const int64_t n = md_shape_numel(s);
  const md_shape o = k ? md_avgpool2d_out_shape(s, k) : md_shape4(s.n, s.c, 1, 1);
  const int64_t m = md_shape_numel(o);
  float *x = malloc((size_t)n * sizeof *x), *dx = calloc((size_t)n, sizeof *dx),
        *num = malloc((size_t)n * sizeof *num), *y = malloc((size_t)m * sizeof *y),
        *r = malloc((size_t)m * sizeof *r);
  assert_true(x && dx && num && y && r);
  md_fill_uniform(x, (size_t)n, -1, 1, 41);
  md_fill_uniform(r, (size_t)m, -1, 1, 42);
  assert_int_equal(k ? md_avgpool2d_backward(s, k, r, dx) : md_global_avgpool_backward(s, r, dx),
                   MD_OK);
  const float h = 1e-2f;
  for (int64_t i = 0; i < n; ++i) {
    const float x0 = x[i];
    double l[2];
    for (int t = 0; t < 2; ++t) {
      x[i] = t ? x0 - h : x0 + h;
      assert_int_equal(k ? md_avgpool2d_forward(s, k, x, y) : md_global_avgpool_forward(s, x, y),
                       MD_OK);
      l[t] = 0;
      for (int64_t j = 0; j < m; ++j) l[t] += (double)r[j] * y[j];
    }
    num[i] = (float)((l[0] - l[1]) / ((double)(x0 + h) - (double)(x0 - h)));
    x[i] = x0;
  }
  md_assert_floats_close(dx, num, (size_t)n, 1e-4f, 1e-6f);
  free(x); free(dx); free(num); free(y); free(r);
}

static void test_finite_differences(void **state) {
  (void)state;
  check_fd(md_shape4(2, 3, 8, 8), 4);
  check_fd(md_shape4(1, 2, 8, 8), 8);
  check_fd(md_shape4(2, 2, 7, 9), 3);
  check_fd(md_shape4(2, 3, 3, 5), 0);
}

static void test_backward_accumulates(void **state) {
  (void)state;
  const md_shape s = md_shape4(1, 1, 4, 4);
  const float dy[1] = {16};
  float dx[16], want1[16], want2[16];
  for (int i = 0; i < 16; ++i) {
    dx[i] = (float)i;
    want1[i] = (float)i + 1.0f;
    want2[i] = (float)i + 2.0f;
  }
  assert_int_equal(md_avgpool2d_backward(s, 4, dy, dx), MD_OK);
  md_assert_floats_identical(dx, want1, 16);
  assert_int_equal(md_global_avgpool_backward(s, dy, dx), MD_OK);
  md_assert_floats_identical(dx, want2, 16);
}

static void test_arguments(void **state) {
  (void)state;
  float x[16] = {0}, y[16];
  assert_int_equal(md_avgpool2d_forward(md_shape4(1, 1, 4, 4), 0, x, y), MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_avgpool2d_forward(md_shape4(1, 1, 4, 4), 5, x, y), MD_ERR_SHAPE);
  assert_int_equal(md_avgpool2d_forward(md_shape4(1, 1, 4, 4), 2, NULL, y),
                   MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_avgpool2d_forward(md_shape4(1, -1, 4, 4), 2, x, y), MD_ERR_SHAPE);
  assert_int_equal(md_avgpool2d_forward(md_shape4(0, 1, 4, 4), 2, x, y), MD_ERR_EMPTY);
  assert_int_equal(md_global_avgpool_forward(md_shape4(1, 1, 0, 4), x, y), MD_ERR_EMPTY);
  assert_int_equal(md_global_avgpool_backward(md_shape4(1, 1, 4, 4), NULL, y),
                   MD_ERR_INVALID_ARGUMENT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_known_values),
      cmocka_unit_test(test_floor_mode),
      cmocka_unit_test(test_finite_differences),
      cmocka_unit_test(test_backward_accumulates),
      cmocka_unit_test(test_arguments),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
