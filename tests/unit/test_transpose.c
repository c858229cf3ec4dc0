/* The channel-first <-> channel-last copies of the Winograd kernels, against
 * their index definitions, over shapes with whole 16 x 16 blocks (the AVX-512
 * path where the CPU has it), partial blocks and channel ranges. */
#include <stdlib.h>

#include "md_test_util.h"
#include "nn/transpose.h"

static const int shapes[][3] = {/* hw, c0, c1 */
                                {1024, 0, 64}, {256, 0, 128}, {16, 0, 512},  {64, 16, 48},
                                {49, 0, 20},   {9, 3, 7},     {1, 0, 1},     {256, 5, 37},
                                {17, 0, 16},   {16, 0, 17},   {1040, 32, 64}};

static void test_to_channels_last(void **state) {
  (void)state;
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; ++s) {
    const int hw = shapes[s][0], c0 = shapes[s][1], c1 = shapes[s][2], cn = c1 - c0;
    float *x = malloc(sizeof(float) * (size_t)c1 * hw);
    float *got = malloc(sizeof(float) * (size_t)cn * hw);
    float *want = malloc(sizeof(float) * (size_t)cn * hw);
    assert_non_null(x);
    assert_non_null(got);
    assert_non_null(want);
    md_fill_uniform(x, (size_t)c1 * hw, -1.0f, 1.0f, (uint64_t)s);
    for (int q = 0; q < hw; ++q)
      for (int c = c0; c < c1; ++c) want[(size_t)q * cn + (c - c0)] = x[(size_t)c * hw + q];
    md_to_channels_last(x, hw, c0, c1, got);
    md_assert_floats_identical(got, want, (size_t)cn * hw);
    free(x);
    free(got);
    free(want);
  }
}

static void test_from_channels_last(void **state) {
  (void)state;
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; ++s) {
    const int hw = shapes[s][0], cn = shapes[s][2];
    const size_t n = (size_t)cn * hw;
    float *yt = malloc(sizeof(float) * n), *base = malloc(sizeof(float) * n);
    float *got = malloc(sizeof(float) * n), *want = malloc(sizeof(float) * n);
    assert_non_null(yt);
    assert_non_null(base);
    assert_non_null(got);
    assert_non_null(want);
    md_fill_uniform(yt, n, -1.0f, 1.0f, 100 + (uint64_t)s);
    md_fill_uniform(base, n, -3.0f, 3.0f, 200 + (uint64_t)s);
    for (int add = 0; add <= 1; ++add) {
      for (size_t i = 0; i < n; ++i) got[i] = base[i];
      for (int c = 0; c < cn; ++c)
        for (int q = 0; q < hw; ++q) {
          const float v = yt[(size_t)q * cn + c];
          want[(size_t)c * hw + q] = add ? base[(size_t)c * hw + q] + v : v;
        }
      md_from_channels_last(yt, cn, hw, got, add);
      md_assert_floats_identical(got, want, n);
    }
    free(yt);
    free(base);
    free(got);
    free(want);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_to_channels_last),
      cmocka_unit_test(test_from_channels_last),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
