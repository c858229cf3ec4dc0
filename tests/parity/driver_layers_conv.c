/* Runs Conv2d or Linear on .npy inputs and writes the outputs and gradients,
 * for tests/parity/test_conv_linear_parity.py.
 *
 *   driver_layers_conv conv DIR IN_C OUT_C K_H K_W STRIDE PAD BIAS [options]
 *   driver_layers_conv linear DIR IN_F OUT_F BIAS [options]
 *
 * Reads DIR/x.npy, DIR/w.npy, DIR/b.npy (when BIAS is 1) and DIR/dy.npy;
 * writes DIR/y.npy, DIR/dx.npy, DIR/dw.npy and DIR/db.npy (when BIAS is 1).
 * The gradients start from DIR/dx0.npy, dw0.npy, db0.npy when those exist
 * (else from zero), so that accumulation can be checked. Options:
 *   --calls K    run backward K times (default 1)
 *   --no-dx      pass dx = NULL (and write no dx.npy)
 *   --threads T  omp_set_num_threads(T) first
 *   --algo A     conv algorithm: auto (default), im2col or winograd
 * The conv workspace is filled with NaN before use: nothing may read it
 * before writing it. Exit status 0 on success, 1 on a library error, 2 on a
 * usage error. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maxdrop/conv2d.h"
#include "maxdrop/linear.h"
#include "maxdrop/npy.h"

static const char *dir;

static const char *path_of(const char *name) {
  static char buf[4096];
  snprintf(buf, sizeof buf, "%s/%s", dir, name);
  return buf;
}

static int file_exists(const char *name) {
  FILE *f = fopen(path_of(name), "rb");
  if (f) fclose(f);
  return f != NULL;
}

/* Reads DIR/name (float32) and checks its rank and element count; exits on error. */
static float *load(const char *name, int ndim, md_npy_array *a, int64_t numel) {
  md_errbuf eb;
  if (md_npy_read(path_of(name), a, &eb) != MD_OK) {
    fprintf(stderr, "driver_layers_conv: %s\n", eb.msg);
    exit(1);
  }
  if (a->dtype != MD_NPY_F32 || a->ndim != ndim || (numel >= 0 && a->numel != numel)) {
    fprintf(stderr, "driver_layers_conv: %s has the wrong dtype, rank or size\n", name);
    exit(1);
  }
  return a->data;
}

/* A zeroed buffer of n floats, or the contents of DIR/init when it exists. */
static float *grad_buffer(const char *init, int64_t n) {
  float *g = calloc((size_t)n, sizeof(float));
  if (!g) exit(1);
  if (file_exists(init)) {
    md_npy_array a;
    md_errbuf eb;
    if (md_npy_read(path_of(init), &a, &eb) != MD_OK || a.numel != n ||
        a.dtype != MD_NPY_F32) {
      fprintf(stderr, "driver_layers_conv: bad %s\n", init);
      exit(1);
    }
    memcpy(g, a.data, sizeof(float) * (size_t)n);
    md_npy_free(&a);
  }
  return g;
}

static void save(const char *name, int ndim, const int64_t *dims, const float *data) {
  md_errbuf eb;
  if (md_npy_write(path_of(name), MD_NPY_F32, ndim, dims, data, &eb) != MD_OK) {
    fprintf(stderr, "driver_layers_conv: %s\n", eb.msg);
    exit(1);
  }
}

static void check(md_status st, const char *what) {
  if (st != MD_OK) {
    fprintf(stderr, "driver_layers_conv: %s failed: %s\n", what, md_strerror(st));
    exit(1);
  }
}

static int calls = 1, no_dx = 0;
static md_conv2d_algo algo = MD_CONV2D_AUTO;

static void parse_options(int argc, char **argv, int first) {
  for (int i = first; i < argc; ++i) {
    if (!strcmp(argv[i], "--calls") && i + 1 < argc) {
      calls = atoi(argv[++i]);
    } else if (!strcmp(argv[i], "--no-dx")) {
      no_dx = 1;
    } else if (!strcmp(argv[i], "--algo") && i + 1 < argc) {
      ++i;
      if (!strcmp(argv[i], "im2col")) algo = MD_CONV2D_IM2COL;
      else if (!strcmp(argv[i], "winograd")) algo = MD_CONV2D_WINOGRAD;
      else if (!strcmp(argv[i], "auto")) algo = MD_CONV2D_AUTO;
      else exit(2);
    } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
      omp_set_num_threads(atoi(argv[++i]));
    } else {
      fprintf(stderr, "driver_layers_conv: unknown option '%s'\n", argv[i]);
      exit(2);
    }
  }
}

static int run_conv(int argc, char **argv) {
  if (argc < 10) return 2;
  md_conv2d_desc d = {atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), atoi(argv[6]),
                      atoi(argv[7]), atoi(argv[8]), atoi(argv[9]), MD_CONV2D_AUTO};
  parse_options(argc, argv, 10);
  d.algo = algo;
  md_npy_array ax, aw, ab = {0}, ady;
  float *x = load("x.npy", 4, &ax, -1);
  const md_shape in = {ax.dims[0], ax.dims[1], ax.dims[2], ax.dims[3]};
  md_shape out;
  check(md_conv2d_output_shape(&d, in, &out), "md_conv2d_output_shape");
  const int64_t wn = md_conv2d_weight_numel(&d);
  float *w = load("w.npy", 4, &aw, wn);
  float *b = d.has_bias ? load("b.npy", 1, &ab, d.out_c) : NULL;
  float *dy = load("dy.npy", 4, &ady, md_shape_numel(out));

  size_t wsn;
  check(md_conv2d_workspace_floats(&d, in, 0, &wsn), "md_conv2d_workspace_floats");
  float *ws = malloc(sizeof(float) * (wsn ? wsn : 1));
  float *y = malloc(sizeof(float) * (size_t)md_shape_numel(out));
  if (!ws || !y) return 1;
  for (size_t i = 0; i < wsn; ++i) ws[i] = NAN;

  check(md_conv2d_forward(&d, in, x, w, b, y, ws, wsn), "md_conv2d_forward");
  float *dx = no_dx ? NULL : grad_buffer("dx0.npy", md_shape_numel(in));
  float *dw = grad_buffer("dw0.npy", wn);
  float *db = d.has_bias ? grad_buffer("db0.npy", d.out_c) : NULL;
  for (int c = 0; c < calls; ++c) {
    for (size_t i = 0; i < wsn; ++i) ws[i] = NAN;
    check(md_conv2d_backward(&d, in, x, w, dy, dx, dw, db, ws, wsn), "md_conv2d_backward");
  }

  const int64_t ydims[4] = {out.n, out.c, out.h, out.w};
  save("y.npy", 4, ydims, y);
  if (dx) save("dx.npy", 4, ax.dims, dx);
  save("dw.npy", 4, aw.dims, dw);
  if (db) save("db.npy", 1, ab.dims, db);

  free(ws);
  free(y);
  free(dx);
  free(dw);
  free(db);
  md_npy_free(&ax);
  md_npy_free(&aw);
  md_npy_free(&ab);
  md_npy_free(&ady);
  return 0;
}

static int run_linear(int argc, char **argv) {
  if (argc < 6) return 2;
  md_linear_desc d = {atoi(argv[3]), atoi(argv[4]), atoi(argv[5])};
  parse_options(argc, argv, 6);
  md_npy_array ax, aw, ab = {0}, ady;
  float *x = load("x.npy", 2, &ax, -1);
  const int n = (int)ax.dims[0];
  if (ax.dims[1] != d.in_f) return 1;
  float *w = load("w.npy", 2, &aw, md_linear_weight_numel(&d));
  float *b = d.has_bias ? load("b.npy", 1, &ab, d.out_f) : NULL;
  float *dy = load("dy.npy", 2, &ady, (int64_t)n * d.out_f);
  float *y = malloc(sizeof(float) * (size_t)n * (size_t)d.out_f);
  if (!y) return 1;
  check(md_linear_forward(&d, n, x, w, b, y), "md_linear_forward");
  float *dx = no_dx ? NULL : grad_buffer("dx0.npy", (int64_t)n * d.in_f);
  float *dw = grad_buffer("dw0.npy", md_linear_weight_numel(&d));
  float *db = d.has_bias ? grad_buffer("db0.npy", d.out_f) : NULL;
  for (int c = 0; c < calls; ++c)
    check(md_linear_backward(&d, n, x, w, dy, dx, dw, db), "md_linear_backward");
  save("y.npy", 2, ady.dims, y);
  if (dx) save("dx.npy", 2, ax.dims, dx);
  save("dw.npy", 2, aw.dims, dw);
  if (db) save("db.npy", 1, ab.dims, db);
  free(y);
  free(dx);
  free(dw);
  free(db);
  md_npy_free(&ax);
  md_npy_free(&aw);
  md_npy_free(&ab);
  md_npy_free(&ady);
  return 0;
}

int main(int argc, char **argv) {
  int rc = 2;
  if (argc >= 3) {
    dir = argv[2];
    if (!strcmp(argv[1], "conv")) rc = run_conv(argc, argv);
    else if (!strcmp(argv[1], "linear")) rc = run_linear(argc, argv);
  }
  if (rc == 2)
    fprintf(stderr, "usage: driver_layers_conv conv DIR IN_C OUT_C K_H K_W STRIDE PAD BIAS "
                    "[--calls K] [--no-dx] [--threads T] [--algo A]\n"
                    "       driver_layers_conv linear DIR IN_F OUT_F BIAS [options]\n");
  return rc;
}
