/* Which OpenBLAS kernels run, and whether better ones exist (maxdrop/blas.h). */
#include "maxdrop/blas.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

/* OpenBLAS 0.3.x kernel sets that use AVX-512, and those that use AVX2 + FMA. */
static const char *const avx512_cores[] = {"SkylakeX", "Cooperlake", "SapphireRapids"};
static const char *const avx2_cores[] = {"Haswell", "Zen", "Excavator"};

static int listed(const char *name, const char *const *list, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (!strcmp(name, list[i])) return 1;
  return 0;
}

const char *md_blas_core(void) { return openblas_get_corename(); }

const char *md_blas_core_choice(const char *detected, int has_avx512, int has_avx2_fma) {
  if (!detected || listed(detected, avx512_cores, sizeof avx512_cores / sizeof *avx512_cores))
    return NULL;
  if (has_avx512) return "SkylakeX";
  if (listed(detected, avx2_cores, sizeof avx2_cores / sizeof *avx2_cores)) return NULL;
  return has_avx2_fma ? "Haswell" : NULL;
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
