/* Initialisation of the models, tested on the distributions (REFERENCE.md
 * section 2): every ResNet-18 conv and linear weight and the linear bias
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (PyTorch's kaiming_uniform with
 * a = sqrt(5)); WRN conv weights N(0, sqrt(2 / (k*k*out))), linear weight
 * uniform as above, linear bias 0; BatchNorm weight 1, bias 0, running mean 0,
 * running variance 1, counters 0. Moments are checked against their sampling
 * error (5 standard errors), bounds exactly, and the shape of the
 * distribution by its kurtosis (uniform 1.8, normal 3). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "md_test_util.h"
#include "maxdrop/model.h"

typedef struct moments {
  double mean, var, kurt, absmax;
  int64_t n;
} moments;

static moments moments_of(const float *x, int64_t n) {
  moments m = {0, 0, 0, 0, n};
  double s = 0, s2 = 0, s4 = 0;
  for (int64_t i = 0; i < n; ++i) s += x[i];
  m.mean = s / (double)n;
  for (int64_t i = 0; i < n; ++i) {
    const double d = x[i] - m.mean;
    s2 += d * d;
    s4 += d * d * d * d;
    if (fabs(x[i]) > m.absmax) m.absmax = fabs(x[i]);
  }
  m.var = s2 / (double)n;
  m.kurt = (s4 / (double)n) / (m.var * m.var);
  return m;
}

static md_model *build(md_model_config cfg, uint64_t seed) {
  md_model *m = NULL;
  md_errbuf eb = {{0}};
  const md_status st = md_model_create(&cfg, 2, seed, &m, &eb);
  if (st != MD_OK) fail_msg("md_model_create: %s", eb.msg);
  return m;
}

static int ends_with(const char *s, const char *suffix) {
  const size_t a = strlen(s), b = strlen(suffix);
  return a >= b && !strcmp(s + a - b, suffix);
}

/* Fan-in of a weight tensor: product of all dimensions but the first. */
static double fan_in(const md_model_tensor *t) {
  double f = 1;
  for (int d = 1; d < t->ndim; ++d) f *= (double)t->shape[d];
  return f;
}

/* Checks a U(-b, b) sample: within the bounds, mean 0, variance b^2/3,
 * kurtosis 1.8, each within 5 standard errors. */
static void check_uniform(const char *name, const float *x, int64_t n, double b) {
  const moments m = moments_of(x, n);
  const double var = b * b / 3.0;
  if (m.absmax > b * (1 + 1e-6))
    fail_msg("%s: |value| %.6g beyond the bound %.6g", name, m.absmax, b);
  if (fabs(m.mean) > 5 * sqrt(var / (double)n))
    fail_msg("%s: mean %.4g, want 0 +- %.3g", name, m.mean, 5 * sqrt(var / (double)n));
  /* var of the sample variance of U(-b, b): (m4 - var^2) / n, m4 = b^4 / 5 */
  const double se_var = sqrt((b * b * b * b / 5.0 - var * var) / (double)n);
  if (fabs(m.var - var) > 5 * se_var + 1e-12)
    fail_msg("%s: variance %.6g, want %.6g +- %.3g", name, m.var, var, 5 * se_var);
  if (n >= 1000 && fabs(m.kurt - 1.8) > 5 * sqrt(0.32 / (double)n) + 0.02)
    fail_msg("%s: kurtosis %.4g, a uniform sample has 1.8", name, m.kurt);
  /* the values reach close to both ends */
  if (n >= 1000 && m.absmax < b * (1 - 20.0 / (double)n))
    fail_msg("%s: largest |value| %.6g, far below the bound %.6g", name, m.absmax, b);
}

/* Checks an N(0, sd) sample: mean, variance, kurtosis 3. */
static void check_normal(const char *name, const float *x, int64_t n, double sd) {
  const moments m = moments_of(x, n);
  const double var = sd * sd;
  if (fabs(m.mean) > 5 * sd / sqrt((double)n))
    fail_msg("%s: mean %.4g, want 0 +- %.3g", name, m.mean, 5 * sd / sqrt((double)n));
  const double se_var = var * sqrt(2.0 / (double)n);
  if (fabs(m.var - var) > 5 * se_var)
    fail_msg("%s: variance %.6g, want %.6g +- %.3g", name, m.var, var, 5 * se_var);
  if (fabs(m.kurt - 3.0) > 5 * sqrt(24.0 / (double)n) + 0.02)
    fail_msg("%s: kurtosis %.4g, a normal sample has 3", name, m.kurt);
}

static void check_const(const char *name, const float *x, int64_t n, float v) {
  for (int64_t i = 0; i < n; ++i)
    if (x[i] != v) fail_msg("%s[%lld] = %.9g, want %.9g", name, (long long)i, (double)x[i], (double)v);
}

/* BatchNorm tensors and counters: 1 / 0 / 0 / 1 / 0. Returns how many
 * tensors it checked. */
static int check_bn(md_model *m, const md_model_tensor *t) {
  float *p = md_model_params(m), *b = md_model_buffers(m);
  if (t->kind == MD_MT_COUNTER) {
    assert_int_equal(md_model_counters(m)[t->offset], 0);
    return 1;
  }
  if (ends_with(t->name, "running_mean")) {
    check_const(t->name, b + t->offset, t->numel, 0.0f);
    return 1;
  }
  if (ends_with(t->name, "running_var")) {
    check_const(t->name, b + t->offset, t->numel, 1.0f);
    return 1;
  }
  if (t->ndim == 1 && !strstr(t->name, "linear") && !strstr(t->name, "fc.")) {
    check_const(t->name, p + t->offset, t->numel, ends_with(t->name, "weight") ? 1.0f : 0.0f);
    return 1;
  }
  return 0;
}

static void test_resnet18_pytorch_defaults(void **state) {
  (void)state;
  md_model *m = build(md_model_default_config(MD_ARCH_RESNET18), 42);
  float *p = md_model_params(m);
  int convs = 0, linear = 0, bn = 0;
  for (size_t i = 0; i < md_model_tensor_count(m); ++i) {
    const md_model_tensor *t = md_model_tensor_at(m, i);
    if (check_bn(m, t)) {
      ++bn;
    } else if (t->ndim == 4) {
      check_uniform(t->name, p + t->offset, t->numel, 1.0 / sqrt(fan_in(t)));
      ++convs;
    } else if (!strcmp(t->name, "linear.weight")) {
      check_uniform(t->name, p + t->offset, t->numel, 1.0 / sqrt(512.0));
      ++linear;
    } else if (!strcmp(t->name, "linear.bias")) {
      /* 10 values: the bound only (and not all equal) */
      for (int64_t k = 0; k < t->numel; ++k)
        assert_true(fabs(p[t->offset + k]) <= 1.0 / sqrt(512.0));
      assert_true(p[t->offset] != p[t->offset + 1]);
      ++linear;
    } else {
      fail_msg("unexpected tensor %s", t->name);
    }
  }
  assert_int_equal(convs, 20); /* stem, 16 in the blocks, 3 shortcuts */
  assert_int_equal(linear, 2);
  assert_int_equal(bn, 20 * 5);
  md_model_free(m);
}

static void test_wrn_scheme(void **state) {
  (void)state;
  md_model_config cfg = md_model_default_config(MD_ARCH_WRN);
  cfg.depth = 16;
  cfg.widen = 4;
  cfg.num_classes = 100;
  md_model *m = build(cfg, 3);
  float *p = md_model_params(m);
  int convs = 0;
  for (size_t i = 0; i < md_model_tensor_count(m); ++i) {
    const md_model_tensor *t = md_model_tensor_at(m, i);
    if (check_bn(m, t)) continue;
    if (t->ndim == 4) {
      /* N(0, sqrt(2 / (k*k*out))), also for the 1x1 shortcut convolutions */
      const double n = (double)t->shape[2] * (double)t->shape[3] * (double)t->shape[0];
      check_normal(t->name, p + t->offset, t->numel, sqrt(2.0 / n));
      ++convs;
    } else if (!strcmp(t->name, "fc.weight")) {
      check_uniform(t->name, p + t->offset, t->numel, 1.0 / sqrt(256.0));
    } else if (!strcmp(t->name, "fc.bias")) {
      check_const(t->name, p + t->offset, t->numel, 0.0f);
    } else {
      fail_msg("unexpected tensor %s", t->name);
    }
  }
  assert_int_equal(convs, 1 + 6 * 2 + 3); /* stem, 2 per block, 3 shortcuts */
  md_model_free(m);
}

/* Same seed: the same parameters; another seed: others; md_model_init
 * restores the initial state after training-like changes. */
static void test_seed_reproducible(void **state) {
  (void)state;
  md_model_config cfg = md_model_default_config(MD_ARCH_RESNET18);
  cfg.width = 8;
  md_model *a = build(cfg, 7), *b = build(cfg, 7), *c = build(cfg, 8);
  const int64_t n = md_model_param_count(a);
  md_assert_floats_identical(md_model_params(a), md_model_params(b), (size_t)n);
  int64_t same = 0;
  for (int64_t i = 0; i < n; ++i) same += md_model_params(a)[i] == md_model_params(c)[i];
  /* only the BatchNorm constants coincide */
  assert_true(same < n / 10);
  /* two tensors of the same shape draw different values */
  const md_model_tensor *t1 = md_model_tensor_at(a, (size_t)md_model_find_tensor(a, "layer1.0.conv1.weight"));
  const md_model_tensor *t2 = md_model_tensor_at(a, (size_t)md_model_find_tensor(a, "layer1.0.conv2.weight"));
  assert_int_equal(t1->numel, t2->numel);
  assert_memory_not_equal(md_model_params(a) + t1->offset, md_model_params(a) + t2->offset,
                          (size_t)t1->numel * sizeof(float));
  md_model_params(b)[5] = 99.0f;
  md_model_buffers(b)[0] = 3.0f;
  md_model_counters(b)[0] = 17;
  md_model_momentum(b)[1] = 1.0f;
  md_model_init(b, 7);
  md_assert_floats_identical(md_model_params(a), md_model_params(b), (size_t)n);
  md_assert_floats_identical(md_model_buffers(a), md_model_buffers(b),
                             (size_t)md_model_buffer_count(a));
  assert_int_equal(md_model_counters(b)[0], 0);
  assert_true(md_model_momentum(b)[1] == 0.0f);
  md_model_free(a);
  md_model_free(b);
  md_model_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_resnet18_pytorch_defaults),
      cmocka_unit_test(test_wrn_scheme),
      cmocka_unit_test(test_seed_reproducible),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
