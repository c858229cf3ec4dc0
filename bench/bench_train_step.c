/* Whole training steps and evaluation forwards of a model, timed, with the
 * process's peak resident memory. Compare with tools/bench_train_step_torch.py
 * (PyTorch, same model, batch and thread count, memory measured the same way).
 *
 * One training step = md_model_train_step: zero the gradients, forward in
 * training mode, softmax cross-entropy, backward, SGD (the reference's
 * settings, lr 0.1). The input is a fixed batch of standard-normal values and
 * random labels. One warm-up step and one warm-up evaluation precede the
 * timed ones; medians are reported. Peak resident memory is the kernel's
 * high-water mark of the whole process (getrusage ru_maxrss, which is
 * /proc/self/status VmHWM), taken after the timed runs; baseline_rss_mb is
 * the resident memory just before the model is built. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <omp.h>

#include "bench.h"
#include "cli.h"
#include "maxdrop/blas.h"
#include "maxdrop/model.h"
#include "maxdrop/rng.h"
#include "maxdrop/sgd.h"

/* Resident memory now (VmRSS), in MiB; -1 when unknown. */
static double rss_now_mb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return -1.0;
  char line[256];
  double kb = -1.0;
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, "VmRSS:", 6)) {
      kb = strtod(line + 6, NULL);
      break;
    }
  fclose(f);
  return kb < 0 ? -1.0 : kb / 1024.0;
}

static double peak_rss_mb(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) return -1.0;
  return (double)ru.ru_maxrss / 1024.0; /* kilobytes on Linux */
}

int md_bench_train_step(const md_bench_train_opts *o, FILE *out) {
  const double baseline = rss_now_mb();
  md_errbuf eb = {{0}};
  md_model *m = NULL;
  md_status st = md_model_create(&o->cfg, o->batch, 1, &m, &eb);
  if (st != MD_OK) return md_cli_status_error("bench", "building the model", st, &eb);
  const int64_t in_numel = (int64_t)o->batch * MD_MODEL_IN_C * MD_MODEL_IN_H * MD_MODEL_IN_W;
  float *x = malloc((size_t)in_numel * sizeof *x);
  int32_t *labels = malloc((size_t)o->batch * sizeof *labels);
  double *t_step = malloc((size_t)o->steps * sizeof *t_step);
  double *t_fwd = malloc((size_t)o->steps * sizeof *t_fwd);
  double *t_bwd = malloc((size_t)o->steps * sizeof *t_bwd);
  double *t_eval = malloc((size_t)o->steps * sizeof *t_eval);
  int rc = 0;
  if (!x || !labels || !t_step || !t_fwd || !t_bwd || !t_eval) {
    rc = md_cli_error("bench", "out of memory");
    goto done;
  }
  md_rng r;
  md_rng_init(&r, 2026, MD_STREAM_DATA_ORDER);
  for (int64_t i = 0; i < in_numel; ++i) x[i] = (float)md_rng_normal(&r);
  for (int i = 0; i < o->batch; ++i)
    labels[i] = (int32_t)md_rng_below(&r, (uint64_t)o->cfg.num_classes);
  md_sgd opt;
  const md_sgd_config sc = md_sgd_config_reference();
  st = md_sgd_init(&opt, &sc, md_model_param_count(m), &eb);
  if (st != MD_OK) {
    rc = md_cli_status_error("bench", "SGD", st, &eb);
    goto done;
  }
  double loss = 0.0;
  for (int s = -1; s < o->steps; ++s) { /* s = -1: warm-up */
    const double t0 = md_bench_now_s();
    md_model_zero_grad(m);
    st = md_model_forward(m, o->batch, x, 1);
    if (st == MD_OK) st = md_model_loss(m, labels, &loss, NULL);
    const double t1 = md_bench_now_s();
    if (st == MD_OK) st = md_model_backward(m);
    const double t2 = md_bench_now_s();
    if (st == MD_OK) st = md_model_sgd_step(m, &opt, 0.1);
    const double t3 = md_bench_now_s();
    if (st != MD_OK) {
      rc = md_cli_status_error("bench", "training step", st, NULL);
      goto done;
    }
    if (s >= 0) {
      t_fwd[s] = t1 - t0;
      t_bwd[s] = t2 - t1;
      t_step[s] = t3 - t0;
    }
  }
  for (int s = -1; s < o->steps; ++s) {
    const double t0 = md_bench_now_s();
    st = md_model_eval_batch(m, o->batch, x, labels, NULL, NULL);
    if (st != MD_OK) {
      rc = md_cli_status_error("bench", "evaluation forward", st, NULL);
      goto done;
    }
    if (s >= 0) t_eval[s] = md_bench_now_s() - t0;
  }
  const double step = md_bench_median(t_step, o->steps), ev = md_bench_median(t_eval, o->steps);
  const md_model_config *c = &o->cfg;
  fprintf(out, "{\"name\":\"train_step\",\"impl\":\"maxdrop\",\"model\":\"%s\",",
          c->arch == MD_ARCH_RESNET18 ? "resnet18" : "wrn");
  if (c->arch == MD_ARCH_RESNET18)
    fprintf(out, "\"width\":%d,", c->width);
  else
    fprintf(out, "\"depth\":%d,\"widen\":%d,", c->depth, c->widen);
  fprintf(out,
          "\"reg\":\"%s\",\"classes\":%d,\"batch\":%d,\"threads\":%d,\"steps\":%d,"
          "\"params\":%lld,\"train_step_median_s\":%.4f,\"train_forward_median_s\":%.4f,"
          "\"train_backward_median_s\":%.4f,\"eval_forward_median_s\":%.4f,"
          "\"train_images_per_s\":%.2f,\"eval_images_per_s\":%.2f,"
          "\"peak_rss_mb\":%.1f,\"baseline_rss_mb\":%.1f,\"model_mb\":%.1f,\"arena_mb\":%.1f,"
          "\"blas_core\":\"%s\",\"last_loss\":%.6f}\n",
          c->reg == MD_REG_MAXDROPOUT ? "maxdropout" : c->reg == MD_REG_DROPOUT ? "dropout" : "none",
          c->num_classes, o->batch, omp_get_max_threads(), o->steps,
          (long long)md_model_param_count(m), step, md_bench_median(t_fwd, o->steps),
          md_bench_median(t_bwd, o->steps), ev, o->batch / step, o->batch / ev, peak_rss_mb(),
          baseline,
          (double)md_model_total_bytes(m) / (1 << 20), (double)md_model_arena_bytes(m) / (1 << 20),
          md_blas_core(), loss);
  fflush(out);
done:
  md_model_free(m);
  free(x);
  free(labels);
  free(t_step);
  free(t_fwd);
  free(t_bwd);
  free(t_eval);
  return rc;
}
