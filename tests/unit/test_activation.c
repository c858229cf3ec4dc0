/* ReLU: special values, backward from the input or the output, the in-place
 * variants, finite differences away from the kink, accumulation, arguments. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "md_test_util.h"
#include "maxdrop/activation.h"

static void test_forward_values(void **state) {
  (void)state;
  const float x[7] = {-2.0f, -0.0f, 0.0f, 3.0f, NAN, -INFINITY, INFINITY};
  float y[7];
  assert_int_equal(md_relu_forward(7, x, y), MD_OK);
  /* As torch.relu: -0 and NaN pass through unchanged. */
  const float want[7] = {0.0f, -0.0f, 0.0f, 3.0f, NAN, 0.0f, INFINITY};
  md_assert_floats_identical(y, want, 7);
  assert_int_equal(signbit(y[0]), 0); /* a negative input gives +0 */
}

static void test_backward_from_input_or_output(void **state) {
  (void)state;
  const float x[6] = {-2.0f, -0.0f, 0.0f, 1e-30f, 3.0f, NAN};
  const float dy[6] = {1, 2, 3, 4, 5, 6};
  float y[6], dx_x[6] = {0}, dx_y[6] = {0};
  assert_int_equal(md_relu_forward(6, x, y), MD_OK);
  assert_int_equal(md_relu_backward(6, x, dy, dx_x), MD_OK);
  assert_int_equal(md_relu_backward(6, y, dy, dx_y), MD_OK);
  /* Zero gradient at x <= 0 (x == 0 included); NaN lets it through. */
  const float want[6] = {0, 0, 0, 4, 5, 6};
  md_assert_floats_identical(dx_x, want, 6);
  md_assert_floats_identical(dx_y, want, 6);
}

static void test_in_place(void **state) {
  (void)state;
  enum { N = 1000 };
  float *x = malloc(N * sizeof *x), *keep = malloc(N * sizeof *keep),
        *d = malloc(N * sizeof *d), *dx = calloc(N, sizeof *dx),
        *want = malloc(N * sizeof *want);
  assert_true(x && keep && d && dx && want);
  md_fill_uniform(x, N, -1, 1, 21);
  md_fill_uniform(d, N, -1, 1, 22);
  memcpy(keep, x, N * sizeof *x);
  assert_int_equal(md_relu_forward(N, x, x), MD_OK); /* y == x */
  for (int i = 0; i < N; ++i) want[i] = keep[i] > 0 ? keep[i] : 0.0f;
  md_assert_floats_identical(x, want, N);
  /* The accumulating form reads the output; the in-place form overwrites d. */
  assert_int_equal(md_relu_backward(N, x, d, dx), MD_OK);
  assert_int_equal(md_relu_backward_inplace(N, x, d), MD_OK);
  md_assert_floats_identical(d, dx, N);
  for (int i = 0; i < N; ++i) want[i] = keep[i] > 0 ? dx[i] : 0.0f;
  md_assert_floats_identical(d, want, N);
  free(want);
  free(x);
  free(keep);
  free(d);
  free(dx);
}

/* Finite differences of L = sum(r * relu(x)) with |x| >= 0.1, far from the
 * kink at 0 compared with the step 1e-3. */
static void test_finite_differences(void **state) {
  (void)state;
  enum { N = 200 };
  float x[N], r[N], y[N], dx[N] = {0}, num[N];
  md_fill_uniform(x, N, 0.1f, 2.0f, 31);
  md_fill_uniform(r, N, -1, 1, 32);
  for (int i = 0; i < N; i += 2) x[i] = -x[i];
  assert_int_equal(md_relu_forward(N, x, y), MD_OK);
  assert_int_equal(md_relu_backward(N, x, r, dx), MD_OK);
  const float h = 1e-3f;
  for (int i = 0; i < N; ++i) {
    const float x0 = x[i];
    double l[2];
    for (int k = 0; k < 2; ++k) {
      x[i] = k ? x0 - h : x0 + h;
      assert_int_equal(md_relu_forward(N, x, y), MD_OK);
      l[k] = 0;
      for (int j = 0; j < N; ++j) l[k] += (double)r[j] * y[j];
    }
    const double step = (double)(x0 + h) - (double)(x0 - h);
    x[i] = x0;
    num[i] = (float)((l[0] - l[1]) / step);
  }
  md_assert_floats_close(dx, num, N, 1e-3f, 1e-4f);
  int passed = 0;
  for (int i = 0; i < N; ++i) passed += dx[i] != 0.0f;
  assert_int_equal(passed, N / 2);
}

static void test_accumulates(void **state) {
  (void)state;
  const float x[4] = {1, -1, 2, -2}, dy[4] = {0.5f, 0.5f, 0.25f, 0.25f};
  float dx[4] = {10, 20, 30, 40};
  assert_int_equal(md_relu_backward(4, x, dy, dx), MD_OK);
  const float want[4] = {10.5f, 20, 30.25f, 40};
  md_assert_floats_identical(dx, want, 4);
}

static void test_arguments(void **state) {
  (void)state;
  float v[1] = {1};
  assert_int_equal(md_relu_forward(-1, v, v), MD_ERR_SHAPE);
  assert_int_equal(md_relu_forward(0, NULL, NULL), MD_OK);
  assert_int_equal(md_relu_forward(1, NULL, v), MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_relu_backward(1, v, v, NULL), MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_relu_backward(-3, v, v, v), MD_ERR_SHAPE);
  assert_int_equal(md_relu_backward_inplace(1, NULL, v), MD_ERR_INVALID_ARGUMENT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_forward_values),
      cmocka_unit_test(test_backward_from_input_or_output),
      cmocka_unit_test(test_in_place),
      cmocka_unit_test(test_finite_differences),
      cmocka_unit_test(test_accumulates),
      cmocka_unit_test(test_arguments),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
