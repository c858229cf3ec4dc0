/* Which OpenBLAS kernels run, and whether better ones exist (maxdrop/blas.h). */
#include "maxdrop/blas.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

/* OpenBLAS 0.3.x kernel sets that already use AVX2 + FMA or AVX-512. */
static const char *const fast_cores[] = {"Haswell",    "Zen",            "SkylakeX",
                                         "Cooperlake", "SapphireRapids", "Excavator"};

const char *md_blas_core(void) { return openblas_get_corename(); }

const char *md_blas_core_choice(const char *detected, int has_avx512, int has_avx2_fma) {
  if (!detected) return NULL;
  for (size_t i = 0; i < sizeof fast_cores / sizeof fast_cores[0]; ++i)
    if (!strcmp(detected, fast_cores[i])) return NULL;
  if (has_avx512) return "SkylakeX";
  if (has_avx2_fma) return "Haswell";
  return NULL;
}

const char *md_blas_better_core(void) {
  const char *forced = getenv("OPENBLAS_CORETYPE");
  if (forced && *forced) return NULL;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  /* libgcc's feature bits include the OS's support for the wider registers
   * (XCR0), not only CPUID's. */
  int avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
               __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("avx512vl");
  int avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return md_blas_core_choice(md_blas_core(), avx512, avx2_fma);
#else
  return NULL;
#endif
}
