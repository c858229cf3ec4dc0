/* im2col / col2im on blocks of rows and columns (see im2col.h).
 *
 * One input channel at a time is first copied into a small "phase plane":
 * the rows the block reads, zero-padded, with the columns split by phase
 * modulo the stride: plane[b][r][j] = x[r0 + r - pad][j*stride + b - pad]
 * (0 outside the image). Matrix row (c, u, v) at output row i then reads the
 * contiguous run plane[v % stride][(i - i0)*stride + u][v / stride + j],
 * j = 0 .. OW-1: every copy is branch-free. col2im accumulates into a zeroed
 * phase plane the same way and adds it back into the image. */
#include "nn/im2col.h"

#include <stddef.h>
#include <string.h>

/* Shape of the phase plane for output rows [i0, i1]. */
typedef struct phase_plane {
  int s;      /* stride = number of column phases */
  int rows;   /* padded input rows held: (i1 - i0)*stride + kh */
  int len;    /* floats per row of one phase: OW + (kw - 1) / stride */
  int row0;   /* first padded input row held: i0 * stride */
} phase_plane;

static phase_plane plane_for(const md_conv_geom *g, int i0, int i1) {
  phase_plane pp;
  pp.s = g->stride;
  pp.rows = (i1 - i0) * g->stride + g->kh;
  pp.len = g->ow + (g->kw - 1) / g->stride;
  pp.row0 = i0 * g->stride;
  return pp;
}

size_t md_im2col_scratch_floats(const md_conv_geom *g, int out_rows) {
  const phase_plane pp = plane_for(g, 0, out_rows - 1);
  return (size_t)pp.s * pp.rows * pp.len;
}

/* Fills the phase plane of channel plane xc (H, W). */
static void build_plane(const md_conv_geom *g, const phase_plane *pp, const float *xc,
                        float *plane) {
  const int s = pp->s, len = pp->len, p = g->pad;
  for (int r = 0; r < pp->rows; ++r) {
    if (r % s >= g->kh) continue; /* a row no kernel row reads (k_h < stride) */
    const int ih = pp->row0 + r - p;
    const int valid = ih >= 0 && ih < g->h;
    const float *src = valid ? xc + (size_t)ih * g->w : NULL;
    for (int b = 0; b < s && b < g->kw; ++b) { /* phases no kernel column reads are skipped */
      float *dst = plane + ((size_t)b * pp->rows + r) * len;
      if (!valid) {
        memset(dst, 0, sizeof(float) * (size_t)len);
        continue;
      }
      /* dst[j] = src[j*s + b - p]: inside the row for j in [lo, hi) */
      int lo = p - b <= 0 ? 0 : (p - b + s - 1) / s;
      int hi = g->w - 1 + p - b < 0 ? 0 : (g->w - 1 + p - b) / s + 1;
      if (lo > len) lo = len;
      if (hi > len) hi = len;
      if (hi < lo) hi = lo;
      for (int j = 0; j < lo; ++j) dst[j] = 0.0f;
      if (s == 1) {
        if (hi > lo) memcpy(dst + lo, src + (lo + b - p), sizeof(float) * (size_t)(hi - lo));
      } else if (s == 2) { /* a constant stride vectorises */
        const float *q = src + (2 * lo + b - p);
#pragma omp simd
        for (int j = 0; j < hi - lo; ++j) dst[lo + j] = q[2 * j];
      } else {
        for (int j = lo; j < hi; ++j) dst[j] = src[j * s + b - p];
      }
      for (int j = hi; j < len; ++j) dst[j] = 0.0f;
    }
  }
}

/* Adds the phase plane back into channel plane xc (H, W) (padding dropped). */
static void add_plane(const md_conv_geom *g, const phase_plane *pp, const float *plane,
                      float *xc) {
  const int s = pp->s, len = pp->len, p = g->pad;
  for (int r = 0; r < pp->rows; ++r) {
    const int ih = pp->row0 + r - p;
    if (ih < 0 || ih >= g->h || r % s >= g->kh) continue;
    float *dst = xc + (size_t)ih * g->w;
    for (int b = 0; b < s && b < g->kw; ++b) {
      const float *src = plane + ((size_t)b * pp->rows + r) * len;
      int lo = p - b <= 0 ? 0 : (p - b + s - 1) / s;
      int hi = g->w - 1 + p - b < 0 ? 0 : (g->w - 1 + p - b) / s + 1;
      if (lo > len) lo = len;
      if (hi > len) hi = len;
      if (s == 1) {
        float *d = dst + (lo - p);
        const float *q = src + lo;
#pragma omp simd
        for (int j = 0; j < hi - lo; ++j) d[j] += q[j];
      } else if (s == 2) {
        float *d = dst + (2 * lo + b - p);
        const float *q = src + lo;
#pragma omp simd
        for (int j = 0; j < hi - lo; ++j) d[2 * j] += q[j];
      } else {
        for (int j = lo; j < hi; ++j) dst[j * s + b - p] += src[j];
      }
    }
  }
}

void md_im2col(const md_conv_geom *g, const float *x, size_t x_stride, int nimg, int c0,
               int c1, int p0, int p1, float *col, int ld, float *scratch) {
  const int ow = g->ow, w = p1 - p0, i0 = p0 / ow, i1 = (p1 - 1) / ow;
  const phase_plane pp = plane_for(g, i0, i1);
  const size_t plane_sz = (size_t)g->h * g->w;
  for (int b = 0; b < nimg; ++b) {
    for (int c = c0; c < c1; ++c) {
      build_plane(g, &pp, x + b * x_stride + c * plane_sz, scratch);
      float *row = col + (size_t)(c - c0) * g->kh * g->kw * ld + (size_t)b * w;
      for (int u = 0; u < g->kh; ++u) {
        for (int v = 0; v < g->kw; ++v, row += ld) {
          const float *src = scratch + ((size_t)(v % pp.s) * pp.rows + u) * pp.len + v / pp.s;
          for (int i = i0; i <= i1; ++i) {
            /* output positions [a, e) of row i lie in the block */
            const int a = i == i0 ? p0 - i * ow : 0, e = i == i1 ? p1 - i * ow : ow;
            const float *q = src + (size_t)(i - i0) * pp.s * pp.len;
            const ptrdiff_t o = (ptrdiff_t)i * ow - p0; /* row[o + j]; o may be < 0 */
#pragma omp simd
            for (int j = a; j < e; ++j) row[o + j] = q[j];
          }
        }
      }
    }
  }
}

void md_col2im_add(const md_conv_geom *g, const float *col, int ld, int nimg, int c0, int c1,
                   int p0, int p1, float *x, size_t x_stride, float *scratch) {
  const int ow = g->ow, w = p1 - p0, i0 = p0 / ow, i1 = (p1 - 1) / ow;
  const phase_plane pp = plane_for(g, i0, i1);
  const size_t plane_sz = (size_t)g->h * g->w;
  const size_t pp_sz = (size_t)pp.s * pp.rows * pp.len;
  for (int b = 0; b < nimg; ++b) {
    for (int c = c0; c < c1; ++c) {
      memset(scratch, 0, sizeof(float) * pp_sz);
      const float *row = col + (size_t)(c - c0) * g->kh * g->kw * ld + (size_t)b * w;
      for (int u = 0; u < g->kh; ++u) {
        for (int v = 0; v < g->kw; ++v, row += ld) {
          float *dst = scratch + ((size_t)(v % pp.s) * pp.rows + u) * pp.len + v / pp.s;
          for (int i = i0; i <= i1; ++i) {
            const int a = i == i0 ? p0 - i * ow : 0, e = i == i1 ? p1 - i * ow : ow;
            float *q = dst + (size_t)(i - i0) * pp.s * pp.len;
            const ptrdiff_t o = (ptrdiff_t)i * ow - p0;
#pragma omp simd
            for (int j = a; j < e; ++j) q[j] += row[o + j];
          }
        }
      }
      add_plane(g, &pp, scratch, x + b * x_stride + c * plane_sz);
    }
  }
}
