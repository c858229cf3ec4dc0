/* The paper's Figure 1 (see maxdrop/figure.h): an image through Dropout and
 * MaxDropout, in grayscale and in colour, as one RGB panel. */
#include "maxdrop/figure.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/errbuf.h"
#include "maxdrop/dropout.h"
#include "maxdrop/maxdropout.h"
#include "maxdrop/rng.h"
#include "maxdrop/tensor.h"

/* stb_easy_font is all static functions; only some of them are used. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include <stb_easy_font.h>
#pragma GCC diagnostic pop

enum { AUTO_TARGET = 256, MAX_TITLE_SCALE = 2, TITLE_LEN = 48 };

md_figure1_config md_figure1_default_config(void) {
  md_figure1_config c;
  c.rate = 0.5;
  c.seed = 0;
  c.scale = 0;
  c.gutter = 8;
  c.titles = 1;
  return c;
}

typedef struct layout {
  int scale;            /* upscale factor */
  int pw, ph;           /* panel size */
  int tscale;           /* title text scale, 0 = no titles */
  int title_h;          /* height of the title band (text + gutter), 0 without titles */
  int out_w, out_h;
  char titles[3][TITLE_LEN];
} layout;

static md_status make_layout(const md_figure1_config *cfg, int w, int h, layout *L,
                             md_errbuf *eb) {
  memset(L, 0, sizeof *L);
  if (!cfg) return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "no figure configuration");
  if (!(cfg->rate >= 0.0f && cfg->rate <= 1.0f))
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "rate %g is outside [0, 1]",
                   (double)cfg->rate);
  if (cfg->scale < 0 || cfg->scale > MD_FIGURE1_MAX_SIDE)
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "scale %d is not in 0..%d (0 = automatic)",
                   cfg->scale, (int)MD_FIGURE1_MAX_SIDE);
  if (cfg->gutter < 0 || cfg->gutter > 1024)
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "gutter %d is not in 0..1024", cfg->gutter);
  if (w < 1 || h < 1 || w > MD_FIGURE1_MAX_SIDE || h > MD_FIGURE1_MAX_SIDE)
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "image size %d x %d is not in 1..%d per side",
                   w, h, (int)MD_FIGURE1_MAX_SIDE);
  const int big = w > h ? w : h;
  L->scale = cfg->scale ? cfg->scale : (AUTO_TARGET / big > 1 ? AUTO_TARGET / big : 1);
  const int64_t pw = (int64_t)w * L->scale, ph = (int64_t)h * L->scale;
  const int g = cfg->gutter;

  snprintf(L->titles[0], TITLE_LEN, "original");
  snprintf(L->titles[1], TITLE_LEN, "Dropout %.3g", (double)cfg->rate);
  snprintf(L->titles[2], TITLE_LEN, "MaxDropout %.3g", (double)cfg->rate);
  if (cfg->titles) {
    int widest = 0;
    for (int i = 0; i < 3; ++i) {
      const int tw = stb_easy_font_width(L->titles[i]);
      if (tw > widest) widest = tw;
    }
    int ts = widest > 0 ? (int)(pw / widest) : 0;
    if (ts > MAX_TITLE_SCALE) ts = MAX_TITLE_SCALE;
    L->tscale = ts;
    if (ts > 0) L->title_h = stb_easy_font_height(L->titles[2]) * ts + g;
  }
  const int64_t ow = g + 3 * (pw + g);
  const int64_t oh = g + L->title_h + 2 * (ph + g);
  if (ow > MD_FIGURE1_MAX_SIDE || oh > MD_FIGURE1_MAX_SIDE)
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT,
                   "a %d x %d image at scale %d makes a %lld x %lld figure, larger than "
                   "%d pixels on a side; use a smaller scale",
                   w, h, L->scale, (long long)ow, (long long)oh, (int)MD_FIGURE1_MAX_SIDE);
  L->pw = (int)pw;
  L->ph = (int)ph;
  L->out_w = (int)ow;
  L->out_h = (int)oh;
  return MD_OK;
}

md_status md_figure1_size(const md_figure1_config *cfg, int width, int height,
                          int *out_width, int *out_height, md_errbuf *eb) {
  layout L;
  const md_status st = make_layout(cfg, width, height, &L, eb);
  if (st != MD_OK) return st;
  if (out_width) *out_width = L.out_w;
  if (out_height) *out_height = L.out_h;
  return MD_OK;
}

static uint8_t to_byte(float v) {
  if (!(v > 0.0f)) return 0;
  if (v >= 1.0f) return 255;
  return (uint8_t)lrintf(v * 255.0f);
}

/* Draws a planar activation tensor (c = 1: gray, c = 3: RGB), h x w, upscaled
 * into the panel whose top-left corner is (x0, y0). */
static void draw_panel(uint8_t *out, int out_w, int x0, int y0, const float *t, int c,
                       int w, int h, int s) {
  const int64_t hw = (int64_t)w * h;
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const int64_t i = (int64_t)y * w + x;
      uint8_t rgb[3];
      for (int k = 0; k < 3; ++k) rgb[k] = to_byte(t[(c == 3 ? k : 0) * hw + i]);
      for (int dy = 0; dy < s; ++dy) {
        uint8_t *row = out + ((int64_t)(y0 + y * s + dy) * out_w + x0 + (int64_t)x * s) * 3;
        for (int dx = 0; dx < s; ++dx) memcpy(row + dx * 3, rgb, 3);
      }
    }
  }
}

/* Draws one title, centred over a panel, in black. */
static void draw_title(uint8_t *out, int out_w, int out_h, int cx, int y0, char *text,
                       int ts) {
  float vb[4096]; /* 16 KB of vertices: far more than a short title needs */
  const int quads = stb_easy_font_print(0.0f, 0.0f, text, NULL, vb, (int)sizeof vb);
  const int x0 = cx - stb_easy_font_width(text) * ts / 2;
  for (int q = 0; q < quads; ++q) {
    const float *v = vb + q * 16; /* 4 vertices of {x, y, z, rgba} */
    const int qx0 = x0 + (int)lrintf(v[0] * (float)ts), qy0 = y0 + (int)lrintf(v[1] * (float)ts);
    const int qx1 = x0 + (int)lrintf(v[8] * (float)ts), qy1 = y0 + (int)lrintf(v[9] * (float)ts);
    for (int y = qy0 < 0 ? 0 : qy0; y < qy1 && y < out_h; ++y)
      for (int x = qx0 < 0 ? 0 : qx0; x < qx1 && x < out_w; ++x)
        memset(out + ((int64_t)y * out_w + x) * 3, 0, 3);
  }
}

static double zero_fraction(const float *x, const float *y, int64_t n) {
  int64_t z = 0;
  for (int64_t i = 0; i < n; ++i) z += (y[i] == 0.0f && x[i] != 0.0f);
  return (double)z / (double)n;
}

/* Dropout's kept elements at their input value, dropped ones 0 (no rescale). */
static md_status dropout_unscaled(double rate, uint64_t seed, uint64_t stream, int64_t n,
                                  const float *x, float *y) {
  md_dropout d;
  md_status st = md_dropout_init(&d, rate, seed, stream);
  if (st != MD_OK) return st;
  st = md_dropout_forward(&d, n, x, y, 1);
  if (st == MD_OK)
    for (int64_t i = 0; i < n; ++i) y[i] = md_dropout_kept(&d, i) ? x[i] : 0.0f;
  md_dropout_free(&d);
  return st;
}

static md_status maxdrop_run(double rate, md_shape shape, const float *x, float *y) {
  md_maxdrop_config cfg = md_maxdrop_default_config();
  cfg.rate = rate;
  md_maxdrop m;
  md_status st = md_maxdrop_init(&m, &cfg, 0, MD_STREAM_LAYER);
  if (st != MD_OK) return st;
  st = md_maxdrop_forward(&m, shape, x, y, 1);
  md_maxdrop_free(&m);
  return st;
}

md_status md_figure1_render(const md_figure1_config *cfg, const uint8_t *pixels,
                            int width, int height, int channels, uint8_t *out,
                            md_figure1_stats *stats, md_errbuf *eb) {
  layout L;
  md_status st = make_layout(cfg, width, height, &L, eb);
  if (st != MD_OK) return st;
  if (!pixels || !out) return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "no image or output buffer");
  if (channels != 1 && channels != 3)
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "images need 1 or 3 channels, not %d",
                   channels);

  const int64_t hw = (int64_t)width * height;
  /* gray, its Dropout and MaxDropout outputs (hw each); colour and its two
   * outputs (3 hw each). */
  float *buf = malloc((size_t)(12 * hw) * sizeof *buf);
  if (!buf)
    return md_fail(eb, MD_ERR_OUT_OF_MEMORY, "out of memory for a %d x %d figure", width,
                   height);
  float *gray = buf, *gray_do = buf + hw, *gray_md = buf + 2 * hw;
  float *rgb = buf + 3 * hw, *rgb_do = rgb + 3 * hw, *rgb_md = rgb + 6 * hw;

  /* Activations in [0, 1]: planar colour (1 x 3 x H x W) and luminance. */
  for (int64_t i = 0; i < hw; ++i) {
    float c[3];
    for (int k = 0; k < 3; ++k) {
      c[k] = (float)pixels[i * channels + (channels == 3 ? k : 0)] / 255.0f;
      rgb[k * hw + i] = c[k];
    }
    gray[i] = channels == 3 ? 0.299f * c[0] + 0.587f * c[1] + 0.114f * c[2] : c[0];
  }

  const double rate = cfg->rate;
  st = dropout_unscaled(rate, cfg->seed, MD_STREAM_LAYER + 0, hw, gray, gray_do);
  if (st == MD_OK) st = maxdrop_run(rate, md_shape4(1, 1, height, width), gray, gray_md);
  if (st == MD_OK)
    st = dropout_unscaled(rate, cfg->seed, MD_STREAM_LAYER + 1, 3 * hw, rgb, rgb_do);
  if (st == MD_OK) st = maxdrop_run(rate, md_shape4(1, 3, height, width), rgb, rgb_md);
  if (st != MD_OK) {
    free(buf);
    return md_fail(eb, st, "the regularizer kernels failed: %s", md_strerror(st));
  }

  memset(out, 255, (size_t)L.out_w * (size_t)L.out_h * 3);
  const int g = cfg->gutter, s = L.scale;
  const int top = g + L.title_h;
  const float *panels[2][3] = {{gray, gray_do, gray_md}, {rgb, rgb_do, rgb_md}};
  for (int r = 0; r < 2; ++r)
    for (int col = 0; col < 3; ++col)
      draw_panel(out, L.out_w, g + col * (L.pw + g), top + r * (L.ph + g), panels[r][col],
                 r == 0 ? 1 : 3, width, height, s);
  if (L.tscale > 0)
    for (int col = 0; col < 3; ++col)
      draw_title(out, L.out_w, L.out_h, g + col * (L.pw + g) + L.pw / 2, g, L.titles[col],
                 L.tscale);

  if (stats) {
    stats->scale = s;
    stats->dropout_gray = zero_fraction(gray, gray_do, hw);
    stats->maxdrop_gray = zero_fraction(gray, gray_md, hw);
    stats->dropout_color = zero_fraction(rgb, rgb_do, 3 * hw);
    stats->maxdrop_color = zero_fraction(rgb, rgb_md, 3 * hw);
  }
  free(buf);
  return MD_OK;
}
