/* Trains a whole maxdrop model for a few SGD steps from a checkpoint and
 * writes everything the PyTorch parity test compares
 * (tests/parity/test_model_parity.py):
 *
 *   driver_model OUT CKPT X.npy LABELS.npy [options]
 *     CKPT     initial weights and statistics (safetensors, state_dict names)
 *     X        float32 (S, N, 3, 32, 32): the batch of each of the S steps
 *     LABELS   float32 (S, N) holding integer labels
 *   options: --arch resnet18|wrn --width W --depth D --widen K --classes C
 *            --reg none|maxdropout|dropout --rate R --maxdrop-in-eval
 *            --lr LR --last-n M (the last step uses the first M samples)
 *            --grad-steps T1,T2,... (steps whose gradients are written; default 0)
 *
 * Writes into OUT:
 *   logits_<t>.npy         logits of step t's training forward
 *   loss.txt               "t loss correct" per step (loss with 17 digits)
 *   state_<t>.safetensors  the model before step t (parameters, statistics,
 *                          counters, momentum, regularizer streams), t = 0..S;
 *                          state_S is the state after the last step
 *   grad_<t>.<name>.npy    every parameter's gradient after step t's backward,
 *                          for the steps of --grad-steps
 *   mask_<t>_<i>.npy       uint8 keep-mask of regularizer layer i at step t
 *   relu_<t>_<j>.npy       uint8 (y > 0) of the j-th ReLU of step t's forward
 *   eval_logits.npy        evaluation forward of step 0's batch after training
 *   mask_eval_<i>.npy      with --maxdrop-in-eval: the masks of that forward
 * Exit status 1 with a message on any failure. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maxdrop/model.h"
#include "maxdrop/npy.h"
#include "maxdrop/sgd.h"
#include "models/model_internal.h" /* the ReLU trace hook */

static const char *g_out;

static void die(const char *what, md_status st, const md_errbuf *eb) {
  fprintf(stderr, "driver_model: %s: %s\n", what,
          eb && eb->msg[0] ? eb->msg : md_strerror(st));
  exit(1);
}

static void check(md_status st, const char *what) {
  if (st != MD_OK) die(what, st, NULL);
}

static void out_path(char *buf, size_t cap, const char *name) {
  if ((size_t)snprintf(buf, cap, "%s/%s", g_out, name) >= cap) die("path too long", MD_OK, NULL);
}

static void write_f32(const char *name, int ndim, const int64_t *dims, const float *data) {
  char p[4096];
  out_path(p, sizeof p, name);
  md_errbuf eb;
  const md_status st = md_npy_write(p, MD_NPY_F32, ndim, dims, data, &eb);
  if (st != MD_OK) die(p, st, &eb);
}

static void write_masks(md_model *m, const char *tag) {
  for (int i = 0; i < md_model_reg_count(m); ++i) {
    md_shape s;
    check(md_model_reg_mask(m, i, &s, NULL), "reg mask shape");
    if (s.n == 0) continue; /* layer not run */
    const int64_t numel = md_shape_numel(s);
    if (numel < 1) die("empty mask", MD_ERR_EMPTY, NULL);
    uint8_t *keep = malloc((size_t)numel);
    if (!keep) die("out of memory", MD_ERR_OUT_OF_MEMORY, NULL);
    check(md_model_reg_mask(m, i, &s, keep), "reg mask");
    char name[128], p[4096];
    snprintf(name, sizeof name, "mask_%s_%d.npy", tag, i);
    out_path(p, sizeof p, name);
    const int64_t dims[4] = {s.n, s.c, s.h, s.w};
    md_errbuf eb;
    const md_status st = md_npy_write(p, MD_NPY_U8, 4, dims, keep, &eb);
    if (st != MD_OK) die(p, st, &eb);
    free(keep);
  }
}

/* Trace hook: writes each ReLU's pass-mask (y > 0) of the current step. */
static int g_step;

static void trace_relu(void *ctx, int index, md_shape s, const float *y) {
  (void)ctx;
  const int64_t numel = md_shape_numel(s);
  if (numel < 1) die("empty ReLU output", MD_ERR_EMPTY, NULL);
  uint8_t *pass = malloc((size_t)numel);
  if (!pass) die("out of memory", MD_ERR_OUT_OF_MEMORY, NULL);
  for (int64_t i = 0; i < numel; ++i) pass[i] = y[i] > 0.0f;
  char name[128], p[4096];
  snprintf(name, sizeof name, "relu_%d_%d.npy", g_step, index);
  out_path(p, sizeof p, name);
  const int64_t dims[4] = {s.n, s.c, s.h, s.w};
  md_errbuf eb;
  const md_status st = md_npy_write(p, MD_NPY_U8, 4, dims, pass, &eb);
  if (st != MD_OK) die(p, st, &eb);
  free(pass);
}

static void save_state(md_model *m, int t) {
  char name[64], p[4096];
  snprintf(name, sizeof name, "state_%d.safetensors", t);
  out_path(p, sizeof p, name);
  md_errbuf eb = {{0}};
  const md_status st = md_model_save(m, p, 1, NULL, 0, &eb);
  if (st != MD_OK) die(p, st, &eb);
}

/* Whether step t is in the comma-separated list. */
static int wants_grads(const char *list, int t) {
  const char *s = list;
  while (*s) {
    char *end;
    const long v = strtol(s, &end, 10);
    if (end == s) return 0;
    if (v == t) return 1;
    s = *end == ',' ? end + 1 : end;
  }
  return 0;
}

static int parse_reg(const char *s) {
  if (!strcmp(s, "none")) return MD_REG_NONE;
  if (!strcmp(s, "maxdropout")) return MD_REG_MAXDROPOUT;
  if (!strcmp(s, "dropout")) return MD_REG_DROPOUT;
  die("unknown --reg", MD_ERR_INVALID_ARGUMENT, NULL);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: driver_model OUT CKPT X.npy LABELS.npy [options]\n");
    return 1;
  }
  g_out = argv[1];
  const char *ckpt = argv[2], *xpath = argv[3], *ypath = argv[4];
  md_model_config cfg = md_model_default_config(MD_ARCH_RESNET18);
  double lr = 0.1, rate = 0.3;
  int last_n = 0, reg = MD_REG_NONE;
  const char *grad_steps = "0";
  for (int i = 5; i < argc; ++i) {
    const char *a = argv[i];
    if (!strcmp(a, "--maxdrop-in-eval")) {
      cfg.maxdrop_in_eval = 1;
      continue;
    }
    if (i + 1 >= argc) die(a, MD_ERR_INVALID_ARGUMENT, NULL);
    const char *v = argv[++i];
    if (!strcmp(a, "--arch")) {
      cfg.arch = !strcmp(v, "wrn") ? MD_ARCH_WRN : MD_ARCH_RESNET18;
    } else if (!strcmp(a, "--width")) {
      cfg.width = atoi(v);
    } else if (!strcmp(a, "--depth")) {
      cfg.depth = atoi(v);
    } else if (!strcmp(a, "--widen")) {
      cfg.widen = atoi(v);
    } else if (!strcmp(a, "--classes")) {
      cfg.num_classes = atoi(v);
    } else if (!strcmp(a, "--reg")) {
      reg = parse_reg(v);
    } else if (!strcmp(a, "--rate")) {
      rate = atof(v);
    } else if (!strcmp(a, "--lr")) {
      lr = atof(v);
    } else if (!strcmp(a, "--grad-steps")) {
      grad_steps = v;
    } else if (!strcmp(a, "--last-n")) {
      last_n = atoi(v);
    } else {
      die(a, MD_ERR_INVALID_ARGUMENT, NULL);
    }
  }
  cfg.reg = (md_reg_kind)reg;
  cfg.maxdrop.rate = rate;
  cfg.dropout_p = rate;

  md_errbuf eb = {{0}};
  md_npy_array X, Y;
  md_status st = md_npy_read(xpath, &X, &eb);
  if (st != MD_OK) die(xpath, st, &eb);
  st = md_npy_read(ypath, &Y, &eb);
  if (st != MD_OK) die(ypath, st, &eb);
  if (X.dtype != MD_NPY_F32 || X.ndim != 5 || X.dims[2] != 3 || X.dims[3] != 32 ||
      X.dims[4] != 32 || Y.dtype != MD_NPY_F32 || Y.ndim != 2 || Y.dims[0] != X.dims[0] ||
      Y.dims[1] != X.dims[1])
    die("X must be float32 (S, N, 3, 32, 32) and LABELS float32 (S, N)", MD_ERR_SHAPE, NULL);
  const int steps = (int)X.dims[0], N = (int)X.dims[1];
  const float *x = X.data, *yf = Y.data;
  int32_t *labels = malloc((size_t)N * sizeof *labels);
  if (!labels) die("out of memory", MD_ERR_OUT_OF_MEMORY, NULL);

  md_model *m = NULL;
  st = md_model_create(&cfg, N, 1234, &m, &eb);
  if (st != MD_OK) die("md_model_create", st, &eb);
  st = md_model_load(m, ckpt, 0, &eb);
  if (st != MD_OK) die(ckpt, st, &eb);
  md_sgd opt;
  const md_sgd_config sc = md_sgd_config_reference();
  st = md_sgd_init(&opt, &sc, md_model_param_count(m), &eb);
  if (st != MD_OK) die("md_sgd_init", st, &eb);

  char p[4096], name[256];
  out_path(p, sizeof p, "loss.txt");
  FILE *lf = fopen(p, "w");
  if (!lf) die(p, MD_ERR_IO, NULL);
  const int K = cfg.num_classes;
  save_state(m, 0);
  for (int t = 0; t < steps; ++t) {
    const int n = (t == steps - 1 && last_n > 0) ? last_n : N;
    for (int i = 0; i < n; ++i) labels[i] = (int32_t)yf[(size_t)t * N + i];
    const float *xt = x + (size_t)t * N * 3 * 32 * 32;
    double loss = 0.0;
    int64_t correct = 0;
    md_model_zero_grad(m);
    g_step = t;
    m->trace = trace_relu;
    check(md_model_forward(m, n, xt, 1), "forward");
    m->trace = NULL;
    check(md_model_loss(m, labels, &loss, &correct), "loss");
    check(md_model_backward(m), "backward");
    fprintf(lf, "%d %.17g %lld\n", t, loss, (long long)correct);
    const int64_t ldims[2] = {n, K};
    snprintf(name, sizeof name, "logits_%d.npy", t);
    write_f32(name, 2, ldims, md_model_logits(m));
    snprintf(name, sizeof name, "%d", t);
    write_masks(m, name);
    if (wants_grads(grad_steps, t)) {
      for (size_t i = 0; i < md_model_tensor_count(m); ++i) {
        const md_model_tensor *e = md_model_tensor_at(m, i);
        if (e->kind == MD_MT_PARAM) {
          snprintf(name, sizeof name, "grad_%d.%s.npy", t, e->name);
          write_f32(name, e->ndim, e->shape, md_model_grads(m) + e->offset);
        }
      }
    }
    check(md_model_sgd_step(m, &opt, lr), "sgd step");
    save_state(m, t + 1);
  }
  fclose(lf);

  check(md_model_eval_batch(m, N, x, NULL, NULL, NULL), "eval forward");
  const int64_t edims[2] = {N, K};
  write_f32("eval_logits.npy", 2, edims, md_model_logits(m));
  if (cfg.maxdrop_in_eval) write_masks(m, "eval");

  md_model_free(m);
  md_npy_free(&X);
  md_npy_free(&Y);
  free(labels);
  return 0;
}
