/* Models: configuration checks, the tensor table (state_dict names, shapes,
 * order, counts), call-order errors, a last batch smaller than the planned
 * one, independence from the thread count, regularizer placement and the
 * evaluation switch, checkpoints. Numerics against PyTorch are in
 * tests/parity/test_model_parity.py. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "md_test_util.h"
#include "maxdrop/checkpoint.h"
#include "maxdrop/model.h"
#include "maxdrop/safetensors.h"
#include "maxdrop/sgd.h"

enum { IMG = 3 * 32 * 32 };

static md_model *build(const md_model_config *cfg, int batch, uint64_t seed) {
  md_model *m = NULL;
  md_errbuf eb = {{0}};
  const md_status st = md_model_create(cfg, batch, seed, &m, &eb);
  if (st != MD_OK) fail_msg("md_model_create: %s (%s)", eb.msg, md_strerror(st));
  return m;
}

static md_model_config small_resnet(void) {
  md_model_config c = md_model_default_config(MD_ARCH_RESNET18);
  c.width = 4;
  return c;
}

static md_model_config small_wrn(void) {
  md_model_config c = md_model_default_config(MD_ARCH_WRN);
  c.depth = 10;
  c.widen = 2;
  return c;
}

static float *images(int n, uint64_t stream) {
  float *x = malloc((size_t)n * IMG * sizeof *x);
  assert_non_null(x);
  md_fill_uniform(x, (size_t)n * IMG, -2.0f, 2.0f, stream);
  return x;
}

static void labels_of(int32_t *y, int n, int classes) {
  for (int i = 0; i < n; ++i) y[i] = (int32_t)((i * 7 + 3) % classes);
}

static md_sgd sgd_for(md_model *m) {
  md_sgd opt;
  const md_sgd_config c = md_sgd_config_reference();
  assert_int_equal(md_sgd_init(&opt, &c, md_model_param_count(m), NULL), MD_OK);
  return opt;
}

/* ------------------------------------------------------------------------ */

static void expect_bad(md_model_config c, const char *what) {
  md_errbuf eb = {{0}};
  md_model *m = (md_model *)&eb; /* must be reset to NULL */
  const md_status st = md_model_create(&c, 4, 1, &m, &eb);
  if (st != MD_ERR_INVALID_ARGUMENT) fail_msg("%s: status %d, want invalid argument", what, st);
  assert_null(m);
  if (!eb.msg[0]) fail_msg("%s: no message", what);
}

static void test_config_errors(void **state) {
  (void)state;
  md_model_config c = small_resnet();
  c.width = 0;
  expect_bad(c, "width 0");
  c = small_resnet();
  c.num_classes = 0;
  expect_bad(c, "0 classes");
  c = small_resnet();
  c.reg_stages = 0x10;
  expect_bad(c, "fifth stage");
  c = small_resnet();
  c.reg = MD_REG_MAXDROPOUT;
  c.maxdrop.rate = 1.5;
  expect_bad(c, "MaxDropout rate 1.5");
  c = small_resnet();
  c.reg = MD_REG_DROPOUT;
  c.dropout_p = -0.1;
  expect_bad(c, "Dropout p -0.1");
  c = small_resnet();
  c.reg = (md_reg_kind)7;
  expect_bad(c, "regularizer 7");
  c = small_resnet();
  c.bn_eps = -1.0f;
  expect_bad(c, "eps -1");
  c = small_wrn();
  c.depth = 12;
  expect_bad(c, "WRN depth 12");
  c = small_wrn();
  c.widen = 0;
  expect_bad(c, "WRN widen 0");
  c = small_resnet();
  c.arch = (md_arch)5;
  expect_bad(c, "architecture 5");
  /* a batch of 0 */
  c = small_resnet();
  md_model *m = NULL;
  assert_int_equal(md_model_create(&c, 0, 1, &m, NULL), MD_ERR_INVALID_ARGUMENT);
  assert_null(m);
}

/* The tensor table of ResNet-18 width 64 against the reference state_dict:
 * 122 entries (62 parameters), 11,173,962 parameters (PyTorch's count), in
 * the reference's order. */
static void test_resnet18_table(void **state) {
  (void)state;
  md_model_config c = md_model_default_config(MD_ARCH_RESNET18);
  md_model *m = build(&c, 1, 1);
  assert_int_equal(md_model_tensor_count(m), 122);
  assert_int_equal(md_model_param_count(m), 11173962);
  int params = 0;
  for (size_t i = 0; i < md_model_tensor_count(m); ++i)
    params += md_model_tensor_at(m, i)->kind == MD_MT_PARAM;
  assert_int_equal(params, 62);
  const char *first[] = {"conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean",
                         "bn1.running_var", "bn1.num_batches_tracked", "layer1.0.conv1.weight",
                         "layer1.0.bn1.weight"};
  for (size_t i = 0; i < sizeof first / sizeof *first; ++i)
    assert_string_equal(md_model_tensor_at(m, i)->name, first[i]);
  assert_string_equal(md_model_tensor_at(m, 120)->name, "linear.weight");
  assert_string_equal(md_model_tensor_at(m, 121)->name, "linear.bias");
  const md_model_tensor *t =
      md_model_tensor_at(m, (size_t)md_model_find_tensor(m, "layer2.0.shortcut.0.weight"));
  assert_int_equal(t->kind, MD_MT_PARAM);
  assert_int_equal(t->ndim, 4);
  assert_int_equal(t->shape[0], 128);
  assert_int_equal(t->shape[1], 64);
  assert_int_equal(t->shape[2], 1);
  assert_int_equal(t->shape[3], 1);
  t = md_model_tensor_at(m, (size_t)md_model_find_tensor(m, "layer4.1.bn2.running_var"));
  assert_int_equal(t->kind, MD_MT_BUFFER);
  assert_int_equal(t->shape[0], 512);
  t = md_model_tensor_at(m, (size_t)md_model_find_tensor(m, "layer3.0.shortcut.1.num_batches_tracked"));
  assert_int_equal(t->kind, MD_MT_COUNTER);
  assert_int_equal(t->ndim, 0);
  assert_int_equal(md_model_find_tensor(m, "layer1.0.shortcut.0.weight"), -1);
  assert_int_equal(md_model_find_tensor(m, "fc.weight"), -1);
  /* parameters are packed in table order, without gaps */
  int64_t next = 0;
  for (size_t i = 0; i < md_model_tensor_count(m); ++i) {
    t = md_model_tensor_at(m, i);
    if (t->kind != MD_MT_PARAM) continue;
    assert_int_equal(t->offset, next);
    next += t->numel;
  }
  assert_int_equal(next, md_model_param_count(m));
  md_model_free(m);
}

/* WRN-28-10: 36,479,194 parameters (the WRN paper's 36.5M); the shortcut
 * convolutions exist exactly where the channel count changes. */
static void test_wrn_table(void **state) {
  (void)state;
  md_model_config c = md_model_default_config(MD_ARCH_WRN);
  md_model *m = build(&c, 1, 1);
  assert_int_equal(md_model_param_count(m), 36479194);
  assert_true(md_model_find_tensor(m, "block1.layer.0.convShortcut.weight") >= 0);
  assert_int_equal(md_model_find_tensor(m, "block1.layer.1.convShortcut.weight"), -1);
  assert_true(md_model_find_tensor(m, "block3.layer.3.conv2.weight") >= 0);
  assert_int_equal(md_model_find_tensor(m, "block3.layer.4.conv2.weight"), -1);
  const md_model_tensor *t = md_model_tensor_at(m, (size_t)md_model_find_tensor(m, "fc.weight"));
  assert_int_equal(t->shape[0], 10);
  assert_int_equal(t->shape[1], 640);
  assert_string_equal(md_model_tensor_at(m, 0)->name, "conv1.weight");
  assert_string_equal(md_model_tensor_at(m, 1)->name, "block1.layer.0.bn1.weight");
  assert_string_equal(md_model_tensor_at(m, 6)->name, "block1.layer.0.conv1.weight");
  md_model_free(m);
  /* WRN-10-1: 16 -> 16 channels in the first group: identity shortcut */
  c.depth = 10;
  c.widen = 1;
  m = build(&c, 1, 1);
  assert_int_equal(md_model_find_tensor(m, "block1.layer.0.convShortcut.weight"), -1);
  assert_true(md_model_find_tensor(m, "block2.layer.0.convShortcut.weight") >= 0);
  md_model_free(m);
}

static void test_call_order(void **state) {
  (void)state;
  md_model_config c = small_resnet();
  md_model *m = build(&c, 4, 1);
  float *x = images(5, 1);
  int32_t y[5];
  labels_of(y, 5, 10);
  assert_null(md_model_logits(m));
  assert_int_equal(md_model_backward(m), MD_ERR_STATE);
  assert_int_equal(md_model_loss(m, y, NULL, NULL), MD_ERR_STATE);
  assert_int_equal(md_model_forward(m, 5, x, 1), MD_ERR_SHAPE); /* over the planned batch */
  assert_int_equal(md_model_forward(m, 0, x, 1), MD_ERR_SHAPE);
  assert_int_equal(md_model_forward(m, 4, NULL, 1), MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_model_forward(m, 4, x, 1), MD_OK);
  assert_int_equal(md_model_backward(m), MD_ERR_STATE); /* no loss yet */
  y[2] = 10;
  double loss = -1;
  assert_int_equal(md_model_loss(m, y, &loss, NULL), MD_ERR_RANGE);
  assert_true(loss == -1);
  y[2] = 3;
  int64_t correct = -1;
  assert_int_equal(md_model_loss(m, y, &loss, &correct), MD_OK);
  assert_true(loss > 0 && isfinite(loss));
  assert_true(correct >= 0 && correct <= 4);
  assert_int_equal(md_model_backward(m), MD_OK);
  assert_int_equal(md_model_backward(m), MD_ERR_STATE); /* the forward is consumed */
  /* evaluation: loss yes, backward no */
  assert_int_equal(md_model_eval_batch(m, 4, x, y, &loss, &correct), MD_OK);
  assert_int_equal(md_model_backward(m), MD_ERR_STATE);
  md_sgd bad;
  const md_sgd_config sc = md_sgd_config_reference();
  assert_int_equal(md_sgd_init(&bad, &sc, 3, NULL), MD_OK);
  assert_int_equal(md_model_sgd_step(m, &bad, 0.1), MD_ERR_SHAPE);
  free(x);
  md_model_free(m);
}

/* Copies the whole state of a into b (same configuration). */
static void copy_state(md_model *dst, md_model *src) {
  const size_t np = (size_t)md_model_param_count(src);
  memcpy(md_model_params(dst), md_model_params(src), np * sizeof(float));
  memcpy(md_model_momentum(dst), md_model_momentum(src), np * sizeof(float));
  memcpy(md_model_buffers(dst), md_model_buffers(src),
         (size_t)md_model_buffer_count(src) * sizeof(float));
  memcpy(md_model_counters(dst), md_model_counters(src),
         (size_t)md_model_counter_count(src) * sizeof(int64_t));
}

static void assert_same_state(md_model *a, md_model *b) {
  const size_t np = (size_t)md_model_param_count(a);
  md_assert_floats_identical(md_model_params(a), md_model_params(b), np);
  md_assert_floats_identical(md_model_grads(a), md_model_grads(b), np);
  md_assert_floats_identical(md_model_momentum(a), md_model_momentum(b), np);
  md_assert_floats_identical(md_model_buffers(a), md_model_buffers(b),
                             (size_t)md_model_buffer_count(a));
  assert_memory_equal(md_model_counters(a), md_model_counters(b),
                      (size_t)md_model_counter_count(a) * sizeof(int64_t));
}

/* A model planned for 8 samples runs a full batch, then a last batch of 5,
 * in the same memory: the short step must equal, bit for bit, the same step
 * of a model planned for exactly 5 samples from the same state. */
static void check_short_batch(md_model_config c) {
  md_model *big = build(&c, 8, 11), *small = build(&c, 5, 11);
  float *x = images(8, 2), *x2 = images(8, 3);
  int32_t y[8];
  labels_of(y, 8, c.num_classes);
  md_sgd ob = sgd_for(big), os = sgd_for(small);
  double lb, ls;
  int64_t cb, cs;
  assert_int_equal(md_model_train_step(big, &ob, 0.1, 8, x, y, &lb, &cb), MD_OK);
  copy_state(small, big);
  os.steps = ob.steps;
  /* regularizer streams continue from the same point */
  assert_int_equal(md_model_train_step(big, &ob, 0.1, 5, x2, y, &lb, &cb), MD_OK);
  assert_int_equal(md_model_train_step(small, &os, 0.1, 5, x2, y, &ls, &cs), MD_OK);
  assert_true(lb == ls);
  assert_int_equal(cb, cs);
  md_assert_floats_identical(md_model_logits(big), md_model_logits(small),
                             (size_t)(5 * c.num_classes));
  assert_same_state(big, small);
  /* and a batch of one */
  assert_int_equal(md_model_train_step(big, &ob, 0.1, 1, x, y, &lb, &cb), MD_OK);
  assert_true(isfinite(lb));
  assert_int_equal(md_model_eval_batch(big, 1, x, y, &lb, &cb), MD_OK);
  free(x);
  free(x2);
  md_model_free(big);
  md_model_free(small);
}

static void test_short_last_batch(void **state) {
  (void)state;
  md_model_config c = small_resnet();
  check_short_batch(c);
  c = small_wrn();
  c.num_classes = 7;
  check_short_batch(c);
}

/* The same steps with 1 and 2 threads give the same bits. */
static void test_thread_independence(void **state) {
  (void)state;
  const int saved = omp_get_max_threads();
  md_model_config cfgs[2] = {small_resnet(), small_wrn()};
  cfgs[0].reg = MD_REG_MAXDROPOUT;
  cfgs[1].reg = MD_REG_DROPOUT;
  for (int k = 0; k < 2; ++k) {
    omp_set_num_threads(2);
    md_model *a = build(&cfgs[k], 6, 5), *b = build(&cfgs[k], 6, 5);
    float *x = images(6, 4);
    int32_t y[6];
    labels_of(y, 6, 10);
    md_sgd oa = sgd_for(a), ob = sgd_for(b);
    double la, lb;
    for (int s = 0; s < 2; ++s) {
      omp_set_num_threads(1);
      assert_int_equal(md_model_train_step(a, &oa, 0.1, 6, x, y, &la, NULL), MD_OK);
      omp_set_num_threads(2);
      assert_int_equal(md_model_train_step(b, &ob, 0.1, 6, x, y, &lb, NULL), MD_OK);
      assert_true(la == lb);
    }
    assert_same_state(a, b);
    free(x);
    md_model_free(a);
    md_model_free(b);
  }
  omp_set_num_threads(saved);
}

/* Fraction of dropped elements in layer i's last mask; -1 when it did not run. */
static double dropped(md_model *m, int i) {
  md_shape s;
  assert_int_equal(md_model_reg_mask(m, i, &s, NULL), MD_OK);
  if (s.n == 0) return -1.0;
  const int64_t n = md_shape_numel(s);
  uint8_t *keep = malloc(n > 0 ? (size_t)n : 1);
  assert_non_null(keep);
  assert_int_equal(md_model_reg_mask(m, i, &s, keep), MD_OK);
  int64_t d = 0;
  for (int64_t j = 0; j < n; ++j) d += keep[j] == 0;
  free(keep);
  return (double)d / (double)n;
}

/* MaxDropout only after stage 2; its mask covers the stage-2 output. */
static void test_reg_stages(void **state) {
  (void)state;
  md_model_config c = small_resnet();
  c.reg = MD_REG_MAXDROPOUT;
  c.reg_stages = 0x2;
  md_model *m = build(&c, 3, 1);
  assert_int_equal(md_model_reg_count(m), 4);
  float *x = images(3, 6);
  assert_int_equal(md_model_forward(m, 3, x, 1), MD_OK);
  md_shape s;
  assert_int_equal(md_model_reg_mask(m, 1, &s, NULL), MD_OK);
  assert_int_equal(s.n, 3);
  assert_int_equal(s.c, 8);
  assert_int_equal(s.h, 16);
  assert_int_equal(s.w, 16);
  assert_true(dropped(m, 1) > 0.0);
  assert_true(dropped(m, 0) == -1.0);
  assert_true(dropped(m, 2) == -1.0);
  assert_true(dropped(m, 3) == -1.0);
  assert_int_equal(md_model_reg_mask(m, 4, &s, NULL), MD_ERR_RANGE);
  free(x);
  md_model_free(m);
}

/* Evaluation: MaxDropout is the identity unless maxdrop_in_eval is set;
 * Dropout is always the identity there. */
static void test_eval_switch(void **state) {
  (void)state;
  float *x = images(4, 7);
  md_model_config c = small_wrn();
  c.reg = MD_REG_MAXDROPOUT;
  md_model *m = build(&c, 4, 1);
  assert_int_equal(md_model_forward(m, 4, x, 0), MD_OK);
  for (int i = 0; i < md_model_reg_count(m); ++i) assert_true(dropped(m, i) == 0.0);
  float *plain = malloc(40 * sizeof *plain);
  assert_non_null(plain);
  memcpy(plain, md_model_logits(m), 40 * sizeof *plain);
  md_model_free(m);
  c.maxdrop_in_eval = 1;
  m = build(&c, 4, 1);
  assert_int_equal(md_model_forward(m, 4, x, 0), MD_OK);
  assert_int_equal(md_model_reg_count(m), 3);
  for (int i = 0; i < md_model_reg_count(m); ++i) assert_true(dropped(m, i) > 0.0);
  assert_memory_not_equal(plain, md_model_logits(m), 40 * sizeof *plain);
  md_model_free(m);
  c.maxdrop_in_eval = 0;
  c.reg = MD_REG_DROPOUT;
  m = build(&c, 4, 1);
  assert_int_equal(md_model_forward(m, 4, x, 0), MD_OK);
  md_assert_floats_identical(md_model_logits(m), plain, 40);
  assert_int_equal(md_model_forward(m, 4, x, 1), MD_OK);
  assert_true(dropped(m, 0) > 0.1 && dropped(m, 0) < 0.5);
  free(plain);
  free(x);
  md_model_free(m);
}

static char *path_in(const char *dir, const char *name) {
  static char p[512];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  return p;
}

/* Save with optimizer state, change everything, load: the same bits, and the
 * regularizer streams continue as if nothing happened. A file lacking a
 * tensor or holding another shape is refused and changes nothing. */
static void test_checkpoint_round_trip(void **state) {
  (void)state;
  const char *dir = md_test_tmpdir();
  md_model_config c = small_resnet();
  c.reg = MD_REG_DROPOUT;
  md_model *a = build(&c, 4, 9), *b = build(&c, 4, 10);
  float *x = images(4, 8);
  int32_t y[4];
  labels_of(y, 4, 10);
  md_sgd oa = sgd_for(a);
  double loss;
  assert_int_equal(md_model_train_step(a, &oa, 0.1, 4, x, y, &loss, NULL), MD_OK);
  char path[600];
  snprintf(path, sizeof path, "%s", path_in(dir, "a.safetensors"));
  md_errbuf eb = {{0}};
  const md_st_meta meta[1] = {{"epoch", "3"}};
  assert_int_equal(md_model_save(a, path, 1, meta, 1, &eb), MD_OK);
  md_safetensors *st = NULL;
  assert_int_equal(md_safetensors_open(path, &st, &eb), MD_OK);
  assert_string_equal(md_safetensors_meta_get(st, "format"), "maxdrop");
  assert_string_equal(md_safetensors_meta_get(st, "epoch"), "3");
  assert_non_null(strstr(md_safetensors_meta_get(st, "model"), "\"arch\":\"resnet18\""));
  assert_true(md_safetensors_find(st, "optimizer.momentum_buffer.layer2.0.shortcut.0.weight") >= 0);
  assert_true(md_safetensors_find(st, "rng.layer3") >= 0);
  assert_true(md_safetensors_find(st, "bn1.num_batches_tracked") >= 0);
  assert_int_equal(md_safetensors_count(st), md_model_st_count(a, 1));
  md_safetensors_close(st);

  assert_int_equal(md_model_load(b, path, 1, &eb), MD_OK);
  const size_t np = (size_t)md_model_param_count(a);
  md_assert_floats_identical(md_model_params(b), md_model_params(a), np);
  md_assert_floats_identical(md_model_momentum(b), md_model_momentum(a), np);
  md_assert_floats_identical(md_model_buffers(b), md_model_buffers(a),
                             (size_t)md_model_buffer_count(a));
  assert_memory_equal(md_model_counters(b), md_model_counters(a),
                      (size_t)md_model_counter_count(a) * sizeof(int64_t));
  md_sgd ob = sgd_for(b);
  ob.steps = oa.steps;
  double la, lb;
  assert_int_equal(md_model_train_step(a, &oa, 0.1, 4, x, y, &la, NULL), MD_OK);
  assert_int_equal(md_model_train_step(b, &ob, 0.1, 4, x, y, &lb, NULL), MD_OK);
  assert_true(la == lb); /* same Dropout masks: the streams were restored */
  md_assert_floats_identical(md_model_params(b), md_model_params(a), np);

  /* a weights-only file (no momentum, no streams) loads without optimizer */
  char wpath[600];
  snprintf(wpath, sizeof wpath, "%s", path_in(dir, "w.safetensors"));
  assert_int_equal(md_model_save(a, wpath, 0, NULL, 0, &eb), MD_OK);
  md_model *d = build(&c, 4, 1);
  float *before = malloc(np * sizeof *before);
  assert_non_null(before);
  memcpy(before, md_model_params(d), np * sizeof *before);
  eb.msg[0] = 0;
  assert_int_equal(md_model_load(d, wpath, 1, &eb), MD_ERR_FORMAT); /* no momentum */
  if (!strstr(eb.msg, "missing")) fail_msg("message: %s", eb.msg);
  md_assert_floats_identical(md_model_params(d), before, np);
  assert_int_equal(md_model_load(d, wpath, 0, &eb), MD_OK);
  md_assert_floats_identical(md_model_params(d), md_model_params(a), np);

  /* another width: shapes differ, nothing changes */
  md_model_config c8 = c;
  c8.width = 8;
  md_model *e = build(&c8, 2, 1);
  const size_t ne = (size_t)md_model_param_count(e);
  float *e0 = malloc(ne * sizeof *e0);
  assert_non_null(e0);
  memcpy(e0, md_model_params(e), ne * sizeof *e0);
  assert_int_equal(md_model_load(e, wpath, 0, &eb), MD_ERR_SHAPE);
  md_assert_floats_identical(md_model_params(e), e0, ne);
  /* a WRN-10-1 file into a ResNet-18 of width 16: conv1.weight has the same
   * shape (16, 3, 3, 3), bn1 another (the WRN's final BatchNorm, 64), the
   * stage tensors are missing: refused as a whole */
  md_model_config cw = small_wrn();
  cw.widen = 1;
  md_model *w = build(&cw, 2, 1);
  assert_int_equal(md_model_save(w, path_in(dir, "wrn.safetensors"), 0, NULL, 0, &eb), MD_OK);
  md_model_config c16 = c;
  c16.width = 16;
  md_model *r16 = build(&c16, 2, 1);
  const size_t n16 = (size_t)md_model_param_count(r16);
  float *r0 = malloc(n16 * sizeof *r0);
  assert_non_null(r0);
  memcpy(r0, md_model_params(r16), n16 * sizeof *r0);
  const md_status wst = md_model_load(r16, path_in(dir, "wrn.safetensors"), 0, &eb);
  if (wst != MD_ERR_SHAPE && wst != MD_ERR_FORMAT) fail_msg("status %d: %s", wst, eb.msg);
  if (!strstr(eb.msg, "bn1") && !strstr(eb.msg, "missing")) fail_msg("message: %s", eb.msg);
  md_assert_floats_identical(md_model_params(r16), r0, n16);
  free(r0);
  md_model_free(r16);
  md_assert_floats_identical(md_model_params(d), md_model_params(a), np);
  free(before);
  free(e0);
  free(x);
  md_model_free(a);
  md_model_free(b);
  md_model_free(d);
  md_model_free(e);
  md_model_free(w);
}

/* Training reduces the loss on a fixed batch (the pieces fit together). */
static void test_learns(void **state) {
  (void)state;
  md_model_config c = small_resnet();
  c.width = 8;
  c.reg = MD_REG_MAXDROPOUT;
  md_model *m = build(&c, 8, 3);
  float *x = images(8, 9);
  int32_t y[8];
  labels_of(y, 8, 10);
  md_sgd opt = sgd_for(m);
  double first = 0, loss = 0;
  for (int s = 0; s < 30; ++s) {
    assert_int_equal(md_model_train_step(m, &opt, 0.02, 8, x, y, &loss, NULL), MD_OK);
    if (s == 0) first = loss;
  }
  int64_t correct = 0;
  assert_int_equal(md_model_eval_batch(m, 8, x, y, &loss, &correct), MD_OK);
  if (!(loss < 0.5 * first)) fail_msg("loss %.4g after 30 steps, %.4g at first", loss, first);
  free(x);
  md_model_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_config_errors),
      cmocka_unit_test(test_resnet18_table),
      cmocka_unit_test(test_wrn_table),
      cmocka_unit_test(test_call_order),
      cmocka_unit_test(test_short_last_batch),
      cmocka_unit_test(test_thread_independence),
      cmocka_unit_test(test_reg_stages),
      cmocka_unit_test(test_eval_switch),
      cmocka_unit_test(test_checkpoint_round_trip),
      cmocka_unit_test(test_learns),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
