/* The epoch loop, checkpoints and exact resuming (see maxdrop/trainer.h). */
#include "maxdrop/trainer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "core/errbuf.h"
#include "maxdrop/checkpoint.h"
#include "maxdrop/loader.h"
#include "train/trainer_internal.h"

enum { JSON_SMALL = 2048, N_NUMBERS = 10 };

struct md_trainer {
  md_train_config cfg; /* run_dir and extra_meta point into this struct */
  char run_dir[MD_TRAIN_PATH_MAX];
  char ckpt_path[MD_TRAIN_PATH_MAX + 64];
  char metrics_path[MD_TRAIN_PATH_MAX + 64];
  char summary_path[MD_TRAIN_PATH_MAX + 64];
  md_st_meta extra[MD_TRAIN_MAX_EXTRA_META];
  char *extra_text; /* the extra keys and values, one allocation */

  md_model *model;
  md_train_data train, test;
  md_sgd opt;
  md_multistep_lr sched;
  md_loader *train_ld, *test_ld;
  int64_t steps_per_epoch;

  /* Position. */
  md_train_state state;
  int epochs_done;
  int64_t step;       /* batches done of epoch epochs_done */
  double loss_sum;    /* sum over those batches of loss * batch size */
  int64_t correct, seen;
  double seconds;     /* wall time spent on epoch epochs_done so far */
  md_epoch_result *history; /* (cfg.epochs) */
  char message[512];  /* why the run diverged */

  /* Checkpoint writing. */
  md_st_tensor *table; /* (table_cap) */
  size_t table_cap, table_n;
  char model_json[JSON_SMALL], opt_json[JSON_SMALL], sched_json[JSON_SMALL],
      data_json[JSON_SMALL];
  char numbers[N_NUMBERS][32];
};

/* ------------------------------------------------------------------------ */
/* Configuration                                                             */
/* ------------------------------------------------------------------------ */

md_train_config md_train_default_config(void) {
  md_train_config c;
  memset(&c, 0, sizeof c);
  c.epochs = 200;
  c.batch_size = 128;
  c.seed = 0;
  c.lr = 0.1;
  c.n_milestones = 3;
  c.milestones[0] = 60;
  c.milestones[1] = 120;
  c.milestones[2] = 160;
  c.gamma = 0.2;
  c.lr_mode = MD_LR_STEP_STANDARD;
  c.sgd = md_sgd_config_reference();
  c.augment = 1;
  c.cutout_holes = 0;
  c.cutout_length = 16;
  c.erasing = 0;
  c.erasing_cfg = md_erasing_default_config();
  c.prefetch = 1;
  return c;
}

md_status md_train_config_check(const md_train_config *c, md_errbuf *eb) {
  if (!c) return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "no training configuration");
  if (c->epochs < 1) return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "epochs must be >= 1, not %d", c->epochs);
  if (c->batch_size < 1)
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "batch size must be >= 1, not %d", c->batch_size);
  if (!isfinite(c->lr) || c->lr < 0)
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "learning rate must be finite and >= 0, not %g", c->lr);
  if (!isfinite(c->gamma) || c->gamma < 0)
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "gamma must be finite and >= 0, not %g", c->gamma);
  if (c->n_milestones < 0 || c->n_milestones > MD_LR_MAX_MILESTONES)
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "at most %d milestones, not %d",
                   MD_LR_MAX_MILESTONES, c->n_milestones);
  for (int i = 0; i < c->n_milestones; ++i)
    if (c->milestones[i] < 0)
      return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "milestone %d is negative", c->milestones[i]);
  if (c->lr_mode != MD_LR_STEP_STANDARD && c->lr_mode != MD_LR_STEP_REFERENCE)
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "unknown learning-rate stepping mode %d",
                   (int)c->lr_mode);
  if (c->augment != 0 && c->augment != 1)
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "augment must be 0 or 1");
  if (c->cutout_holes < 0)
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "Cutout holes must be >= 0, not %d", c->cutout_holes);
  if (c->cutout_holes > 0 && (c->cutout_length < 1 || c->cutout_length > 64))
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "Cutout length must be in 1..64, not %d",
                   c->cutout_length);
  if (c->erasing != 0 && c->erasing != 1)
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "erasing must be 0 or 1");
  if (c->erasing && md_erasing_config_check(&c->erasing_cfg) != MD_OK)
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "invalid RandomErasing settings");
  if (c->run_dir && strlen(c->run_dir) >= MD_TRAIN_PATH_MAX)
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "run folder path too long");
  if (c->n_extra_meta > MD_TRAIN_MAX_EXTRA_META || (c->n_extra_meta && !c->extra_meta))
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "at most %d extra metadata entries",
                   MD_TRAIN_MAX_EXTRA_META);
  for (size_t i = 0; i < c->n_extra_meta; ++i)
    if (!c->extra_meta[i].key || !c->extra_meta[i].value || !*c->extra_meta[i].key ||
        !strncmp(c->extra_meta[i].key, "trainer.", 8))
      return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "extra metadata entry %zu is empty or reserved", i);
  md_sgd probe;
  md_errbuf e2;
  if (md_sgd_init(&probe, &c->sgd, 0, &e2) != MD_OK)
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "%s", e2.msg);
  return MD_OK;
}

/* The configuration pieces a resumed run must share with its checkpoint,
 * as canonical JSON text. */
static void describe(md_trainer *t) {
  const md_train_config *c = &t->cfg;
  char a[32], b[32], d[32];
  md_model_config_json(md_model_config_of(t->model), t->model_json, sizeof t->model_json);
  snprintf(t->opt_json, sizeof t->opt_json,
           "{\"momentum\":%s,\"dampening\":%s,\"weight_decay\":%s,\"nesterov\":%s}",
           md_ckpt_format_double(a, sizeof a, c->sgd.momentum),
           md_ckpt_format_double(b, sizeof b, c->sgd.dampening),
           md_ckpt_format_double(d, sizeof d, c->sgd.weight_decay),
           c->sgd.nesterov ? "true" : "false");
  int k = snprintf(t->sched_json, sizeof t->sched_json, "{\"base_lr\":%s,\"gamma\":%s,\"mode\":\"%s\",\"milestones\":[",
                   md_ckpt_format_double(a, sizeof a, c->lr),
                   md_ckpt_format_double(b, sizeof b, c->gamma), md_lr_step_mode_name(c->lr_mode));
  for (int i = 0; i < c->n_milestones && k < (int)sizeof t->sched_json; ++i)
    k += snprintf(t->sched_json + k, sizeof t->sched_json - (size_t)k, "%s%d", i ? "," : "",
                  c->milestones[i]);
  if (k < (int)sizeof t->sched_json) snprintf(t->sched_json + k, sizeof t->sched_json - (size_t)k, "]}");
  k = snprintf(t->data_json, sizeof t->data_json,
               "{\"seed\":\"%llu\",\"batch_size\":%d,\"train_images\":%lld,\"test_images\":%lld,"
               "\"augment\":%s,\"cutout_holes\":%d,\"cutout_length\":%d,\"random_erasing\":",
               (unsigned long long)c->seed, c->batch_size, (long long)t->train.n,
               (long long)t->test.n, c->augment ? "true" : "false", c->cutout_holes,
               c->cutout_holes ? c->cutout_length : 0);
  if (k < (int)sizeof t->data_json) {
    if (!c->erasing) {
      snprintf(t->data_json + k, sizeof t->data_json - (size_t)k, "false}");
    } else {
      const md_erasing_config *r = &c->erasing_cfg;
      char f[5][32];
      snprintf(t->data_json + k, sizeof t->data_json - (size_t)k,
               "{\"p\":%s,\"scale\":[%s,%s],\"ratio\":[%s,%s],\"attempts\":%d,\"fill\":%d}}",
               md_ckpt_format_double(f[0], 32, r->p), md_ckpt_format_double(f[1], 32, r->scale_lo),
               md_ckpt_format_double(f[2], 32, r->scale_hi),
               md_ckpt_format_double(f[3], 32, r->ratio_lo),
               md_ckpt_format_double(f[4], 32, r->ratio_hi), r->max_attempts, (int)r->fill);
    }
  }
}

/* ------------------------------------------------------------------------ */
/* Creation                                                                  */
/* ------------------------------------------------------------------------ */

static md_status check_data(const md_train_data *d, const char *what, int classes,
                            md_errbuf *eb) {
  if (!d || !d->images || !d->labels || d->n < 1)
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "the %s set is empty", what);
  for (int64_t i = 0; i < d->n; ++i)
    if (d->labels[i] < 0 || d->labels[i] >= classes)
      return md_fail(eb, MD_ERR_RANGE,
                     "label %d of %s image %lld is outside 0..%d (the model has %d classes)",
                     (int)d->labels[i], what, (long long)i, classes - 1, classes);
  return MD_OK;
}

static md_status copy_extra(md_trainer *t, md_errbuf *eb) {
  const md_train_config *c = &t->cfg;
  size_t bytes = 1;
  for (size_t i = 0; i < c->n_extra_meta; ++i)
    bytes += strlen(c->extra_meta[i].key) + strlen(c->extra_meta[i].value) + 2;
  t->extra_text = malloc(bytes);
  if (!t->extra_text) return md_fail(eb, MD_ERR_OUT_OF_MEMORY, "out of memory");
  char *p = t->extra_text;
  for (size_t i = 0; i < c->n_extra_meta; ++i) {
    const size_t kl = strlen(c->extra_meta[i].key) + 1, vl = strlen(c->extra_meta[i].value) + 1;
    memcpy(p, c->extra_meta[i].key, kl);
    t->extra[i].key = p;
    p += kl;
    memcpy(p, c->extra_meta[i].value, vl);
    t->extra[i].value = p;
    p += vl;
  }
  t->cfg.extra_meta = t->extra;
  return MD_OK;
}

md_status md_trainer_create(md_trainer **out, const md_train_config *cfg, md_model *model,
                            const md_train_data *train, const md_train_data *test,
                            md_errbuf *eb) {
  if (!out) return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "no output pointer");
  *out = NULL;
  if (!model) return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "no model");
  md_status st = md_train_config_check(cfg, eb);
  if (st != MD_OK) return st;
  if (cfg->batch_size > md_model_max_batch(model))
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT,
                   "batch size %d is larger than the model's largest batch %d", cfg->batch_size,
                   md_model_max_batch(model));
  const int classes = md_model_config_of(model)->num_classes;
  if ((st = check_data(train, "training", classes, eb)) != MD_OK) return st;
  if ((st = check_data(test, "test", classes, eb)) != MD_OK) return st;

  md_trainer *t = calloc(1, sizeof *t);
  if (!t) return md_fail(eb, MD_ERR_OUT_OF_MEMORY, "out of memory");
  t->cfg = *cfg;
  t->model = model;
  t->train = *train;
  t->test = *test;
  t->state = MD_TRAIN_READY;
  if (cfg->run_dir && *cfg->run_dir) {
    strcpy(t->run_dir, cfg->run_dir);
    snprintf(t->ckpt_path, sizeof t->ckpt_path, "%s/%s", t->run_dir, MD_TRAIN_CHECKPOINT_FILE);
    snprintf(t->metrics_path, sizeof t->metrics_path, "%s/%s", t->run_dir, MD_TRAIN_METRICS_FILE);
    snprintf(t->summary_path, sizeof t->summary_path, "%s/%s", t->run_dir, MD_TRAIN_SUMMARY_FILE);
  }
  t->cfg.run_dir = t->run_dir;

  if ((st = copy_extra(t, eb)) != MD_OK) goto fail;
  if ((st = md_sgd_init(&t->opt, &cfg->sgd, md_model_param_count(model), eb)) != MD_OK) goto fail;
  if ((st = md_multistep_lr_init(&t->sched, cfg->lr, cfg->milestones, cfg->n_milestones,
                                 cfg->gamma, cfg->lr_mode, eb)) != MD_OK)
    goto fail;

  md_loader_config lc = md_loader_default_config();
  lc.batch_size = cfg->batch_size;
  lc.seed = cfg->seed;
  lc.prefetch = cfg->prefetch;
  lc.train = 1;
  lc.aug = md_augment_cifar_config();
  if (!cfg->augment) {
    lc.aug.pad = 0;
    lc.aug.flip = 0;
  }
  lc.cutout_holes = cfg->cutout_holes;
  lc.cutout_length = cfg->cutout_length;
  lc.erasing = cfg->erasing;
  lc.erasing_cfg = cfg->erasing_cfg;
  if ((st = md_loader_create(&t->train_ld, &lc, train->images, train->labels, train->n, eb)) !=
      MD_OK)
    goto fail;
  lc.train = 0;
  lc.cutout_holes = 0;
  lc.erasing = 0;
  if ((st = md_loader_create(&t->test_ld, &lc, test->images, test->labels, test->n, eb)) != MD_OK)
    goto fail;
  t->steps_per_epoch = md_loader_num_batches(t->train_ld);

  t->history = calloc((size_t)cfg->epochs, sizeof *t->history);
  t->table_cap = md_model_st_count(model, 1);
  t->table = calloc(t->table_cap ? t->table_cap : 1, sizeof *t->table);
  if (!t->history || !t->table) {
    st = md_fail(eb, MD_ERR_OUT_OF_MEMORY, "out of memory");
    goto fail;
  }
  describe(t);
  *out = t;
  return MD_OK;
fail:
  md_trainer_free(t);
  return st;
}

void md_trainer_free(md_trainer *t) {
  if (!t) return;
  md_loader_destroy(t->train_ld);
  md_loader_destroy(t->test_ld);
  free(t->history);
  free(t->table);
  free(t->extra_text);
  free(t);
}

/* ------------------------------------------------------------------------ */
/* Accessors                                                                 */
/* ------------------------------------------------------------------------ */

md_train_state md_trainer_state(const md_trainer *t) { return t->state; }

const char *md_train_state_name(md_train_state s) {
  switch (s) {
    case MD_TRAIN_READY: return "ready";
    case MD_TRAIN_FINISHED: return "finished";
    case MD_TRAIN_STOPPED: return "stopped";
    case MD_TRAIN_DIVERGED: return "diverged";
  }
  return "?";
}

int md_trainer_epochs_done(const md_trainer *t) { return t->epochs_done; }
int64_t md_trainer_step_in_epoch(const md_trainer *t) { return t->step; }
int64_t md_trainer_steps_per_epoch(const md_trainer *t) { return t->steps_per_epoch; }
int64_t md_trainer_global_step(const md_trainer *t) { return t->opt.steps; }
const char *md_trainer_checkpoint_path(const md_trainer *t) { return t->ckpt_path; }

const md_epoch_result *md_trainer_history(const md_trainer *t, int *n) {
  if (n) *n = t->epochs_done;
  return t->history;
}

/* ------------------------------------------------------------------------ */
/* Run files                                                                 */
/* ------------------------------------------------------------------------ */

/* Learning rate recorded with a checkpoint: that of the epoch in progress,
 * or of the last completed one at an epoch boundary. */
static double position_lr(const md_trainer *t) {
  if (t->step > 0 || t->epochs_done == 0) return md_multistep_lr_at(&t->sched, t->epochs_done);
  return md_multistep_lr_at(&t->sched, t->epochs_done - 1);
}

/* Builds the checkpoint table now: the random streams' states are copied
 * into it at this moment. */
static md_status take_table(md_trainer *t, md_errbuf *eb) {
  md_status st = md_model_st_table(t->model, 1, t->table, t->table_cap, &t->table_n);
  if (st != MD_OK) return md_fail(eb, st, "cannot list the model's tensors: %s", md_strerror(st));
  return MD_OK;
}

/* Writes the table taken last with the current position. */
static md_status write_checkpoint(md_trainer *t, md_errbuf *eb) {
  if (!t->ckpt_path[0]) return MD_OK;
  char *history = md_train_history_json(t->history, t->epochs_done);
  if (!history) return md_fail(eb, MD_ERR_OUT_OF_MEMORY, "out of memory");
  char(*num)[32] = t->numbers;
  md_st_meta meta[24 + MD_TRAIN_MAX_EXTRA_META];
  size_t n = 0;
  meta[n++] = (md_st_meta){MD_CKPT_KEY_FORMAT, MD_CKPT_FORMAT_NAME};
  meta[n++] = (md_st_meta){MD_CKPT_KEY_MODEL, t->model_json};
  meta[n++] = (md_st_meta){MD_CKPT_KEY_EPOCH, md_ckpt_format_int(num[0], 32, t->epochs_done)};
  meta[n++] = (md_st_meta){MD_CKPT_KEY_LR, md_ckpt_format_double(num[1], 32, position_lr(t))};
  meta[n++] = (md_st_meta){MD_CKPT_KEY_SGD_CONFIG, t->opt_json};
  meta[n++] = (md_st_meta){MD_CKPT_KEY_SGD_STEPS, md_ckpt_format_int(num[2], 32, t->opt.steps)};
  meta[n++] = (md_st_meta){MD_CKPT_KEY_LR_SCHEDULE, t->sched_json};
  meta[n++] = (md_st_meta){MD_TRAIN_KEY_STEP, md_ckpt_format_int(num[3], 32, t->step)};
  meta[n++] = (md_st_meta){MD_TRAIN_KEY_STEPS, md_ckpt_format_int(num[4], 32, t->steps_per_epoch)};
  meta[n++] = (md_st_meta){MD_TRAIN_KEY_LOSS_SUM, md_ckpt_format_double(num[5], 32, t->loss_sum)};
  meta[n++] = (md_st_meta){MD_TRAIN_KEY_CORRECT, md_ckpt_format_int(num[6], 32, t->correct)};
  meta[n++] = (md_st_meta){MD_TRAIN_KEY_SEEN, md_ckpt_format_int(num[7], 32, t->seen)};
  meta[n++] = (md_st_meta){MD_TRAIN_KEY_SECONDS, md_ckpt_format_double(num[8], 32, t->seconds)};
  meta[n++] = (md_st_meta){MD_TRAIN_KEY_DATA, t->data_json};
  meta[n++] = (md_st_meta){MD_TRAIN_KEY_HISTORY, history};
  for (size_t i = 0; i < t->cfg.n_extra_meta; ++i) meta[n++] = t->extra[i];
  const md_status st = md_safetensors_write(t->ckpt_path, t->table, t->table_n, meta, n, eb);
  cJSON_free(history);
  return st;
}

static md_status write_summary(md_trainer *t, md_errbuf *eb) {
  if (!t->summary_path[0]) return MD_OK;
  md_train_summary s;
  memset(&s, 0, sizeof s);
  s.state = t->state == MD_TRAIN_READY ? "running" : md_train_state_name(t->state);
  s.message = t->message;
  s.epochs = t->cfg.epochs;
  s.epochs_done = t->epochs_done;
  s.step = t->step;
  s.steps_per_epoch = t->steps_per_epoch;
  s.global_step = t->opt.steps;
  s.n_train = t->train.n;
  s.n_test = t->test.n;
  s.model_json = t->model_json;
  s.checkpoint = MD_TRAIN_CHECKPOINT_FILE;
  s.history = t->history;
  return md_train_write_summary(t->summary_path, &s, eb);
}

static md_status write_epoch_files(md_trainer *t, md_errbuf *eb) {
  if (!t->run_dir[0]) return MD_OK;
  md_status st = take_table(t, eb);
  if (st == MD_OK) st = write_checkpoint(t, eb);
  if (st == MD_OK) st = md_train_write_metrics(t->metrics_path, t->history, t->epochs_done, eb);
  if (st == MD_OK) st = write_summary(t, eb);
  return st;
}

/* ------------------------------------------------------------------------ */
/* Resume                                                                    */
/* ------------------------------------------------------------------------ */

static md_status meta_int(md_safetensors *f, const char *path, const char *key, int64_t *out,
                          md_errbuf *eb) {
  const char *v = md_safetensors_meta_get(f, key);
  if (!v) return md_fail(eb, MD_ERR_FORMAT, "%s: no '%s' in the metadata (not a training checkpoint?)", path, key);
  md_errbuf e2;
  if (md_ckpt_parse_int(key, v, out, &e2) != MD_OK)
    return md_fail(eb, MD_ERR_FORMAT, "%s: %s", path, e2.msg);
  return MD_OK;
}

static md_status meta_double(md_safetensors *f, const char *path, const char *key, double *out,
                             md_errbuf *eb) {
  const char *v = md_safetensors_meta_get(f, key);
  if (!v) return md_fail(eb, MD_ERR_FORMAT, "%s: no '%s' in the metadata (not a training checkpoint?)", path, key);
  md_errbuf e2;
  if (md_ckpt_parse_double(key, v, out, &e2) != MD_OK)
    return md_fail(eb, MD_ERR_FORMAT, "%s: %s", path, e2.msg);
  return MD_OK;
}

static md_status meta_same(md_safetensors *f, const char *path, const char *key,
                           const char *what, const char *mine, md_errbuf *eb) {
  const char *v = md_safetensors_meta_get(f, key);
  if (!v) return md_fail(eb, MD_ERR_FORMAT, "%s: no '%s' in the metadata (not a training checkpoint?)", path, key);
  if (strcmp(v, mine) != 0)
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT,
                   "%s was written with another %s: %s there, %s here", path, what, v, mine);
  return MD_OK;
}

md_status md_trainer_resume(md_trainer *t, const char *path, md_errbuf *eb) {
  if (!t || !path) return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "no trainer or checkpoint path");
  md_safetensors *f = NULL;
  md_status st = md_safetensors_open(path, &f, eb);
  if (st != MD_OK) return st;
  st = md_ckpt_require_checksums(f, path, eb);
  int64_t epoch = 0, step = 0, steps = 0, sgd_steps = 0, correct = 0, seen = 0;
  double loss_sum = 0, seconds = 0;
  const char *fmt = md_safetensors_meta_get(f, MD_CKPT_KEY_FORMAT);
  if (st == MD_OK && (!fmt || strcmp(fmt, MD_CKPT_FORMAT_NAME) != 0))
    st = md_fail(eb, MD_ERR_FORMAT, "%s is not a maxdrop training checkpoint (format '%s')", path,
                 fmt ? fmt : "none");
  if (st == MD_OK) st = meta_same(f, path, MD_CKPT_KEY_MODEL, "model", t->model_json, eb);
  if (st == MD_OK) st = meta_same(f, path, MD_TRAIN_KEY_DATA, "data configuration", t->data_json, eb);
  if (st == MD_OK) st = meta_same(f, path, MD_CKPT_KEY_SGD_CONFIG, "optimizer", t->opt_json, eb);
  if (st == MD_OK)
    st = meta_same(f, path, MD_CKPT_KEY_LR_SCHEDULE, "learning-rate schedule", t->sched_json, eb);
  if (st == MD_OK) st = meta_int(f, path, MD_CKPT_KEY_EPOCH, &epoch, eb);
  if (st == MD_OK) st = meta_int(f, path, MD_TRAIN_KEY_STEP, &step, eb);
  if (st == MD_OK) st = meta_int(f, path, MD_TRAIN_KEY_STEPS, &steps, eb);
  if (st == MD_OK) st = meta_int(f, path, MD_CKPT_KEY_SGD_STEPS, &sgd_steps, eb);
  if (st == MD_OK) st = meta_int(f, path, MD_TRAIN_KEY_CORRECT, &correct, eb);
  if (st == MD_OK) st = meta_int(f, path, MD_TRAIN_KEY_SEEN, &seen, eb);
  if (st == MD_OK) st = meta_double(f, path, MD_TRAIN_KEY_LOSS_SUM, &loss_sum, eb);
  if (st == MD_OK) st = meta_double(f, path, MD_TRAIN_KEY_SECONDS, &seconds, eb);
  if (st == MD_OK && steps != t->steps_per_epoch)
    st = md_fail(eb, MD_ERR_INVALID_ARGUMENT, "%s has %lld steps per epoch, this run %lld", path,
                 (long long)steps, (long long)t->steps_per_epoch);
  if (st == MD_OK && (epoch < 0 || step < 0 || step > steps || sgd_steps < 0 || correct < 0 ||
                      seen < 0 || correct > seen))
    st = md_fail(eb, MD_ERR_FORMAT, "%s: inconsistent position (epoch %lld, step %lld)", path,
                 (long long)epoch, (long long)step);
  if (st == MD_OK && epoch > t->cfg.epochs)
    st = md_fail(eb, MD_ERR_INVALID_ARGUMENT,
                 "%s has already completed %lld epochs, more than the %d of this run", path,
                 (long long)epoch, t->cfg.epochs);
  else if (st == MD_OK && epoch == t->cfg.epochs && step > 0)
    st = md_fail(eb, MD_ERR_INVALID_ARGUMENT,
                 "%s stopped inside epoch %lld (after %lld of its %lld steps), beyond the %d "
                 "epochs of this run; give at least --epochs %lld",
                 path, (long long)epoch + 1, (long long)step, (long long)steps, t->cfg.epochs,
                 (long long)epoch + 1);
  if (st == MD_OK) {
    const char *h = md_safetensors_meta_get(f, MD_TRAIN_KEY_HISTORY);
    if (!h) st = md_fail(eb, MD_ERR_FORMAT, "%s: no '%s' in the metadata", path, MD_TRAIN_KEY_HISTORY);
    else st = md_train_history_parse(h, (int)epoch, t->history, path, eb);
  }
  md_safetensors_close(f);
  if (st != MD_OK) return st;
  if ((st = md_model_load(t->model, path, 1, eb)) != MD_OK) return st;
  t->opt.steps = sgd_steps;
  t->epochs_done = (int)epoch;
  t->step = step;
  t->loss_sum = loss_sum;
  t->correct = correct;
  t->seen = seen;
  t->seconds = seconds;
  t->state = MD_TRAIN_READY;
  t->message[0] = '\0';
  return MD_OK;
}

/* ------------------------------------------------------------------------ */
/* The loop                                                                  */
/* ------------------------------------------------------------------------ */

static int stop_requested(const md_train_hooks *h) { return h && h->stop && *h->stop; }

/* Stops after a step: the checkpoint of this very point, then the summary. */
static md_status stop_here(md_trainer *t, int table_taken, md_errbuf *eb) {
  t->state = MD_TRAIN_STOPPED;
  md_status st = MD_OK;
  if (!table_taken) st = take_table(t, eb);
  if (st == MD_OK) st = write_checkpoint(t, eb);
  if (st == MD_OK) st = write_summary(t, eb);
  return st;
}

static md_status train_phase(md_trainer *t, const md_train_hooks *hooks, int epoch, double lr,
                             int *stopped, md_errbuf *eb) {
  md_loader *ld = t->train_ld;
  md_status st = md_loader_start_epoch(ld, epoch);
  if (st != MD_OK) return md_fail(eb, st, "cannot start training epoch %d: %s", epoch + 1, md_strerror(st));
  md_batch b;
  /* A resumed epoch: regenerate and skip the batches already trained on. */
  for (int64_t i = 0; i < t->step; ++i) {
    st = md_loader_next(ld, &b);
    if (st != MD_OK || b.size == 0)
      return md_fail(eb, st ? st : MD_ERR_STATE, "cannot skip to batch %lld of epoch %d",
                     (long long)t->step + 1, epoch + 1);
  }
  const double t0 = md_train_now(), seconds0 = t->seconds;
  int64_t images_timed = 0;
  for (;;) {
    st = md_loader_next(ld, &b);
    if (st != MD_OK)
      return md_fail(eb, st, "epoch %d, step %lld: the loader failed: %s", epoch + 1,
                     (long long)t->step + 1, md_strerror(st));
    if (b.size == 0) break;
    if (hooks && hooks->on_batch) hooks->on_batch(hooks->user, epoch, t->step, b.images, b.labels, b.size);

    double loss = 0.0;
    int64_t correct = 0;
    md_model_zero_grad(t->model);
    st = md_model_forward(t->model, (int)b.size, b.images, 1);
    if (st == MD_OK) st = md_model_loss(t->model, b.labels, &loss, &correct);
    if (st == MD_OK && !isfinite(loss)) {
      t->state = MD_TRAIN_DIVERGED;
      snprintf(t->message, sizeof t->message,
               "the training loss is %s at epoch %d, step %lld of %lld (SGD step %lld, learning "
               "rate %g); stopped before updating the weights",
               isnan(loss) ? "NaN" : "infinite", epoch + 1, (long long)t->step + 1,
               (long long)t->steps_per_epoch, (long long)t->opt.steps + 1, lr);
      md_errbuf e2;
      (void)write_summary(t, &e2);
      return md_fail(eb, MD_ERR_NUMERIC, "%s", t->message);
    }
    if (st == MD_OK) st = md_model_backward(t->model);
    if (st == MD_OK) st = md_model_sgd_step(t->model, &t->opt, lr);
    if (st != MD_OK)
      return md_fail(eb, st, "epoch %d, step %lld: the training step failed: %s", epoch + 1,
                     (long long)t->step + 1, md_strerror(st));
    t->step += 1;
    t->loss_sum += loss * (double)b.size;
    t->correct += correct;
    t->seen += b.size;
    images_timed += b.size;
    const double now = md_train_now();
    t->seconds = seconds0 + (now - t0);
    if (hooks && hooks->on_progress) {
      md_train_progress p;
      memset(&p, 0, sizeof p);
      p.phase = MD_PHASE_TRAIN;
      p.epoch = epoch;
      p.epochs = t->cfg.epochs;
      p.step = t->step;
      p.steps = t->steps_per_epoch;
      p.images = t->seen;
      p.loss = t->loss_sum / (double)t->seen;
      p.acc = (double)t->correct / (double)t->seen;
      p.lr = lr;
      p.seconds = now - t0;
      p.images_timed = images_timed;
      hooks->on_progress(hooks->user, &p);
    }
    if (stop_requested(hooks) && t->step < t->steps_per_epoch) {
      *stopped = 1;
      return MD_OK;
    }
  }
  if (t->step != t->steps_per_epoch)
    return md_fail(eb, MD_ERR_STATE, "epoch %d ended after %lld of %lld batches", epoch + 1,
                   (long long)t->step, (long long)t->steps_per_epoch);
  return MD_OK;
}

md_status md_trainer_run(md_trainer *t, const md_train_hooks *hooks, md_errbuf *eb) {
  if (!t) return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "no trainer");
  if (t->state == MD_TRAIN_DIVERGED)
    return md_fail(eb, MD_ERR_STATE, "the run diverged; resume it from its last checkpoint");
  t->state = MD_TRAIN_READY;
  md_status st;
  while (t->epochs_done < t->cfg.epochs) {
    const int e = t->epochs_done;
    const double lr = md_multistep_lr_at(&t->sched, e);
    int stopped = 0;
    if (t->step < t->steps_per_epoch) {
      if ((st = train_phase(t, hooks, e, lr, &stopped, eb)) != MD_OK) return st;
      if (stopped) return stop_here(t, 0, eb);
    }
    /* The checkpoint of this point, in case a stop arrives during the
     * evaluation (which may draw from the regularizers' streams). */
    if (t->run_dir[0] && (st = take_table(t, eb)) != MD_OK) return st;
    if (stop_requested(hooks)) return stop_here(t, 1, eb);

    const double t0 = md_train_now();
    md_eval_result ev;
    md_eval_pass pass = {e, t->cfg.epochs, lr, NULL, NULL};
    if ((st = md_train_eval_pass(t->model, t->test_ld, &pass, hooks, &ev, &stopped, eb)) != MD_OK)
      return st;
    if (stopped) return stop_here(t, 1, eb);

    md_epoch_result *r = &t->history[e];
    r->epoch = e + 1;
    r->lr = lr;
    r->train_loss = t->loss_sum / (double)t->seen;
    r->train_acc = (double)t->correct / (double)t->seen;
    r->test_loss = ev.loss;
    r->test_acc = ev.acc;
    r->seconds = t->seconds + (md_train_now() - t0);
    t->epochs_done = e + 1;
    t->step = 0;
    t->loss_sum = 0.0;
    t->correct = t->seen = 0;
    t->seconds = 0.0;
    if (t->epochs_done == t->cfg.epochs) t->state = MD_TRAIN_FINISHED;
    if ((st = write_epoch_files(t, eb)) != MD_OK) return st;
    if (hooks && hooks->on_epoch) hooks->on_epoch(hooks->user, r);
    if (t->state != MD_TRAIN_FINISHED && stop_requested(hooks)) {
      t->state = MD_TRAIN_STOPPED;
      return write_summary(t, eb);
    }
  }
  t->state = MD_TRAIN_FINISHED;
  return write_summary(t, eb);
}
