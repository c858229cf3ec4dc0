/* Training progress on stderr: a live one-line bar on a terminal, plain
 * periodic lines otherwise, and one line per finished epoch. */
#include <math.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "train_opts.h"

enum { BAR_WIDTH = 20 };

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void format_duration(char *buf, size_t cap, double s) {
  if (!isfinite(s) || s < 0) {
    snprintf(buf, cap, "?");
    return;
  }
  const long t = (long)(s + 0.5);
  if (t >= 3600) snprintf(buf, cap, "%ldh%02ldm", t / 3600, (t / 60) % 60);
  else if (t >= 60) snprintf(buf, cap, "%ldm%02lds", t / 60, t % 60);
  else snprintf(buf, cap, "%lds", t);
}

void md_progress_init(md_progress *p, md_progress_mode mode, int64_t batch, int64_t n_train,
                      int64_t n_test) {
  p->f = stderr;
  p->off = mode == MD_PROGRESS_OFF;
  p->bar = mode == MD_PROGRESS_BAR || (mode == MD_PROGRESS_AUTO && isatty(fileno(stderr)));
  p->interval = 10.0;
  p->last_print = -1e30;
  p->batch = batch;
  p->n_train = n_train;
  p->n_test = n_test;
  p->eval_rate = 0.0;
  p->train_rate = 0.0;
  p->bar_open = 0;
}

void md_progress_finish_line(md_progress *p) {
  if (p->bar_open) {
    fputc('\n', p->f);
    p->bar_open = 0;
  }
}

/* Seconds left in the run, from this process's rates. */
static double eta(const md_progress *p, const md_train_progress *tp, double train_rate) {
  double train_left, eval_left;
  if (tp->phase == MD_PHASE_TRAIN) {
    const int64_t left_now = p->n_train - tp->images;
    train_left = (double)(left_now > 0 ? left_now : 0) +
                 (double)(tp->epochs - tp->epoch - 1) * (double)p->n_train;
    eval_left = (double)(tp->epochs - tp->epoch) * (double)p->n_test;
  } else {
    train_left = (double)(tp->epochs - tp->epoch - 1) * (double)p->n_train;
    eval_left = (double)(p->n_test - tp->images) +
                (double)(tp->epochs - tp->epoch - 1) * (double)p->n_test;
  }
  /* Without a measured evaluation yet, a forward pass takes about a third of
   * a training step. */
  const double er = p->eval_rate > 0 ? p->eval_rate : 3.0 * train_rate;
  if (!(train_rate > 0)) return NAN;
  return train_left / train_rate + eval_left / er;
}

void md_progress_on_progress(void *user, const md_train_progress *tp) {
  md_progress *p = user;
  if (p->off) return;
  const double rate = tp->seconds > 0 ? (double)tp->images_timed / tp->seconds : 0.0;
  if (tp->phase == MD_PHASE_TRAIN && rate > 0) p->train_rate = rate;
  if (tp->phase == MD_PHASE_EVAL && tp->step == tp->steps && rate > 0) p->eval_rate = rate;
  const double t = now_s();
  const int last = tp->step == tp->steps;
  const double min_gap = p->bar ? 0.1 : p->interval;
  if (!last && t - p->last_print < min_gap) return;
  if (!p->bar && last) return; /* the epoch line follows */
  p->last_print = t;
  char etab[32], lrb[32] = "";
  /* An evaluation alone ('maxdrop eval') has no learning rate, and its time
   * left follows from its own rate. */
  const int eval_only = p->n_train == 0;
  const double left = eval_only ? (rate > 0 ? (double)(p->n_test - tp->images) / rate : NAN)
                                : eta(p, tp, tp->phase == MD_PHASE_TRAIN ? rate : p->train_rate);
  format_duration(etab, sizeof etab, left);
  if (!eval_only) snprintf(lrb, sizeof lrb, "  lr %.4g", tp->lr);
  const char *phase = tp->phase == MD_PHASE_TRAIN ? "train" : "test ";
  char head[64];
  if (p->n_train > 0)
    snprintf(head, sizeof head, "epoch %d/%d %s", tp->epoch + 1, tp->epochs, phase);
  else
    snprintf(head, sizeof head, "evaluating");
  if (p->bar) {
    const int fill = tp->steps > 0 ? (int)((double)BAR_WIDTH * (double)tp->step / (double)tp->steps) : 0;
    char bar[BAR_WIDTH + 1];
    for (int i = 0; i < BAR_WIDTH; ++i) bar[i] = i < fill ? '#' : '.';
    bar[BAR_WIDTH] = '\0';
    fprintf(p->f,
            "\r\033[K%s [%s] %lld/%lld  %.0f img/s  loss %.4f  acc %.2f%%%s  ETA %s",
            head, bar, (long long)tp->step, (long long)tp->steps,
            rate, tp->loss, 100.0 * tp->acc, lrb, etab);
    p->bar_open = 1;
  } else {
    fprintf(p->f,
            "%s step %lld/%lld  %.0f img/s  loss %.4f  acc %.2f%%%s  ETA %s\n", head,
            (long long)tp->step, (long long)tp->steps, rate, tp->loss, 100.0 * tp->acc, lrb, etab);
  }
  fflush(p->f);
}

void md_progress_on_epoch(void *user, const md_epoch_result *r) {
  md_progress *p = user;
  if (p->off) return;
  if (p->bar_open) fputs("\r\033[K", p->f);
  p->bar_open = 0;
  fprintf(p->f,
          "epoch %d: lr %.4g  train loss %.4f acc %.2f%%  test loss %.4f acc %.2f%% (error "
          "%.2f%%)  %.1f s\n",
          r->epoch, r->lr, r->train_loss, 100.0 * r->train_acc, r->test_loss,
          100.0 * r->test_acc, 100.0 * (1.0 - r->test_acc), r->seconds);
  fflush(p->f);
}
