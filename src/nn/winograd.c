/* Winograd F(2x2, 3x3) transforms (see winograd.h).
 *
 * Each transform is separable: a 1-D transform along the columns of every
 * input row of a row of tiles, then one along the rows. The loops run over
 * the tiles of a row (index tj), so that they vectorise; the stride-2 tile
 * grid is handled by splitting rows into even and odd columns. */
#include "nn/winograd.h"

#include <string.h>

size_t md_wino_scratch_floats(const md_wino_geom *g) { return 40 * ((size_t)g->tw + 2); }

void md_wino_input(const md_wino_geom *g, const float *x, int tr0, int tr1, float *v,
                   size_t xs, float *scratch) {
  const int tw = g->tw, p = g->pad, len = 2 * tw + 2;
  float *rb = scratch;          /* one input row at rb[q + p], zeros around it */
  float *e = rb + len;          /* 4 rows x (tw + 1): even columns 2j - p */
  float *o = e + 4 * (tw + 1);  /* odd columns 2j + 1 - p */
  float *r = o + 4 * (tw + 1);  /* 16 x tw: row-transformed, r[(k*4 + l) * tw + tj] */
  /* len >= w + 2*pad: the row and its padding always fit */
  memset(rb, 0, sizeof(float) * (size_t)len);
  for (int ti = tr0; ti < tr1; ++ti) {
    for (int l = 0; l < 4; ++l) {
      float *el = e + l * (tw + 1), *ol = o + l * (tw + 1);
      const int ih = 2 * ti - p + l;
      if (ih < 0 || ih >= g->h) {
        memset(el, 0, sizeof(float) * (size_t)(tw + 1));
        memset(ol, 0, sizeof(float) * (size_t)(tw + 1));
        continue;
      }
      memcpy(rb + p, x + (size_t)ih * g->w, sizeof(float) * (size_t)g->w);
      for (int j = 0; j <= tw; ++j) {
        el[j] = rb[2 * j];
        ol[j] = rb[2 * j + 1];
      }
    }
    /* along the columns: t = B^T (d0, d1, d2, d3) for each input row l */
    for (int l = 0; l < 4; ++l) {
      const float *el = e + l * (tw + 1), *ol = o + l * (tw + 1);
      float *r0 = r + (0 * 4 + l) * tw, *r1 = r + (1 * 4 + l) * tw;
      float *r2 = r + (2 * 4 + l) * tw, *r3 = r + (3 * 4 + l) * tw;
      for (int j = 0; j < tw; ++j) {
        r0[j] = el[j] - el[j + 1];
        r1[j] = ol[j] + el[j + 1];
        r2[j] = el[j + 1] - ol[j];
        r3[j] = ol[j] - ol[j + 1];
      }
    }
    /* along the rows, into V[xi = 4*i + k] */
    const size_t t0 = (size_t)(ti - tr0) * tw;
    for (int k = 0; k < 4; ++k) {
      const float *a0 = r + (k * 4 + 0) * tw, *a1 = r + (k * 4 + 1) * tw;
      const float *a2 = r + (k * 4 + 2) * tw, *a3 = r + (k * 4 + 3) * tw;
      float *v0 = v + (0 * 4 + k) * xs + t0, *v1 = v + (1 * 4 + k) * xs + t0;
      float *v2 = v + (2 * 4 + k) * xs + t0, *v3 = v + (3 * 4 + k) * xs + t0;
      for (int j = 0; j < tw; ++j) {
        v0[j] = a0[j] - a2[j];
        v1[j] = a1[j] + a2[j];
        v2[j] = a2[j] - a1[j];
        v3[j] = a1[j] - a3[j];
      }
    }
  }
}

void md_wino_output(const md_wino_geom *g, const float *m, size_t xs, int tr0, int tr1,
                    float bias, float *y, float *scratch) {
  const int tw = g->tw, ow = g->ow, pairs = g->ow / 2;
  float *s = scratch;          /* 8 x tw: s[(k*2 + r) * tw + tj] */
  float *ye = s + 8 * tw;      /* even output columns of one output row */
  float *yo = ye + tw;         /* odd output columns */
  for (int ti = tr0; ti < tr1; ++ti) {
    const size_t t0 = (size_t)(ti - tr0) * tw;
    /* along the rows: (s0, s1) = A^T (m0, m1, m2, m3) */
    for (int k = 0; k < 4; ++k) {
      const float *m0 = m + (0 * 4 + k) * xs + t0, *m1 = m + (1 * 4 + k) * xs + t0;
      const float *m2 = m + (2 * 4 + k) * xs + t0, *m3 = m + (3 * 4 + k) * xs + t0;
      float *s0 = s + (k * 2 + 0) * tw, *s1 = s + (k * 2 + 1) * tw;
      for (int j = 0; j < tw; ++j) {
        s0[j] = m0[j] + m1[j] + m2[j];
        s1[j] = m1[j] - m2[j] - m3[j];
      }
    }
    /* along the columns, into output rows 2*ti and 2*ti + 1 */
    for (int rr = 0; rr < 2; ++rr) {
      const int row = 2 * ti + rr;
      if (row >= g->oh) break;
      const float *a0 = s + (0 * 2 + rr) * tw, *a1 = s + (1 * 2 + rr) * tw;
      const float *a2 = s + (2 * 2 + rr) * tw, *a3 = s + (3 * 2 + rr) * tw;
      for (int j = 0; j < tw; ++j) {
        ye[j] = a0[j] + a1[j] + a2[j] + bias;
        yo[j] = a1[j] - a2[j] - a3[j] + bias;
      }
      float *out = y + (size_t)row * ow;
      for (int j = 0; j < pairs; ++j) {
        out[2 * j] = ye[j];
        out[2 * j + 1] = yo[j];
      }
      if (ow & 1) out[ow - 1] = ye[tw - 1];
    }
  }
}

void md_wino_dy(const md_wino_geom *g, const float *dy, int tr0, int tr1, float *z, size_t xs,
                float *scratch) {
  const int tw = g->tw, ow = g->ow, pairs = g->ow / 2;
  float *e = scratch;        /* 2 rows x tw: even columns of dy */
  float *o = e + 2 * tw;     /* odd columns */
  float *r = o + 2 * tw;     /* 8 x tw: r[(k*2 + rr) * tw + tj] */
  for (int ti = tr0; ti < tr1; ++ti) {
    for (int rr = 0; rr < 2; ++rr) {
      float *er = e + rr * tw, *or_ = o + rr * tw;
      const int row = 2 * ti + rr;
      if (row >= g->oh) {
        memset(er, 0, sizeof(float) * (size_t)tw);
        memset(or_, 0, sizeof(float) * (size_t)tw);
        continue;
      }
      const float *in = dy + (size_t)row * ow;
      for (int j = 0; j < pairs; ++j) {
        er[j] = in[2 * j];
        or_[j] = in[2 * j + 1];
      }
      if (ow & 1) {
        er[tw - 1] = in[ow - 1];
        or_[tw - 1] = 0.0f;
      }
    }
    /* along the columns: A (e0, e1) = (e0, e0 + e1, e0 - e1, -e1) */
    for (int rr = 0; rr < 2; ++rr) {
      const float *er = e + rr * tw, *or_ = o + rr * tw;
      float *r0 = r + (0 * 2 + rr) * tw, *r1 = r + (1 * 2 + rr) * tw;
      float *r2 = r + (2 * 2 + rr) * tw, *r3 = r + (3 * 2 + rr) * tw;
      for (int j = 0; j < tw; ++j) {
        r0[j] = er[j];
        r1[j] = er[j] + or_[j];
        r2[j] = er[j] - or_[j];
        r3[j] = -or_[j];
      }
    }
    /* along the rows, into Z[xi = 4*i + k] */
    const size_t t0 = (size_t)(ti - tr0) * tw;
    for (int k = 0; k < 4; ++k) {
      const float *a0 = r + (k * 2 + 0) * tw, *a1 = r + (k * 2 + 1) * tw;
      float *z0 = z + (0 * 4 + k) * xs + t0, *z1 = z + (1 * 4 + k) * xs + t0;
      float *z2 = z + (2 * 4 + k) * xs + t0, *z3 = z + (3 * 4 + k) * xs + t0;
      for (int j = 0; j < tw; ++j) {
        z0[j] = a0[j];
        z1[j] = a0[j] + a1[j];
        z2[j] = a0[j] - a1[j];
        z3[j] = -a1[j];
      }
    }
  }
}

void md_wino_input_adjoint(const md_wino_geom *g, const float *dv, size_t xs, int tr0,
                           int tr1, float *dx, float *scratch) {
  const int tw = g->tw, p = g->pad;
  float *c = scratch;            /* 16 x tw: c[(l*4 + k) * tw + tj], rows done */
  float *d = c + 16 * tw;        /* 16 x tw: d[(l*4 + l') * tw + tj], both done */
  float *rb = d + 16 * tw;       /* one dx row's contributions at rb[q + p] */
  for (int ti = tr0; ti < tr1; ++ti) {
    const size_t t0 = (size_t)(ti - tr0) * tw;
    /* along the rows: B (v0, v1, v2, v3) = (v0, v1 - v2 + v3, v1 + v2 - v0, -v3) */
    for (int k = 0; k < 4; ++k) {
      const float *v0 = dv + (0 * 4 + k) * xs + t0, *v1 = dv + (1 * 4 + k) * xs + t0;
      const float *v2 = dv + (2 * 4 + k) * xs + t0, *v3 = dv + (3 * 4 + k) * xs + t0;
      float *c0 = c + (0 * 4 + k) * tw, *c1 = c + (1 * 4 + k) * tw;
      float *c2 = c + (2 * 4 + k) * tw, *c3 = c + (3 * 4 + k) * tw;
      for (int j = 0; j < tw; ++j) {
        c0[j] = v0[j];
        c1[j] = v1[j] - v2[j] + v3[j];
        c2[j] = v1[j] + v2[j] - v0[j];
        c3[j] = -v3[j];
      }
    }
    /* along the columns */
    for (int l = 0; l < 4; ++l) {
      const float *a0 = c + (l * 4 + 0) * tw, *a1 = c + (l * 4 + 1) * tw;
      const float *a2 = c + (l * 4 + 2) * tw, *a3 = c + (l * 4 + 3) * tw;
      float *d0 = d + (l * 4 + 0) * tw, *d1 = d + (l * 4 + 1) * tw;
      float *d2 = d + (l * 4 + 2) * tw, *d3 = d + (l * 4 + 3) * tw;
      for (int j = 0; j < tw; ++j) {
        d0[j] = a0[j];
        d1[j] = a1[j] - a2[j] + a3[j];
        d2[j] = a1[j] + a2[j] - a0[j];
        d3[j] = -a3[j];
      }
    }
    /* window row l of every tile: tile j covers columns 2j - p .. 2j - p + 3,
     * so column 2j - p gets d0 of tile j and d2 of tile j - 1 */
    for (int l = 0; l < 4; ++l) {
      const int ih = 2 * ti - p + l;
      if (ih < 0 || ih >= g->h) continue;
      const float *d0 = d + (l * 4 + 0) * tw, *d1 = d + (l * 4 + 1) * tw;
      const float *d2 = d + (l * 4 + 2) * tw, *d3 = d + (l * 4 + 3) * tw;
      rb[0] = d0[0];
      rb[1] = d1[0];
      for (int j = 1; j < tw; ++j) {
        rb[2 * j] = d0[j] + d2[j - 1];
        rb[2 * j + 1] = d1[j] + d3[j - 1];
      }
      rb[2 * tw] = d2[tw - 1];
      rb[2 * tw + 1] = d3[tw - 1];
      float *row = dx + (size_t)ih * g->w;
      const float *src = rb + p;
      for (int q = 0; q < g->w; ++q) row[q] += src[q];
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
