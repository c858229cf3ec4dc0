/* Random streams: known answers, independence of streams, reproducibility,
 * counter-based random access and the derived distributions. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "md_test_util.h"
#include "maxdrop/rng.h"

/* Known-answer vectors of Philox4x64-10 as published with the generator
 * (Random123's kat_vectors); NumPy's independent numpy.random.Philox gives the
 * same words, and tests/parity/test_rng_numpy.py checks whole streams live. */
static void test_philox_known_answers(void **state) {
  (void)state;
  uint64_t out[4];
  {
    const uint64_t ctr[4] = {0, 0, 0, 0}, key[2] = {0, 0};
    const uint64_t want[4] = {UINT64_C(0x16554d9eca36314c), UINT64_C(0xdb20fe9d672d0fdc),
                              UINT64_C(0xd7e772cee186176b), UINT64_C(0x7e68b68aec7ba23b)};
    md_philox4x64(ctr, key, out);
    for (int i = 0; i < 4; ++i) assert_int_equal(out[i], want[i]);
  }
  {
    const uint64_t ctr[4] = {UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX};
    const uint64_t key[2] = {UINT64_MAX, UINT64_MAX};
    const uint64_t want[4] = {UINT64_C(0x87b092c3013fe90b), UINT64_C(0x438c3c67be8d0224),
                              UINT64_C(0x9cc7d7c69cd777b6), UINT64_C(0xa09caebf594f0ba0)};
    md_philox4x64(ctr, key, out);
    for (int i = 0; i < 4; ++i) assert_int_equal(out[i], want[i]);
  }
  {
    const uint64_t ctr[4] = {UINT64_C(0x243f6a8885a308d3), UINT64_C(0x13198a2e03707344),
                             UINT64_C(0xa4093822299f31d0), UINT64_C(0x082efa98ec4e6c89)};
    const uint64_t key[2] = {UINT64_C(0x452821e638d01377), UINT64_C(0xbe5466cf34e90c6c)};
    const uint64_t want[4] = {UINT64_C(0xa528f45403e61d95), UINT64_C(0x38c72dbd566e9788),
                              UINT64_C(0xa5a1610e72fd18b5), UINT64_C(0x57bd43b5e52b7fe6)};
    md_philox4x64(ctr, key, out);
    for (int i = 0; i < 4; ++i) assert_int_equal(out[i], want[i]);
  }
}

/* A stream is the blocks 0, 1, 2... of philox(key = {seed, stream}). */
static void test_stream_layout(void **state) {
  (void)state;
  md_rng r;
  md_rng_init(&r, 42, 7);
  /* numpy.random.Philox(key=42 | 7 << 64, counter=2**256 - 1).random_raw(5) */
  const uint64_t want[5] = {UINT64_C(0x2fd1bc0d2c8697bb), UINT64_C(0x8ee17f67a549bba6),
                            UINT64_C(0x1bdce1f847e7df47), UINT64_C(0xe123b6bbe4e89f03),
                            UINT64_C(0xa64064f34e84b9a3)};
  for (int i = 0; i < 5; ++i) assert_int_equal(md_rng_u64(&r), want[i]);
}

static void test_reproducible_and_independent(void **state) {
  (void)state;
  md_rng a, b, c, d;
  md_rng_init(&a, 1, MD_STREAM_AUGMENT);
  md_rng_init(&b, 1, MD_STREAM_AUGMENT);
  md_rng_init(&c, 1, MD_STREAM_DATA_ORDER);
  md_rng_init(&d, 2, MD_STREAM_AUGMENT);
  int same_c = 0, same_d = 0;
  for (int i = 0; i < 1000; ++i) {
    const uint64_t x = md_rng_u64(&a);
    assert_int_equal(x, md_rng_u64(&b));
    same_c += x == md_rng_u64(&c);
    same_d += x == md_rng_u64(&d);
  }
  assert_int_equal(same_c, 0);
  assert_int_equal(same_d, 0);
}

static void test_save_restore_by_copy(void **state) {
  (void)state;
  md_rng r;
  md_rng_init(&r, 9, 3);
  for (int i = 0; i < 7; ++i) (void)md_rng_u64(&r);
  md_rng saved = r;
  uint64_t first[10];
  for (int i = 0; i < 10; ++i) first[i] = md_rng_u64(&r);
  r = saved;
  for (int i = 0; i < 10; ++i) assert_int_equal(md_rng_u64(&r), first[i]);
}

static void test_reserve_gives_random_access(void **state) {
  (void)state;
  md_rng r, ref;
  md_rng_init(&r, 5, 11);
  md_rng_init(&ref, 5, 11);
  (void)md_rng_u64(&r); /* block 0 is partly read: reserve discards the rest */
  const uint64_t first = md_rng_reserve(&r, 3);
  assert_int_equal(first, 1);
  /* block i of the reservation is the stream's block first + i */
  for (int i = 0; i < 4 * 4; ++i) (void)md_rng_u64(&ref); /* blocks 0..3 */
  uint64_t blk[4];
  md_rng_block(&r, first + 2, blk);
  assert_int_equal(blk[3], ref.buf[3]);
  /* after the reservation the stream continues at block 4 */
  assert_int_equal(md_rng_u64(&r), md_rng_u64(&ref));
}

static void test_uniform_moments(void **state) {
  (void)state;
  md_rng r;
  md_rng_init(&r, 123, 1);
  const int n = 200000;
  double s = 0, s2 = 0;
  float lo = 1, hi = 0;
  for (int i = 0; i < n; ++i) {
    const float u = md_rng_uniform(&r);
    assert_true(u >= 0.0f && u < 1.0f);
    s += u;
    s2 += (double)u * u;
    if (u < lo) lo = u;
    if (u > hi) hi = u;
  }
  const double mean = s / n, var = s2 / n - mean * mean;
  assert_true(fabs(mean - 0.5) < 0.005);
  assert_true(fabs(var - 1.0 / 12) < 0.002);
  assert_true(lo < 0.001f && hi > 0.999f);
}

static void test_below_is_unbiased_and_in_range(void **state) {
  (void)state;
  md_rng r;
  md_rng_init(&r, 77, 2);
  int counts[9] = {0};
  const int n = 90000;
  for (int i = 0; i < n; ++i) {
    const uint64_t k = md_rng_below(&r, 9);
    assert_true(k < 9);
    counts[k]++;
  }
  for (int k = 0; k < 9; ++k) assert_true(abs(counts[k] - n / 9) < 400); /* ~4 sigma */
  assert_int_equal(md_rng_below(&r, 1), 0);
}

static void test_normal_moments(void **state) {
  (void)state;
  md_rng r;
  md_rng_init(&r, 31, 4);
  const int n = 200000;
  double s = 0, s2 = 0;
  for (int i = 0; i < n; ++i) {
    const double z = md_rng_normal(&r);
    assert_true(isfinite(z));
    s += z;
    s2 += z * z;
  }
  assert_true(fabs(s / n) < 0.01);
  assert_true(fabs(s2 / n - 1.0) < 0.02);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_philox_known_answers),
      cmocka_unit_test(test_stream_layout),
      cmocka_unit_test(test_reproducible_and_independent),
      cmocka_unit_test(test_save_restore_by_copy),
      cmocka_unit_test(test_reserve_gives_random_access),
      cmocka_unit_test(test_uniform_moments),
      cmocka_unit_test(test_below_is_unbiased_and_in_range),
      cmocka_unit_test(test_normal_moments),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
