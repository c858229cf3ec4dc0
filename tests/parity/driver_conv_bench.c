/* Times Conv2d forward and backward on the convolution shapes of CIFAR
 * ResNet-18 and WRN-16-4 and prints one JSON line per shape, then one per
 * network with the per-step total (each shape times its count in the net).
 * tools/bench_conv_torch.py prints the same lines for PyTorch.
 *
 *   driver_conv_bench [--batch N] [--reps R] [--net resnet18|wrn16-4|all]
 *                     [--threads T]
 *
 * Backward computes dx, dweight (and no dbias: these convolutions have none),
 * except for the first layer, which has no input gradient (dx = NULL). Times
 * are medians over R repetitions after one warm-up, in milliseconds (and the
 * minimum, less sensitive to other processes on a shared machine). --only I
 * times only the I-th shape of the table (from 0); --algo forces an algorithm
 * where it applies. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "maxdrop/conv2d.h"
#include "maxdrop/rng.h"

typedef struct shape {
  const char *net;
  int in_c, out_c, hw, k, stride, pad, count, first;
} shape;

static const shape shapes[] = {
    /* net          in   out  hw  k  s  p  count first */
    {"resnet18", 3, 64, 32, 3, 1, 1, 1, 1},
    {"resnet18", 64, 64, 32, 3, 1, 1, 4, 0},
    {"resnet18", 64, 128, 32, 3, 2, 1, 1, 0},
    {"resnet18", 128, 128, 16, 3, 1, 1, 3, 0},
    {"resnet18", 64, 128, 32, 1, 2, 0, 1, 0},
    {"resnet18", 128, 256, 16, 3, 2, 1, 1, 0},
    {"resnet18", 256, 256, 8, 3, 1, 1, 3, 0},
    {"resnet18", 128, 256, 16, 1, 2, 0, 1, 0},
    {"resnet18", 256, 512, 8, 3, 2, 1, 1, 0},
    {"resnet18", 512, 512, 4, 3, 1, 1, 3, 0},
    {"resnet18", 256, 512, 8, 1, 2, 0, 1, 0},
    {"wrn16-4", 3, 16, 32, 3, 1, 1, 1, 1},
    {"wrn16-4", 16, 64, 32, 3, 1, 1, 1, 0},
    {"wrn16-4", 16, 64, 32, 1, 1, 0, 1, 0},
    {"wrn16-4", 64, 64, 32, 3, 1, 1, 3, 0},
    {"wrn16-4", 64, 128, 32, 3, 2, 1, 1, 0},
    {"wrn16-4", 64, 128, 32, 1, 2, 0, 1, 0},
    {"wrn16-4", 128, 128, 16, 3, 1, 1, 3, 0},
    {"wrn16-4", 128, 256, 16, 3, 2, 1, 1, 0},
    {"wrn16-4", 128, 256, 16, 1, 2, 0, 1, 0},
    {"wrn16-4", 256, 256, 8, 3, 1, 1, 3, 0},
};
enum { n_shapes = sizeof shapes / sizeof shapes[0] };

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static float *alloc_random(size_t n, uint64_t stream) {
  float *p = malloc(sizeof(float) * (n ? n : 1));
  if (!p) {
    fprintf(stderr, "driver_conv_bench: out of memory\n");
    exit(1);
  }
  md_rng r;
  md_rng_init(&r, 7, stream);
  for (size_t i = 0; i < n; ++i) p[i] = md_rng_uniform(&r) - 0.5f;
  return p;
}

int main(int argc, char **argv) {
  int batch = 128, reps = 5;
  const char *net = "all";
  int only = -1;
  md_conv2d_algo algo = MD_CONV2D_AUTO;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--net") && i + 1 < argc) net = argv[++i];
    else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--algo") && i + 1 < argc) {
      ++i;
      algo = !strcmp(argv[i], "im2col")     ? MD_CONV2D_IM2COL
             : !strcmp(argv[i], "winograd") ? MD_CONV2D_WINOGRAD
                                            : MD_CONV2D_AUTO;
    }
    else if (!strcmp(argv[i], "--threads") && i + 1 < argc) omp_set_num_threads(atoi(argv[++i]));
    else {
      fprintf(stderr, "usage: driver_conv_bench [--batch N] [--reps R] "
                      "[--net resnet18|wrn16-4|all] [--threads T] [--only I]\n"
                      "                         [--algo auto|im2col|winograd]\n");
      return 2;
    }
  }
  if (batch < 1 || reps < 1 || reps > 1000) return 2;
  const int threads = omp_get_max_threads();
  double total_fwd[2] = {0, 0}, total_bwd[2] = {0, 0};
  const char *nets[2] = {"resnet18", "wrn16-4"};

  for (int s = 0; s < n_shapes; ++s) {
    const shape *sh = &shapes[s];
    if (strcmp(net, "all") && strcmp(net, sh->net)) continue;
    if (only >= 0 && only != s) continue;
    md_conv2d_desc d = {sh->in_c, sh->out_c, sh->k, sh->k, sh->stride, sh->pad, 0, algo};
    if (algo == MD_CONV2D_WINOGRAD && (sh->k != 3 || sh->stride != 1)) d.algo = MD_CONV2D_AUTO;
    const md_shape in = {batch, sh->in_c, sh->hw, sh->hw};
    md_shape out;
    size_t wsn;
    if (md_conv2d_output_shape(&d, in, &out) != MD_OK ||
        md_conv2d_workspace_floats(&d, in, 0, &wsn) != MD_OK)
      return 1;
    const size_t wn = (size_t)md_conv2d_weight_numel(&d);
    float *x = alloc_random((size_t)md_shape_numel(in), 1);
    float *w = alloc_random(wn, 2);
    float *dy = alloc_random((size_t)md_shape_numel(out), 3);
    float *y = alloc_random((size_t)md_shape_numel(out), 4);
    float *dx = alloc_random((size_t)md_shape_numel(in), 5);
    float *dw = alloc_random(wn, 6);
    float *ws = alloc_random(wsn, 7);
    double tf[1000], tb[1000];
    for (int r = -1; r < reps; ++r) {
      const double t0 = now_ms();
      if (md_conv2d_forward(&d, in, x, w, NULL, y, ws, wsn) != MD_OK) return 1;
      const double t1 = now_ms();
      if (md_conv2d_backward(&d, in, x, w, dy, sh->first ? NULL : dx, dw, NULL, ws, wsn) !=
          MD_OK)
        return 1;
      const double t2 = now_ms();
      if (r >= 0) {
        tf[r] = t1 - t0;
        tb[r] = t2 - t1;
      }
    }
    const double mf = median(tf, reps), mb = median(tb, reps); /* sorts tf, tb */
    const double minf = tf[0], minb = tb[0];
    const double flops = 2.0 * (double)out.n * out.c * out.h * out.w * sh->in_c * sh->k * sh->k;
    printf("{\"impl\": \"maxdrop\", \"net\": \"%s\", \"in_c\": %d, \"out_c\": %d, \"hw\": %d, "
           "\"k\": %d, \"stride\": %d, \"pad\": %d, \"batch\": %d, \"threads\": %d, "
           "\"count\": %d, \"fwd_ms\": %.3f, \"bwd_ms\": %.3f, \"fwd_gflops\": %.1f, "
           "\"bwd_gflops\": %.1f, \"fwd_min_ms\": %.3f, \"bwd_min_ms\": %.3f, "
           "\"workspace_mb\": %.2f}\n",
           sh->net, sh->in_c, sh->out_c, sh->hw, sh->k, sh->stride, sh->pad, batch, threads,
           sh->count, mf, mb, flops / mf * 1e-6, (sh->first ? 1 : 2) * flops / mb * 1e-6,
           minf, minb, wsn * 4.0 / 1048576.0);
    fflush(stdout);
    const int ni = strcmp(sh->net, "resnet18") ? 1 : 0;
    total_fwd[ni] += sh->count * mf;
    total_bwd[ni] += sh->count * mb;
    free(x);
    free(w);
    free(dy);
    free(y);
    free(dx);
    free(dw);
    free(ws);
  }
  for (int i = 0; i < 2; ++i) {
    if (strcmp(net, "all") && strcmp(net, nets[i])) continue;
    printf("{\"impl\": \"maxdrop\", \"net\": \"%s\", \"total\": true, \"batch\": %d, "
           "\"threads\": %d, \"fwd_ms\": %.1f, \"bwd_ms\": %.1f, \"step_conv_ms\": %.1f}\n",
           nets[i], batch, threads, total_fwd[i], total_bwd[i], total_fwd[i] + total_bwd[i]);
  }
  return 0;
}
