/* Linear: rejected descriptors and arguments, forward and backward against a
 * naive double-precision product written here, finite-difference gradients
 * (L = sum(y * r) is linear in each element: central differences are exact
 * up to float32 rounding), accumulation, NULL gradients, thread count. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "md_test_util.h"
#include "maxdrop/linear.h"

static float *falloc(size_t n) {
  float *p = calloc(n ? n : 1, sizeof(float));
  assert_non_null(p);
  return p;
}

typedef struct lin {
  md_linear_desc d;
  int n;
  float *x, *w, *b, *dy;
} lin;

static lin make(int n, int in, int out, int bias, uint64_t stream) {
  lin l = {{in, out, bias}, n, falloc((size_t)n * in), falloc((size_t)out * in),
           bias ? falloc((size_t)out) : NULL, falloc((size_t)n * out)};
  md_fill_uniform(l.x, (size_t)n * in, -1.0f, 1.0f, stream);
  md_fill_uniform(l.w, (size_t)out * in, -0.5f, 0.5f, stream + 1);
  if (bias) md_fill_uniform(l.b, (size_t)out, -1.0f, 1.0f, stream + 2);
  md_fill_uniform(l.dy, (size_t)n * out, -1.0f, 1.0f, stream + 3);
  return l;
}

static void free_lin(lin *l) {
  free(l->x);
  free(l->w);
  free(l->b);
  free(l->dy);
}

static void assert_close_d(const float *got, const double *want, size_t n, const char *what) {
  double mx = 0.0;
  for (size_t i = 0; i < n; ++i) mx = fmax(mx, fabs(want[i]));
  for (size_t i = 0; i < n; ++i) {
    const double e = fabs((double)got[i] - want[i]);
    if (!(e <= 1e-5 * mx + 1e-5 * fabs(want[i])))
      fail_msg("%s[%zu]: got %.9g, want %.9g (|diff| %.3g)", what, i, (double)got[i], want[i],
               e);
  }
}

static void test_bad_descriptors_and_arguments(void **state) {
  (void)state;
  const md_linear_desc bad[] = {{0, 3, 0}, {3, 0, 1}, {-1, 3, 0}, {3, 3, 2}, {3, 3, -1}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
    assert_int_equal(md_linear_check(&bad[i]), MD_ERR_INVALID_ARGUMENT);
    assert_int_equal(md_linear_weight_numel(&bad[i]), 0);
  }
  assert_int_equal(md_linear_check(NULL), MD_ERR_INVALID_ARGUMENT);
  lin l = make(2, 3, 4, 1, 10);
  float y[8], dx[6], dw[12], db[4];
  assert_int_equal(md_linear_weight_numel(&l.d), 12);
  assert_int_equal(md_linear_forward(&l.d, 0, l.x, l.w, l.b, y), MD_ERR_EMPTY);
  assert_int_equal(md_linear_forward(&l.d, -1, l.x, l.w, l.b, y), MD_ERR_SHAPE);
  assert_int_equal(md_linear_forward(&l.d, 2, l.x, l.w, NULL, y), MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_linear_forward(&l.d, 2, NULL, l.w, l.b, y), MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_linear_forward(&l.d, 2, l.x, NULL, l.b, y), MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_linear_forward(&l.d, 2, l.x, l.w, l.b, NULL), MD_ERR_INVALID_ARGUMENT);
  const md_linear_desc nb = {3, 4, 0};
  assert_int_equal(md_linear_forward(&nb, 2, l.x, l.w, l.b, y), MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_linear_backward(&nb, 2, l.x, l.w, l.dy, dx, dw, db),
                   MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_linear_backward(&l.d, 2, l.x, l.w, NULL, dx, dw, db),
                   MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_linear_backward(&l.d, 2, l.x, NULL, l.dy, dx, dw, db),
                   MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_linear_backward(&l.d, 2, NULL, l.w, l.dy, dx, dw, db),
                   MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_linear_backward(&l.d, 0, l.x, l.w, l.dy, dx, dw, db), MD_ERR_EMPTY);
  /* nothing wanted: a no-op */
  assert_int_equal(md_linear_backward(&l.d, 2, NULL, NULL, l.dy, NULL, NULL, NULL), MD_OK);
  free_lin(&l);
}

/* y, dx, dw, db from the definition, in double */
static void reference(const lin *l, double *y, double *dx, double *dw, double *db) {
  const int in = l->d.in_f, out = l->d.out_f;
  for (int i = 0; i < l->n; ++i)
    for (int o = 0; o < out; ++o) {
      double s = l->b ? l->b[o] : 0.0;
      for (int k = 0; k < in; ++k) s += (double)l->x[i * in + k] * l->w[o * in + k];
      y[i * out + o] = s;
    }
  for (int i = 0; i < l->n; ++i)
    for (int k = 0; k < in; ++k) {
      double s = 0.0;
      for (int o = 0; o < out; ++o) s += (double)l->dy[i * out + o] * l->w[o * in + k];
      dx[i * in + k] = s;
    }
  for (int o = 0; o < out; ++o) {
    for (int k = 0; k < in; ++k) {
      double s = 0.0;
      for (int i = 0; i < l->n; ++i) s += (double)l->dy[i * out + o] * l->x[i * in + k];
      dw[o * in + k] = s;
    }
    double s = 0.0;
    for (int i = 0; i < l->n; ++i) s += l->dy[i * out + o];
    db[o] = s;
  }
}

static const int shapes[][4] = {
    /* n, in, out, bias */
    {1, 512, 10, 1}, {128, 512, 10, 1}, {1, 64, 100, 1}, {128, 64, 100, 0},
    {3, 7, 5, 1},    {130, 70, 65, 1},  {1, 1, 1, 1},
};

static void test_against_definition(void **state) {
  (void)state;
  for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; ++k) {
    lin l = make(shapes[k][0], shapes[k][1], shapes[k][2], shapes[k][3], 20 + 10 * k);
    const size_t ny = (size_t)l.n * l.d.out_f, nx = (size_t)l.n * l.d.in_f;
    const size_t nw = (size_t)l.d.out_f * l.d.in_f, nb = (size_t)l.d.out_f;
    float *y = falloc(ny), *dx = falloc(nx), *dw = falloc(nw), *db = falloc(nb);
    double *ry = calloc(ny, 8), *rdx = calloc(nx, 8), *rdw = calloc(nw, 8), *rdb = calloc(nb, 8);
    assert_true(ry && rdx && rdw && rdb);
    assert_int_equal(md_linear_forward(&l.d, l.n, l.x, l.w, l.b, y), MD_OK);
    assert_int_equal(md_linear_backward(&l.d, l.n, l.x, l.w, l.dy, dx, dw, l.b ? db : NULL),
                     MD_OK);
    reference(&l, ry, rdx, rdw, rdb);
    assert_close_d(y, ry, ny, "y");
    assert_close_d(dx, rdx, nx, "dx");
    assert_close_d(dw, rdw, nw, "dw");
    if (l.b) assert_close_d(db, rdb, nb, "db");
    free(y);
    free(dx);
    free(dw);
    free(db);
    free(ry);
    free(rdx);
    free(rdw);
    free(rdb);
    free_lin(&l);
  }
}

static double loss(const lin *l, float *y) {
  assert_int_equal(md_linear_forward(&l->d, l->n, l->x, l->w, l->b, y), MD_OK);
  double s = 0.0;
  for (int i = 0; i < l->n * l->d.out_f; ++i) s += (double)y[i] * l->dy[i];
  return s;
}

static void fd_check(const lin *l, float *p, size_t n, const float *grad, const char *what,
                     float *y) {
  const size_t step = n > 80 ? n / 80 : 1;
  for (size_t i = 0; i < n; i += step) {
    const float keep = p[i], h = 0.25f;
    p[i] = keep + h;
    const double lp = loss(l, y);
    p[i] = keep - h;
    const double lm = loss(l, y);
    p[i] = keep;
    const double fd = (lp - lm) / (2.0 * h);
    if (!(fabs(fd - grad[i]) <= 2e-4 + 1e-3 * fabs(fd)))
      fail_msg("%s[%zu]: finite difference %.7g, backward %.7g", what, i, fd, (double)grad[i]);
  }
}

static void test_finite_differences(void **state) {
  (void)state;
  lin l = make(5, 12, 7, 1, 70);
  float *y = falloc(35), *dx = falloc(60), *dw = falloc(84), *db = falloc(7);
  assert_int_equal(md_linear_backward(&l.d, l.n, l.x, l.w, l.dy, dx, dw, db), MD_OK);
  fd_check(&l, l.x, 60, dx, "dx", y);
  fd_check(&l, l.w, 84, dw, "dw", y);
  fd_check(&l, l.b, 7, db, "db", y);
  free(y);
  free(dx);
  free(dw);
  free(db);
  free_lin(&l);
}

static void test_accumulates_and_null_gradients(void **state) {
  (void)state;
  lin l = make(4, 9, 6, 1, 80);
  float g1x[36] = {0}, g1w[54] = {0}, g1b[6] = {0};
  assert_int_equal(md_linear_backward(&l.d, 4, l.x, l.w, l.dy, g1x, g1w, g1b), MD_OK);
  float gx[36], gw[54], gb[6], x0[36], w0[54], b0[6];
  md_fill_uniform(x0, 36, -2.0f, 2.0f, 81);
  md_fill_uniform(w0, 54, -2.0f, 2.0f, 82);
  md_fill_uniform(b0, 6, -2.0f, 2.0f, 83);
  memcpy(gx, x0, sizeof gx);
  memcpy(gw, w0, sizeof gw);
  memcpy(gb, b0, sizeof gb);
  for (int c = 0; c < 2; ++c)
    assert_int_equal(md_linear_backward(&l.d, 4, l.x, l.w, l.dy, gx, gw, gb), MD_OK);
  double want[54];
  for (int i = 0; i < 36; ++i) want[i] = (double)x0[i] + 2.0 * g1x[i];
  assert_close_d(gx, want, 36, "dx after two calls");
  for (int i = 0; i < 54; ++i) want[i] = (double)w0[i] + 2.0 * g1w[i];
  assert_close_d(gw, want, 54, "dw after two calls");
  for (int i = 0; i < 6; ++i) want[i] = (double)b0[i] + 2.0 * g1b[i];
  assert_close_d(gb, want, 6, "db after two calls");
  /* dx = NULL leaves the other gradients as they were */
  memset(gw, 0, sizeof gw);
  memset(gb, 0, sizeof gb);
  assert_int_equal(md_linear_backward(&l.d, 4, l.x, l.w, l.dy, NULL, gw, gb), MD_OK);
  md_assert_floats_identical(gw, g1w, 54);
  md_assert_floats_identical(gb, g1b, 6);
  memset(gx, 0, sizeof gx);
  assert_int_equal(md_linear_backward(&l.d, 4, l.x, l.w, l.dy, gx, NULL, NULL), MD_OK);
  md_assert_floats_identical(gx, g1x, 36);
  free_lin(&l);
}

static void test_thread_count_independence(void **state) {
  (void)state;
  lin l = make(200, 150, 140, 1, 90); /* several blocks of rows and of weight rows */
  const size_t ny = 200 * 140, nx = 200 * 150, nw = 140 * 150;
  float *y[2], *dx[2], *dw[2], *db[2];
  const int saved = omp_get_max_threads();
  for (int t = 0; t < 2; ++t) {
    y[t] = falloc(ny);
    dx[t] = falloc(nx);
    dw[t] = falloc(nw);
    db[t] = falloc(140);
    omp_set_num_threads(t == 0 ? 1 : 3);
    assert_int_equal(md_linear_forward(&l.d, l.n, l.x, l.w, l.b, y[t]), MD_OK);
    assert_int_equal(md_linear_backward(&l.d, l.n, l.x, l.w, l.dy, dx[t], dw[t], db[t]), MD_OK);
  }
  omp_set_num_threads(saved);
  md_assert_floats_identical(y[1], y[0], ny);
  md_assert_floats_identical(dx[1], dx[0], nx);
  md_assert_floats_identical(dw[1], dw[0], nw);
  md_assert_floats_identical(db[1], db[0], 140);
  for (int t = 0; t < 2; ++t) {
    free(y[t]);
    free(dx[t]);
    free(dw[t]);
    free(db[t]);
  }
  free_lin(&l);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bad_descriptors_and_arguments),
      cmocka_unit_test(test_against_definition),
      cmocka_unit_test(test_finite_differences),
      cmocka_unit_test(test_accumulates_and_null_gradients),
      cmocka_unit_test(test_thread_count_independence),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
