/* Softmax cross-entropy: huge logits, known values, finite differences,
 * argmax / correctness, accumulation, and labels out of range (rejected
 * before anything is read: the buffers have their exact sizes, so a sanitizer
 * build catches a stray read). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "md_test_util.h"
#include "maxdrop/loss.h"

/* logits (1e8, 1e8), label 1: log(2) and gradient (0.5, -0.5). A version
 * without the maximum subtracted would overflow exp(1e8) to inf. */
static void test_huge_equal_logits(void **state) {
  (void)state;
  const float z[2] = {1e8f, 1e8f};
  const int32_t t[1] = {1};
  float g[2] = {0, 0};
  double loss = -1;
  int32_t pred[1] = {-1};
  int64_t correct = -1;
  assert_int_equal(md_softmax_xent(1, 2, z, t, &loss, g, pred, &correct), MD_OK);
  if (!(fabs(loss - 0.69314718055994531) <= 1e-15)) fail_msg("loss %.17g, want ln 2", loss);
  const float want[2] = {0.5f, -0.5f};
  md_assert_floats_identical(g, want, 2);
  assert_int_equal(pred[0], 0); /* first of the tied maxima */
  assert_int_equal(correct, 0);
}

static void test_known_values(void **state) {
  (void)state;
  /* Two samples: uniform logits over 4 classes (loss ln 4), and a sample
   * whose label has a logit 1e30 below the others (loss ln 3 + 1e30). */
  const float z[8] = {3, 3, 3, 3, 0, -1e30f, 0, 0};
  const int32_t t[2] = {2, 1};
  float g[8] = {0};
  double loss;
  assert_int_equal(md_softmax_xent(2, 4, z, t, &loss, g, NULL, NULL), MD_OK);
  /* Second sample: log 3 - (-1e30f), the float nearest -1e30 (exact in double). */
  const double want = (log(4.0) + log(3.0) - (double)-1e30f) / 2;
  if (!(fabs(loss - want) <= 1e-15 * want)) fail_msg("loss %.17g, want %.17g", loss, want);
  /* Mean reduction: every gradient is divided by the batch size 2. */
  const float wantg[8] = {0.125f, 0.125f, -0.375f, 0.125f,
                          1.0f / 6, -0.5f, 1.0f / 6, 1.0f / 6};
  md_assert_floats_close(g, wantg, 8, 1e-7f, 0.0f);
}

static double loss_of(int64_t n, int64_t k, const float *z, const int32_t *t) {
  double l = NAN;
  assert_int_equal(md_softmax_xent(n, k, z, t, &l, NULL, NULL, NULL), MD_OK);
  return l;
}

static void test_finite_differences(void **state) {
  (void)state;
  enum { N = 4, K = 7 };
  float z[N * K], g[N * K] = {0}, num[N * K];
  md_fill_uniform(z, N * K, -3, 3, 51);
  const int32_t t[N] = {0, 6, 3, 3};
  double loss;
  assert_int_equal(md_softmax_xent(N, K, z, t, &loss, g, NULL, NULL), MD_OK);
  const float h = 1e-3f;
  for (int i = 0; i < N * K; ++i) {
    const float z0 = z[i];
    z[i] = z0 + h;
    const double lp = loss_of(N, K, z, t);
    const float up = z[i];
    z[i] = z0 - h;
    const double lm = loss_of(N, K, z, t);
    num[i] = (float)((lp - lm) / ((double)up - (double)z[i]));
    z[i] = z0;
  }
  md_assert_floats_close(g, num, N * K, 1e-4f, 1e-6f);
  /* Each row of the gradient sums to zero. */
  for (int n = 0; n < N; ++n) {
    double s = 0;
    for (int j = 0; j < K; ++j) s += g[n * K + j];
    if (!(fabs(s) < 1e-7)) fail_msg("row %d of the gradient sums to %g", n, s);
  }
}

static void test_argmax_and_correct(void **state) {
  (void)state;
  const float z[12] = {1, 3, 3, 0, /* tie: first max, index 1 */
                       -5, -1, -9, -2, 0, NAN, 7, 1};
  const int32_t t[3] = {1, 1, 3};
  int32_t pred[3];
  int64_t correct;
  double loss;
  assert_int_equal(md_softmax_xent(3, 4, z, t, &loss, NULL, pred, &correct), MD_OK);
  assert_int_equal(pred[0], 1);
  assert_int_equal(pred[1], 1);
  assert_int_equal(pred[2], 1); /* NaN counts as the largest, as in torch.argmax */
  assert_int_equal(correct, 2);
  if (!isnan(loss)) fail_msg("loss %g, want NaN (a NaN logit poisons the mean)", loss);
}

static void test_accumulates(void **state) {
  (void)state;
  const float z[3] = {0, 0, 0};
  const int32_t t[1] = {0};
  float g[3] = {1, 1, 1};
  double loss;
  assert_int_equal(md_softmax_xent(1, 3, z, t, &loss, g, NULL, NULL), MD_OK);
  const float want[3] = {1 - 2.0f / 3, 1 + 1.0f / 3, 1 + 1.0f / 3};
  md_assert_floats_close(g, want, 3, 1e-7f, 0.0f);
}

/* Labels -1 and == classes: MD_ERR_RANGE, every output untouched. The bad
 * label sits in the last sample of an exactly-sized buffer. */
static void check_rejected(int32_t bad) {
  enum { N = 3, K = 10 };
  float *z = malloc(N * K * sizeof *z), *g = malloc(N * K * sizeof *g);
  int32_t *t = malloc(N * sizeof *t), *pred = malloc(N * sizeof *pred);
  assert_true(z && g && t && pred);
  md_fill_uniform(z, N * K, -1, 1, 61);
  for (int i = 0; i < N * K; ++i) g[i] = 42.0f;
  for (int i = 0; i < N; ++i) pred[i] = -7;
  t[0] = 0;
  t[1] = K - 1;
  t[2] = bad;
  double loss = 123.0;
  int64_t correct = 99;
  assert_int_equal(md_softmax_xent(N, K, z, t, &loss, g, pred, &correct), MD_ERR_RANGE);
  if (loss != 123.0) fail_msg("loss written on error: %.17g", loss);
  assert_int_equal(correct, 99);
  float fortytwo[N * K];
  for (int i = 0; i < N * K; ++i) fortytwo[i] = 42.0f;
  md_assert_floats_identical(g, fortytwo, N * K);
  for (int i = 0; i < N; ++i) assert_int_equal(pred[i], -7);
  free(z); free(g); free(t); free(pred);
}

static void test_label_out_of_range(void **state) {
  (void)state;
  check_rejected(-1);
  check_rejected(10);
  check_rejected(INT32_MIN);
  check_rejected(INT32_MAX);
}

static void test_arguments(void **state) {
  (void)state;
  const float z[2] = {0, 0};
  const int32_t t[1] = {0};
  double l;
  assert_int_equal(md_softmax_xent(0, 2, z, t, &l, NULL, NULL, NULL), MD_ERR_EMPTY);
  assert_int_equal(md_softmax_xent(1, 0, z, t, &l, NULL, NULL, NULL), MD_ERR_EMPTY);
  assert_int_equal(md_softmax_xent(-1, 2, z, t, &l, NULL, NULL, NULL), MD_ERR_SHAPE);
  assert_int_equal(md_softmax_xent(1, 2, NULL, t, &l, NULL, NULL, NULL), MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_softmax_xent(1, 2, z, NULL, &l, NULL, NULL, NULL), MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_softmax_xent(1, (int64_t)INT32_MAX + 1, z, t, &l, NULL, NULL, NULL),
                   MD_ERR_INVALID_ARGUMENT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_huge_equal_logits),
      cmocka_unit_test(test_known_values),
      cmocka_unit_test(test_finite_differences),
      cmocka_unit_test(test_argmax_and_correct),
      cmocka_unit_test(test_accumulates),
      cmocka_unit_test(test_label_out_of_range),
      cmocka_unit_test(test_arguments),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
