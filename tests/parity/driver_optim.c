/* Parity driver for the optimizer and the learning-rate schedule.
 *
 *   driver_optim sgd P0.npy GRADS.npy OUT_P.npy OUT_M.npy MOMENTUM DAMPENING WD NESTEROV LRS
 *     P0 (n) float32 initial parameters; GRADS (steps, n) one gradient per step;
 *     LRS: the learning rate of each step, comma-separated (steps values).
 *     Writes the parameters (steps, n) and momentum buffers (steps, n) after
 *     each step (the momentum rows are zeros when MOMENTUM is 0).
 *
 *   driver_optim lr MODE BASE GAMMA EPOCHS M1,M2,...
 *     MODE standard|reference; prints the learning rate of epochs 0..EPOCHS-1,
 *     one per line, with 17 significant digits (exact for a double). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maxdrop/lr_schedule.h"
#include "maxdrop/npy.h"
#include "maxdrop/sgd.h"

static int fail(const char *what, const md_errbuf *eb) {
  fprintf(stderr, "driver_optim: %s: %s\n", what, eb ? eb->msg : "");
  return 1;
}

/* Parses a comma-separated list of doubles into out (at most cap values). */
static int parse_list(const char *s, double *out, int cap) {
  int n = 0;
  while (*s) {
    char *end;
    if (n == cap) return -1;
    out[n++] = strtod(s, &end);
    if (end == s) return -1;
    s = end;
    if (*s == ',') ++s;
    else if (*s) return -1;
  }
  return n;
}

static int cmd_sgd(int argc, char **argv) {
  if (argc != 11) {
    fprintf(stderr, "usage: driver_optim sgd P0 GRADS OUT_P OUT_M MOMENTUM DAMPENING WD "
                    "NESTEROV LRS\n");
    return 2;
  }
  md_errbuf eb = {{0}};
  md_npy_array p0, g;
  if (md_npy_read(argv[2], &p0, &eb) != MD_OK) return fail("reading P0", &eb);
  if (md_npy_read(argv[3], &g, &eb) != MD_OK) return fail("reading GRADS", &eb);
  if (p0.dtype != MD_NPY_F32 || g.dtype != MD_NPY_F32 || g.ndim != 2 || g.dims[1] != p0.numel) {
    fprintf(stderr, "driver_optim: P0 must be float32 (n), GRADS float32 (steps, n)\n");
    return 2;
  }
  const int64_t n = p0.numel, steps = g.dims[0];
  double *lrs = malloc((size_t)(steps + 1) * sizeof *lrs);
  if (!lrs || parse_list(argv[10], lrs, (int)steps + 1) != steps) {
    fprintf(stderr, "driver_optim: LRS must list %lld learning rates\n", (long long)steps);
    return 2;
  }
  md_sgd_config cfg = {strtod(argv[6], NULL), strtod(argv[7], NULL), strtod(argv[8], NULL),
                       atoi(argv[9])};
  md_sgd opt;
  if (md_sgd_init(&opt, &cfg, n, &eb) != MD_OK) return fail("md_sgd_init", &eb);
  float *p = p0.data;
  float *mom = calloc((size_t)n + 1, sizeof *mom);
  float *out_p = malloc((size_t)(steps * n + 1) * sizeof *out_p);
  float *out_m = malloc((size_t)(steps * n + 1) * sizeof *out_m);
  if (!mom || !out_p || !out_m) return fail("out of memory", NULL);
  /* Garbage in the buffer before the first step must not matter. */
  for (int64_t i = 0; i < n; ++i) mom[i] = 12345.0f;
  const float *grads = g.data;
  for (int64_t s = 0; s < steps; ++s) {
    if (md_sgd_step(&opt, lrs[s], p, grads + s * n, cfg.momentum != 0.0 ? mom : NULL) != MD_OK)
      return fail("md_sgd_step", NULL);
    memcpy(out_p + s * n, p, (size_t)n * sizeof *p);
    for (int64_t i = 0; i < n; ++i) out_m[s * n + i] = cfg.momentum != 0.0 ? mom[i] : 0.0f;
  }
  const int64_t dims[2] = {steps, n};
  if (md_npy_write(argv[4], MD_NPY_F32, 2, dims, out_p, &eb) != MD_OK ||
      md_npy_write(argv[5], MD_NPY_F32, 2, dims, out_m, &eb) != MD_OK)
    return fail("writing results", &eb);
  free(out_p);
  free(out_m);
  free(mom);
  free(lrs);
  md_npy_free(&p0);
  md_npy_free(&g);
  return 0;
}

static int cmd_lr(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: driver_optim lr MODE BASE GAMMA EPOCHS M1,M2,...\n");
    return 2;
  }
  md_lr_step_mode mode;
  if (md_lr_step_mode_parse(argv[2], &mode) != MD_OK) {
    fprintf(stderr, "driver_optim: unknown mode '%s'\n", argv[2]);
    return 2;
  }
  double ms[MD_LR_MAX_MILESTONES];
  const int nm = parse_list(argv[6], ms, MD_LR_MAX_MILESTONES);
  if (nm < 0) {
    fprintf(stderr, "driver_optim: bad milestone list '%s'\n", argv[6]);
    return 2;
  }
  int mi[MD_LR_MAX_MILESTONES];
  for (int i = 0; i < nm; ++i) mi[i] = (int)ms[i];
  md_multistep_lr s;
  md_errbuf eb = {{0}};
  if (md_multistep_lr_init(&s, strtod(argv[3], NULL), mi, nm, strtod(argv[4], NULL), mode,
                           &eb) != MD_OK)
    return fail("md_multistep_lr_init", &eb);
  const int epochs = atoi(argv[5]);
  for (int e = 0; e < epochs; ++e) printf("%.17g\n", md_multistep_lr_at(&s, e));
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 2 && !strcmp(argv[1], "sgd")) return cmd_sgd(argc, argv);
  if (argc >= 2 && !strcmp(argv[1], "lr")) return cmd_lr(argc, argv);
  fprintf(stderr, "usage: driver_optim sgd ... | lr ...\n");
  return 2;
}
