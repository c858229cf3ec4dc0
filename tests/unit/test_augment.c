/* Crop, flip and normalisation of single images: geometry against a direct
 * pad-then-slice construction, the distribution of the random choices, the
 * reference constants and the configuration checks. The float32 values are
 * checked against torchvision in tests/parity/test_augment_parity.py. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "md_test_util.h"
#include "maxdrop/augment.h"

enum { C = 3, H = 32, W = 32, HW = H * W, N_ELEMS = C * HW };

static void random_image(uint8_t *img, int n, uint64_t stream) {
  md_rng r;
  md_rng_init(&r, 99, stream);
  for (int i = 0; i < n; ++i) img[i] = (uint8_t)md_rng_below(&r, 256);
}

static md_augment make_cifar(void) {
  md_augment a;
  const md_augment_config cfg = md_augment_cifar_config();
  assert_int_equal(md_augment_init(&a, &cfg, NULL), MD_OK);
  return a;
}

/* The expected output built the long way: a (C, H+2p, W+2p) zero-padded copy,
 * the H x W window at (dy, dx), mirrored when asked, then the lookup table. */
static void reference(const md_augment *a, const uint8_t *src, md_crop_flip p, float *out) {
  const int pad = a->cfg.pad, PH = H + 2 * pad, PW = W + 2 * pad;
  uint8_t *padded = calloc((size_t)C * PH * PW, 1);
  assert_non_null(padded);
  for (int c = 0; c < C; ++c)
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < W; ++x)
        padded[(c * PH + y + pad) * PW + x + pad] = src[(c * H + y) * W + x];
  for (int c = 0; c < C; ++c)
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < W; ++x) {
        const int cx = p.flip ? W - 1 - x : x;
        out[(c * H + y) * W + x] = a->lut[c][padded[(c * PH + y + p.dy) * PW + cx + p.dx]];
      }
  free(padded);
}

static void test_reference_constants(void **state) {
  (void)state;
  const md_augment_config c = md_augment_cifar_config();
  assert_int_equal(c.channels, 3);
  assert_int_equal(c.height, 32);
  assert_int_equal(c.width, 32);
  assert_int_equal(c.pad, 4);
  assert_int_equal(c.flip, 1);
  /* float32(125.3 / 255) etc., the values torch.as_tensor(float list) holds. */
  const float want_mean[3] = {(float)(125.3 / 255.0), (float)(123.0 / 255.0),
                              (float)(113.9 / 255.0)};
  const float want_std[3] = {(float)(63.0 / 255.0), (float)(62.1 / 255.0),
                             (float)(66.7 / 255.0)};
  md_assert_floats_identical(c.mean, want_mean, 3);
  md_assert_floats_identical(c.std, want_std, 3);
  assert_true(fabs((double)c.mean[0] - 0.4913725490196078) < 1e-7);
  assert_true(fabs((double)c.std[2] - 0.2615686274509804) < 1e-7);
}

/* Normalisation: (v / 255 - mean) / std in float32, channel by channel. */
static void test_normalize_values(void **state) {
  (void)state;
  const md_augment a = make_cifar();
  uint8_t img[N_ELEMS];
  for (int i = 0; i < N_ELEMS; ++i) img[i] = (uint8_t)(i * 7 + i / 256);
  float out[N_ELEMS];
  md_normalize_image(&a, img, out);
  for (int c = 0; c < C; ++c)
    for (int i = 0; i < HW; ++i) {
      const float x = (float)img[c * HW + i] / 255.0f;
      const float want = (x - a.cfg.mean[c]) / a.cfg.std[c];
      md_assert_floats_identical(&out[c * HW + i], &want, 1);
    }
  /* Spot values computed in double: pixel 0 and 255 of channel 0. */
  assert_true(fabs((double)a.lut[0][0] - (-125.3 / 63.0)) < 1e-5);
  assert_true(fabs((double)a.lut[0][255] - ((255.0 - 125.3) / 63.0)) < 1e-5);
}

/* Offsets (pad, pad) without flip give the original image back. */
static void test_center_crop_is_identity(void **state) {
  (void)state;
  const md_augment a = make_cifar();
  uint8_t img[N_ELEMS];
  random_image(img, N_ELEMS, 1);
  float got[N_ELEMS], want[N_ELEMS];
  const md_crop_flip p = {4, 4, 0};
  md_augment_image(&a, img, p, got);
  md_normalize_image(&a, img, want);
  md_assert_floats_identical(got, want, N_ELEMS);
  const md_crop_flip id = md_crop_flip_identity(&a);
  assert_int_equal(id.dy, 4);
  assert_int_equal(id.dx, 4);
  assert_int_equal(id.flip, 0);
}

/* Every offset pair and both flips agree with the pad-then-slice construction. */
static void test_all_crops_match_reference(void **state) {
  (void)state;
  const md_augment a = make_cifar();
  uint8_t img[N_ELEMS];
  random_image(img, N_ELEMS, 2);
  float got[N_ELEMS], want[N_ELEMS];
  for (int dy = 0; dy <= 8; ++dy)
    for (int dx = 0; dx <= 8; ++dx)
      for (int f = 0; f < 2; ++f) {
        const md_crop_flip p = {dy, dx, f};
        md_augment_image(&a, img, p, got);
        reference(&a, img, p, want);
        md_assert_floats_identical(got, want, N_ELEMS);
      }
  /* Shifted by (0, 0): output (y, x) is source (y-4, x-4); the top 4 rows and
   * left 4 columns are the padding, pixel 0 normalised (not 0.0f). */
  const md_crop_flip p = {0, 0, 0};
  md_augment_image(&a, img, p, got);
  for (int c = 0; c < C; ++c) {
    assert_true(got[c * HW + 0] == a.lut[c][0]);
    assert_true(got[c * HW + 3 * W + 31] == a.lut[c][0]);
    assert_true(got[c * HW + 31 * W + 3] == a.lut[c][0]);
    assert_true(got[c * HW + 4 * W + 4] == a.lut[c][img[c * HW]]);
    assert_true(got[c * HW + 31 * W + 31] == a.lut[c][img[c * HW + 27 * W + 27]]);
  }
}

/* A flip mirrors the cropped image exactly: out_flip(y, x) = out(y, W-1-x). */
static void test_flip_mirrors(void **state) {
  (void)state;
  const md_augment a = make_cifar();
  uint8_t img[N_ELEMS];
  random_image(img, N_ELEMS, 3);
  float plain[N_ELEMS], flipped[N_ELEMS];
  for (int dy = 0; dy <= 8; dy += 4)
    for (int dx = 0; dx <= 8; ++dx) {
      const md_crop_flip p0 = {dy, dx, 0}, p1 = {dy, dx, 1};
      md_augment_image(&a, img, p0, plain);
      md_augment_image(&a, img, p1, flipped);
      for (int c = 0; c < C; ++c)
        for (int y = 0; y < H; ++y)
          for (int x = 0; x < W; ++x)
            md_assert_floats_identical(&flipped[(c * H + y) * W + x],
                                       &plain[(c * H + y) * W + W - 1 - x], 1);
    }
  /* Unshifted flip of a horizontal ramp reverses it. */
  uint8_t ramp[N_ELEMS];
  for (int i = 0; i < N_ELEMS; ++i) ramp[i] = (uint8_t)(i % W);
  const md_crop_flip pf = {4, 4, 1};
  md_augment_image(&a, ramp, pf, flipped);
  for (int c = 0; c < C; ++c)
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < W; ++x)
        assert_true(flipped[(c * H + y) * W + x] == a.lut[c][W - 1 - x]);
}

/* Pearson's chi-square statistic of counts against a uniform expectation. */
static double chi_square(const long *counts, int cells, long total) {
  const double e = (double)total / cells;
  double s = 0;
  for (int i = 0; i < cells; ++i) s += ((double)counts[i] - e) * ((double)counts[i] - e) / e;
  return s;
}

/* dy and dx uniform over 0..8 and independent; flip a fair coin. */
static void test_draw_distribution(void **state) {
  (void)state;
  const md_augment a = make_cifar();
  md_rng r;
  md_rng_init(&r, 7, MD_STREAM_AUGMENT);
  enum { DRAWS = 162000 };
  long joint[81] = {0}, dys[9] = {0}, dxs[9] = {0}, flips = 0;
  long flip_by_dy[9] = {0};
  for (int i = 0; i < DRAWS; ++i) {
    const md_crop_flip p = md_augment_draw(&a, &r);
    assert_in_range(p.dy, 0, 8);
    assert_in_range(p.dx, 0, 8);
    assert_in_range(p.flip, 0, 1);
    joint[p.dy * 9 + p.dx]++;
    dys[p.dy]++;
    dxs[p.dx]++;
    flips += p.flip;
    flip_by_dy[p.dy] += p.flip;
  }
  /* Critical values at p = 0.001: 8 dof 26.12, 80 dof 124.84. */
  const double c_dy = chi_square(dys, 9, DRAWS), c_dx = chi_square(dxs, 9, DRAWS);
  const double c_joint = chi_square(joint, 81, DRAWS);
  print_message("chi-square dy %.2f, dx %.2f (8 dof), joint %.2f (80 dof)\n", c_dy, c_dx,
                c_joint);
  assert_true(c_dy < 26.12);
  assert_true(c_dx < 26.12);
  assert_true(c_joint < 124.84);
  for (int i = 0; i < 9; ++i) assert_true(dys[i] > 0 && dxs[i] > 0);
  /* Fair coin: within 4.5 standard deviations (sd = sqrt(n)/2). */
  const double sd = sqrt((double)DRAWS) / 2;
  print_message("flips %ld of %d\n", flips, DRAWS);
  assert_true(fabs((double)flips - DRAWS / 2.0) < 4.5 * sd);
  /* The flip does not depend on the crop. */
  for (int i = 0; i < 9; ++i) {
    const double sdi = sqrt((double)dys[i]) / 2;
    assert_true(fabs((double)flip_by_dy[i] - dys[i] / 2.0) < 4.5 * sdi);
  }
}

/* The draw order is the documented one: below(9), below(9), uniform < 0.5. */
static void test_draw_order(void **state) {
  (void)state;
  const md_augment a = make_cifar();
  md_rng r1, r2;
  md_rng_init(&r1, 11, MD_STREAM_AUGMENT);
  md_rng_init(&r2, 11, MD_STREAM_AUGMENT);
  for (int i = 0; i < 1000; ++i) {
    const md_crop_flip p = md_augment_draw(&a, &r1);
    const int dy = (int)md_rng_below(&r2, 9), dx = (int)md_rng_below(&r2, 9);
    const int f = md_rng_uniform(&r2) < 0.5f;
    assert_int_equal(p.dy, dy);
    assert_int_equal(p.dx, dx);
    assert_int_equal(p.flip, f);
  }
  /* No crop and no flip: nothing is drawn. */
  md_augment_config cfg = md_augment_cifar_config();
  cfg.pad = 0;
  cfg.flip = 0;
  md_augment b;
  assert_int_equal(md_augment_init(&b, &cfg, NULL), MD_OK);
  md_rng_init(&r1, 11, MD_STREAM_AUGMENT);
  md_rng_init(&r2, 11, MD_STREAM_AUGMENT);
  const md_crop_flip p = md_augment_draw(&b, &r1);
  assert_int_equal(p.dy, 0);
  assert_int_equal(p.dx, 0);
  assert_int_equal(p.flip, 0);
  assert_int_equal(md_rng_u64(&r1), md_rng_u64(&r2));
}

/* Other shapes: a 1-channel 5 x 7 image with padding wider than the image. */
static void test_odd_shapes(void **state) {
  (void)state;
  md_augment_config cfg = md_augment_cifar_config();
  cfg.channels = 1;
  cfg.height = 5;
  cfg.width = 7;
  cfg.pad = 9;
  cfg.mean[0] = 0.5f;
  cfg.std[0] = 0.25f;
  md_augment a;
  assert_int_equal(md_augment_init(&a, &cfg, NULL), MD_OK);
  uint8_t img[35];
  for (int i = 0; i < 35; ++i) img[i] = (uint8_t)(10 + i);
  float got[35];
  for (int dy = 0; dy <= 18; ++dy)
    for (int dx = 0; dx <= 18; ++dx)
      for (int f = 0; f < 2; ++f) {
        const md_crop_flip p = {dy, dx, f};
        md_augment_image(&a, img, p, got);
        for (int y = 0; y < 5; ++y)
          for (int x = 0; x < 7; ++x) {
            const int sy = y + dy - 9, sx = (f ? 6 - x : x) + dx - 9;
            const int inside = sy >= 0 && sy < 5 && sx >= 0 && sx < 7;
            const float want = a.lut[0][inside ? img[sy * 7 + sx] : 0];
            md_assert_floats_identical(&got[y * 7 + x], &want, 1);
          }
      }
}

static void test_config_errors(void **state) {
  (void)state;
  md_augment a;
  md_errbuf eb;
  md_augment_config cfg = md_augment_cifar_config();
  assert_int_equal(md_augment_config_check(&cfg, &eb), MD_OK);
  cfg.channels = 0;
  assert_int_equal(md_augment_init(&a, &cfg, &eb), MD_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(eb.msg, "channels"));
  cfg = md_augment_cifar_config();
  cfg.channels = MD_AUGMENT_MAX_CHANNELS + 1;
  assert_int_equal(md_augment_config_check(&cfg, NULL), MD_ERR_INVALID_ARGUMENT);
  cfg = md_augment_cifar_config();
  cfg.width = 0;
  assert_int_equal(md_augment_config_check(&cfg, NULL), MD_ERR_INVALID_ARGUMENT);
  cfg = md_augment_cifar_config();
  cfg.pad = -1;
  assert_int_equal(md_augment_config_check(&cfg, NULL), MD_ERR_INVALID_ARGUMENT);
  cfg = md_augment_cifar_config();
  cfg.flip = 2;
  assert_int_equal(md_augment_config_check(&cfg, NULL), MD_ERR_INVALID_ARGUMENT);
  cfg = md_augment_cifar_config();
  cfg.std[1] = 0.0f;
  assert_int_equal(md_augment_config_check(&cfg, &eb), MD_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(eb.msg, "std of channel 1"));
  cfg = md_augment_cifar_config();
  cfg.std[2] = NAN;
  assert_int_equal(md_augment_config_check(&cfg, NULL), MD_ERR_INVALID_ARGUMENT);
  cfg = md_augment_cifar_config();
  cfg.mean[0] = INFINITY;
  assert_int_equal(md_augment_config_check(&cfg, NULL), MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_augment_config_check(NULL, NULL), MD_ERR_INVALID_ARGUMENT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reference_constants),
      cmocka_unit_test(test_normalize_values),
      cmocka_unit_test(test_center_crop_is_identity),
      cmocka_unit_test(test_all_crops_match_reference),
      cmocka_unit_test(test_flip_mirrors),
      cmocka_unit_test(test_draw_distribution),
      cmocka_unit_test(test_draw_order),
      cmocka_unit_test(test_odd_shapes),
      cmocka_unit_test(test_config_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
