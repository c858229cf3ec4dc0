/* The trainer: configuration checks, exact resuming after a stop at any
 * point (mid-epoch, before an evaluation, during an evaluation), the NaN
 * stop, the run files and md_evaluate. A tiny ResNet-18 (width 2) on
 * synthetic images keeps every run short. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "md_test_util.h"
#include "maxdrop/checkpoint.h"
#include "maxdrop/model.h"
#include "maxdrop/rng.h"
#include "maxdrop/safetensors.h"
#include "maxdrop/trainer.h"

enum { N_TRAIN = 64, N_TEST = 32, BATCH = 16, STEPS = 4, EPOCHS = 2, IMG = 3 * 32 * 32 };

static uint8_t train_images[N_TRAIN * IMG], test_images[N_TEST * IMG];
static int32_t train_labels[N_TRAIN], test_labels[N_TEST];

/* Images whose mean brightness depends on the label, so that there is
 * something to learn. */
static void make_data(void) {
  md_rng r;
  md_rng_init(&r, 7, 1);
  for (int i = 0; i < N_TRAIN + N_TEST; ++i) {
    const int y = (int)md_rng_below(&r, 10);
    uint8_t *img = i < N_TRAIN ? train_images + (size_t)i * IMG
                               : test_images + (size_t)(i - N_TRAIN) * IMG;
    for (int k = 0; k < IMG; ++k) img[k] = (uint8_t)(y * 20 + md_rng_below(&r, 60));
    if (i < N_TRAIN) train_labels[i] = y;
    else test_labels[i - N_TRAIN] = y;
  }
}

static md_train_data train_set(void) {
  md_train_data d = {train_images, train_labels, N_TRAIN};
  return d;
}
static md_train_data test_set(void) {
  md_train_data d = {test_images, test_labels, N_TEST};
  return d;
}

static md_model *tiny_model(uint64_t seed, md_reg_kind reg) {
  md_model_config mc = md_model_default_config(MD_ARCH_RESNET18);
  mc.width = 2;
  mc.reg = reg;
  mc.maxdrop.random_rate = 1; /* MaxDropout draws from its stream */
  mc.maxdrop_in_eval = 1;     /* ... in evaluation too */
  md_model *m = NULL;
  md_errbuf eb;
  const md_status st = md_model_create(&mc, BATCH, seed, &m, &eb);
  if (st != MD_OK) fprintf(stderr, "md_model_create: %s\n", eb.msg);
  assert_int_equal(st, MD_OK);
  return m;
}

static md_train_config tiny_config(const char *dir) {
  md_train_config c = md_train_default_config();
  c.epochs = EPOCHS;
  c.batch_size = BATCH;
  c.seed = 3;
  c.lr = 0.05;
  c.n_milestones = 1;
  c.milestones[0] = 1;
  c.cutout_holes = 1;
  c.run_dir = dir;
  return c;
}

/* Stops at a chosen point: after training step `at_step` (0-based) of epoch
 * `at_epoch`, or after the first evaluation batch of epoch `eval_epoch`. */
typedef struct stopper {
  volatile sig_atomic_t flag;
  int at_epoch;
  int64_t at_step;
  int eval_epoch;
  int nan_epoch;
  int64_t nan_step;
  int progress_calls;
} stopper;

static void on_batch(void *user, int epoch, int64_t step, float *images, int32_t *labels,
                     int64_t n) {
  stopper *s = user;
  (void)labels;
  if (epoch == s->at_epoch && step == s->at_step) s->flag = 1;
  if (epoch == s->nan_epoch && step == s->nan_step)
    for (int64_t i = 0; i < n * IMG; ++i) images[i] = NAN;
}

static void on_progress(void *user, const md_train_progress *p) {
  stopper *s = user;
  s->progress_calls++;
  assert_true(p->step >= 1 && p->step <= p->steps);
  if (p->phase == MD_PHASE_EVAL && p->epoch == s->eval_epoch && p->step == 1) s->flag = 1;
}

static stopper no_stop(void) {
  stopper s;
  memset(&s, 0, sizeof s);
  s.at_epoch = s.eval_epoch = s.nan_epoch = -1;
  return s;
}

static md_train_hooks hooks_for(stopper *s) {
  md_train_hooks h = {s, on_progress, NULL, on_batch, &s->flag};
  return h;
}

/* Everything a model holds must be identical. */
static void assert_models_identical(md_model *a, md_model *b) {
  assert_int_equal(md_model_param_count(a), md_model_param_count(b));
  md_assert_floats_identical(md_model_params(a), md_model_params(b),
                             (size_t)md_model_param_count(a));
  md_assert_floats_identical(md_model_momentum(a), md_model_momentum(b),
                             (size_t)md_model_param_count(a));
  md_assert_floats_identical(md_model_buffers(a), md_model_buffers(b),
                             (size_t)md_model_buffer_count(a));
  for (int64_t i = 0; i < md_model_counter_count(a); ++i)
    assert_int_equal(md_model_counters(a)[i], md_model_counters(b)[i]);
}

static void assert_histories_identical(const md_trainer *a, const md_trainer *b) {
  int na, nb;
  const md_epoch_result *ha = md_trainer_history(a, &na), *hb = md_trainer_history(b, &nb);
  assert_int_equal(na, nb);
  for (int i = 0; i < na; ++i) {
    assert_int_equal(ha[i].epoch, hb[i].epoch);
    assert_memory_equal(&ha[i].lr, &hb[i].lr, sizeof(double));
    assert_memory_equal(&ha[i].train_loss, &hb[i].train_loss, sizeof(double));
    assert_memory_equal(&ha[i].train_acc, &hb[i].train_acc, sizeof(double));
    assert_memory_equal(&ha[i].test_loss, &hb[i].test_loss, sizeof(double));
    assert_memory_equal(&ha[i].test_acc, &hb[i].test_acc, sizeof(double));
  }
}

static char *join(const char *dir, const char *name) {
  static char buf[8][4400];
  static int k;
  char *p = buf[k++ % 8];
  snprintf(p, 4400, "%.4200s/%.100s", dir, name);
  return p;
}

/* A straight run of EPOCHS epochs, kept for comparison. */
static md_model *straight_model;
static md_trainer *straight;

static int setup(void **state) {
  (void)state;
  make_data();
  static char d[4200];
  snprintf(d, sizeof d, "%s", md_test_tmpdir());
  straight_model = tiny_model(3, MD_REG_MAXDROPOUT);
  md_train_config c = tiny_config(d);
  md_train_data tr = train_set(), te = test_set();
  md_errbuf eb;
  if (md_trainer_create(&straight, &c, straight_model, &tr, &te, &eb) != MD_OK) return -1;
  stopper s = no_stop();
  md_train_hooks h = hooks_for(&s);
  if (md_trainer_run(straight, &h, &eb) != MD_OK) return -1;
  if (md_trainer_state(straight) != MD_TRAIN_FINISHED) return -1;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  md_trainer_free(straight);
  md_model_free(straight_model);
  return 0;
}

static void test_config_check(void **state) {
  (void)state;
  md_errbuf eb;
  md_train_config c = md_train_default_config();
  assert_int_equal(md_train_config_check(&c, &eb), MD_OK);
  c.epochs = 0;
  assert_int_equal(md_train_config_check(&c, &eb), MD_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(eb.msg, "epochs"));
  c = md_train_default_config();
  c.batch_size = 0;
  assert_int_equal(md_train_config_check(&c, &eb), MD_ERR_INVALID_ARGUMENT);
  c = md_train_default_config();
  c.lr = NAN;
  assert_int_equal(md_train_config_check(&c, &eb), MD_ERR_INVALID_ARGUMENT);
  c = md_train_default_config();
  c.milestones[1] = -4;
  assert_int_equal(md_train_config_check(&c, &eb), MD_ERR_INVALID_ARGUMENT);
  c = md_train_default_config();
  c.sgd.nesterov = 1;
  c.sgd.momentum = 0;
  assert_int_equal(md_train_config_check(&c, &eb), MD_ERR_INVALID_ARGUMENT);
  c = md_train_default_config();
  const md_st_meta bad = {"trainer.step", "1"};
  c.extra_meta = &bad;
  c.n_extra_meta = 1;
  assert_int_equal(md_train_config_check(&c, &eb), MD_ERR_INVALID_ARGUMENT);
}

static void test_create_checks_data(void **state) {
  (void)state;
  md_model *m = tiny_model(3, MD_REG_NONE);
  md_train_config c = tiny_config(NULL);
  int32_t labels[N_TRAIN];
  memcpy(labels, train_labels, sizeof labels);
  labels[17] = 10;
  md_train_data tr = {train_images, labels, N_TRAIN}, te = test_set();
  md_trainer *t = NULL;
  md_errbuf eb;
  assert_int_equal(md_trainer_create(&t, &c, m, &tr, &te, &eb), MD_ERR_RANGE);
  assert_null(t);
  assert_non_null(strstr(eb.msg, "label 10 of training image 17"));
  tr.labels = train_labels;
  c.batch_size = BATCH + 1;
  assert_int_equal(md_trainer_create(&t, &c, m, &tr, &te, &eb), MD_ERR_INVALID_ARGUMENT);
  md_model_free(m);
}

/* The straight run: files, history, learning rates. */
static void test_straight_run_files(void **state) {
  (void)state;
  int n;
  const md_epoch_result *h = md_trainer_history(straight, &n);
  assert_int_equal(n, EPOCHS);
  assert_true(h[0].lr == 0.05);
  assert_true(h[1].lr == 0.05 * 0.2);
  assert_int_equal(md_trainer_global_step(straight), EPOCHS * STEPS);
  const char *dir = md_trainer_checkpoint_path(straight);
  char folder[4200];
  snprintf(folder, sizeof folder, "%s", dir);
  *strrchr(folder, '/') = '\0';
  FILE *f = fopen(join(folder, MD_TRAIN_METRICS_FILE), "r");
  assert_non_null(f);
  char line[512];
  assert_non_null(fgets(line, sizeof line, f));
  assert_string_equal(line, "epoch,lr,train_loss,train_acc,test_loss,test_acc,seconds\n");
  int rows = 0;
  while (fgets(line, sizeof line, f)) {
    ++rows;
    int e;
    double lr, tl, ta, vl, va, s;
    assert_int_equal(sscanf(line, "%d,%lf,%lf,%lf,%lf,%lf,%lf", &e, &lr, &tl, &ta, &vl, &va, &s), 7);
    assert_int_equal(e, rows);
    assert_true(tl == h[rows - 1].train_loss); /* written exactly */
    assert_true(va == h[rows - 1].test_acc);
  }
  fclose(f);
  assert_int_equal(rows, EPOCHS);
  f = fopen(join(folder, MD_TRAIN_SUMMARY_FILE), "r");
  assert_non_null(f);
  char text[4096];
  const size_t len = fread(text, 1, sizeof text - 1, f);
  text[len] = '\0';
  fclose(f);
  assert_non_null(strstr(text, "\"status\":\t\"finished\""));
  md_safetensors *st = NULL;
  assert_int_equal(md_safetensors_open(dir, &st, NULL), MD_OK);
  assert_string_equal(md_safetensors_meta_get(st, MD_CKPT_KEY_EPOCH), "2");
  assert_string_equal(md_safetensors_meta_get(st, MD_TRAIN_KEY_STEP), "0");
  assert_string_equal(md_safetensors_meta_get(st, MD_CKPT_KEY_SGD_STEPS), "8");
  md_safetensors_close(st);
}

/* Stops at `s`, then resumes in a new trainer and model (as a new process
 * would) until the end; the result must equal the straight run. */
static void stop_and_resume(stopper s, int64_t want_step, int want_epochs_done) {
  char dir[4200];
  snprintf(dir, sizeof dir, "%s", md_test_tmpdir());
  md_train_data tr = train_set(), te = test_set();
  md_train_config c = tiny_config(dir);
  md_errbuf eb;
  md_model *m1 = tiny_model(3, MD_REG_MAXDROPOUT);
  md_trainer *t1 = NULL;
  assert_int_equal(md_trainer_create(&t1, &c, m1, &tr, &te, &eb), MD_OK);
  md_train_hooks h = hooks_for(&s);
  assert_int_equal(md_trainer_run(t1, &h, &eb), MD_OK);
  assert_int_equal(md_trainer_state(t1), MD_TRAIN_STOPPED);
  assert_int_equal(md_trainer_step_in_epoch(t1), want_step);
  assert_int_equal(md_trainer_epochs_done(t1), want_epochs_done);
  md_trainer_free(t1);
  md_model_free(m1);

  /* A model from another seed: everything must come from the checkpoint. */
  md_model *m2 = tiny_model(99, MD_REG_MAXDROPOUT);
  md_trainer *t2 = NULL;
  assert_int_equal(md_trainer_create(&t2, &c, m2, &tr, &te, &eb), MD_OK);
  if (md_trainer_resume(t2, md_trainer_checkpoint_path(t2), &eb) != MD_OK)
    fail_msg("resume: %s", eb.msg);
  assert_int_equal(md_trainer_step_in_epoch(t2), want_step);
  stopper none = no_stop();
  md_train_hooks h2 = hooks_for(&none);
  assert_int_equal(md_trainer_run(t2, &h2, &eb), MD_OK);
  assert_int_equal(md_trainer_state(t2), MD_TRAIN_FINISHED);
  assert_int_equal(md_trainer_global_step(t2), EPOCHS * STEPS);
  assert_models_identical(m2, straight_model);
  assert_histories_identical(t2, straight);
  md_trainer_free(t2);
  md_model_free(m2);
}

static void test_resume_mid_epoch(void **state) {
  (void)state;
  stopper s = no_stop();
  s.at_epoch = 0;
  s.at_step = 2; /* stops after the third step */
  stop_and_resume(s, 3, 0);
}

static void test_resume_mid_second_epoch(void **state) {
  (void)state;
  stopper s = no_stop();
  s.at_epoch = 1;
  s.at_step = 0;
  stop_and_resume(s, 1, 1);
}

static void test_resume_before_evaluation(void **state) {
  (void)state;
  stopper s = no_stop();
  s.at_epoch = 0;
  s.at_step = STEPS - 1; /* after the last step: the evaluation is pending */
  stop_and_resume(s, STEPS, 0);
}

static void test_resume_during_evaluation(void **state) {
  (void)state;
  stopper s = no_stop();
  s.eval_epoch = 1;
  stop_and_resume(s, STEPS, 1);
}

static void test_resume_refuses_other_settings(void **state) {
  (void)state;
  md_train_data tr = train_set(), te = test_set();
  md_train_config c = tiny_config(NULL);
  c.seed = 4;
  md_errbuf eb;
  md_model *m = tiny_model(3, MD_REG_MAXDROPOUT);
  md_trainer *t = NULL;
  assert_int_equal(md_trainer_create(&t, &c, m, &tr, &te, &eb), MD_OK);
  assert_int_equal(md_trainer_resume(t, md_trainer_checkpoint_path(straight), &eb),
                   MD_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(eb.msg, "data configuration"));
  md_trainer_free(t);
  md_model_free(m);
  /* Another model configuration. */
  m = tiny_model(3, MD_REG_NONE);
  c.seed = 3;
  assert_int_equal(md_trainer_create(&t, &c, m, &tr, &te, &eb), MD_OK);
  assert_int_equal(md_trainer_resume(t, md_trainer_checkpoint_path(straight), &eb),
                   MD_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(eb.msg, "model"));
  md_trainer_free(t);
  md_model_free(m);
}

static void test_nan_stops(void **state) {
  (void)state;
  char dir[4200];
  snprintf(dir, sizeof dir, "%s", md_test_tmpdir());
  md_train_data tr = train_set(), te = test_set();
  md_train_config c = tiny_config(dir);
  md_errbuf eb;
  md_model *m = tiny_model(3, MD_REG_MAXDROPOUT);
  md_trainer *t = NULL;
  assert_int_equal(md_trainer_create(&t, &c, m, &tr, &te, &eb), MD_OK);
  stopper s = no_stop();
  s.nan_epoch = 1;
  s.nan_step = 1;
  md_train_hooks h = hooks_for(&s);
  assert_int_equal(md_trainer_run(t, &h, &eb), MD_ERR_NUMERIC);
  assert_int_equal(md_trainer_state(t), MD_TRAIN_DIVERGED);
  assert_non_null(strstr(eb.msg, "NaN at epoch 2, step 2 of 4"));
  assert_int_equal(md_trainer_epochs_done(t), 1);
  /* The model was not updated by the NaN step: 7 SGD steps. */
  assert_int_equal(md_trainer_global_step(t), STEPS + 1);
  for (int64_t i = 0; i < md_model_param_count(m); ++i)
    assert_true(isfinite(md_model_params(m)[i]));
  /* The checkpoint is the end of epoch 1. */
  md_safetensors *st = NULL;
  assert_int_equal(md_safetensors_open(md_trainer_checkpoint_path(t), &st, NULL), MD_OK);
  assert_string_equal(md_safetensors_meta_get(st, MD_CKPT_KEY_EPOCH), "1");
  assert_string_equal(md_safetensors_meta_get(st, MD_TRAIN_KEY_STEP), "0");
  md_safetensors_close(st);
  /* Running again is refused; resuming from the checkpoint works. */
  assert_int_equal(md_trainer_run(t, &h, &eb), MD_ERR_STATE);
  assert_int_equal(md_trainer_resume(t, md_trainer_checkpoint_path(t), &eb), MD_OK);
  stopper none = no_stop();
  md_train_hooks h2 = hooks_for(&none);
  assert_int_equal(md_trainer_run(t, &h2, &eb), MD_OK);
  assert_models_identical(m, straight_model);
  assert_histories_identical(t, straight);
  md_trainer_free(t);
  md_model_free(m);
}

/* Without a run folder nothing is written, and stopping still works. */
static void test_no_run_folder(void **state) {
  (void)state;
  md_train_data tr = train_set(), te = test_set();
  md_train_config c = tiny_config(NULL);
  c.epochs = 1;
  c.prefetch = 0;
  md_errbuf eb;
  md_model *m = tiny_model(3, MD_REG_DROPOUT);
  md_trainer *t = NULL;
  assert_int_equal(md_trainer_create(&t, &c, m, &tr, &te, &eb), MD_OK);
  assert_string_equal(md_trainer_checkpoint_path(t), "");
  stopper s = no_stop();
  s.at_epoch = 0;
  s.at_step = 0;
  md_train_hooks h = hooks_for(&s);
  assert_int_equal(md_trainer_run(t, &h, &eb), MD_OK);
  assert_int_equal(md_trainer_state(t), MD_TRAIN_STOPPED);
  s.flag = 0;
  s.at_epoch = -1;
  assert_int_equal(md_trainer_run(t, &h, &eb), MD_OK);
  assert_int_equal(md_trainer_state(t), MD_TRAIN_FINISHED);
  assert_int_equal(md_trainer_global_step(t), STEPS);
  md_trainer_free(t);
  md_model_free(m);
}

/* md_evaluate agrees with the trainer's last evaluation (same batches) and
 * its per-class counts add up. */
static void test_evaluate(void **state) {
  (void)state;
  md_train_data te = test_set();
  md_eval_result r;
  int64_t cc[10], ct[10];
  md_errbuf eb;
  assert_int_equal(md_evaluate(straight_model, &te, BATCH, &r, cc, ct, NULL, &eb), MD_OK);
  int n;
  const md_epoch_result *h = md_trainer_history(straight, &n);
  assert_int_equal(r.n, N_TEST);
  /* MaxDropout is active in evaluation with a random rate: its stream has
   * moved on since, so only the class totals are compared exactly. */
  int64_t sc = 0, stot = 0;
  for (int k = 0; k < 10; ++k) {
    assert_true(cc[k] <= ct[k]);
    sc += cc[k];
    stot += ct[k];
  }
  assert_int_equal(stot, N_TEST);
  assert_int_equal(sc, r.correct);
  assert_true(r.acc == (double)r.correct / N_TEST);
  (void)h;
  assert_int_equal(md_evaluate(straight_model, &te, BATCH + 1, &r, cc, ct, NULL, &eb),
                   MD_ERR_INVALID_ARGUMENT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_config_check),
      cmocka_unit_test(test_create_checks_data),
      cmocka_unit_test(test_straight_run_files),
      cmocka_unit_test(test_resume_mid_epoch),
      cmocka_unit_test(test_resume_mid_second_epoch),
      cmocka_unit_test(test_resume_before_evaluation),
      cmocka_unit_test(test_resume_during_evaluation),
      cmocka_unit_test(test_resume_refuses_other_settings),
      cmocka_unit_test(test_nan_stops),
      cmocka_unit_test(test_no_run_folder),
      cmocka_unit_test(test_evaluate),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
