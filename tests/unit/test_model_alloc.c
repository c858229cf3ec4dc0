/* No allocation inside a training step: every allocation made by maxdrop's
 * code while steps run is counted, and a model built for a batch size must
 * then run training steps, a shorter last batch, evaluation forwards and its
 * MaxDropout / Dropout layers without a single one.
 *
 * Counting: the allocator entry points are wrapped (in a sanitizer build, the
 * sanitizer's allocator hooks are used instead), and an allocation counts
 * when the function that asked for it lies in this executable, where
 * libmaxdrop is linked statically: the OpenMP runtime and OpenBLAS are shared
 * libraries and are not counted. They do allocate on their own: libgomp
 * mallocs a team descriptor for every parallel region that runs on ONE
 * thread (it caches only multi-thread teams), and OpenBLAS's small-matrix
 * SGEMM kernel (Debian's 0.3.21, SKYLAKEX) mallocs a packing buffer on every
 * call. One warm-up step runs before counting. */
#define _GNU_SOURCE /* dladdr */
#include <dlfcn.h>
#include <execinfo.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "md_test_util.h"
#include "maxdrop/model.h"
#include "maxdrop/sgd.h"

/* Bounds of this executable's code (GNU ld). */
extern const char __executable_start[], etext[];

static atomic_long g_allocs;
static atomic_int g_counting;

static int in_executable(const void *pc) {
  const uintptr_t a = (uintptr_t)pc;
  return a >= (uintptr_t)__executable_start && a < (uintptr_t)etext;
}

static void count_caller(const void *caller) {
  if (atomic_load(&g_counting) && in_executable(caller)) atomic_fetch_add(&g_allocs, 1);
}

#if defined(__SANITIZE_ADDRESS__)
/* From the sanitizer runtime (sanitizer/allocator_interface.h, which not
 * every compiler installation ships). */
int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *, size_t),
                                              void (*free_hook)(const volatile void *));

static _Thread_local int t_in_hook;

static int in_asan(const void *pc) {
  Dl_info info;
  return dladdr(pc, &info) && info.dli_fname && strstr(info.dli_fname, "libasan");
}

/* The hook runs inside the sanitizer's allocator. The stack reads, from the
 * top: backtrace's own frame (sanitizer runtime), this hook (executable), the
 * allocator and its interceptor (sanitizer runtime), then the caller. */
static void on_malloc(const volatile void *p, size_t n) {
  (void)p;
  (void)n;
  if (!atomic_load(&g_counting) || t_in_hook) return;
  t_in_hook = 1;
  void *frames[32];
  const int depth = backtrace(frames, 32);
  int i = 0;
  while (i < depth && !in_executable(frames[i])) ++i; /* to the hook */
  while (i < depth && in_executable(frames[i])) ++i;  /* past the hook */
  while (i < depth && in_asan(frames[i])) ++i;        /* past the allocator */
  if (i < depth) count_caller(frames[i]);
  t_in_hook = 0;
}
static void on_free(const volatile void *p) { (void)p; }
static void install(void) {
  void *frames[4];
  backtrace(frames, 4); /* loads the unwinder now, not inside a hook */
  __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
}
#else
/* glibc's own entry points, which the wrappers forward to. */
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t align, size_t n);

#define CALLER __builtin_extract_return_addr(__builtin_return_address(0))

void *malloc(size_t n) {
  count_caller(CALLER);
  return __libc_malloc(n);
}
void *calloc(size_t n, size_t size) {
  count_caller(CALLER);
  return __libc_calloc(n, size);
}
void *realloc(void *p, size_t n) {
  count_caller(CALLER);
  return __libc_realloc(p, n);
}
void *memalign(size_t align, size_t n) {
  count_caller(CALLER);
  return __libc_memalign(align, n);
}
void *aligned_alloc(size_t align, size_t n) {
  count_caller(CALLER);
  return __libc_memalign(align, n);
}
int posix_memalign(void **out, size_t align, size_t n) {
  count_caller(CALLER);
  void *p = __libc_memalign(align, n);
  if (!p) return 12; /* ENOMEM */
  *out = p;
  return 0;
}
static void install(void) {}
#endif

/* Runs steps with the counter on, with 2 threads and then 1; returns how
 * many allocations they made. */
static long steps_allocs_threads(md_model_config cfg);
static long steps_allocs(md_model_config cfg) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(2);
  long n = steps_allocs_threads(cfg);
  omp_set_num_threads(1);
  n += steps_allocs_threads(cfg);
  omp_set_num_threads(saved);
  return n;
}

static long steps_allocs_threads(md_model_config cfg) {
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

/* The counter works: a model build allocates, in maxdrop's code. */
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

static void test_resnet18_steps(void **state) {
  (void)state;
  md_model_config c = md_model_default_config(MD_ARCH_RESNET18);
  c.width = 8;
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
