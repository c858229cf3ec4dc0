/* Winograd F(2x2, 3x3) and F(4x4, 3x3) transforms (see winograd.h).
 *
 * Each transform is separable: a 1-D transform along the columns of every
 * image row, then one along the rows. The stride-m tile grid is handled by
 * splitting rows into m column phases (phase b holds columns m*j + b - pad),
 * so that tile j's window columns are phase[l % m][j + l / m]. The
 * row-direction step runs over all the tiles of a block at once (long loops
 * that vectorise): column-transformed rows are kept by row phase
 * (rt[k][row % m][row / m][tj]), so that for a fixed window row every tile's
 * input is at the same offset from the tile's index.
 *
 * The code is written once for a compile-time m (always-inlined into one
 * instance per tile size): the tables below then become constants. */
#include "nn/winograd.h"

#include <string.h>

#if defined(__GNUC__)
#define MD_INLINE static inline __attribute__((always_inline))
#else
#define MD_INLINE static inline
#endif

/* F(2x2, 3x3), points 0, 1, -1, infinity. */
static const float bt2[4][4] = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
static const double g2[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
static const float at2[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};

/* F(4x4, 3x3), points 0, 1, -1, 1/2, -2, infinity (B^T solved so that the
 * algorithm is exact; checked against the direct sum by the tests). */
static const float bt4[6][6] = {
    {1, -1.5f, -2, 1.5f, 1, 0},  {0, -1, 0.5f, 2.5f, 1, 0},   {0, 1, -2.5f, 0.5f, 1, 0},
    {0, -2, -1, 2, 1, 0},        {0, 0.5f, -1, -0.5f, 1, 0},  {0, 1, -1.5f, -2, 1.5f, 1}};
static const double g4[6][3] = {{1, 0, 0},
                                {1.0 / 3, 1.0 / 3, 1.0 / 3},
                                {-1.0 / 3, 1.0 / 3, -1.0 / 3},
                                {-16.0 / 15, -8.0 / 15, -4.0 / 15},
                                {1.0 / 15, -2.0 / 15, 4.0 / 15},
                                {0, 0, 1}};
static const float at4[4][6] = {
    {1, 1, 1, 1, 1, 0}, {0, 1, -1, 0.5f, -2, 0}, {0, 1, 1, 0.25f, 4, 0}, {0, 1, -1, 0.125f, -8, 1}};

#define BT(m, i, l) ((m) == 2 ? bt2[i][l] : bt4[i][l])
#define AT(m, r, i) ((m) == 2 ? at2[r][i] : at4[r][i])
#define GM(m, i, u) ((m) == 2 ? g2[i][u] : g4[i][u])

void md_wino_geom_tiles(md_wino_geom *g) {
  g->th = (g->oh + g->m - 1) / g->m;
  g->tw = (g->ow + g->m - 1) / g->m;
}

void md_wino_input_rows(const md_wino_geom *g, int tr0, int tr1, int *r0, int *r1) {
  int a = g->m * tr0 - g->pad, b = g->m * tr1 - g->pad + 2;
  if (a < 0) a = 0;
  if (b > g->h) b = g->h;
  if (b < a) b = a;
  *r0 = a;
  *r1 = b;
}

size_t md_wino_scratch_floats(const md_wino_geom *g, int rows) {
  const size_t m = (size_t)g->m, a = m + 2, tw = (size_t)g->tw, t = ((size_t)rows + 1) * tw;
  /* md_wino_input: a*m planes of t + m phases; md_wino_output: (m*a + m*m)
   * planes; md_wino_dy: a*m planes + m phases; adjoint: 2*a planes + m phases */
  return (a * m + m * m) * t + m * (tw + 2) + 16;
}

/* Tiles j whose columns m*j - p .. m*j - p + m - 1 all lie in [0, w): [*lo, *hi) within
 * [0, n). */
static void inner_tiles(int m, int w, int p, int n, int *lo, int *hi) {
  int a = (p + m - 1) / m;
  int b = w - m + p >= 0 ? (w - m + p) / m + 1 : 0;
  if (a > n) a = n;
  if (b > n) b = n;
  if (b < a) b = a;
  *lo = a;
  *hi = b;
}

/* ph[b * ld + j] = row[m*j + b - p] for j in [0, n), b in [0, m); 0 outside the row. */
MD_INLINE void split_row(int m, const float *row, int w, int p, int n, float *ph, int ld) {
  int lo, hi;
  inner_tiles(m, w, p, n, &lo, &hi);
  for (int j = 0; j < n; ++j) {
    if (j == lo) j = hi;
    if (j >= n) break;
    for (int b = 0; b < m; ++b) {
      const int q = m * j + b - p;
      ph[b * ld + j] = q >= 0 && q < w ? row[q] : 0.0f;
    }
  }
  for (int b = 0; b < m; ++b) {
    float *d = ph + b * ld;
#pragma omp simd
    for (int j = lo; j < hi; ++j) d[j] = row[m * j + b - p];
  }
}

/* row[m*j + b - p] += ph[b * ld + j] for j in [0, n), b in [0, m), inside the row. */
MD_INLINE void merge_row_add(int m, float *row, int w, int p, int n, const float *ph, int ld) {
  int lo, hi;
  inner_tiles(m, w, p, n, &lo, &hi);
  for (int j = 0; j < n; ++j) {
    if (j == lo) j = hi;
    if (j >= n) break;
    for (int b = 0; b < m; ++b) {
      const int q = m * j + b - p;
      if (q >= 0 && q < w) row[q] += ph[b * ld + j];
    }
  }
  for (int b = 0; b < m; ++b) {
    const float *s = ph + b * ld;
#pragma omp simd
    for (int j = lo; j < hi; ++j) row[m * j + b - p] += s[j];
  }
}

MD_INLINE void input_m(int m, const md_wino_geom *g, const float *x, int tr0, int tr1, float *v,
                       size_t xs, float *scratch) {
  const int a = m + 2, tw = g->tw, p = g->pad, nb = tr1 - tr0, t_n = nb * tw;
  const size_t stride = (size_t)(nb + 1) * tw; /* one (k, row phase) plane of rt */
  float *rt = scratch;                         /* a x m x (nb + 1) x tw */
  float *ph = rt + (size_t)a * m * stride;     /* m column phases of one row, tw + 1 each */
  const int ld = tw + 1;
  /* along the columns: relative rows q = m*mrow + phase, input row m*tr0 - p + q */
  for (int q = 0; q < m * nb + 2; ++q) {
    const int ih = m * tr0 - p + q;
    const size_t off = (size_t)(q % m) * stride + (size_t)(q / m) * tw;
    if (ih < 0 || ih >= g->h) {
      for (int k = 0; k < a; ++k) memset(rt + (size_t)k * m * stride + off, 0, sizeof(float) * tw);
      continue;
    }
    split_row(m, x + (size_t)ih * g->w, g->w, p, tw + 1, ph, ld);
    for (int k = 0; k < a; ++k) {
      float *r = rt + (size_t)k * m * stride + off;
#pragma omp simd
      for (int j = 0; j < tw; ++j) {
        float s = 0.0f;
        for (int l = 0; l < a; ++l) s += BT(m, k, l) * ph[(l % m) * ld + j + l / m];
        r[j] = s;
      }
    }
  }
  /* along the rows: window row l of tile t is rt[k][l % m][t + (l / m) * tw] */
  for (int i = 0; i < a; ++i)
    for (int k = 0; k < a; ++k) {
      const float *base = rt + (size_t)k * m * stride;
      float *out = v + (size_t)(i * a + k) * xs;
#pragma omp simd
      for (int t = 0; t < t_n; ++t) {
        float s = 0.0f;
        for (int l = 0; l < a; ++l)
          s += BT(m, i, l) * base[(size_t)(l % m) * stride + (l / m) * tw + t];
        out[t] = s;
      }
    }
}

MD_INLINE void output_m(int m, const md_wino_geom *g, const float *mm, size_t xs, int tr0,
                        int tr1, float bias, float *y, float *scratch) {
  const int a = m + 2, tw = g->tw, ow = g->ow, nb = tr1 - tr0, t_n = nb * tw;
  float *s = scratch;                     /* m x a x t_n: s[(r*a + k) * t_n + t] */
  float *yy = s + (size_t)m * a * t_n;    /* m x m x t_n: yy[(r*m + c) * t_n + t] */
  /* along the rows: s[r][k] = sum over i of A^T[r][i] M[i][k] */
  for (int r = 0; r < m; ++r)
    for (int k = 0; k < a; ++k) {
      float *o = s + (size_t)(r * a + k) * t_n;
#pragma omp simd
      for (int t = 0; t < t_n; ++t) {
        float acc = 0.0f;
        for (int i = 0; i < a; ++i) acc += AT(m, r, i) * mm[(size_t)(i * a + k) * xs + t];
        o[t] = acc;
      }
    }
  /* along the columns */
  for (int r = 0; r < m; ++r)
    for (int c = 0; c < m; ++c) {
      float *o = yy + (size_t)(r * m + c) * t_n;
      const float *sr = s + (size_t)r * a * t_n;
#pragma omp simd
      for (int t = 0; t < t_n; ++t) {
        float acc = bias;
        for (int k = 0; k < a; ++k) acc += AT(m, c, k) * sr[(size_t)k * t_n + t];
        o[t] = acc;
      }
    }
  /* into output rows m*ti + r, column phases interleaved */
  for (int b = 0; b < nb; ++b)
    for (int r = 0; r < m; ++r) {
      const int row = m * (tr0 + b) + r;
      if (row >= g->oh) break;
      float *out = y + (size_t)row * ow;
      const float *src = yy + (size_t)r * m * t_n + (size_t)b * tw;
      const int full = ow / m;
      for (int c = 0; c < m; ++c) {
        const float *sc = src + (size_t)c * t_n;
#pragma omp simd
        for (int j = 0; j < full; ++j) out[m * j + c] = sc[j];
      }
      for (int q = full * m; q < ow; ++q) out[q] = src[(size_t)(q - full * m) * t_n + full];
    }
}

MD_INLINE void dy_m(int m, const md_wino_geom *g, const float *dy, int tr0, int tr1, float *z,
                    size_t xs, float *scratch) {
  const int a = m + 2, tw = g->tw, ow = g->ow, nb = tr1 - tr0, t_n = nb * tw;
  float *rt = scratch;                   /* a x m x t_n: rt[(k*m + r) * t_n + t] */
  float *ph = rt + (size_t)a * m * t_n;  /* m column phases of one dy row, tw each */
  const int full = ow / m;
  /* along the columns: rt[k][r] = sum over s of A^T[s][k] dy[m*ti + r][m*tj + s] */
  for (int b = 0; b < nb; ++b)
    for (int r = 0; r < m; ++r) {
      const int row = m * (tr0 + b) + r;
      const size_t off = (size_t)r * t_n + (size_t)b * tw;
      if (row >= g->oh) {
        for (int k = 0; k < a; ++k) memset(rt + (size_t)k * m * t_n + off, 0, sizeof(float) * tw);
        continue;
      }
      const float *in = dy + (size_t)row * ow;
      for (int c = 0; c < m; ++c) {
        float *d = ph + (size_t)c * tw;
#pragma omp simd
        for (int j = 0; j < full; ++j) d[j] = in[m * j + c];
        for (int j = full; j < tw; ++j) d[j] = m * j + c < ow ? in[m * j + c] : 0.0f;
      }
      for (int k = 0; k < a; ++k) {
        float *o = rt + (size_t)k * m * t_n + off;
#pragma omp simd
        for (int j = 0; j < tw; ++j) {
          float acc = 0.0f;
          for (int c = 0; c < m; ++c) acc += AT(m, c, k) * ph[c * tw + j];
          o[j] = acc;
        }
      }
    }
  /* along the rows: Z[i][k] = sum over r of A^T[r][i] rt[k][r] */
  for (int i = 0; i < a; ++i)
    for (int k = 0; k < a; ++k) {
      const float *base = rt + (size_t)k * m * t_n;
      float *o = z + (size_t)(i * a + k) * xs;
#pragma omp simd
      for (int t = 0; t < t_n; ++t) {
        float acc = 0.0f;
        for (int r = 0; r < m; ++r) acc += AT(m, r, i) * base[(size_t)r * t_n + t];
        o[t] = acc;
      }
    }
}

MD_INLINE void input_adjoint_m(int m, const md_wino_geom *g, const float *dv, size_t xs,
                               int tr0, int tr1, float *dx, float *scratch) {
  const int a = m + 2, tw = g->tw, p = g->pad, nb = tr1 - tr0, t_n = nb * tw;
  float *c = scratch;                    /* a x t_n: one window row l, rows done */
  float *d = c + (size_t)a * t_n;        /* a x t_n: both directions done */
  float *ph = d + (size_t)a * t_n;       /* m column phases of one dx row, tw + 1 each */
  const int ld = tw + 1;
  for (int l = 0; l < a; ++l) {
    /* along the rows: c[k] = sum over i of B^T[i][l] dV[i][k] */
    for (int k = 0; k < a; ++k) {
      float *o = c + (size_t)k * t_n;
#pragma omp simd
      for (int t = 0; t < t_n; ++t) {
        float acc = 0.0f;
        for (int i = 0; i < a; ++i) acc += BT(m, i, l) * dv[(size_t)(i * a + k) * xs + t];
        o[t] = acc;
      }
    }
    /* along the columns: d[l'] = sum over k of B^T[k][l'] c[k] */
    for (int l2 = 0; l2 < a; ++l2) {
      float *o = d + (size_t)l2 * t_n;
#pragma omp simd
      for (int t = 0; t < t_n; ++t) {
        float acc = 0.0f;
        for (int k = 0; k < a; ++k) acc += BT(m, k, l2) * c[(size_t)k * t_n + t];
        o[t] = acc;
      }
    }
    /* window row l of each row of tiles: column m*j + b - p gets d[b] of
     * tile j and, for b < 2, d[b + m] of tile j - 1 */
    for (int bb = 0; bb < nb; ++bb) {
      const int ih = m * (tr0 + bb) - p + l;
      if (ih < 0 || ih >= g->h) continue;
      for (int b = 0; b < m; ++b) {
        const float *cur = d + (size_t)b * t_n + (size_t)bb * tw;
        float *o = ph + (size_t)b * ld;
        if (b + m < a) {
          const float *prev = d + (size_t)(b + m) * t_n + (size_t)bb * tw;
          o[0] = cur[0];
#pragma omp simd
          for (int j = 1; j < tw; ++j) o[j] = cur[j] + prev[j - 1];
          o[tw] = prev[tw - 1];
        } else {
#pragma omp simd
          for (int j = 0; j < tw; ++j) o[j] = cur[j];
          o[tw] = 0.0f;
        }
      }
      merge_row_add(m, dx + (size_t)ih * g->w, g->w, p, tw + 1, ph, ld);
    }
  }
}

void md_wino_input(const md_wino_geom *g, const float *x, int tr0, int tr1, float *v,
                   size_t xs, float *scratch) {
  if (g->m == 2) input_m(2, g, x, tr0, tr1, v, xs, scratch);
  else input_m(4, g, x, tr0, tr1, v, xs, scratch);
}

void md_wino_output(const md_wino_geom *g, const float *m, size_t xs, int tr0, int tr1,
                    float bias, float *y, float *scratch) {
  if (g->m == 2) output_m(2, g, m, xs, tr0, tr1, bias, y, scratch);
  else output_m(4, g, m, xs, tr0, tr1, bias, y, scratch);
}

void md_wino_dy(const md_wino_geom *g, const float *dy, int tr0, int tr1, float *z, size_t xs,
                float *scratch) {
  if (g->m == 2) dy_m(2, g, dy, tr0, tr1, z, xs, scratch);
  else dy_m(4, g, dy, tr0, tr1, z, xs, scratch);
}

void md_wino_input_adjoint(const md_wino_geom *g, const float *dv, size_t xs, int tr0,
                           int tr1, float *dx, float *scratch) {
  if (g->m == 2) input_adjoint_m(2, g, dv, xs, tr0, tr1, dx, scratch);
  else input_adjoint_m(4, g, dv, xs, tr0, tr1, dx, scratch);
}

/* coef[xi][3*u + v] = G[i][u] * G[k][v] for xi = a*i + k: the weight
 * transform as one 9 -> a*a matrix. */
static void weight_coefs(int m, double coef[36][9]) {
  const int a = m + 2;
  for (int i = 0; i < a; ++i)
    for (int k = 0; k < a; ++k)
      for (int u = 0; u < 3; ++u)
        for (int v = 0; v < 3; ++v) coef[i * a + k][3 * u + v] = GM(m, i, u) * GM(m, k, v);
}

enum { MD_WCB = 64 }; /* input channels per vector step of the weight transforms */

void md_wino_weights_row(const md_wino_geom *g, const float *w, int c, float *u, size_t xs) {
  const int np = (g->m + 2) * (g->m + 2);
  double coef[36][9];
  weight_coefs(g->m, coef);
  float cf[36][9];
  for (int xi = 0; xi < np; ++xi)
    for (int q = 0; q < 9; ++q) cf[xi][q] = (float)coef[xi][q];
  float tw[9][MD_WCB]; /* the kernels of MD_WCB channels, tap-major */
  for (int c0 = 0; c0 < c; c0 += MD_WCB) {
    const int n = c - c0 < MD_WCB ? c - c0 : MD_WCB;
    for (int j = 0; j < n; ++j)
      for (int q = 0; q < 9; ++q) tw[q][j] = w[(size_t)(c0 + j) * 9 + q];
    for (int xi = 0; xi < np; ++xi) {
      float *o = u + (size_t)xi * xs + c0;
#pragma omp simd
      for (int j = 0; j < n; ++j) {
        float s = 0.0f;
        for (int q = 0; q < 9; ++q) s += cf[xi][q] * tw[q][j];
        o[j] = s;
      }
    }
  }
}

void md_wino_weights_row_adjoint(const md_wino_geom *g, const float *du, size_t xs, int c,
                                 float *w) {
  const int np = (g->m + 2) * (g->m + 2);
  double coef[36][9];
  weight_coefs(g->m, coef);
  double acc[9][MD_WCB];
  for (int c0 = 0; c0 < c; c0 += MD_WCB) {
    const int n = c - c0 < MD_WCB ? c - c0 : MD_WCB;
    for (int q = 0; q < 9; ++q)
      for (int j = 0; j < n; ++j) acc[q][j] = 0.0;
    for (int xi = 0; xi < np; ++xi) {
      const float *d = du + (size_t)xi * xs + c0;
      for (int q = 0; q < 9; ++q) {
        const double cq = coef[xi][q];
        double *aq = acc[q];
#pragma omp simd
        for (int j = 0; j < n; ++j) aq[j] += cq * (double)d[j];
      }
    }
    for (int j = 0; j < n; ++j)
      for (int q = 0; q < 9; ++q) w[(size_t)(c0 + j) * 9 + q] += (float)acc[q][j];
  }
}
