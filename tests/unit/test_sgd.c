/* SGD: hand-computed trajectories, the first-step rule, argument checks and
 * independence from the thread count. PyTorch itself is the oracle in
 * tests/parity/test_sgd_schedule_parity.py. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "md_test_util.h"
#include "maxdrop/sgd.h"

static void run_steps(const md_sgd_config *cfg, double lr, float p0, float g, int steps,
                      float *out) {
  md_sgd opt;
  assert_int_equal(md_sgd_init(&opt, cfg, 1, NULL), MD_OK);
  float p = p0, mom = 0.0f;
  for (int s = 0; s < steps; ++s) {
    assert_int_equal(md_sgd_step(&opt, lr, &p, &g, &mom), MD_OK);
    out[s] = p;
  }
  assert_int_equal(opt.steps, steps);
}

/* The public example: p = 1, constant gradient 0.5, lr 0.1, momentum 0.9,
 * weight decay 0.1, Nesterov: 0.886, 0.725566, 0.5253636. */
static void test_nesterov_weight_decay_example(void **state) {
  (void)state;
  const md_sgd_config cfg = {0.9, 0.0, 0.1, 1};
  float got[3];
  run_steps(&cfg, 0.1, 1.0f, 0.5f, 3, got);
  const float want[3] = {0.886f, 0.725566f, 0.5253636f};
  md_assert_floats_close(got, want, 3, 2e-7f, 0.0f);
}

/* Plain SGD: p -= lr * g. */
static void test_plain(void **state) {
  (void)state;
  const md_sgd_config cfg = {0.0, 0.0, 0.0, 0};
  float got[2];
  run_steps(&cfg, 0.1, 1.0f, 0.5f, 2, got);
  const float want[2] = {0.95f, 0.9f};
  md_assert_floats_close(got, want, 2, 1e-7f, 0.0f);
}

/* Heavy-ball momentum: buf = 1, 1.9, 2.71; p = 0.9, 0.71, 0.439. */
static void test_heavy_ball(void **state) {
  (void)state;
  const md_sgd_config cfg = {0.9, 0.0, 0.0, 0};
  float got[3];
  run_steps(&cfg, 0.1, 1.0f, 1.0f, 3, got);
  const float want[3] = {0.9f, 0.71f, 0.439f};
  md_assert_floats_close(got, want, 3, 2e-7f, 0.0f);
}

/* Dampening is not applied on the first step (the buffer is the gradient):
 * buf = 1, then 0.9 * 1 + 0.5 * 1 = 1.4; p = 0.9, 0.76. */
static void test_dampening_first_step(void **state) {
  (void)state;
  const md_sgd_config cfg = {0.9, 0.5, 0.0, 0};
  float got[2];
  run_steps(&cfg, 0.1, 1.0f, 1.0f, 2, got);
  const float want[2] = {0.9f, 0.76f};
  md_assert_floats_close(got, want, 2, 1e-7f, 0.0f);
}

/* Whatever the buffer holds before the first step is overwritten; setting
 * steps back to 0 restarts the momentum. */
static void test_first_step_ignores_buffer(void **state) {
  (void)state;
  const md_sgd_config cfg = md_sgd_config_reference();
  md_sgd a, b;
  assert_int_equal(md_sgd_init(&a, &cfg, 3, NULL), MD_OK);
  assert_int_equal(md_sgd_init(&b, &cfg, 3, NULL), MD_OK);
  float pa[3] = {1, -2, 3}, pb[3] = {1, -2, 3};
  const float g[3] = {0.25f, 0.5f, -1};
  float ma[3] = {0, 0, 0}, mb[3] = {NAN, 1e30f, -7};
  assert_int_equal(md_sgd_step(&a, 0.1, pa, g, ma), MD_OK);
  assert_int_equal(md_sgd_step(&b, 0.1, pb, g, mb), MD_OK);
  md_assert_floats_identical(pa, pb, 3);
  md_assert_floats_identical(ma, mb, 3);
  /* a second step uses the buffer ... */
  float pc[3], mc[3];
  memcpy(pc, pa, sizeof pc);
  memcpy(mc, ma, sizeof mc);
  assert_int_equal(md_sgd_step(&a, 0.1, pa, g, ma), MD_OK);
  /* ... while a restarted optimizer starts it again from the gradient */
  md_sgd c = a;
  c.steps = 0;
  assert_int_equal(md_sgd_step(&c, 0.1, pc, g, mc), MD_OK);
  assert_true(memcmp(pa, pc, sizeof pa) != 0);
  assert_int_equal(c.steps, 1);
  assert_int_equal(a.steps, 2);
}

static void test_invalid_arguments(void **state) {
  (void)state;
  md_sgd opt;
  md_errbuf eb;
  md_sgd_config c = {0.0, 0.0, 0.0, 1};
  assert_int_equal(md_sgd_init(&opt, &c, 4, &eb), MD_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(eb.msg, "Nesterov"));
  c = (md_sgd_config){0.9, 0.1, 0.0, 1};
  assert_int_equal(md_sgd_init(&opt, &c, 4, &eb), MD_ERR_INVALID_ARGUMENT);
  c = (md_sgd_config){-0.1, 0.0, 0.0, 0};
  assert_int_equal(md_sgd_init(&opt, &c, 4, &eb), MD_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(eb.msg, "momentum"));
  c = (md_sgd_config){0.9, 0.0, NAN, 0};
  assert_int_equal(md_sgd_init(&opt, &c, 4, &eb), MD_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(eb.msg, "weight decay"));
  c = md_sgd_config_reference();
  assert_int_equal(md_sgd_init(&opt, &c, -1, &eb), MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_sgd_init(&opt, &c, 4, &eb), MD_OK);
  float p[4] = {0}, g[4] = {0}, m[4] = {0};
  assert_int_equal(md_sgd_step(&opt, -0.1, p, g, m), MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_sgd_step(&opt, INFINITY, p, g, m), MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_sgd_step(&opt, NAN, p, g, m), MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_sgd_step(&opt, 0.1, p, g, NULL), MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(opt.steps, 0);
  /* no momentum: the buffer may be NULL */
  c = (md_sgd_config){0.0, 0.0, 5e-4, 0};
  assert_int_equal(md_sgd_init(&opt, &c, 4, &eb), MD_OK);
  assert_int_equal(md_sgd_step(&opt, 0.1, p, g, NULL), MD_OK);
  /* zero parameters: nothing to do, NULL buffers accepted */
  c = md_sgd_config_reference();
  assert_int_equal(md_sgd_init(&opt, &c, 0, &eb), MD_OK);
  assert_int_equal(md_sgd_step(&opt, 0.1, NULL, NULL, NULL), MD_OK);
}

/* One contiguous buffer updated by 1 or 3 threads gives the same bits. */
static void test_thread_count_independent(void **state) {
  (void)state;
  const int64_t n = 200003;
  float *p1 = malloc((size_t)n * sizeof *p1), *p3 = malloc((size_t)n * sizeof *p3);
  float *m1 = malloc((size_t)n * sizeof *m1), *m3 = malloc((size_t)n * sizeof *m3);
  float *g = malloc((size_t)n * sizeof *g);
  assert_non_null(p1);
  assert_non_null(p3);
  assert_non_null(m1);
  assert_non_null(m3);
  assert_non_null(g);
  md_fill_uniform(p1, (size_t)n, -1, 1, 1);
  memcpy(p3, p1, (size_t)n * sizeof *p1);
  const md_sgd_config cfg = md_sgd_config_reference();
  md_sgd a, b;
  assert_int_equal(md_sgd_init(&a, &cfg, n, NULL), MD_OK);
  assert_int_equal(md_sgd_init(&b, &cfg, n, NULL), MD_OK);
  const int saved = omp_get_max_threads();
  for (int s = 0; s < 4; ++s) {
    md_fill_uniform(g, (size_t)n, -0.1f, 0.1f, 10 + (uint64_t)s);
    omp_set_num_threads(1);
    assert_int_equal(md_sgd_step(&a, 0.1, p1, g, m1), MD_OK);
    omp_set_num_threads(3);
    assert_int_equal(md_sgd_step(&b, 0.1, p3, g, m3), MD_OK);
  }
  omp_set_num_threads(saved);
  md_assert_floats_identical(p3, p1, (size_t)n);
  md_assert_floats_identical(m3, m1, (size_t)n);
  free(p1);
  free(p3);
  free(m1);
  free(m3);
  free(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_nesterov_weight_decay_example),
      cmocka_unit_test(test_plain),
      cmocka_unit_test(test_heavy_ball),
      cmocka_unit_test(test_dampening_first_step),
      cmocka_unit_test(test_first_step_ignores_buffer),
      cmocka_unit_test(test_invalid_arguments),
      cmocka_unit_test(test_thread_count_independent),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
