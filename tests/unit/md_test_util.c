#include "md_test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maxdrop/rng.h"

void md_assert_floats_identical(const float *got, const float *want, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    uint32_t a, b;
    memcpy(&a, &got[i], 4);
    memcpy(&b, &want[i], 4);
    const int both_nan = isnan(got[i]) && isnan(want[i]);
    if (a != b && !both_nan) {
      fail_msg("element %zu differs: got %.9g (0x%08x), want %.9g (0x%08x)", i,
               (double)got[i], a, (double)want[i], b);
    }
  }
}

void md_assert_floats_close(const float *got, const float *want, size_t n,
                            float rtol, float atol) {
  for (size_t i = 0; i < n; ++i) {
    const double d = fabs((double)got[i] - (double)want[i]);
    if (!(d <= atol + rtol * fabs((double)want[i]))) {
      fail_msg("element %zu: got %.9g, want %.9g (|diff| %.3g)", i,
               (double)got[i], (double)want[i], d);
    }
  }
}

void md_fill_uniform(float *x, size_t n, float lo, float hi, uint64_t stream) {
  md_rng r;
  md_rng_init(&r, 12345, stream);
  for (size_t i = 0; i < n; ++i) x[i] = lo + (hi - lo) * md_rng_uniform(&r);
}

const char *md_test_tmpdir(void) {
  static char path[256];
  const char *base = getenv("TMPDIR");
  snprintf(path, sizeof path, "%s/md_test_XXXXXX", base && *base ? base : "/tmp");
  if (!mkdtemp(path)) fail_msg("mkdtemp failed");
  return path;
}
