/* No allocation inside a training step: every allocation of this process is
 * counted (the allocator functions are wrapped below; in a sanitizer build
 * the sanitizer's allocator hooks count instead), and a model built for a
 * batch size must then run training steps, a shorter last batch, evaluation
 * forwards and the MaxDropout / Dropout layers without a single call. One
 * warm-up step runs before counting, so that OpenMP's thread pool and
 * OpenBLAS's buffers, which their libraries create on first use, exist. */
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "md_test_util.h"
#include "maxdrop/model.h"
#include "maxdrop/sgd.h"

static atomic_long g_allocs;
static atomic_int g_counting;

static void count(void) {
  if (atomic_load(&g_counting)) atomic_fetch_add(&g_allocs, 1);
}

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/allocator_interface.h>
static void on_malloc(const volatile void *p, size_t n) {
  (void)p;
  (void)n;
  count();
}
static void on_free(const volatile void *p) { (void)p; }
static void install(void) { __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free); }
#else
/* glibc's own entry points, which the wrappers forward to. */
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t align, size_t n);

void *malloc(size_t n) {
  count();
  return __libc_malloc(n);
}
void *calloc(size_t n, size_t size) {
  count();
  return __libc_calloc(n, size);
}
void *realloc(void *p, size_t n) {
  count();
  return __libc_realloc(p, n);
}
void *aligned_alloc(size_t align, size_t n) {
  count();
  return __libc_memalign(align, n);
}
int posix_memalign(void **out, size_t align, size_t n) {
  count();
  void *p = __libc_memalign(align, n);
  if (!p) return 12; /* ENOMEM */
  *out = p;
  return 0;
}
static void install(void) {}
#endif

/* Runs steps with the counter on; returns how many allocations they made. */
static long steps_allocs(md_model_config cfg) {
  enum { B = 6, IMG = 3 * 32 * 32 };
  md_model *m = NULL;
  md_errbuf eb = {{0}};
  if (md_model_create(&cfg, B, 1, &m, &eb) != MD_OK) fail_msg("create: %s", eb.msg);
  float *x = malloc(B * IMG * sizeof *x);
  assert_non_null(x);
  md_fill_uniform(x, B * IMG, -1.0f, 1.0f, 1);
  int32_t y[B] = {0, 1, 2, 3, 4, 5};
  md_sgd opt;
  const md_sgd_config sc = md_sgd_config_reference();
  assert_int_equal(md_sgd_init(&opt, &sc, md_model_param_count(m), NULL), MD_OK);
  double loss;
  int64_t correct;
  /* warm-up */
  assert_int_equal(md_model_train_step(m, &opt, 0.1, B, x, y, &loss, &correct), MD_OK);
  assert_int_equal(md_model_eval_batch(m, B, x, y, &loss, &correct), MD_OK);
  atomic_store(&g_allocs, 0);
  atomic_store(&g_counting, 1);
  md_status st = MD_OK;
  for (int s = 0; s < 2 && st == MD_OK; ++s)
    st = md_model_train_step(m, &opt, 0.1, B, x, y, &loss, &correct);
  if (st == MD_OK) st = md_model_train_step(m, &opt, 0.1, 4, x, y, &loss, &correct);
  if (st == MD_OK) st = md_model_eval_batch(m, B, x, y, &loss, &correct);
  if (st == MD_OK) st = md_model_eval_batch(m, 3, x, y, &loss, &correct);
  if (st == MD_OK) st = md_model_train_step(m, &opt, 0.1, B, x, y, &loss, &correct);
  atomic_store(&g_counting, 0);
  assert_int_equal(st, MD_OK);
  const long n = atomic_load(&g_allocs);
  free(x);
  md_model_free(m);
  return n;
}

/* The counter works: a model build allocates. */
static void test_counter_sees_allocations(void **state) {
  (void)state;
  md_model_config c = md_model_default_config(MD_ARCH_RESNET18);
  c.width = 4;
  atomic_store(&g_allocs, 0);
  atomic_store(&g_counting, 1);
  md_model *m = NULL;
  assert_int_equal(md_model_create(&c, 2, 1, &m, NULL), MD_OK);
  atomic_store(&g_counting, 0);
  assert_true(atomic_load(&g_allocs) >= 5);
  md_model_free(m);
}

/* The paper's ResNet-18 (width 64). Narrow widths (8, 16) are not tested
 * here: some of their convolution GEMMs are small enough for OpenBLAS's
 * small-matrix kernel (Debian's 0.3.21, SKYLAKEX), which mallocs a packing
 * buffer on every call, inside the BLAS. */
static void test_resnet18_steps(void **state) {
  (void)state;
  md_model_config c = md_model_default_config(MD_ARCH_RESNET18);
  c.reg = MD_REG_MAXDROPOUT;
  c.maxdrop.random_rate = 1;
  assert_int_equal(steps_allocs(c), 0);
  c.reg = MD_REG_NONE;
  assert_int_equal(steps_allocs(c), 0);
}

static void test_wrn_steps(void **state) {
  (void)state;
  md_model_config c = md_model_default_config(MD_ARCH_WRN);
  c.depth = 10;
  c.widen = 2;
  c.reg = MD_REG_DROPOUT;
  assert_int_equal(steps_allocs(c), 0);
  c.reg = MD_REG_MAXDROPOUT;
  c.maxdrop_in_eval = 1;
  assert_int_equal(steps_allocs(c), 0);
}

int main(void) {
  install();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_counter_sees_allocations),
      cmocka_unit_test(test_resnet18_steps),
      cmocka_unit_test(test_wrn_steps),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
