/* Figure 1 rendering: layout, and every panel checked against the MaxDropout
 * and Dropout definitions (REFERENCE.md sections 1 and 5), computed here. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "md_test_util.h"
#include "maxdrop/figure.h"

typedef struct fig {
  md_figure1_config cfg;
  int w, h, ch, ow, oh;
  uint8_t *src, *out;
  md_figure1_stats st;
} fig;

static void random_image(uint8_t *p, size_t n, uint64_t stream) {
  float *t = malloc(n * sizeof *t);
  assert_non_null(t);
  md_fill_uniform(t, n, 0.0f, 256.0f, stream);
  for (size_t i = 0; i < n; ++i) p[i] = (uint8_t)(t[i] >= 255.0f ? 255 : t[i]);
  free(t);
}

static void render(fig *F) {
  md_errbuf eb;
  assert_int_equal(md_figure1_size(&F->cfg, F->w, F->h, &F->ow, &F->oh, &eb), MD_OK);
  F->out = malloc((size_t)F->ow * F->oh * 3);
  assert_non_null(F->out);
  assert_int_equal(
      md_figure1_render(&F->cfg, F->src, F->w, F->h, F->ch, F->out, &F->st, &eb), MD_OK);
}

/* Top-left corner of panel (row r, column c) of a figure without titles. */
static const uint8_t *panel_px(const fig *F, int r, int c, int x, int y, int dx, int dy) {
  const int s = F->st.scale, g = F->cfg.gutter;
  const int px = g + c * (F->w * s + g) + x * s + dx;
  const int py = g + r * (F->h * s + g) + y * s + dy;
  return F->out + ((size_t)py * F->ow + px) * 3;
}

/* The value shown for source pixel (x, y) of a panel; the whole s x s block
 * must hold it. */
static void shown(const fig *F, int r, int c, int x, int y, uint8_t rgb[3]) {
  memcpy(rgb, panel_px(F, r, c, x, y, 0, 0), 3);
  const int s = F->st.scale;
  for (int dy = 0; dy < s; ++dy)
    for (int dx = 0; dx < s; ++dx)
      if (memcmp(panel_px(F, r, c, x, y, dx, dy), rgb, 3))
        fail_msg("panel (%d,%d) pixel (%d,%d) is not a uniform %dx%d block", r, c, x, y, s, s);
}

static uint8_t to_byte(double v) { return (uint8_t)lrint(v < 0 ? 0 : v > 1 ? 255 : v * 255.0); }

/* Activation (in [0, 1]) of source pixel i: luminance (k = -1) or channel k. */
static double act(const fig *F, int i, int k) {
  const uint8_t *p = F->src + (size_t)i * F->ch;
  if (F->ch == 1) return p[0] / 255.0;
  if (k >= 0) return p[k] / 255.0;
  return (0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2]) / 255.0;
}

/* Checks every panel of F against the definitions; returns nothing, fails on
 * the first mismatch. */
static void check_panels(const fig *F) {
  const int n = F->w * F->h;
  const float rate = F->cfg.rate;
  const double t = (double)(float)(1.0 - (double)rate);
  /* Min-max statistics: row 1 over the luminance, row 2 over all channels. */
  double lo1 = 1e9, hi1 = -1e9, lo3 = 1e9, hi3 = -1e9;
  for (int i = 0; i < n; ++i) {
    const double l = act(F, i, -1);
    lo1 = fmin(lo1, l);
    hi1 = fmax(hi1, l);
    for (int k = 0; k < 3; ++k) {
      const double v = act(F, i, F->ch == 3 ? k : -1);
      lo3 = fmin(lo3, v);
      hi3 = fmax(hi3, v);
    }
  }
  int dropped_do1 = 0, dropped_md1 = 0, dropped_do3 = 0, dropped_md3 = 0;
  for (int y = 0; y < F->h; ++y) {
    for (int x = 0; x < F->w; ++x) {
      const int i = y * F->w + x;
      uint8_t o[3], d[3], m[3];
      /* Row 1: gray in all three display channels. */
      const double l = act(F, i, -1);
      shown(F, 0, 0, x, y, o);
      shown(F, 0, 1, x, y, d);
      shown(F, 0, 2, x, y, m);
      for (int k = 0; k < 3; ++k) {
        if (abs((int)o[k] - (int)to_byte(l)) > 1)
          fail_msg("gray original (%d,%d): %d, want %d", x, y, o[k], to_byte(l));
        assert_int_equal(d[k], d[0]);
        assert_int_equal(m[k], m[0]);
      }
      /* Dropout (unscaled): the original value or 0. */
      if (d[0] != o[0] && d[0] != 0) fail_msg("gray Dropout (%d,%d): %d, original %d", x, y, d[0], o[0]);
      dropped_do1 += d[0] == 0 && o[0] != 0;
      /* MaxDropout: zero exactly where (l - lo) / (hi - lo) > 1 - rate. */
      const double q = hi1 > lo1 ? (l - lo1) / (hi1 - lo1) : NAN;
      if (!(fabs(q - t) < 1e-5)) { /* away from float rounding at the threshold */
        const int drop = q > t;
        if (drop ? m[0] != 0 : m[0] != o[0])
          fail_msg("gray MaxDropout (%d,%d): q %.6f, rate %g: shown %d, original %d", x, y, q,
                   (double)rate, m[0], o[0]);
      }
      dropped_md1 += m[0] == 0 && o[0] != 0;

      /* Row 2: colour, each channel on its own. */
      shown(F, 1, 0, x, y, o);
      shown(F, 1, 1, x, y, d);
      shown(F, 1, 2, x, y, m);
      for (int k = 0; k < 3; ++k) {
        const double v = act(F, i, F->ch == 3 ? k : -1);
        assert_int_equal(o[k], to_byte(v));
        if (d[k] != o[k] && d[k] != 0) fail_msg("colour Dropout (%d,%d,%d): %d vs %d", x, y, k, d[k], o[k]);
        dropped_do3 += d[k] == 0 && o[k] != 0;
        const double qc = hi3 > lo3 ? (v - lo3) / (hi3 - lo3) : NAN;
        if (!(fabs(qc - t) < 1e-5)) {
          const int drop = qc > t;
          if (drop ? m[k] != 0 : m[k] != o[k])
            fail_msg("colour MaxDropout (%d,%d,%d): q %.6f: shown %d, original %d", x, y, k,
                     qc, m[k], o[k]);
        }
        dropped_md3 += m[k] == 0 && o[k] != 0;
      }
    }
  }
  /* The reported fractions agree with what is drawn (values that round to 0
   * on display are not counted by the figure either way: allow a little). */
  assert_true(fabs(F->st.dropout_gray - (double)dropped_do1 / n) < 0.02);
  assert_true(fabs(F->st.maxdrop_gray - (double)dropped_md1 / n) < 0.02);
  assert_true(fabs(F->st.dropout_color - (double)dropped_do3 / (3.0 * n)) < 0.02);
  assert_true(fabs(F->st.maxdrop_color - (double)dropped_md3 / (3.0 * n)) < 0.02);
}

static void check_gutters_white(const fig *F) {
  const int s = F->st.scale, g = F->cfg.gutter, pw = F->w * s, ph = F->h * s;
  for (int y = 0; y < F->oh; ++y)
    for (int x = 0; x < F->ow; ++x) {
      const int cx = (x - g) % (pw + g), cy = (y - g) % (ph + g);
      const int in_panel = x >= g && y >= g && cx < pw && cy < ph;
      if (!in_panel) {
        const uint8_t *p = F->out + ((size_t)y * F->ow + x) * 3;
        if (p[0] != 255 || p[1] != 255 || p[2] != 255)
          fail_msg("gutter pixel (%d,%d) is %d,%d,%d, not white", x, y, p[0], p[1], p[2]);
      }
    }
}

static void test_defaults_and_size(void **state) {
  (void)state;
  const md_figure1_config c = md_figure1_default_config();
  assert_true(c.rate == 0.5f);
  assert_int_equal(c.scale, 0);
  assert_int_equal(c.gutter, 8);
  assert_int_equal(c.titles, 1);
  md_errbuf eb;
  int w, h;
  md_figure1_config nt = c;
  nt.titles = 0;
  /* 32 x 32: automatic scale 8, panels 256, gutters 8. */
  assert_int_equal(md_figure1_size(&nt, 32, 32, &w, &h, &eb), MD_OK);
  assert_int_equal(w, 8 + 3 * (256 + 8));
  assert_int_equal(h, 8 + 2 * (256 + 8));
  int wt, ht;
  assert_int_equal(md_figure1_size(&c, 32, 32, &wt, &ht, &eb), MD_OK);
  assert_int_equal(wt, w);
  assert_true(ht > h && ht < h + 64); /* a band of titles on top */
  /* Large images are not upscaled. */
  assert_int_equal(md_figure1_size(&nt, 600, 400, &w, &h, &eb), MD_OK);
  assert_int_equal(w, 8 + 3 * (600 + 8));
  nt.scale = 3;
  nt.gutter = 0;
  assert_int_equal(md_figure1_size(&nt, 10, 20, &w, &h, &eb), MD_OK);
  assert_int_equal(w, 90);
  assert_int_equal(h, 120);
}

static void test_bad_arguments(void **state) {
  (void)state;
  md_errbuf eb;
  int w, h;
  md_figure1_config c = md_figure1_default_config();
  c.rate = 1.5f;
  assert_int_equal(md_figure1_size(&c, 32, 32, &w, &h, &eb), MD_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(eb.msg, "rate"));
  c.rate = NAN;
  assert_int_equal(md_figure1_size(&c, 32, 32, &w, &h, &eb), MD_ERR_INVALID_ARGUMENT);
  c = md_figure1_default_config();
  assert_int_equal(md_figure1_size(&c, 0, 32, &w, &h, &eb), MD_ERR_INVALID_ARGUMENT);
  c.scale = 64;
  assert_int_equal(md_figure1_size(&c, 200, 200, &w, &h, &eb), MD_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(eb.msg, "larger than"));
  c = md_figure1_default_config();
  c.gutter = -1;
  assert_int_equal(md_figure1_size(&c, 32, 32, &w, &h, &eb), MD_ERR_INVALID_ARGUMENT);
  c = md_figure1_default_config();
  uint8_t px[12] = {0}, out[1];
  assert_int_equal(md_figure1_render(&c, px, 2, 2, 2, out, NULL, &eb), MD_ERR_INVALID_ARGUMENT);
}

static void test_colour_image(void **state) {
  (void)state;
  fig F = {0};
  F.cfg = md_figure1_default_config();
  F.cfg.titles = 0;
  F.cfg.gutter = 3;
  F.cfg.scale = 2;
  F.cfg.seed = 11;
  F.w = 40;
  F.h = 30;
  F.ch = 3;
  F.src = malloc((size_t)F.w * F.h * 3);
  assert_non_null(F.src);
  random_image(F.src, (size_t)F.w * F.h * 3, 1);
  render(&F);
  assert_int_equal(F.st.scale, 2);
  check_gutters_white(&F);
  check_panels(&F);
  /* Dropout at 0.5 zeroes about half, per element. */
  assert_true(F.st.dropout_gray > 0.4 && F.st.dropout_gray < 0.6);
  assert_true(F.st.dropout_color > 0.4 && F.st.dropout_color < 0.6);

  /* Same seed, same figure; another seed, another Dropout draw. */
  fig G = F;
  G.out = NULL;
  render(&G);
  assert_memory_equal(G.out, F.out, (size_t)F.ow * F.oh * 3);
  free(G.out);
  G.cfg.seed = 12;
  render(&G);
  assert_true(memcmp(G.out, F.out, (size_t)F.ow * F.oh * 3) != 0);
  free(G.out);
  free(F.out);

  /* Other rates, checked the same way. */
  const float rates[4] = {0.0f, 0.3f, 0.9f, 1.0f};
  for (int r = 0; r < 4; ++r) {
    F.cfg.rate = rates[r];
    F.out = NULL;
    render(&F);
    check_panels(&F);
    if (rates[r] == 0.0f) {
      assert_true(F.st.dropout_gray == 0.0 && F.st.maxdrop_gray == 0.0);
    }
    if (rates[r] == 1.0f) {
      assert_true(F.st.dropout_gray > 0.99);
    }
    free(F.out);
  }
  free(F.src);
}

static void test_gray_and_constant_images(void **state) {
  (void)state;
  fig F = {0};
  F.cfg = md_figure1_default_config();
  F.cfg.titles = 0;
  F.w = 17;
  F.h = 9;
  F.ch = 1;
  F.src = malloc((size_t)F.w * F.h);
  assert_non_null(F.src);
  random_image(F.src, (size_t)F.w * F.h, 2);
  render(&F);
  assert_int_equal(F.st.scale, 256 / 17);
  check_gutters_white(&F);
  check_panels(&F);
  /* A grayscale source: the colour row shows gray as well. */
  for (int y = 0; y < F.h; ++y)
    for (int x = 0; x < F.w; ++x) {
      uint8_t o[3];
      shown(&F, 1, 0, x, y, o);
      assert_true(o[0] == o[1] && o[1] == o[2]);
    }
  free(F.out);

  /* A constant image: MaxDropout's min-max is 0/0 and drops nothing. */
  memset(F.src, 128, (size_t)F.w * F.h);
  F.out = NULL;
  render(&F);
  assert_true(F.st.maxdrop_gray == 0.0);
  assert_true(F.st.maxdrop_color == 0.0);
  assert_true(F.st.dropout_gray > 0.3);
  check_panels(&F);
  free(F.out);
  free(F.src);
}

static void test_titles_drawn(void **state) {
  (void)state;
  md_figure1_config c = md_figure1_default_config();
  uint8_t src[32 * 32 * 3];
  memset(src, 255, sizeof src); /* all white: any black above the panels is text */
  md_errbuf eb;
  int w, h, w0, h0;
  assert_int_equal(md_figure1_size(&c, 32, 32, &w, &h, &eb), MD_OK);
  c.titles = 0;
  assert_int_equal(md_figure1_size(&c, 32, 32, &w0, &h0, &eb), MD_OK);
  c.titles = 1;
  uint8_t *out = malloc((size_t)w * h * 3);
  assert_non_null(out);
  assert_int_equal(md_figure1_render(&c, src, 32, 32, 3, out, NULL, &eb), MD_OK);
  const int band = h - h0; /* rows of the title band, below the top gutter */
  int black[3] = {0, 0, 0};
  for (int y = 8; y < 8 + band; ++y)
    for (int x = 0; x < w; ++x)
      if (out[((size_t)y * w + x) * 3] == 0) black[x * 3 / w]++;
  for (int k = 0; k < 3; ++k)
    if (black[k] < 20) fail_msg("column %d has no title (%d dark pixels)", k, black[k]);
  free(out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults_and_size),
      cmocka_unit_test(test_bad_arguments),
      cmocka_unit_test(test_colour_image),
      cmocka_unit_test(test_gray_and_constant_images),
      cmocka_unit_test(test_titles_drawn),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
