/* BatchNorm2d: the public worked example, the single-value rejection,
 * finite-difference gradients (training and evaluation), accumulation and
 * argument checks. PyTorch parity is in tests/parity. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "md_test_util.h"
#include "maxdrop/activation.h"
#include "maxdrop/batchnorm.h"
#include "maxdrop/residual.h"
#include "nn/batchnorm_fused.h"

static float *alloc_floats(size_t n) {
  float *p = calloc(n ? n : 1, sizeof *p);
  assert_non_null(p);
  return p;
}

/* One channel, N = 4, 1x1: x = 1, 2, 3, 4, weight 1, bias 0, running (0, 1).
 * Batch mean 2.5, biased variance 1.25, unbiased 5/3. Expected values worked
 * by hand: (x - 2.5) / sqrt(1.25 + 1e-5) and 0.9 * 1 + 0.1 * 5/3. */
static void test_batch_1234(void **state) {
  (void)state;
  const float x[4] = {1, 2, 3, 4}, w[1] = {1}, b[1] = {0};
  float rm[1] = {0}, rv[1] = {1}, sm[1], si[1], y[4];
  int64_t nbt = 0;
  assert_int_equal(md_batchnorm_forward_train(md_shape4(4, 1, 1, 1), x, w, b, 0.1f, 1e-5f,
                                              rm, rv, &nbt, sm, si, y),
                   MD_OK);
  const float want_y[4] = {-1.34163542f, -0.447211807f, 0.447211807f, 1.34163542f};
  md_assert_floats_close(y, want_y, 4, 1e-6f, 1e-7f);
  /* The rounded figures of the public report, too. */
  const float report[4] = {-1.3416f, -0.4472f, 0.4472f, 1.3416f};
  md_assert_floats_close(y, report, 4, 0.0f, 5e-5f);
  const float want_rm[1] = {0.25f}, want_rv[1] = {1.0666667f};
  md_assert_floats_close(rm, want_rm, 1, 1e-7f, 0.0f);
  md_assert_floats_close(rv, want_rv, 1, 1e-7f, 0.0f);
  const float want_sm[1] = {2.5f}, want_si[1] = {0.894423613f};
  md_assert_floats_close(sm, want_sm, 1, 0.0f, 0.0f);
  md_assert_floats_close(si, want_si, 1, 1e-7f, 0.0f);
  assert_int_equal(nbt, 1);
}

/* N*H*W == 1 in training: MD_ERR_SHAPE, and nothing is written. */
static void test_single_value_rejected(void **state) {
  (void)state;
  const md_shape s = md_shape4(1, 3, 1, 1);
  const float x[3] = {0.5f, -1, 2}, w[3] = {1, 1, 1}, b[3] = {0, 0, 0};
  float rm[3] = {0.1f, 0.2f, 0.3f}, rv[3] = {1.5f, 2.5f, 3.5f};
  const float rm0[3] = {0.1f, 0.2f, 0.3f}, rv0[3] = {1.5f, 2.5f, 3.5f};
  float sm[3] = {7, 7, 7}, si[3] = {7, 7, 7}, y[3] = {7, 7, 7};
  const float sevens[3] = {7, 7, 7};
  int64_t nbt = 41;
  assert_int_equal(md_batchnorm_forward_train(s, x, w, b, 0.1f, 1e-5f, rm, rv, &nbt, sm, si, y),
                   MD_ERR_SHAPE);
  md_assert_floats_identical(rm, rm0, 3);
  md_assert_floats_identical(rv, rv0, 3);
  md_assert_floats_identical(sm, sevens, 3);
  md_assert_floats_identical(si, sevens, 3);
  md_assert_floats_identical(y, sevens, 3);
  assert_int_equal(nbt, 41);
  /* Same for a batch of one 1x1 sample with a single channel. */
  assert_int_equal(md_batchnorm_forward_train(md_shape4(1, 1, 1, 1), x, w, b, 0.1f, 1e-5f, rm,
                                              rv, &nbt, sm, si, y),
                   MD_ERR_SHAPE);
  md_assert_floats_identical(rm, rm0, 3);
  md_assert_floats_identical(rv, rv0, 3);
  assert_int_equal(nbt, 41);
  /* The training backward refuses it as well... */
  float dx[3] = {0, 0, 0}, dw[3] = {0, 0, 0}, db[3] = {0, 0, 0};
  const float zeros[3] = {0, 0, 0};
  assert_int_equal(md_batchnorm_backward_train(s, x, x, w, rm, 1e-5f, dx, dw, db), MD_ERR_SHAPE);
  md_assert_floats_identical(dx, zeros, 3);
  /* ...while evaluation mode normalises one value per channel fine. */
  assert_int_equal(md_batchnorm_forward_eval(s, x, w, b, rm, rv, 1e-5f, y), MD_OK);
  const float want[3] = {(float)((0.5 - 0.1) / sqrt(1.5 + 1e-5)),
                         (float)((-1 - 0.2) / sqrt(2.5 + 1e-5)),
                         (float)((2 - 0.3) / sqrt(3.5 + 1e-5))};
  md_assert_floats_close(y, want, 3, 1e-6f, 0.0f);
}

/* A batch of one with H*W > 1 is a valid training batch. */
static void test_batch_of_one_spatial(void **state) {
  (void)state;
  const float x[4] = {1, 2, 3, 4}, w[1] = {2}, b[1] = {1};
  float rm[1] = {0}, rv[1] = {1}, sm[1], y[4];
  assert_int_equal(md_batchnorm_forward_train(md_shape4(1, 1, 2, 2), x, w, b, 0.1f, 1e-5f, rm,
                                              rv, NULL, sm, NULL, y),
                   MD_OK);
  const float want[4] = {1 - 2 * 1.34163542f, 1 - 2 * 0.447211807f, 1 + 2 * 0.447211807f,
                         1 + 2 * 1.34163542f};
  md_assert_floats_close(y, want, 4, 1e-6f, 1e-6f);
}

/* Loss L = sum(r * y) in double, for the finite-difference checks. */
typedef struct fd_ctx {
  md_shape s;
  float *x, *w, *b, *rm, *rv, *y, *r;
  int training;
} fd_ctx;

static double fd_loss(const fd_ctx *c) {
  const int64_t n = md_shape_numel(c->s);
  float sm[8], rm[8], rv[8];
  memcpy(rm, c->rm, (size_t)c->s.c * sizeof *rm);
  memcpy(rv, c->rv, (size_t)c->s.c * sizeof *rv);
  md_status st;
  if (c->training)
    st = md_batchnorm_forward_train(c->s, c->x, c->w, c->b, 0.1f, 1e-5f, rm, rv, NULL, sm,
                                    NULL, c->y);
  else
    st = md_batchnorm_forward_eval(c->s, c->x, c->w, c->b, c->rm, c->rv, 1e-5f, c->y);
  assert_int_equal(st, MD_OK);
  double l = 0;
  for (int64_t i = 0; i < n; ++i) l += (double)c->r[i] * (double)c->y[i];
  return l;
}

/* Central difference of fd_loss wrt p[i], with the step actually taken. */
static double fd_grad(fd_ctx *c, float *p, int64_t i, float h) {
  const float p0 = p[i];
  p[i] = p0 + h;
  const double lp = fd_loss(c);
  const float up = p[i];
  p[i] = p0 - h;
  const double lm = fd_loss(c);
  const float dn = p[i];
  p[i] = p0;
  return (lp - lm) / ((double)up - (double)dn);
}

static void check_fd(int training) {
  const md_shape s = md_shape4(2, 3, 2, 3); /* M = 12 per channel */
  const int64_t n = md_shape_numel(s), C = s.c;
  fd_ctx c = {s, alloc_floats((size_t)n), alloc_floats((size_t)C), alloc_floats((size_t)C),
              alloc_floats((size_t)C), alloc_floats((size_t)C), alloc_floats((size_t)n),
              alloc_floats((size_t)n), training};
  md_fill_uniform(c.x, (size_t)n, -2, 2, 1);
  md_fill_uniform(c.w, (size_t)C, 0.5f, 1.5f, 2);
  md_fill_uniform(c.b, (size_t)C, -0.5f, 0.5f, 3);
  md_fill_uniform(c.rm, (size_t)C, -0.3f, 0.3f, 4);
  md_fill_uniform(c.rv, (size_t)C, 0.5f, 2.0f, 5);
  md_fill_uniform(c.r, (size_t)n, -1, 1, 6);

  float *dx = alloc_floats((size_t)n), *dw = alloc_floats((size_t)C),
        *db = alloc_floats((size_t)C), sm[3];
  (void)fd_loss(&c);
  float rm[3], rv[3];
  memcpy(rm, c.rm, sizeof rm);
  memcpy(rv, c.rv, sizeof rv);
  if (training) {
    assert_int_equal(md_batchnorm_forward_train(s, c.x, c.w, c.b, 0.1f, 1e-5f, rm, rv, NULL, sm,
                                                NULL, c.y),
                     MD_OK);
    assert_int_equal(md_batchnorm_backward_train(s, c.x, c.r, c.w, sm, 1e-5f, dx, dw, db),
                     MD_OK);
  } else {
    assert_int_equal(
        md_batchnorm_backward_eval(s, c.x, c.r, c.w, c.rm, c.rv, 1e-5f, dx, dw, db), MD_OK);
  }
  float *num = alloc_floats((size_t)n);
  for (int64_t i = 0; i < n; ++i) num[i] = (float)fd_grad(&c, c.x, i, 1e-2f);
  md_assert_floats_close(dx, num, (size_t)n, 2e-3f, 2e-3f);
  float numw[3], numb[3];
  for (int64_t i = 0; i < C; ++i) {
    numw[i] = (float)fd_grad(&c, c.w, i, 1e-2f);
    numb[i] = (float)fd_grad(&c, c.b, i, 1e-2f);
  }
  md_assert_floats_close(dw, numw, 3, 2e-3f, 2e-3f);
  md_assert_floats_close(db, numb, 3, 2e-3f, 2e-3f);
  /* The check has teeth: dx is not small next to its tolerance. */
  double mx = 0;
  for (int64_t i = 0; i < n; ++i) mx = fmax(mx, fabs((double)dx[i]));
  if (!(mx > 0.1)) fail_msg("max |dx| %g: too small to test", mx);
  free(c.x); free(c.w); free(c.b); free(c.rm); free(c.rv); free(c.y); free(c.r);
  free(dx); free(dw); free(db); free(num);
}

static void test_fd_training(void **state) {
  (void)state;
  check_fd(1);
}

static void test_fd_eval(void **state) {
  (void)state;
  check_fd(0);
}

/* Backward adds into its outputs: twice into the same buffers is twice once. */
static void test_backward_accumulates(void **state) {
  (void)state;
  const md_shape s = md_shape4(3, 2, 2, 2);
  enum { N = 24, C = 2 };
  float x[N], dy[N], w[C] = {0.7f, -1.3f}, b[C] = {0.1f, 0.2f}, y[N], sm[C];
  float rm[C] = {0, 0}, rv[C] = {1, 1};
  md_fill_uniform(x, N, -1, 3, 11);
  md_fill_uniform(dy, N, -1, 1, 12);
  assert_int_equal(md_batchnorm_forward_train(s, x, w, b, 0.1f, 1e-5f, rm, rv, NULL, sm, NULL, y),
                   MD_OK);
  for (int training = 0; training < 2; ++training) {
    float dx1[N] = {0}, dw1[C] = {0}, db1[C] = {0}, dx2[N] = {0}, dw2[C] = {0}, db2[C] = {0};
    for (int rep = 0; rep < 2; ++rep) {
      float *ox = rep ? dx2 : dx1, *ow = rep ? dw2 : dw1, *ob = rep ? db2 : db1;
      for (int k = 0; k <= rep; ++k) {
        const md_status st =
            training ? md_batchnorm_backward_train(s, x, dy, w, sm, 1e-5f, ox, ow, ob)
                     : md_batchnorm_backward_eval(s, x, dy, w, rm, rv, 1e-5f, ox, ow, ob);
        assert_int_equal(st, MD_OK);
      }
    }
    for (int i = 0; i < N; ++i) dx1[i] *= 2;
    for (int i = 0; i < C; ++i) {
      dw1[i] *= 2;
      db1[i] *= 2;
    }
    md_assert_floats_identical(dx2, dx1, N);
    md_assert_floats_identical(dw2, dw1, C);
    md_assert_floats_identical(db2, db1, C);
  }
  /* NULL outputs are skipped. */
  float only_db[C] = {0};
  assert_int_equal(md_batchnorm_backward_train(s, x, dy, w, sm, 1e-5f, NULL, NULL, only_db),
                   MD_OK);
  double sum0 = 0;
  for (int n = 0; n < 3; ++n)
    for (int i = 0; i < 4; ++i) sum0 += dy[n * 8 + i];
  const float want0[1] = {(float)sum0};
  md_assert_floats_close(only_db, want0, 1, 1e-6f, 1e-6f);
}

/* A channel whose values sit far from zero: the statistics keep their
 * accuracy (mean 1000, spread 1e-3). */
static void test_large_offset(void **state) {
  (void)state;
  enum { M = 64 };
  float x[M], y[M], w[1] = {1}, b[1] = {0}, sm[1];
  for (int i = 0; i < M; ++i) x[i] = 1000.0f + (float)(i - 32) * 1.220703125e-4f; /* 2^-13 */
  assert_int_equal(md_batchnorm_forward_train(md_shape4(M, 1, 1, 1), x, w, b, 0.1f, 0.0f, NULL,
                                              NULL, NULL, sm, NULL, y),
                   MD_OK);
  /* Exact values: x - mean = (i - 31.5) * 2^-13, var = (M^2 - 1) / 12 * 2^-26. */
  float want[M];
  const double sd = sqrt((M * M - 1) / 12.0);
  for (int i = 0; i < M; ++i) want[i] = (float)((i - 31.5) / sd);
  md_assert_floats_close(y, want, M, 1e-6f, 1e-6f);
}

static void test_arguments(void **state) {
  (void)state;
  const md_shape s = md_shape4(2, 1, 1, 1);
  float x[2] = {1, 2}, w[1] = {1}, b[1] = {0}, rm[1] = {0}, rv[1] = {1}, sm[1], y[2];
  assert_int_equal(md_batchnorm_forward_train(s, x, w, b, 1.5f, 1e-5f, rm, rv, NULL, sm, NULL, y),
                   MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_batchnorm_forward_train(s, x, w, b, -0.1f, 1e-5f, rm, rv, NULL, sm, NULL, y),
                   MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_batchnorm_forward_train(s, x, w, b, NAN, 1e-5f, rm, rv, NULL, sm, NULL, y),
                   MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_batchnorm_forward_train(s, x, w, b, 0.1f, -1e-5f, rm, rv, NULL, sm, NULL, y),
                   MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_batchnorm_forward_train(s, x, w, b, 0.1f, 1e-5f, rm, NULL, NULL, sm, NULL, y),
                   MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_batchnorm_forward_train(s, NULL, w, b, 0.1f, 1e-5f, rm, rv, NULL, sm, NULL, y),
                   MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_batchnorm_forward_train(md_shape4(-1, 1, 1, 1), x, w, b, 0.1f, 1e-5f, rm,
                                              rv, NULL, sm, NULL, y),
                   MD_ERR_SHAPE);
  assert_int_equal(md_batchnorm_forward_train(md_shape4(0, 1, 1, 1), x, w, b, 0.1f, 1e-5f, rm,
                                              rv, NULL, sm, NULL, y),
                   MD_ERR_EMPTY);
  assert_int_equal(md_batchnorm_forward_eval(s, x, w, b, rm, rv, INFINITY, y),
                   MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_batchnorm_forward_eval(s, x, w, b, NULL, rv, 1e-5f, y),
                   MD_ERR_INVALID_ARGUMENT);
  /* None of the rejected calls touched the running statistics. */
  const float rm0[1] = {0}, rv0[1] = {1};
  md_assert_floats_identical(rm, rm0, 1);
  md_assert_floats_identical(rv, rv0, 1);
}

/* The fused forwards (BN, then + add, then ReLU, in one pass) give the bits of
 * the three separate layers, in training and evaluation, also with add == y. */
static void test_fused_epilogue(void **state) {
  (void)state;
  const md_shape s = md_shape4(3, 5, 4, 3);
  const size_t n = (size_t)md_shape_numel(s);
  float *x = malloc(n * sizeof *x), *add = malloc(n * sizeof *add);
  float *want = malloc(n * sizeof *want), *got = malloc(n * sizeof *got);
  assert_non_null(x);
  assert_non_null(add);
  assert_non_null(want);
  assert_non_null(got);
  md_fill_uniform(x, n, -2.0f, 3.0f, 41);
  md_fill_uniform(add, n, -1.0f, 1.0f, 42);
  float w[5], b[5], rm[5], rv[5], rm2[5], rv2[5], sm[5], sm2[5];
  md_fill_uniform(w, 5, 0.5f, 1.5f, 43);
  md_fill_uniform(b, 5, -0.5f, 0.5f, 44);
  md_fill_uniform(rm, 5, -0.2f, 0.2f, 45);
  md_fill_uniform(rv, 5, 0.5f, 2.0f, 46);
  for (int training = 0; training <= 1; ++training)
    for (int with_add = 0; with_add <= 1; ++with_add)
      for (int relu = 0; relu <= 1; ++relu)
        for (int alias = 0; alias <= with_add; ++alias) {
          memcpy(rm2, rm, sizeof rm);
          memcpy(rv2, rv, sizeof rv);
          int64_t nbt = 0, nbt2 = 0;
          if (training)
            assert_int_equal(md_batchnorm_forward_train(s, x, w, b, 0.1f, 1e-5f, rm, rv, &nbt,
                                                        sm, NULL, want),
                             MD_OK);
          else
            assert_int_equal(md_batchnorm_forward_eval(s, x, w, b, rm, rv, 1e-5f, want), MD_OK);
          if (with_add) assert_int_equal(md_residual_add_forward((int64_t)n, want, add, want), MD_OK);
          if (relu) assert_int_equal(md_relu_forward((int64_t)n, want, want), MD_OK);
          if (alias) memcpy(got, add, n * sizeof *got);
          const md_bn_epilogue ep = {with_add ? (alias ? got : add) : NULL, relu};
          if (training) {
            assert_int_equal(md_batchnorm_forward_train_ep(s, x, w, b, 0.1f, 1e-5f, rm2, rv2,
                                                           &nbt2, sm2, NULL, &ep, got),
                             MD_OK);
            md_assert_floats_identical(sm2, sm, 5);
            assert_int_equal(nbt2, nbt);
            /* both calls advanced the same running statistics the same way */
            md_assert_floats_identical(rm2, rm, 5);
            md_assert_floats_identical(rv2, rv, 5);
          } else {
            assert_int_equal(
                md_batchnorm_forward_eval_ep(s, x, w, b, rm, rv, 1e-5f, &ep, got), MD_OK);
          }
          md_assert_floats_identical(got, want, n);
        }
  free(x);
  free(add);
  free(want);
  free(got);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_batch_1234),
      cmocka_unit_test(test_single_value_rejected),
      cmocka_unit_test(test_batch_of_one_spatial),
      cmocka_unit_test(test_fd_training),
      cmocka_unit_test(test_fd_eval),
      cmocka_unit_test(test_backward_accumulates),
      cmocka_unit_test(test_large_offset),
      cmocka_unit_test(test_arguments),
      cmocka_unit_test(test_fused_epilogue),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
