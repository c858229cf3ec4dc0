/* The choice of OpenBLAS kernels (maxdrop/blas.h): generic kernels on a CPU
 * with AVX-512 or AVX2 are replaced, a fast detected set is kept, and the
 * running process reports a non-empty kernel name. */
#include <string.h>

#include "maxdrop/blas.h"
#include "md_test_util.h"

static void test_generic_kernels_are_replaced(void **state) {
  (void)state;
  assert_string_equal(md_blas_core_choice("Prescott", 1, 1), "SkylakeX");
  assert_string_equal(md_blas_core_choice("Prescott", 0, 1), "Haswell");
  assert_string_equal(md_blas_core_choice("Nehalem", 1, 1), "SkylakeX");
  assert_string_equal(md_blas_core_choice("Sandybridge", 0, 1), "Haswell");
  assert_null(md_blas_core_choice("Prescott", 0, 0));
}

static void test_fast_kernels_are_kept(void **state) {
  (void)state;
  const char *avx512[] = {"SkylakeX", "Cooperlake", "SapphireRapids"};
  for (size_t i = 0; i < sizeof avx512 / sizeof avx512[0]; ++i) {
    assert_null(md_blas_core_choice(avx512[i], 1, 1));
    assert_null(md_blas_core_choice(avx512[i], 0, 1));
  }
  const char *avx2[] = {"Haswell", "Zen", "Excavator"};
  for (size_t i = 0; i < sizeof avx2 / sizeof avx2[0]; ++i) {
    assert_null(md_blas_core_choice(avx2[i], 0, 1));
    /* ... but on a CPU with AVX-512, its kernels */
    assert_string_equal(md_blas_core_choice(avx2[i], 1, 1), "SkylakeX");
  }
  assert_null(md_blas_core_choice(NULL, 1, 1));
}

static void test_running_kernels_named(void **state) {
  (void)state;
  const char *core = md_blas_core();
  assert_non_null(core);
  assert_true(strlen(core) > 0);
  /* Whatever the advice, it is one of the two sets this module names. */
  const char *better = md_blas_better_core();
  if (better) assert_true(!strcmp(better, "SkylakeX") || !strcmp(better, "Haswell"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_generic_kernels_are_replaced),
      cmocka_unit_test(test_fast_kernels_are_kept),
      cmocka_unit_test(test_running_kernels_named),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
