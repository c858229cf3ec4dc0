/* The residual addition: in-place forward, accumulating backward. */
#include "md_test_util.h"
#include "maxdrop/residual.h"

static void test_forward_in_place(void **state) {
  (void)state;
  float a[3] = {1, 2, 3};
  const float b[3] = {0.5f, -2, 10};
  float y[3];
  assert_int_equal(md_residual_add_forward(3, a, b, y), MD_OK);
  const float want[3] = {1.5f, 0, 13};
  md_assert_floats_identical(y, want, 3);
  assert_int_equal(md_residual_add_forward(3, a, b, a), MD_OK); /* y == a */
  md_assert_floats_identical(a, want, 3);
}

static void test_backward_accumulates(void **state) {
  (void)state;
  const float dy[3] = {1, 2, 3};
  float da[3] = {10, 10, 10}, db[3] = {0, 0, 0};
  assert_int_equal(md_residual_add_backward(3, dy, da, db), MD_OK);
  const float want_a[3] = {11, 12, 13};
  md_assert_floats_identical(da, want_a, 3);
  md_assert_floats_identical(db, dy, 3);
  assert_int_equal(md_residual_add_backward(3, dy, NULL, db), MD_OK);
  const float want_b[3] = {2, 4, 6};
  md_assert_floats_identical(db, want_b, 3);
}

static void test_arguments(void **state) {
  (void)state;
  float v[1] = {0};
  assert_int_equal(md_residual_add_forward(-1, v, v, v), MD_ERR_SHAPE);
  assert_int_equal(md_residual_add_forward(1, v, NULL, v), MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_residual_add_backward(1, NULL, v, v), MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_residual_add_backward(0, NULL, NULL, NULL), MD_OK);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_forward_in_place),
      cmocka_unit_test(test_backward_accumulates),
      cmocka_unit_test(test_arguments),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
