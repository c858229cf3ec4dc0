/* im2col / col2im on blocks of rows and columns (see im2col.h).
 *
 * Two ways through a row (c, u, v) of the matrix:
 *  - "same" layout (stride 1 and OW == W): output position p reads image
 *    element p + d, d = (u - pad)*W + (v - pad), so the whole row is one
 *    contiguous copy (or add), followed by zeroing the few columns that fall
 *    in the left/right padding of each output row;
 *  - otherwise, output row by output row, with a strided read.
 * Indices, not pointers, carry the offsets: they may be negative. */
#include "nn/im2col.h"

#include <stddef.h>

/* floor(a / b) for b > 0 and any sign of a. */
static int floor_div(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

static int clamp(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Output columns [*lo, *hi) of kernel column v that read inside the image:
 * 0 <= j*stride - pad + v < W. */
static void valid_cols(const md_conv_geom *g, int v, int *lo, int *hi) {
  const int s = g->stride;
  const int a = g->pad - v <= 0 ? 0 : (g->pad - v + s - 1) / s;
  const int b = floor_div(g->w - 1 + g->pad - v, s) + 1;
  *lo = clamp(a, 0, g->ow);
  *hi = clamp(b, *lo, g->ow);
}

/* Output rows [*lo, *hi) of kernel row u that read inside the image. */
static void valid_rows(const md_conv_geom *g, int u, int *lo, int *hi) {
  const int s = g->stride;
  const int a = g->pad - u <= 0 ? 0 : (g->pad - u + s - 1) / s;
  const int b = floor_div(g->h - 1 + g->pad - u, s) + 1;
  *lo = clamp(a, 0, g->oh);
  *hi = clamp(b, *lo, g->oh);
}

/* "Same" layout, one row (u, v) of one channel plane xc: the positions
 * [*a, *b) (within [p0, p1)) that are copied from xc[p + d]; everything else
 * in [p0, p1) is 0. Fixups for the padding columns are left to the caller. */
static void same_span(const md_conv_geom *g, int u, int v, int p0, int p1, ptrdiff_t *d,
                      int *a, int *b) {
  const int ow = g->ow, hw = g->h * g->w;
  int ilo, ihi;
  valid_rows(g, u, &ilo, &ihi);
  *d = (ptrdiff_t)(u - g->pad) * g->w + (v - g->pad);
  /* inside the valid output rows, and reading inside the plane */
  ptrdiff_t lo = (ptrdiff_t)ilo * ow, hi = (ptrdiff_t)ihi * ow;
  if (lo < -*d) lo = -*d;
  if (hi > hw - *d) hi = hw - *d;
  if (lo < p0) lo = p0;
  if (hi > p1) hi = p1;
  if (hi < lo) hi = lo;
  *a = (int)lo;
  *b = (int)hi;
}

/* Zeroes, in a block row holding positions [p0, p1) at row[p - p0], the
 * positions of the valid output rows whose column falls in the padding. */
static void zero_pad_cols(const md_conv_geom *g, int u, int v, int p0, int p1, float *row) {
  int ilo, ihi, jlo, jhi;
  valid_rows(g, u, &ilo, &ihi);
  valid_cols(g, v, &jlo, &jhi);
  if (jlo == 0 && jhi == g->ow) return;
  const int ow = g->ow;
  const int i0 = p0 / ow > ilo ? p0 / ow : ilo;
  const int i1 = (p1 - 1) / ow + 1 < ihi ? (p1 - 1) / ow + 1 : ihi;
  for (int i = i0; i < i1; ++i) {
    const int base = i * ow;
    for (int j = 0; j < jlo; ++j)
      if (base + j >= p0 && base + j < p1) row[base + j - p0] = 0.0f;
    for (int j = jhi; j < ow; ++j)
      if (base + j >= p0 && base + j < p1) row[base + j - p0] = 0.0f;
  }
}

void md_im2col(const md_conv_geom *g, const float *x, size_t x_stride, int nimg, int c0,
               int c1, int p0, int p1, float *col, int ld) {
  const int s = g->stride, ow = g->ow, w = p1 - p0;
  const size_t plane = (size_t)g->h * g->w;
  const int same = s == 1 && g->ow == g->w;
  float *row = col;
  for (int c = c0; c < c1; ++c) {
    for (int u = 0; u < g->kh; ++u) {
      int ilo, ihi;
      valid_rows(g, u, &ilo, &ihi);
      for (int v = 0; v < g->kw; ++v, row += ld) {
        int jlo, jhi;
        valid_cols(g, v, &jlo, &jhi);
        for (int b = 0; b < nimg; ++b) {
          const float *xc = x + b * x_stride + c * plane;
          float *dst = row + (size_t)b * w; /* dst[p - p0] */
          if (same) {
            ptrdiff_t d;
            int a, e;
            same_span(g, u, v, p0, p1, &d, &a, &e);
            for (int p = p0; p < a; ++p) dst[p - p0] = 0.0f;
            for (int p = a; p < e; ++p) dst[p - p0] = xc[p + d];
            for (int p = e; p < p1; ++p) dst[p - p0] = 0.0f;
            zero_pad_cols(g, u, v, p0, p1, dst);
            continue;
          }
          const int i_first = p0 / ow, i_last = (p1 - 1) / ow;
          for (int i = i_first; i <= i_last; ++i) {
            /* output columns [ja, jb) of output row i lie in the block */
            const int ja = i == i_first ? p0 - i * ow : 0;
            const int jb = i == i_last ? p1 - i * ow : ow;
            const ptrdiff_t q = (ptrdiff_t)i * ow - p0; /* dst[q + j], j in [ja, jb) */
            if (i < ilo || i >= ihi) {
              for (int j = ja; j < jb; ++j) dst[q + j] = 0.0f;
              continue;
            }
            const int a = clamp(jlo, ja, jb), e = clamp(jhi, a, jb);
            const ptrdiff_t r = (ptrdiff_t)(i * s - g->pad + u) * g->w - g->pad + v;
            for (int j = ja; j < a; ++j) dst[q + j] = 0.0f;
            if (s == 1) {
              for (int j = a; j < e; ++j) dst[q + j] = xc[r + j];
            } else {
              for (int j = a; j < e; ++j) dst[q + j] = xc[r + (ptrdiff_t)j * s];
            }
            for (int j = e; j < jb; ++j) dst[q + j] = 0.0f;
          }
        }
      }
    }
  }
}

void md_col2im_add(const md_conv_geom *g, float *col, int ld, int nimg, int c0, int c1,
                   int p0, int p1, float *x, size_t x_stride) {
  const int s = g->stride, ow = g->ow, w = p1 - p0;
  const size_t plane = (size_t)g->h * g->w;
  const int same = s == 1 && g->ow == g->w;
  float *row = col;
  for (int c = c0; c < c1; ++c) {
    for (int u = 0; u < g->kh; ++u) {
      int ilo, ihi;
      valid_rows(g, u, &ilo, &ihi);
      for (int v = 0; v < g->kw; ++v, row += ld) {
        int jlo, jhi;
        valid_cols(g, v, &jlo, &jhi);
        for (int b = 0; b < nimg; ++b) {
          float *xc = x + b * x_stride + c * plane;
          float *src = row + (size_t)b * w; /* src[p - p0] */
          if (same) {
            ptrdiff_t d;
            int a, e;
            same_span(g, u, v, p0, p1, &d, &a, &e);
            /* padding columns add 0 to a neighbouring element instead */
            zero_pad_cols(g, u, v, p0, p1, src);
            for (int p = a; p < e; ++p) xc[p + d] += src[p - p0];
            continue;
          }
          const int i_first = p0 / ow, i_last = (p1 - 1) / ow;
          const int i0 = i_first > ilo ? i_first : ilo, i1 = i_last < ihi - 1 ? i_last : ihi - 1;
          for (int i = i0; i <= i1; ++i) {
            const int ja = i == i_first ? p0 - i * ow : 0;
            const int jb = i == i_last ? p1 - i * ow : ow;
            const int a = clamp(jlo, ja, jb), e = clamp(jhi, a, jb);
            const ptrdiff_t q = (ptrdiff_t)i * ow - p0; /* src[q + j] */
            const ptrdiff_t r = (ptrdiff_t)(i * s - g->pad + u) * g->w - g->pad + v;
            if (s == 1) {
              for (int j = a; j < e; ++j) xc[r + j] += src[q + j];
            } else {
              for (int j = a; j < e; ++j) xc[r + (ptrdiff_t)j * s] += src[q + j];
            }
          }
        }
      }
    }
  }
}
