/* Evaluation passes over a test set (see maxdrop/trainer.h). */
#include <math.h>
#include <string.h>
#include <time.h>

#include "core/errbuf.h"
#include "train/trainer_internal.h"

double md_train_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int md_train_argmax(const float *v, int k) {
  int best = 0;
  for (int i = 1; i < k; ++i)
    if (v[i] > v[best] || (isnan(v[best]) && !isnan(v[i]))) best = i;
  return best;
}

md_status md_train_eval_pass(md_model *model, md_loader *ld, const md_eval_pass *pass,
                             const md_train_hooks *hooks, md_eval_result *out, int *stopped,
                             md_errbuf *eb) {
  const int k = md_model_config_of(model)->num_classes;
  memset(out, 0, sizeof *out);
  *stopped = 0;
  if (pass->class_correct) memset(pass->class_correct, 0, (size_t)k * sizeof(int64_t));
  if (pass->class_total) memset(pass->class_total, 0, (size_t)k * sizeof(int64_t));

  md_status st = md_loader_start_epoch(ld, 0);
  if (st != MD_OK) return md_fail(eb, st, "cannot start the test-set loader: %s", md_strerror(st));
  const int64_t steps = md_loader_num_batches(ld);
  const double t0 = md_train_now();
  double loss_sum = 0.0;
  for (int64_t step = 0;; ++step) {
    md_batch b;
    st = md_loader_next(ld, &b);
    if (st != MD_OK)
      return md_fail(eb, st, "test batch %lld: the loader failed: %s", (long long)step + 1,
                     md_strerror(st));
    if (b.size == 0) break;
    double loss = 0.0;
    st = md_model_eval_batch(model, (int)b.size, b.images, b.labels, &loss, NULL);
    if (st != MD_OK)
      return md_fail(eb, st, "evaluation of test batch %lld failed: %s", (long long)step + 1,
                     md_strerror(st));
    const float *logits = md_model_logits(model);
    for (int64_t i = 0; i < b.size; ++i) {
      const int y = b.labels[i];
      const int ok = md_train_argmax(logits + i * k, k) == y;
      out->correct += ok;
      if (pass->class_correct) pass->class_correct[y] += ok;
      if (pass->class_total) pass->class_total[y] += 1;
    }
    loss_sum += loss * (double)b.size;
    out->n += b.size;
    if (hooks && hooks->on_progress) {
      md_train_progress p;
      memset(&p, 0, sizeof p);
      p.phase = MD_PHASE_EVAL;
      p.epoch = pass->epoch;
      p.epochs = pass->epochs;
      p.step = step + 1;
      p.steps = steps;
      p.images = out->n;
      p.loss = loss_sum / (double)out->n;
      p.acc = (double)out->correct / (double)out->n;
      p.lr = pass->lr;
      p.seconds = md_train_now() - t0;
      p.images_timed = out->n;
      hooks->on_progress(hooks->user, &p);
    }
    if (hooks && hooks->stop && *hooks->stop) {
      *stopped = 1;
      break;
    }
  }
  if (out->n > 0) {
    out->loss = loss_sum / (double)out->n;
    out->acc = (double)out->correct / (double)out->n;
  }
  return MD_OK;
}

md_status md_evaluate(md_model *model, const md_train_data *data, int batch_size,
                      md_eval_result *out, int64_t *class_correct, int64_t *class_total,
                      const md_train_hooks *hooks, md_errbuf *eb) {
  if (!model || !data || !out || !data->images || !data->labels || data->n < 1)
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "evaluation needs a model and a non-empty data set");
  if (batch_size < 1 || batch_size > md_model_max_batch(model))
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT,
                   "evaluation batch size %d is outside 1..%d (the model's largest batch)",
                   batch_size, md_model_max_batch(model));
  const int k = md_model_config_of(model)->num_classes;
  for (int64_t i = 0; i < data->n; ++i)
    if (data->labels[i] < 0 || data->labels[i] >= k)
      return md_fail(eb, MD_ERR_RANGE, "label %d of image %lld is outside 0..%d",
                     (int)data->labels[i], (long long)i, k - 1);
  md_loader_config lc = md_loader_default_config();
  lc.batch_size = batch_size;
  lc.train = 0;
  md_loader *ld = NULL;
  md_status st = md_loader_create(&ld, &lc, data->images, data->labels, data->n, eb);
  if (st != MD_OK) return st;
  md_eval_pass pass = {0, 1, 0.0, class_correct, class_total};
  int stopped = 0;
  st = md_train_eval_pass(model, ld, &pass, hooks, out, &stopped, eb);
  md_loader_destroy(ld);
  if (st == MD_OK && stopped)
    st = md_fail(eb, MD_ERR_STATE, "evaluation stopped after %lld images", (long long)out->n);
  return st;
}
