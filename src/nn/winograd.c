/* Winograd F(2x2, 3x3) transforms (see winograd.h).
 *
 * Each transform is separable: a 1-D transform along the columns of every
 * image row, then one along the rows. The stride-2 tile grid is handled by
 * splitting rows into even and odd columns. The row-direction step runs over
 * all the tiles of a block at once (long loops that vectorise well): the
 * column-transformed rows are kept by parity of the row (scratch[k][parity]
 * [row / 2][tj]), so that for a fixed window row every tile's input is at the
 * same offset from the tile's index. */
#include "nn/winograd.h"

#include <string.h>


void md_wino_input_rows(const md_wino_geom *g, int tr0, int tr1, int *r0, int *r1) {
  int a = 2 * tr0 - g->pad, b = 2 * tr1 - g->pad + 2;
  if (a < 0) a = 0;
  if (b > g->h) b = g->h;
  if (b < a) b = a;
  *r0 = a;
  *r1 = b;
}

size_t md_wino_scratch_floats(const md_wino_geom *g, int rows) {
  return 12 * ((size_t)rows + 1) * (size_t)g->tw + 4 * (size_t)g->tw + 16;
}

/* The output tiles j whose two columns 2j - p and 2j + 1 - p both lie in
 * [0, w): [*lo, *hi), within [0, n). */
static void inner_pairs(int w, int p, int n, int *lo, int *hi) {
  int a = (p + 1) / 2;
  int b = w - 2 + p >= 0 ? (w - 2 + p) / 2 + 1 : 0;
  if (a > n) a = n;
  if (b > n) b = n;
  if (b < a) b = a;
  *lo = a;
  *hi = b;
}

/* e[j] = row[2j - p], o[j] = row[2j + 1 - p] for j in [0, n); 0 outside the row. */
static void split_row(const float *row, int w, int p, int n, float *e, float *o) {
  int lo, hi;
  inner_pairs(w, p, n, &lo, &hi);
  for (int j = 0; j < n; ++j) {
    if (j == lo) j = hi; /* the inner part below */
    if (j >= n) break;
    const int q = 2 * j - p;
    e[j] = q >= 0 && q < w ? row[q] : 0.0f;
    o[j] = q + 1 >= 0 && q + 1 < w ? row[q + 1] : 0.0f;
  }
#pragma omp simd
  for (int j = lo; j < hi; ++j) {
    e[j] = row[2 * j - p];
    o[j] = row[2 * j + 1 - p];
  }
}

/* row[2j - p] += e[j], row[2j + 1 - p] += o[j] for j in [0, n), where inside the row. */
static void merge_row_add(float *row, int w, int p, int n, const float *e, const float *o) {
  int lo, hi;
  inner_pairs(w, p, n, &lo, &hi);
  for (int j = 0; j < n; ++j) {
    if (j == lo) j = hi;
    if (j >= n) break;
    const int q = 2 * j - p;
    if (q >= 0 && q < w) row[q] += e[j];
    if (q + 1 >= 0 && q + 1 < w) row[q + 1] += o[j];
  }
#pragma omp simd
  for (int j = lo; j < hi; ++j) {
    row[2 * j - p] += e[j];
    row[2 * j + 1 - p] += o[j];
  }
}

void md_wino_input(const md_wino_geom *g, const float *x, int tr0, int tr1, float *v,
                   size_t xs, float *scratch) {
  const int tw = g->tw, p = g->pad, nb = tr1 - tr0, t_n = nb * tw;
  const size_t stride = (size_t)(nb + 1) * tw; /* one (k, parity) plane of rt */
  float *rt = scratch;                         /* 4 x 2 x (nb + 1) x tw */
  float *e = rt + 8 * stride, *o = e + (tw + 1);
  /* along the columns: rows 2*tr0 - p + q, q = 2*m + parity */
  for (int q = 0; q < 2 * nb + 2; ++q) {
    const int ih = 2 * tr0 - p + q;
    float *r0 = rt + (size_t)(0 * 2 + (q & 1)) * stride + (size_t)(q >> 1) * tw;
    float *r1 = rt + (size_t)(1 * 2 + (q & 1)) * stride + (size_t)(q >> 1) * tw;
    float *r2 = rt + (size_t)(2 * 2 + (q & 1)) * stride + (size_t)(q >> 1) * tw;
    float *r3 = rt + (size_t)(3 * 2 + (q & 1)) * stride + (size_t)(q >> 1) * tw;
    if (ih < 0 || ih >= g->h) {
      for (int j = 0; j < tw; ++j) r0[j] = r1[j] = r2[j] = r3[j] = 0.0f;
      continue;
    }
    split_row(x + (size_t)ih * g->w, g->w, p, tw + 1, e, o);
    /* t = B^T (d0, d1, d2, d3) with d = (e[j], o[j], e[j+1], o[j+1]) */
#pragma omp simd
    for (int j = 0; j < tw; ++j) {
      r0[j] = e[j] - e[j + 1];
      r1[j] = o[j] + e[j + 1];
      r2[j] = e[j + 1] - o[j];
      r3[j] = o[j] - o[j + 1];
    }
  }
  /* along the rows: window row l of tile t is rt[k][l & 1][t + (l >> 1) * tw] */
  for (int k = 0; k < 4; ++k) {
    const float *a0 = rt + (size_t)(k * 2 + 0) * stride, *a1 = rt + (size_t)(k * 2 + 1) * stride;
    const float *a2 = a0 + tw, *a3 = a1 + tw;
    float *v0 = v + (0 * 4 + k) * xs, *v1 = v + (1 * 4 + k) * xs;
    float *v2 = v + (2 * 4 + k) * xs, *v3 = v + (3 * 4 + k) * xs;
#pragma omp simd
    for (int t = 0; t < t_n; ++t) {
      v0[t] = a0[t] - a2[t];
      v1[t] = a1[t] + a2[t];
      v2[t] = a2[t] - a1[t];
      v3[t] = a1[t] - a3[t];
    }
  }
}

void md_wino_output(const md_wino_geom *g, const float *m, size_t xs, int tr0, int tr1,
                    float bias, float *y, float *scratch) {
  const int tw = g->tw, ow = g->ow, pairs = g->ow / 2, nb = tr1 - tr0, t_n = nb * tw;
  float *s = scratch;                      /* 8 x t_n: s[(k*2 + r) * t_n + t] */
  float *ye = s + 8 * (size_t)t_n;         /* 2 x t_n: even output columns, rows r */
  float *yo = ye + 2 * (size_t)t_n;        /* odd output columns */
  /* along the rows: (s0, s1) = A^T (m0, m1, m2, m3) */
  for (int k = 0; k < 4; ++k) {
    const float *m0 = m + (0 * 4 + k) * xs, *m1 = m + (1 * 4 + k) * xs;
    const float *m2 = m + (2 * 4 + k) * xs, *m3 = m + (3 * 4 + k) * xs;
    float *s0 = s + (size_t)(k * 2 + 0) * t_n, *s1 = s + (size_t)(k * 2 + 1) * t_n;
#pragma omp simd
    for (int t = 0; t < t_n; ++t) {
      s0[t] = m0[t] + m1[t] + m2[t];
      s1[t] = m1[t] - m2[t] - m3[t];
    }
  }
  /* along the columns */
  for (int r = 0; r < 2; ++r) {
    const float *a0 = s + (size_t)(0 * 2 + r) * t_n, *a1 = s + (size_t)(1 * 2 + r) * t_n;
    const float *a2 = s + (size_t)(2 * 2 + r) * t_n, *a3 = s + (size_t)(3 * 2 + r) * t_n;
    float *er = ye + (size_t)r * t_n, *or_ = yo + (size_t)r * t_n;
#pragma omp simd
    for (int t = 0; t < t_n; ++t) {
      er[t] = a0[t] + a1[t] + a2[t] + bias;
      or_[t] = a1[t] - a2[t] - a3[t] + bias;
    }
  }
  /* into output rows 2*ti + r, columns interleaved */
  for (int b = 0; b < nb; ++b)
    for (int r = 0; r < 2; ++r) {
      const int row = 2 * (tr0 + b) + r;
      if (row >= g->oh) break;
      const float *er = ye + (size_t)r * t_n + (size_t)b * tw;
      const float *or_ = yo + (size_t)r * t_n + (size_t)b * tw;
      float *out = y + (size_t)row * ow;
#pragma omp simd
      for (int j = 0; j < pairs; ++j) {
        out[2 * j] = er[j];
        out[2 * j + 1] = or_[j];
      }
      if (ow & 1) out[ow - 1] = er[tw - 1];
    }
}

void md_wino_dy(const md_wino_geom *g, const float *dy, int tr0, int tr1, float *z, size_t xs,
                float *scratch) {
  const int tw = g->tw, ow = g->ow, pairs = g->ow / 2, nb = tr1 - tr0, t_n = nb * tw;
  float *rt = scratch;                  /* 4 x 2 x t_n: rt[(k*2 + r) * t_n + t] */
  float *e = rt + 8 * (size_t)t_n, *o = e + tw;
  /* along the columns: A (e0, e1) = (e0, e0 + e1, e0 - e1, -e1), for dy rows 2*ti + r */
  for (int b = 0; b < nb; ++b)
    for (int r = 0; r < 2; ++r) {
      const int row = 2 * (tr0 + b) + r;
      float *r0 = rt + (size_t)(0 * 2 + r) * t_n + (size_t)b * tw;
      float *r1 = rt + (size_t)(1 * 2 + r) * t_n + (size_t)b * tw;
      float *r2 = rt + (size_t)(2 * 2 + r) * t_n + (size_t)b * tw;
      float *r3 = rt + (size_t)(3 * 2 + r) * t_n + (size_t)b * tw;
      if (row >= g->oh) {
        for (int j = 0; j < tw; ++j) r0[j] = r1[j] = r2[j] = r3[j] = 0.0f;
        continue;
      }
      const float *in = dy + (size_t)row * ow;
#pragma omp simd
      for (int j = 0; j < pairs; ++j) {
        e[j] = in[2 * j];
        o[j] = in[2 * j + 1];
      }
      if (ow & 1) {
        e[tw - 1] = in[ow - 1];
        o[tw - 1] = 0.0f;
      }
#pragma omp simd
      for (int j = 0; j < tw; ++j) {
        r0[j] = e[j];
        r1[j] = e[j] + o[j];
        r2[j] = e[j] - o[j];
        r3[j] = -o[j];
      }
    }
  /* along the rows, into Z[xi = 4*i + k] */
  for (int k = 0; k < 4; ++k) {
    const float *a0 = rt + (size_t)(k * 2 + 0) * t_n, *a1 = rt + (size_t)(k * 2 + 1) * t_n;
    float *z0 = z + (0 * 4 + k) * xs, *z1 = z + (1 * 4 + k) * xs;
    float *z2 = z + (2 * 4 + k) * xs, *z3 = z + (3 * 4 + k) * xs;
#pragma omp simd
    for (int t = 0; t < t_n; ++t) {
      z0[t] = a0[t];
      z1[t] = a0[t] + a1[t];
      z2[t] = a0[t] - a1[t];
      z3[t] = -a1[t];
    }
  }
}

void md_wino_input_adjoint(const md_wino_geom *g, const float *dv, size_t xs, int tr0,
                           int tr1, float *dx, float *scratch) {
  const int tw = g->tw, p = g->pad, nb = tr1 - tr0, t_n = nb * tw;
  float *c = scratch;                /* 4 x t_n: c[k * t_n + t], one window row l */
  float *d = c + 4 * (size_t)t_n;    /* 4 x t_n: d[l' * t_n + t] */
  float *ev = d + 4 * (size_t)t_n;   /* one dx row's contributions: columns 2j - p */
  float *od = ev + tw + 1;           /* columns 2j + 1 - p */
  for (int l = 0; l < 4; ++l) {
    /* along the rows: row l of B (v0, v1, v2, v3) =
     * (v0, v1 - v2 + v3, v1 + v2 - v0, -v3) */
    for (int k = 0; k < 4; ++k) {
      const float *v0 = dv + (0 * 4 + k) * xs, *v1 = dv + (1 * 4 + k) * xs;
      const float *v2 = dv + (2 * 4 + k) * xs, *v3 = dv + (3 * 4 + k) * xs;
      float *ck = c + (size_t)k * t_n;
      switch (l) {
        case 0:
#pragma omp simd
          for (int t = 0; t < t_n; ++t) ck[t] = v0[t];
          break;
        case 1:
#pragma omp simd
          for (int t = 0; t < t_n; ++t) ck[t] = v1[t] - v2[t] + v3[t];
          break;
        case 2:
#pragma omp simd
          for (int t = 0; t < t_n; ++t) ck[t] = v1[t] + v2[t] - v0[t];
          break;
        default:
#pragma omp simd
          for (int t = 0; t < t_n; ++t) ck[t] = -v3[t];
          break;
      }
    }
    /* along the columns, the same map */
    {
      const float *a0 = c, *a1 = c + t_n, *a2 = c + 2 * (size_t)t_n, *a3 = c + 3 * (size_t)t_n;
      float *d0 = d, *d1 = d + t_n, *d2 = d + 2 * (size_t)t_n, *d3 = d + 3 * (size_t)t_n;
#pragma omp simd
      for (int t = 0; t < t_n; ++t) {
        d0[t] = a0[t];
        d1[t] = a1[t] - a2[t] + a3[t];
        d2[t] = a1[t] + a2[t] - a0[t];
        d3[t] = -a3[t];
      }
    }
    /* window row l of every tile: tile j covers columns 2j - p .. 2j - p + 3,
     * so column 2j - p gets d0 of tile j and d2 of tile j - 1 */
    for (int b = 0; b < nb; ++b) {
      const int ih = 2 * (tr0 + b) - p + l;
      if (ih < 0 || ih >= g->h) continue;
      const float *d0 = d + (size_t)b * tw, *d1 = d0 + t_n, *d2 = d1 + t_n, *d3 = d2 + t_n;
      ev[0] = d0[0];
      od[0] = d1[0];
#pragma omp simd
      for (int j = 1; j < tw; ++j) {
        ev[j] = d0[j] + d2[j - 1];
        od[j] = d1[j] + d3[j - 1];
      }
      ev[tw] = d2[tw - 1];
      od[tw] = d3[tw - 1];
      merge_row_add(dx + (size_t)ih * g->w, g->w, p, tw + 1, ev, od);
    }
  }
}

/* 1-D: G (g0, g1, g2) = (g0, (g0 + g1 + g2)/2, (g0 - g1 + g2)/2, g2). */
void md_wino_weight(const float *w, float *u, size_t xs) {
  float t[4][3]; /* G w: 4 x 3 */
  for (int c = 0; c < 3; ++c) {
    const float g0 = w[0 * 3 + c], g1 = w[1 * 3 + c], g2 = w[2 * 3 + c];
    t[0][c] = g0;
    t[1][c] = 0.5f * (g0 + g1 + g2);
    t[2][c] = 0.5f * (g0 - g1 + g2);
    t[3][c] = g2;
  }
  for (int i = 0; i < 4; ++i) { /* (G w) G^T */
    const float g0 = t[i][0], g1 = t[i][1], g2 = t[i][2];
    u[(i * 4 + 0) * xs] = g0;
    u[(i * 4 + 1) * xs] = 0.5f * (g0 + g1 + g2);
    u[(i * 4 + 2) * xs] = 0.5f * (g0 - g1 + g2);
    u[(i * 4 + 3) * xs] = g2;
  }
}

/* 1-D: G^T (q0, q1, q2, q3) = (q0 + (q1 + q2)/2, (q1 - q2)/2, (q1 + q2)/2 + q3). */
void md_wino_weight_adjoint(const float *du, size_t xs, float *w) {
  float t[3][4]; /* G^T dU: 3 x 4 */
  for (int k = 0; k < 4; ++k) {
    const float q0 = du[(0 * 4 + k) * xs], q1 = du[(1 * 4 + k) * xs];
    const float q2 = du[(2 * 4 + k) * xs], q3 = du[(3 * 4 + k) * xs];
    t[0][k] = q0 + 0.5f * (q1 + q2);
    t[1][k] = 0.5f * (q1 - q2);
    t[2][k] = 0.5f * (q1 + q2) + q3;
  }
  for (int u = 0; u < 3; ++u) { /* (G^T dU) G */
    const float q0 = t[u][0], q1 = t[u][1], q2 = t[u][2], q3 = t[u][3];
    w[u * 3 + 0] += q0 + 0.5f * (q1 + q2);
    w[u * 3 + 1] += 0.5f * (q1 - q2);
    w[u * 3 + 2] += 0.5f * (q1 + q2) + q3;
  }
}
