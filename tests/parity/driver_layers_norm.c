/* Runs one normalisation / activation / pooling / loss layer on .npy inputs
 * and writes its outputs and gradients as .npy, for the PyTorch parity test:
 *
 *   driver_layers_norm bn_train DIR MOMENTUM EPS
 *       in:  x, weight, bias, dy; optional running_mean + running_var,
 *            optional dx0, dweight0, dbias0 (initial gradient contents)
 *       out: y, save_mean, save_invstd, dx, dweight, dbias,
 *            running_mean_out, running_var_out (when given)
 *   driver_layers_norm bn_eval DIR EPS
 *       in:  x, weight, bias, running_mean, running_var, dy; optional dx0...
 *       out: y, dx, dweight, dbias
 *   driver_layers_norm relu DIR x|y     (backward reads the input or output)
 *       in:  x, dy; optional dx0      out: y, dx, dx_inplace
 *   driver_layers_norm add DIR
 *       in:  a, b, dy; optional da0, db0   out: y, da, db
 *   driver_layers_norm avgpool DIR K    (K = 0: global average pool)
 *       in:  x, dy; optional dx0      out: y, dx
 *   driver_layers_norm xent DIR
 *       in:  logits (N, K), labels (N, float32 holding integers);
 *            optional dlogits0        out: dlogits, pred
 *
 * Prints "status CODE" and, per operation, extra "key value" lines
 * (num_batches_tracked, loss with 17 digits, correct). A layer error is
 * reported in CODE with exit status 0 so that the test can check it; a
 * missing or malformed file exits with status 1. Every output buffer is
 * allocated with its exact size, so that a sanitizer build catches any
 * out-of-bounds access. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maxdrop/activation.h"
#include "maxdrop/batchnorm.h"
#include "maxdrop/loss.h"
#include "maxdrop/npy.h"
#include "maxdrop/pool.h"
#include "maxdrop/residual.h"

static const char *g_dir;

static void die(const char *msg) {
  fprintf(stderr, "driver_layers_norm: %s\n", msg);
  exit(1);
}

static void path_of(char *buf, size_t cap, const char *name) {
  if ((size_t)snprintf(buf, cap, "%s/%s.npy", g_dir, name) >= cap) die("path too long");
}

static int exists(const char *name) {
  char p[4096];
  path_of(p, sizeof p, name);
  FILE *f = fopen(p, "rb");
  if (f) fclose(f);
  return f != NULL;
}

/* Reads DIR/name.npy (float32); fills dims / ndim when not NULL. */
static float *load(const char *name, int64_t *numel, int64_t *dims, int *ndim) {
  char p[4096];
  path_of(p, sizeof p, name);
  md_npy_array a;
  md_errbuf eb;
  if (md_npy_read(p, &a, &eb) != MD_OK) die(eb.msg);
  if (a.dtype != MD_NPY_F32) die("inputs must be float32");
  if (numel) *numel = a.numel;
  if (dims) memcpy(dims, a.dims, sizeof a.dims);
  if (ndim) *ndim = a.ndim;
  return (float *)a.data; /* malloc'd by md_npy_read; freed with free() */
}

/* A zeroed buffer, or the contents of DIR/init.npy when that file exists. */
static float *grad_buffer(const char *init, int64_t numel) {
  float *g = calloc((size_t)(numel > 0 ? numel : 1), sizeof *g);
  if (!g) die("out of memory");
  if (init && exists(init)) {
    int64_t n;
    float *v = load(init, &n, NULL, NULL);
    if (n != numel) die("initial gradient has the wrong size");
    memcpy(g, v, (size_t)numel * sizeof *g);
    free(v);
  }
  return g;
}

static void save(const char *name, int ndim, const int64_t *dims, const float *data) {
  char p[4096];
  path_of(p, sizeof p, name);
  md_errbuf eb;
  if (md_npy_write(p, MD_NPY_F32, ndim, dims, data, &eb) != MD_OK) die(eb.msg);
}

static md_shape shape_of(const int64_t *dims, int ndim) {
  if (ndim != 4) die("expected a 4-D input");
  return md_shape4(dims[0], dims[1], dims[2], dims[3]);
}

static int bn(int training, int argc, char **argv) {
  if (argc != (training ? 5 : 4)) die("bad arguments for bn_train / bn_eval");
  const float momentum = training ? strtof(argv[3], NULL) : 0.0f;
  const float eps = strtof(argv[training ? 4 : 3], NULL);
  int64_t dims[MD_NPY_MAX_DIMS], numel, c;
  int ndim;
  float *x = load("x", &numel, dims, &ndim);
  const md_shape s = shape_of(dims, ndim);
  float *w = load("weight", &c, NULL, NULL);
  float *b = load("bias", NULL, NULL, NULL);
  float *dy = load("dy", NULL, NULL, NULL);
  float *rm = NULL, *rv = NULL;
  if (!training || exists("running_mean")) {
    rm = load("running_mean", NULL, NULL, NULL);
    rv = load("running_var", NULL, NULL, NULL);
  }
  float *y = malloc((size_t)numel * sizeof *y);
  float *sm = malloc((size_t)c * sizeof *sm), *si = malloc((size_t)c * sizeof *si);
  float *dx = grad_buffer("dx0", numel), *dw = grad_buffer("dweight0", c),
        *db = grad_buffer("dbias0", c);
  if (!y || !sm || !si) die("out of memory");
  int64_t nbt = 0;
  md_status st;
  if (training) {
    st = md_batchnorm_forward_train(s, x, w, b, momentum, eps, rm, rv, &nbt, sm, si, y);
    if (st == MD_OK) st = md_batchnorm_backward_train(s, x, dy, w, sm, eps, dx, dw, db);
  } else {
    st = md_batchnorm_forward_eval(s, x, w, b, rm, rv, eps, y);
    if (st == MD_OK) st = md_batchnorm_backward_eval(s, x, dy, w, rm, rv, eps, dx, dw, db);
  }
  printf("status %d\nnum_batches_tracked %lld\n", (int)st, (long long)nbt);
  const int64_t cd[1] = {c};
  if (st == MD_OK) {
    save("y", 4, dims, y);
    save("dx", 4, dims, dx);
    save("dweight", 1, cd, dw);
    save("dbias", 1, cd, db);
    if (training) {
      save("save_mean", 1, cd, sm);
      save("save_invstd", 1, cd, si);
    }
  }
  if (training && rm) { /* written on failure too: the test checks them untouched */
    save("running_mean_out", 1, cd, rm);
    save("running_var_out", 1, cd, rv);
  }
  free(x); free(w); free(b); free(dy); free(rm); free(rv);
  free(y); free(sm); free(si); free(dx); free(dw); free(db);
  return 0;
}

static int relu(int argc, char **argv) {
  if (argc != 4 || (strcmp(argv[3], "x") && strcmp(argv[3], "y")))
    die("usage: relu DIR x|y");
  int64_t dims[MD_NPY_MAX_DIMS], n;
  int ndim;
  float *x = load("x", &n, dims, &ndim);
  float *dy = load("dy", NULL, NULL, NULL);
  float *y = malloc((size_t)n * sizeof *y);
  float *dx = grad_buffer("dx0", n);
  float *dxi = malloc((size_t)n * sizeof *dxi);
  if (!y || !dxi) die("out of memory");
  md_status st = md_relu_forward(n, x, y);
  const float *ref = argv[3][0] == 'x' ? x : y;
  if (st == MD_OK) st = md_relu_backward(n, ref, dy, dx);
  memcpy(dxi, dy, (size_t)n * sizeof *dxi);
  if (st == MD_OK) st = md_relu_backward_inplace(n, ref, dxi);
  printf("status %d\n", (int)st);
  if (st == MD_OK) {
    save("y", ndim, dims, y);
    save("dx", ndim, dims, dx);
    save("dx_inplace", ndim, dims, dxi);
  }
  free(x); free(dy); free(y); free(dx); free(dxi);
  return 0;
}

static int add(int argc, char **argv) {
  (void)argv;
  if (argc != 3) die("usage: add DIR");
  int64_t dims[MD_NPY_MAX_DIMS], n;
  int ndim;
  float *a = load("a", &n, dims, &ndim);
  float *b = load("b", NULL, NULL, NULL);
  float *dy = load("dy", NULL, NULL, NULL);
  float *y = malloc((size_t)n * sizeof *y);
  float *da = grad_buffer("da0", n), *db = grad_buffer("db0", n);
  if (!y) die("out of memory");
  md_status st = md_residual_add_forward(n, a, b, y);
  if (st == MD_OK) st = md_residual_add_backward(n, dy, da, db);
  printf("status %d\n", (int)st);
  if (st == MD_OK) {
    save("y", ndim, dims, y);
    save("da", ndim, dims, da);
    save("db", ndim, dims, db);
  }
  free(a); free(b); free(dy); free(y); free(da); free(db);
  return 0;
}

static int avgpool(int argc, char **argv) {
  if (argc != 4) die("usage: avgpool DIR K");
  const int k = atoi(argv[3]);
  int64_t dims[MD_NPY_MAX_DIMS], n;
  int ndim;
  float *x = load("x", &n, dims, &ndim);
  const md_shape s = shape_of(dims, ndim);
  float *dy = load("dy", NULL, NULL, NULL);
  int64_t od[4] = {s.n, s.c, 1, 1};
  int ond = 2;
  if (k > 0) {
    const md_shape o = md_avgpool2d_out_shape(s, k);
    od[2] = o.h;
    od[3] = o.w;
    ond = 4;
  }
  const int64_t on = od[0] * od[1] * od[2] * od[3];
  float *y = malloc((size_t)(on > 0 ? on : 1) * sizeof *y);
  float *dx = grad_buffer("dx0", n);
  if (!y) die("out of memory");
  md_status st;
  if (k > 0) {
    st = md_avgpool2d_forward(s, k, x, y);
    if (st == MD_OK) st = md_avgpool2d_backward(s, k, dy, dx);
  } else {
    st = md_global_avgpool_forward(s, x, y);
    if (st == MD_OK) st = md_global_avgpool_backward(s, dy, dx);
  }
  printf("status %d\n", (int)st);
  if (st == MD_OK) {
    save("y", ond, od, y);
    save("dx", 4, dims, dx);
  }
  free(x); free(dy); free(y); free(dx);
  return 0;
}

static int xent(int argc, char **argv) {
  (void)argv;
  if (argc != 3) die("usage: xent DIR");
  int64_t dims[MD_NPY_MAX_DIMS], numel, n;
  int ndim;
  float *z = load("logits", &numel, dims, &ndim);
  if (ndim != 2) die("logits must be 2-D");
  float *lf = load("labels", &n, NULL, NULL);
  if (n != dims[0]) die("labels do not match the logits");
  int32_t *labels = malloc((size_t)n * sizeof *labels);
  int32_t *pred = malloc((size_t)n * sizeof *pred);
  float *predf = malloc((size_t)n * sizeof *predf);
  float *g = grad_buffer("dlogits0", numel);
  if (!labels || !pred || !predf) die("out of memory");
  for (int64_t i = 0; i < n; ++i) labels[i] = (int32_t)lf[i];
  double loss = NAN;
  int64_t correct = -1;
  const md_status st = md_softmax_xent(dims[0], dims[1], z, labels, &loss, g, pred, &correct);
  printf("status %d\nloss %.17g\ncorrect %lld\n", (int)st, loss, (long long)correct);
  if (st == MD_OK) {
    for (int64_t i = 0; i < n; ++i) predf[i] = (float)pred[i];
    save("dlogits", 2, dims, g);
    save("pred", 1, &n, predf);
  }
  free(z); free(lf); free(labels); free(pred); free(predf); free(g);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 3) die("usage: driver_layers_norm OP DIR [ARGS]");
  g_dir = argv[2];
  if (!strcmp(argv[1], "bn_train")) return bn(1, argc, argv);
  if (!strcmp(argv[1], "bn_eval")) return bn(0, argc, argv);
  if (!strcmp(argv[1], "relu")) return relu(argc, argv);
  if (!strcmp(argv[1], "add")) return add(argc, argv);
  if (!strcmp(argv[1], "avgpool")) return avgpool(argc, argv);
  if (!strcmp(argv[1], "xent")) return xent(argc, argv);
  die("unknown operation");
  return 1;
}
