/* Conv2d: output-size arithmetic, rejected descriptors and arguments, forward
 * and backward against a naive double-precision convolution written here from
 * the definition, finite-difference gradients, accumulation, NULL gradients,
 * workspace rules, and independence from the thread count.
 *
 * Finite differences: L = sum(y * r) for a fixed random r, so dL/dy = r. L is
 * linear in each single input, weight or bias element, so a central
 * difference has no truncation error; it differs from the analytic gradient
 * only by float32 rounding of y (L is summed in double). */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "md_test_util.h"
#include "maxdrop/activation.h"
#include "maxdrop/conv2d.h"
#include "maxdrop/residual.h"
#include "nn/batchnorm_fused.h"
#include "nn/conv2d_epilogue.h"

/* ---------------------------------------------------------------- helpers */

static float *falloc(size_t n) {
  float *p = calloc(n ? n : 1, sizeof(float));
  assert_non_null(p);
  return p;
}

static double *dalloc(size_t n) {
  double *p = calloc(n ? n : 1, sizeof(double));
  assert_non_null(p);
  return p;
}

static size_t numel(md_shape s) { return (size_t)md_shape_numel(s); }

static md_shape out_shape(const md_conv2d_desc *d, md_shape in) {
  md_shape o;
  assert_int_equal(md_conv2d_output_shape(d, in, &o), MD_OK);
  return o;
}

/* Workspace for `in` on the current thread count, filled with NaN: the
 * kernels must write before they read. */
static float *workspace(const md_conv2d_desc *d, md_shape in, size_t *n) {
  assert_int_equal(md_conv2d_workspace_floats(d, in, 0, n), MD_OK);
  float *ws = falloc(*n);
  for (size_t i = 0; i < *n; ++i) ws[i] = NAN;
  return ws;
}

/* x read with zero padding, in double */
static double xat(const float *x, md_shape in, int64_t n, int64_t c, int64_t i, int64_t j) {
  if (i < 0 || j < 0 || i >= in.h || j >= in.w) return 0.0;
  return x[((n * in.c + c) * in.h + i) * in.w + j];
}

/* The definition: y[n][o][i][j] = b[o] + sum w[o][c][u][v] x[n][c][i*s-p+u][j*s-p+v]. */
static void ref_forward(const md_conv2d_desc *d, md_shape in, const float *x, const float *w,
                        const float *b, double *y) {
  const md_shape o = out_shape(d, in);
  for (int64_t n = 0; n < in.n; ++n)
    for (int64_t oc = 0; oc < o.c; ++oc)
      for (int64_t i = 0; i < o.h; ++i)
        for (int64_t j = 0; j < o.w; ++j) {
          double s = b ? b[oc] : 0.0;
          for (int64_t c = 0; c < in.c; ++c)
            for (int u = 0; u < d->k_h; ++u)
              for (int v = 0; v < d->k_w; ++v)
                s += (double)w[((oc * in.c + c) * d->k_h + u) * d->k_w + v] *
                     xat(x, in, n, c, i * d->stride - d->pad + u, j * d->stride - d->pad + v);
          y[((n * o.c + oc) * o.h + i) * o.w + j] = s;
        }
}

/* Gradients of sum(y * dy) from the definition (overwrites dx, dw, db). */
static void ref_backward(const md_conv2d_desc *d, md_shape in, const float *x, const float *w,
                         const float *dy, double *dx, double *dw, double *db) {
  const md_shape o = out_shape(d, in);
  memset(dx, 0, sizeof(double) * numel(in));
  memset(dw, 0, sizeof(double) * (size_t)md_conv2d_weight_numel(d));
  if (db) memset(db, 0, sizeof(double) * (size_t)d->out_c);
  for (int64_t n = 0; n < in.n; ++n)
    for (int64_t oc = 0; oc < o.c; ++oc)
      for (int64_t i = 0; i < o.h; ++i)
        for (int64_t j = 0; j < o.w; ++j) {
          const double g = dy[((n * o.c + oc) * o.h + i) * o.w + j];
          if (db) db[oc] += g;
          for (int64_t c = 0; c < in.c; ++c)
            for (int u = 0; u < d->k_h; ++u)
              for (int v = 0; v < d->k_w; ++v) {
                const int64_t ii = i * d->stride - d->pad + u, jj = j * d->stride - d->pad + v;
                if (ii < 0 || jj < 0 || ii >= in.h || jj >= in.w) continue;
                const size_t xi = (size_t)(((n * in.c + c) * in.h + ii) * in.w + jj);
                const size_t wi = (size_t)(((oc * in.c + c) * d->k_h + u) * d->k_w + v);
                dx[xi] += g * w[wi];
                dw[wi] += g * x[xi];
              }
        }
}

/* |got - want| <= atol + rtol * |want|, with atol relative to max |want|. */
static void assert_close_d(const float *got, const double *want, size_t n, double rtol,
                           double atol_of_max, const char *what) {
  double mx = 0.0;
  for (size_t i = 0; i < n; ++i) mx = fmax(mx, fabs(want[i]));
  for (size_t i = 0; i < n; ++i) {
    const double e = fabs((double)got[i] - want[i]);
    if (!(e <= atol_of_max * mx + rtol * fabs(want[i])))
      fail_msg("%s[%zu]: got %.9g, want %.9g (|diff| %.3g, max |want| %.3g)", what, i,
               (double)got[i], want[i], e, mx);
  }
}

/* ------------------------------------------------------ shape arithmetic */

static void test_output_shapes(void **state) {
  (void)state;
  static const struct {
    int k_h, k_w, stride, pad;
    int64_t h, w, oh, ow;
  } t[] = {
      {3, 3, 1, 1, 32, 32, 32, 32},   /* ResNet 3x3 */
      {3, 3, 2, 1, 32, 32, 16, 16},   /* downsampling 3x3 */
      {1, 1, 2, 0, 32, 32, 16, 16},   /* shortcut 1x1 stride 2 */
      {1, 1, 2, 0, 7, 7, 4, 4},       /* odd size: (7 - 1) / 2 + 1 */
      {3, 3, 2, 1, 7, 5, 4, 3},       /* (7 + 2 - 3) / 2 + 1 = 4, (5 - 1) / 2 + 1 = 3 */
      {7, 7, 2, 3, 224, 224, 112, 112},
      {5, 5, 1, 2, 9, 7, 9, 7},
      {3, 3, 1, 0, 3, 3, 1, 1},
      {3, 5, 1, 0, 4, 9, 2, 5},
      {5, 5, 1, 1, 3, 3, 1, 1},       /* kernel exactly the padded input */
      {2, 2, 3, 0, 8, 8, 3, 3},       /* stride larger than the kernel */
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; ++i) {
    const md_conv2d_desc d = {4, 6, t[i].k_h, t[i].k_w, t[i].stride, t[i].pad, 0, MD_CONV2D_AUTO};
    md_shape o;
    assert_int_equal(md_conv2d_output_shape(&d, md_shape4(3, 4, t[i].h, t[i].w), &o), MD_OK);
    assert_int_equal(o.n, 3);
    assert_int_equal(o.c, 6);
    assert_int_equal(o.h, t[i].oh);
    assert_int_equal(o.w, t[i].ow);
  }
  const md_conv2d_desc d = {4, 6, 3, 3, 1, 0, 1, MD_CONV2D_AUTO};
  assert_int_equal(md_conv2d_weight_numel(&d), 6 * 4 * 3 * 3);
}

static void test_bad_shapes(void **state) {
  (void)state;
  md_shape o;
  const md_conv2d_desc d = {4, 6, 5, 5, 1, 1, 0, MD_CONV2D_AUTO};
  /* 5x5 kernel on a 2x2 image padded to 4x4 */
  assert_int_equal(md_conv2d_output_shape(&d, md_shape4(1, 4, 2, 2), &o), MD_ERR_SHAPE);
  assert_int_equal(md_conv2d_output_shape(&d, md_shape4(1, 3, 8, 8), &o), MD_ERR_SHAPE);
  assert_int_equal(md_conv2d_output_shape(&d, md_shape4(-1, 4, 8, 8), &o), MD_ERR_SHAPE);
  assert_int_equal(md_conv2d_output_shape(&d, md_shape4(1, 4, (int64_t)1 << 40, 8), &o),
                   MD_ERR_SHAPE);
  assert_int_equal(md_conv2d_output_shape(&d, md_shape4(0, 4, 8, 8), &o), MD_ERR_EMPTY);
  assert_int_equal(md_conv2d_output_shape(&d, md_shape4(2, 4, 0, 8), &o), MD_ERR_EMPTY);
  assert_int_equal(md_conv2d_output_shape(&d, md_shape4(2, 4, 8, 8), NULL),
                   MD_ERR_INVALID_ARGUMENT);
}

static void test_bad_descriptors(void **state) {
  (void)state;
  static const md_conv2d_desc bad[] = {
      {0, 4, 3, 3, 1, 1, 0, MD_CONV2D_AUTO},  {3, 0, 3, 3, 1, 1, 0, MD_CONV2D_AUTO},
      {3, 4, 0, 3, 1, 1, 0, MD_CONV2D_AUTO},  {3, 4, 3, -1, 1, 1, 0, MD_CONV2D_AUTO},
      {3, 4, 3, 3, 0, 1, 0, MD_CONV2D_AUTO},  {3, 4, 3, 3, 1, -1, 0, MD_CONV2D_AUTO},
      {3, 4, 3, 3, 1, 1, 2, MD_CONV2D_AUTO},  {3, 4, 3, 3, -2, 1, 0, MD_CONV2D_AUTO},
      {3, 4, 3, 3, 1, 1, 0, (md_conv2d_algo)4},  /* unknown algorithm */
      {3, 4, 5, 5, 1, 2, 0, MD_CONV2D_WINOGRAD_2X2}, /* Winograd needs 3x3 ... */
      {3, 4, 3, 3, 2, 1, 0, MD_CONV2D_WINOGRAD_4X4}, /* ... and stride 1 */
      {3, 4, 3, 1, 1, 1, 0, MD_CONV2D_WINOGRAD_4X4},
      {1 << 20, 4, 1 << 6, 1 << 6, 1, 0, 0, MD_CONV2D_AUTO}, /* in_c*k_h*k_w overflows int */
  };
  md_shape o;
  size_t ws;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
    assert_int_equal(md_conv2d_check(&bad[i]), MD_ERR_INVALID_ARGUMENT);
    assert_int_equal(md_conv2d_output_shape(&bad[i], md_shape4(1, bad[i].in_c, 8, 8), &o),
                     MD_ERR_INVALID_ARGUMENT);
    assert_int_equal(md_conv2d_workspace_floats(&bad[i], md_shape4(1, bad[i].in_c, 8, 8), 1,
                                                &ws),
                     MD_ERR_INVALID_ARGUMENT);
    assert_int_equal(md_conv2d_weight_numel(&bad[i]), 0);
  }
  assert_int_equal(md_conv2d_check(NULL), MD_ERR_INVALID_ARGUMENT);
  const md_conv2d_desc ok = {3, 4, 3, 3, 1, 1, 1, MD_CONV2D_AUTO};
  assert_int_equal(md_conv2d_check(&ok), MD_OK);
}

static void test_bad_arguments(void **state) {
  (void)state;
  const md_conv2d_desc d = {2, 3, 3, 3, 1, 1, 1, MD_CONV2D_AUTO};
  const md_shape in = md_shape4(2, 2, 6, 6);
  const md_shape o = out_shape(&d, in);
  size_t wsn;
  float *ws = workspace(&d, in, &wsn);
  float *x = falloc(numel(in)), *w = falloc(54), *b = falloc(3), *y = falloc(numel(o));
  float *dx = falloc(numel(in)), *dw = falloc(54), *db = falloc(3);
  /* bias must be given exactly when the layer has one */
  assert_int_equal(md_conv2d_forward(&d, in, x, w, NULL, y, ws, wsn), MD_ERR_INVALID_ARGUMENT);
  const md_conv2d_desc nb = {2, 3, 3, 3, 1, 1, 0, MD_CONV2D_AUTO};
  assert_int_equal(md_conv2d_forward(&nb, in, x, w, b, y, ws, wsn), MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_conv2d_backward(&nb, in, x, w, y, dx, dw, db, ws, wsn),
                   MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_conv2d_forward(&d, in, NULL, w, b, y, ws, wsn), MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_conv2d_forward(&d, in, x, w, b, NULL, ws, wsn), MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_conv2d_backward(&d, in, x, w, NULL, dx, dw, db, ws, wsn),
                   MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_conv2d_backward(&d, in, NULL, w, y, dx, dw, db, ws, wsn),
                   MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_conv2d_backward(&d, in, x, NULL, y, dx, dw, db, ws, wsn),
                   MD_ERR_INVALID_ARGUMENT);
  /* a workspace smaller than one thread's share */
  if (wsn > 0) {
    assert_int_equal(md_conv2d_forward(&d, in, x, w, b, y, ws, 0), MD_ERR_INVALID_ARGUMENT);
    assert_int_equal(md_conv2d_forward(&d, in, x, w, b, y, NULL, wsn),
                     MD_ERR_INVALID_ARGUMENT);
    assert_int_equal(md_conv2d_backward(&d, in, x, w, y, dx, dw, db, ws, 1),
                     MD_ERR_INVALID_ARGUMENT);
  }
  /* shape errors pass through */
  assert_int_equal(md_conv2d_forward(&d, md_shape4(2, 3, 6, 6), x, w, b, y, ws, wsn),
                   MD_ERR_SHAPE);
  assert_int_equal(md_conv2d_forward(&d, md_shape4(0, 2, 6, 6), x, w, b, y, ws, wsn),
                   MD_ERR_EMPTY);
  free(ws);
  free(x);
  free(w);
  free(b);
  free(y);
  free(dx);
  free(dw);
  free(db);
}

/* ------------------------------------------------ numerics vs definition */

typedef struct conv_case {
  int n, c, h, w, oc, k_h, k_w, stride, pad, bias;
} conv_case;

static const conv_case cases[] = {
    {2, 3, 7, 7, 4, 3, 3, 1, 1, 1},     /* 3x3 same */
    {2, 3, 7, 6, 4, 3, 3, 2, 1, 0},     /* 3x3 stride 2, non-square */
    {3, 5, 5, 5, 4, 1, 1, 1, 0, 1},     /* 1x1 */
    {2, 4, 9, 7, 3, 1, 1, 2, 0, 0},     /* 1x1 stride 2, odd */
    {1, 2, 8, 8, 3, 5, 5, 1, 2, 1},     /* 5x5 pad 2 */
    {2, 2, 11, 9, 3, 7, 7, 2, 3, 1},    /* 7x7 stride 2 pad 3 */
    {2, 3, 6, 5, 2, 3, 2, 1, 0, 1},     /* non-square kernel, valid */
    {1, 2, 5, 5, 3, 3, 3, 3, 2, 0},     /* stride 3 */
    {2, 20, 6, 6, 24, 3, 3, 1, 1, 1},   /* more channels */
    {2, 16, 17, 17, 16, 3, 3, 1, 1, 0}, /* 289 positions: two tiles per image */
    {9, 8, 4, 4, 8, 3, 3, 1, 1, 1},     /* many images per tile */
    {2, 16, 5, 7, 16, 3, 3, 1, 0, 1},   /* 3x3 valid, odd */
    {2, 16, 6, 6, 16, 3, 3, 1, 2, 0},   /* 3x3 pad 2 */
    {3, 16, 7, 5, 20, 3, 3, 1, 1, 1},   /* odd output: half-empty Winograd tiles */
    {1, 16, 46, 46, 16, 3, 3, 1, 1, 1}, /* Winograd F(2x2): an image cut into two blocks */
    {1, 16, 66, 65, 16, 3, 3, 1, 1, 0}, /* Winograd F(4x4): an image cut into two blocks */
    {2, 3, 9, 9, 5, 3, 3, 1, 1, 1},     /* few channels */
};

/* The algorithms to run a case with: im2col always, Winograd where it applies. */
static int algos_for(const conv_case *t, md_conv2d_algo out[3]) {
  out[0] = MD_CONV2D_IM2COL;
  if (t->k_h == 3 && t->k_w == 3 && t->stride == 1) {
    out[1] = MD_CONV2D_WINOGRAD_2X2;
    out[2] = MD_CONV2D_WINOGRAD_4X4;
    return 3;
  }
  return 1;
}
enum { n_cases = sizeof cases / sizeof cases[0] };

typedef struct conv_data {
  md_conv2d_desc d;
  md_shape in, out;
  size_t nx, ny, nw;
  float *x, *w, *b, *dy;
} conv_data;

static conv_data make_data(const conv_case *t, uint64_t stream, md_conv2d_algo algo) {
  conv_data s;
  s.d = (md_conv2d_desc){t->c, t->oc, t->k_h, t->k_w, t->stride, t->pad, t->bias, algo};
  s.in = md_shape4(t->n, t->c, t->h, t->w);
  s.out = out_shape(&s.d, s.in);
  s.nx = numel(s.in);
  s.ny = numel(s.out);
  s.nw = (size_t)md_conv2d_weight_numel(&s.d);
  s.x = falloc(s.nx);
  s.w = falloc(s.nw);
  s.b = t->bias ? falloc((size_t)t->oc) : NULL;
  s.dy = falloc(s.ny);
  md_fill_uniform(s.x, s.nx, -1.0f, 1.0f, stream);
  md_fill_uniform(s.w, s.nw, -0.5f, 0.5f, stream + 1);
  if (s.b) md_fill_uniform(s.b, (size_t)t->oc, -1.0f, 1.0f, stream + 2);
  md_fill_uniform(s.dy, s.ny, -1.0f, 1.0f, stream + 3);
  return s;
}

static void free_data(conv_data *s) {
  free(s->x);
  free(s->w);
  free(s->b);
  free(s->dy);
}

static void run_forward(const conv_data *s, float *y) {
  size_t wsn;
  float *ws = workspace(&s->d, s->in, &wsn);
  assert_int_equal(md_conv2d_forward(&s->d, s->in, s->x, s->w, s->b, y, ws, wsn), MD_OK);
  free(ws);
}

static void run_backward(const conv_data *s, float *dx, float *dw, float *db) {
  size_t wsn;
  float *ws = workspace(&s->d, s->in, &wsn);
  assert_int_equal(
      md_conv2d_backward(&s->d, s->in, s->x, s->w, s->dy, dx, dw, db, ws, wsn), MD_OK);
  free(ws);
}

static void test_against_definition(void **state) {
  (void)state;
  for (int k = 0; k < n_cases; ++k) {
   md_conv2d_algo algos[3];
   const int na = algos_for(&cases[k], algos);
   for (int a = 0; a < na; ++a) {
    conv_data s = make_data(&cases[k], 100 + 10 * (uint64_t)k, algos[a]);
    float *y = falloc(s.ny), *dx = falloc(s.nx), *dw = falloc(s.nw);
    float *db = s.b ? falloc((size_t)s.d.out_c) : NULL;
    double *ry = dalloc(s.ny), *rdx = dalloc(s.nx), *rdw = dalloc(s.nw);
    double *rdb = s.b ? dalloc((size_t)s.d.out_c) : NULL;
    run_forward(&s, y);
    run_backward(&s, dx, dw, db);
    ref_forward(&s.d, s.in, s.x, s.w, s.b, ry);
    ref_backward(&s.d, s.in, s.x, s.w, s.dy, rdx, rdw, rdb);
    assert_close_d(y, ry, s.ny, 1e-5, 1e-5, "y");
    assert_close_d(dx, rdx, s.nx, 1e-5, 1e-5, "dx");
    assert_close_d(dw, rdw, s.nw, 1e-5, 1e-5, "dw");
    if (db) assert_close_d(db, rdb, (size_t)s.d.out_c, 1e-5, 1e-5, "db");
    free(y);
    free(dx);
    free(dw);
    free(db);
    free(ry);
    free(rdx);
    free(rdw);
    free(rdb);
    free_data(&s);
   }
  }
}

/* L = sum(y * dy) in double. */
static double loss(const conv_data *s, float *y) {
  run_forward(s, y);
  double l = 0.0;
  for (size_t i = 0; i < s->ny; ++i) l += (double)y[i] * s->dy[i];
  return l;
}

/* Central difference of L in element *p, step h. */
static double central(const conv_data *s, float *p, float h, float *y) {
  const float keep = *p;
  *p = keep + h;
  const double lp = loss(s, y);
  *p = keep - h;
  const double lm = loss(s, y);
  *p = keep;
  return (lp - lm) / (2.0 * (double)h);
}

static void fd_check(const conv_data *s, float *param, size_t n, const float *grad,
                     const char *what, float *y) {
  const size_t step = n > 60 ? n / 60 : 1; /* at most ~60 elements per tensor */
  for (size_t i = 0; i < n; i += step) {
    const double fd = central(s, &param[i], 0.25f, y);
    const double e = fabs(fd - grad[i]);
    if (!(e <= 2e-4 + 1e-3 * fabs(fd)))
      fail_msg("%s[%zu]: finite difference %.7g, backward %.7g", what, i, fd, (double)grad[i]);
  }
}

static void test_finite_differences(void **state) {
  (void)state;
  const int pick[] = {0, 1, 3, 4, 5, 6, 8, 11, 13};
  for (size_t k = 0; k < sizeof pick / sizeof pick[0]; ++k) {
   md_conv2d_algo algos[3];
   const int na = algos_for(&cases[pick[k]], algos);
   for (int a = 0; a < na; ++a) {
    conv_data s = make_data(&cases[pick[k]], 500 + 10 * (uint64_t)k, algos[a]);
    float *y = falloc(s.ny), *dx = falloc(s.nx), *dw = falloc(s.nw);
    float *db = s.b ? falloc((size_t)s.d.out_c) : NULL;
    run_backward(&s, dx, dw, db);
    fd_check(&s, s.x, s.nx, dx, "dx", y);
    fd_check(&s, s.w, s.nw, dw, "dw", y);
    if (db) fd_check(&s, s.b, (size_t)s.d.out_c, db, "db", y);
    free(y);
    free(dx);
    free(dw);
    free(db);
    free_data(&s);
   }
  }
}

/* ---------------------------------------------- fused output step (eval) */

/* Every path (im2col with whole-image and in-image tiles, 1x1, Winograd
 * channels-last and channel-first, with and without bias): the fused forward
 * gives the bits of forward, then BatchNorm in evaluation (+ add, ReLU). */
static void test_fused_epilogue(void **state) {
  (void)state;
  static const struct {
    int affine, add, relu;
  } steps[] = {{1, 0, 1}, {1, 1, 1}, {0, 1, 0}, {1, 0, 0}, {0, 0, 1}};
  for (int k = 0; k < n_cases; ++k) {
    md_conv2d_algo algos[3];
    const int na = algos_for(&cases[k], algos);
    for (int a = 0; a <= na; ++a) {
      conv_data s = make_data(&cases[k], 1300 + 10 * (uint64_t)k,
                              a == na ? MD_CONV2D_AUTO : algos[a]);
      const size_t oc = (size_t)s.d.out_c;
      float *w = falloc(oc), *b = falloc(oc), *rm = falloc(oc), *rv = falloc(oc);
      float *mean = falloc(oc), *scale = falloc(oc), *shift = falloc(oc);
      float *add = falloc(s.ny), *want = falloc(s.ny), *got = falloc(s.ny);
      md_fill_uniform(w, oc, 0.5f, 1.5f, 1);
      md_fill_uniform(b, oc, -0.5f, 0.5f, 2);
      md_fill_uniform(rm, oc, -0.3f, 0.3f, 3);
      md_fill_uniform(rv, oc, 0.2f, 2.0f, 4);
      md_fill_uniform(add, s.ny, -1.0f, 1.0f, 5);
      assert_int_equal(md_batchnorm_eval_terms((int64_t)oc, w, b, rm, rv, 1e-5f, mean, scale,
                                               shift),
                       MD_OK);
      for (size_t st = 0; st < sizeof steps / sizeof steps[0]; ++st) {
        run_forward(&s, want);
        if (steps[st].affine) {
          const md_bn_epilogue bep = {steps[st].add ? add : NULL, steps[st].relu};
          assert_int_equal(md_batchnorm_forward_eval_ep(s.out, want, w, b, rm, rv, 1e-5f, &bep,
                                                        want),
                           MD_OK);
        } else {
          if (steps[st].add)
            assert_int_equal(md_residual_add_forward((int64_t)s.ny, want, add, want), MD_OK);
          if (steps[st].relu) assert_int_equal(md_relu_forward((int64_t)s.ny, want, want), MD_OK);
        }
        const md_conv_epilogue ep = {steps[st].affine ? mean : NULL,
                                     steps[st].affine ? scale : NULL,
                                     steps[st].affine ? shift : NULL,
                                     steps[st].add ? add : NULL, steps[st].relu};
        size_t wsn;
        float *ws = workspace(&s.d, s.in, &wsn);
        assert_int_equal(md_conv2d_forward_ep(&s.d, s.in, s.x, s.w, s.b, &ep, got, ws, wsn),
                         MD_OK);
        md_assert_floats_identical(got, want, s.ny);
        /* the residual may not be the output itself */
        const md_conv_epilogue self = {NULL, NULL, NULL, got, 0};
        assert_int_equal(md_conv2d_forward_ep(&s.d, s.in, s.x, s.w, s.b, &self, got, ws, wsn),
                         MD_ERR_INVALID_ARGUMENT);
        const md_conv_epilogue partial = {mean, NULL, shift, NULL, 0};
        assert_int_equal(
            md_conv2d_forward_ep(&s.d, s.in, s.x, s.w, s.b, &partial, got, ws, wsn),
            MD_ERR_INVALID_ARGUMENT);
        free(ws);
      }
      free(w);
      free(b);
      free(rm);
      free(rv);
      free(mean);
      free(scale);
      free(shift);
      free(add);
      free(want);
      free(got);
      free_data(&s);
    }
  }
}

/* ------------------------------------------- accumulation, NULL gradients */

static void accumulates_and_null_gradients(md_conv2d_algo algo) {
  conv_data s = make_data(&cases[0], 900, algo);
  const size_t nb = (size_t)s.d.out_c;
  float *dx1 = falloc(s.nx), *dw1 = falloc(s.nw), *db1 = falloc(nb);
  run_backward(&s, dx1, dw1, db1);

  /* from a non-zero start, twice: start + 2 * gradient */
  float *dx = falloc(s.nx), *dw = falloc(s.nw), *db = falloc(nb);
  float *dx0 = falloc(s.nx), *dw0 = falloc(s.nw), *db0 = falloc(nb);
  md_fill_uniform(dx0, s.nx, -3.0f, 3.0f, 901);
  md_fill_uniform(dw0, s.nw, -3.0f, 3.0f, 902);
  md_fill_uniform(db0, nb, -3.0f, 3.0f, 903);
  memcpy(dx, dx0, sizeof(float) * s.nx);
  memcpy(dw, dw0, sizeof(float) * s.nw);
  memcpy(db, db0, sizeof(float) * nb);
  run_backward(&s, dx, dw, db);
  run_backward(&s, dx, dw, db);
  double *want = dalloc(s.nx > s.nw ? s.nx : s.nw);
  for (size_t i = 0; i < s.nx; ++i) want[i] = (double)dx0[i] + 2.0 * dx1[i];
  assert_close_d(dx, want, s.nx, 1e-6, 1e-6, "dx after two calls");
  for (size_t i = 0; i < s.nw; ++i) want[i] = (double)dw0[i] + 2.0 * dw1[i];
  assert_close_d(dw, want, s.nw, 1e-6, 1e-6, "dw after two calls");
  for (size_t i = 0; i < nb; ++i) want[i] = (double)db0[i] + 2.0 * db1[i];
  assert_close_d(db, want, nb, 1e-6, 1e-6, "db after two calls");

  /* each gradient may be left out without changing the others */
  float *g = falloc(s.nw), *gb = falloc(nb), *gx = falloc(s.nx);
  run_backward(&s, NULL, g, gb);
  md_assert_floats_identical(g, dw1, s.nw);
  md_assert_floats_identical(gb, db1, nb);
  memset(gb, 0, sizeof(float) * nb);
  run_backward(&s, gx, NULL, gb);
  md_assert_floats_identical(gx, dx1, s.nx);
  md_assert_floats_identical(gb, db1, nb);
  memset(gx, 0, sizeof(float) * s.nx);
  memset(g, 0, sizeof(float) * s.nw);
  run_backward(&s, gx, g, NULL);
  md_assert_floats_identical(gx, dx1, s.nx);
  md_assert_floats_identical(g, dw1, s.nw);
  /* nothing wanted: a valid no-op, even without x and weight */
  size_t wsn;
  float *ws = workspace(&s.d, s.in, &wsn);
  assert_int_equal(md_conv2d_backward(&s.d, s.in, NULL, NULL, s.dy, NULL, NULL, NULL, ws, wsn),
                   MD_OK);
  free(ws);

  free(dx1);
  free(dw1);
  free(db1);
  free(dx);
  free(dw);
  free(db);
  free(dx0);
  free(dw0);
  free(db0);
  free(want);
  free(g);
  free(gb);
  free(gx);
  free_data(&s);
}

static void test_accumulates_and_null_gradients(void **state) {
  (void)state;
  accumulates_and_null_gradients(MD_CONV2D_IM2COL);
  accumulates_and_null_gradients(MD_CONV2D_WINOGRAD_2X2);
  accumulates_and_null_gradients(MD_CONV2D_WINOGRAD_4X4);
}

/* -------------------------------------------------- threads and workspace */

/* Runs forward and backward with `threads` threads and a workspace sized for
 * `ws_threads` threads of a batch of `plan_n` images. */
static void run_all(const conv_data *s, int threads, int ws_threads, int plan_n, float *y,
                    float *dx, float *dw, float *db) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  md_shape plan = s->in;
  plan.n = plan_n;
  size_t wsn;
  assert_int_equal(md_conv2d_workspace_floats(&s->d, plan, ws_threads, &wsn), MD_OK);
  float *ws = falloc(wsn);
  for (size_t i = 0; i < wsn; ++i) ws[i] = NAN;
  assert_int_equal(md_conv2d_forward(&s->d, s->in, s->x, s->w, s->b, y, ws, wsn), MD_OK);
  assert_int_equal(
      md_conv2d_backward(&s->d, s->in, s->x, s->w, s->dy, dx, dw, s->b ? db : NULL, ws, wsn),
      MD_OK);
  free(ws);
  omp_set_num_threads(saved);
}

static void test_thread_count_independence(void **state) {
  (void)state;
  const conv_case big[] = {
      {6, 24, 20, 20, 32, 3, 3, 1, 1, 1}, /* tiles inside images */
      {21, 16, 5, 5, 24, 3, 3, 2, 1, 1},  /* tiles of whole images */
      {5, 32, 16, 16, 8, 1, 1, 1, 0, 1},  /* 1x1 without im2col */
      {4, 3, 18, 18, 16, 3, 3, 1, 1, 0},  /* few input channels */
      {6, 24, 20, 20, 32, 3, 3, 1, 1, 1}, /* Winograd (auto), one block per image */
      {2, 16, 50, 50, 16, 3, 3, 1, 1, 0}, /* Winograd F(2x2), images cut into blocks */
      {2, 16, 66, 66, 16, 3, 3, 1, 1, 0}, /* Winograd F(4x4), images cut into blocks */
      {3, 16, 12, 12, 16, 3, 3, 1, 1, 1}, /* Winograd F(2x2) (auto: output < 16x16) */
      {37, 32, 4, 4, 16, 3, 3, 1, 1, 1},  /* Winograd, blocks of whole images */
  };
  for (size_t k = 0; k < sizeof big / sizeof big[0]; ++k) {
    conv_data s = make_data(&big[k], 1000 + 10 * (uint64_t)k,
                            k == 0 ? MD_CONV2D_IM2COL : MD_CONV2D_AUTO);
    const size_t nb = (size_t)s.d.out_c;
    float *y1 = falloc(s.ny), *dx1 = falloc(s.nx), *dw1 = falloc(s.nw), *db1 = falloc(nb);
    float *y = falloc(s.ny), *dx = falloc(s.nx), *dw = falloc(s.nw), *db = falloc(nb);
    run_all(&s, 1, 1, big[k].n, y1, dx1, dw1, db1);
    const int counts[] = {2, 3, 4};
    for (size_t t = 0; t < 3; ++t) {
      memset(dx, 0, sizeof(float) * s.nx);
      memset(dw, 0, sizeof(float) * s.nw);
      memset(db, 0, sizeof(float) * nb);
      run_all(&s, counts[t], counts[t], big[k].n, y, dx, dw, db);
      md_assert_floats_identical(y, y1, s.ny);
      md_assert_floats_identical(dx, dx1, s.nx);
      md_assert_floats_identical(dw, dw1, s.nw);
      md_assert_floats_identical(db, db1, nb);
    }
    /* more threads than the workspace holds: it runs on fewer, same result */
    memset(dx, 0, sizeof(float) * s.nx);
    memset(dw, 0, sizeof(float) * s.nw);
    memset(db, 0, sizeof(float) * nb);
    run_all(&s, 4, 1, big[k].n, y, dx, dw, db);
    md_assert_floats_identical(y, y1, s.ny);
    md_assert_floats_identical(dw, dw1, s.nw);
    /* a workspace planned for a larger batch serves a smaller one */
    memset(dx, 0, sizeof(float) * s.nx);
    memset(dw, 0, sizeof(float) * s.nw);
    memset(db, 0, sizeof(float) * nb);
    run_all(&s, 2, 2, 4 * big[k].n, y, dx, dw, db);
    md_assert_floats_identical(y, y1, s.ny);
    md_assert_floats_identical(dx, dx1, s.nx);
    free(y1);
    free(dx1);
    free(dw1);
    free(db1);
    free(y);
    free(dx);
    free(dw);
    free(db);
    free_data(&s);
  }
}

/* Each image's output depends on that image only: a batch equals its images
 * run one at a time. */
static void test_images_independent(void **state) {
  (void)state;
  const conv_case t = {5, 8, 6, 6, 8, 3, 3, 1, 1, 1};
  conv_data s = make_data(&t, 1200, MD_CONV2D_AUTO);
  float *y = falloc(s.ny);
  run_forward(&s, y);
  const size_t xi = s.nx / 5, yi = s.ny / 5;
  for (int n = 0; n < 5; ++n) {
    conv_data one = s;
    one.in.n = 1;
    one.out.n = 1;
    one.x = s.x + n * xi;
    one.nx = xi;
    one.ny = yi;
    float *y1 = falloc(yi);
    run_forward(&one, y1);
    md_assert_floats_close(y1, y + n * yi, yi, 1e-6f, 1e-6f);
    free(y1);
  }
  free(y);
  free_data(&s);
}

/* Padding is zero even when the image holds infinities: values next to the
 * border must not leak into padded positions (y stays finite where the
 * kernel never reaches the infinite pixel). */
static void test_padding_is_zero(void **state) {
  (void)state;
  const md_conv2d_desc d = {1, 1, 3, 3, 1, 1, 0, MD_CONV2D_AUTO};
  const md_shape in = md_shape4(1, 1, 4, 4);
  float x[16] = {0}, w[9], y[16], dy[16], dx[16] = {0}, dw[9] = {0};
  for (int i = 0; i < 9; ++i) w[i] = 1.0f;
  x[3] = INFINITY; /* top-right corner */
  size_t wsn;
  float *ws = workspace(&d, in, &wsn);
  assert_int_equal(md_conv2d_forward(&d, in, x, w, NULL, y, ws, wsn), MD_OK);
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) {
      const int touches = i <= 1 && j >= 2;
      if (touches) assert_true(isinf(y[i * 4 + j]));
      else assert_float_equal(y[i * 4 + j], 0.0f, 0.0f);
    }
  for (int i = 0; i < 16; ++i) dy[i] = 1.0f;
  dy[3] = INFINITY;
  assert_int_equal(md_conv2d_backward(&d, in, x, w, dy, dx, NULL, NULL, ws, wsn), MD_OK);
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) {
      const int touches = i <= 1 && j >= 2;
      if (!touches) assert_true(isfinite(dx[i * 4 + j]));
    }
  (void)dw;
  free(ws);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fused_epilogue),
      cmocka_unit_test(test_output_shapes),
      cmocka_unit_test(test_bad_shapes),
      cmocka_unit_test(test_bad_descriptors),
      cmocka_unit_test(test_bad_arguments),
      cmocka_unit_test(test_against_definition),
      cmocka_unit_test(test_finite_differences),
      cmocka_unit_test(test_accumulates_and_null_gradients),
      cmocka_unit_test(test_thread_count_independence),
      cmocka_unit_test(test_images_independent),
      cmocka_unit_test(test_padding_is_zero),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
