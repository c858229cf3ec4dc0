/* Helpers shared by the cmocka unit tests. */
#ifndef MD_TEST_UTIL_H
#define MD_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first. */
#include <cmocka.h>

/* Fails the test, printing both values and the index, unless the two float
 * arrays are equal bit for bit (NaNs must match as NaNs). */
void md_assert_floats_identical(const float *got, const float *want, size_t n);

/* Fails unless |got - want| <= atol + rtol * |want| element-wise. */
void md_assert_floats_close(const float *got, const float *want, size_t n,
                            float rtol, float atol);

/* Fills x with reproducible values uniform in [lo, hi) from stream `stream`. */
void md_fill_uniform(float *x, size_t n, float lo, float hi, uint64_t stream);

/* Makes a fresh temporary directory and returns its path (static storage). */
const char *md_test_tmpdir(void);

#endif
