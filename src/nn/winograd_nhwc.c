/* Winograd F(2x2, 3x3) and F(4x4, 3x3) transforms on channels-last blocks
 * (see winograd.h): every step is a vector operation over up to MD_CB
 * channels of one tile, which suits small maps (few tiles per image, many
 * channels). Same matrices as winograd.c. */
#include <string.h>

#include "nn/winograd.h"

#if defined(__GNUC__)
#define MD_INLINE static inline __attribute__((always_inline))
#else
#define MD_INLINE static inline
#endif

enum { MD_CB = 64 }; /* channels per vector step */

static const float bt2[4][4] = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
static const float at2[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};
static const float bt4[6][6] = {
    {1, -1.5f, -2, 1.5f, 1, 0},  {0, -1, 0.5f, 2.5f, 1, 0},   {0, 1, -2.5f, 0.5f, 1, 0},
    {0, -2, -1, 2, 1, 0},        {0, 0.5f, -1, -0.5f, 1, 0},  {0, 1, -1.5f, -2, 1.5f, 1}};
static const float at4[4][6] = {
    {1, 1, 1, 1, 1, 0}, {0, 1, -1, 0.5f, -2, 0}, {0, 1, 1, 0.25f, 4, 0}, {0, 1, -1, 0.125f, -8, 1}};

#define BT(m, i, l) ((m) == 2 ? bt2[i][l] : bt4[i][l])
#define AT(m, r, i) ((m) == 2 ? at2[r][i] : at4[r][i])

size_t md_wino_nhwc_scratch_floats(const md_wino_geom *g) {
  const size_t a = (size_t)g->m + 2;
  return (a * a + 1) * MD_CB;
}

MD_INLINE void input_m(int m, const md_wino_geom *g, const float *xt, int c_all, int nimg,
                       int c0, int c1, float *v, size_t xs, float *scratch) {
  const int a = m + 2, p = g->pad, tpi = g->th * g->tw, cc = c1 - c0;
  float *zero = scratch;       /* MD_CB zeros: the padding */
  float *r = zero + MD_CB;     /* a x a x MD_CB: r[(l*a + k) * MD_CB + q] */
  memset(zero, 0, sizeof(float) * MD_CB);
  const float *d[6][6];
  for (int b = 0; b < nimg; ++b)
    for (int ti = 0; ti < g->th; ++ti)
      for (int tj = 0; tj < g->tw; ++tj) {
        const size_t t = (size_t)b * tpi + (size_t)ti * g->tw + tj;
        for (int cb = c0; cb < c1; cb += MD_CB) {
          const int n = c1 - cb < MD_CB ? c1 - cb : MD_CB;
          for (int l = 0; l < a; ++l)
            for (int l2 = 0; l2 < a; ++l2) {
              const int ih = m * ti - p + l, iw = m * tj - p + l2;
              d[l][l2] = ih >= 0 && ih < g->h && iw >= 0 && iw < g->w
                             ? xt + (((size_t)b * g->h + ih) * g->w + iw) * c_all + cb
                             : zero;
            }
          /* along the columns: r[l][k] = sum over l2 of B^T[k][l2] d[l][l2] */
          for (int l = 0; l < a; ++l)
            for (int k = 0; k < a; ++k) {
              float *o = r + (size_t)(l * a + k) * MD_CB;
#pragma omp simd
              for (int q = 0; q < n; ++q) {
                float s = 0.0f;
                for (int l2 = 0; l2 < a; ++l2) s += BT(m, k, l2) * d[l][l2][q];
                o[q] = s;
              }
            }
          /* along the rows: V[i][k] = sum over l of B^T[i][l] r[l][k] */
          for (int i = 0; i < a; ++i)
            for (int k = 0; k < a; ++k) {
              float *o = v + (size_t)(i * a + k) * xs + t * cc + (cb - c0);
#pragma omp simd
              for (int q = 0; q < n; ++q) {
                float s = 0.0f;
                for (int l = 0; l < a; ++l) s += BT(m, i, l) * r[(size_t)(l * a + k) * MD_CB + q];
                o[q] = s;
              }
            }
        }
      }
}

MD_INLINE void output_m(int m, const md_wino_geom *g, const float *mm, size_t xs, int oc,
                        int nimg, const float *bias, float *yt, float *scratch) {
  const int a = m + 2, tpi = g->th * g->tw;
  float *zero = scratch;
  float *s = zero + MD_CB; /* m x a x MD_CB */
  memset(zero, 0, sizeof(float) * MD_CB);
  for (int b = 0; b < nimg; ++b)
    for (int ti = 0; ti < g->th; ++ti)
      for (int tj = 0; tj < g->tw; ++tj) {
        const size_t t = (size_t)b * tpi + (size_t)ti * g->tw + tj;
        for (int ob = 0; ob < oc; ob += MD_CB) {
          const int n = oc - ob < MD_CB ? oc - ob : MD_CB;
          const float *bb = bias ? bias + ob : zero;
          for (int r = 0; r < m; ++r)
            for (int k = 0; k < a; ++k) {
              float *o = s + (size_t)(r * a + k) * MD_CB;
#pragma omp simd
              for (int q = 0; q < n; ++q) {
                float acc = 0.0f;
                for (int i = 0; i < a; ++i)
                  acc += AT(m, r, i) * mm[(size_t)(i * a + k) * xs + t * oc + ob + q];
                o[q] = acc;
              }
            }
          for (int r = 0; r < m; ++r) {
            const int oh = m * ti + r;
            if (oh >= g->oh) break;
            for (int c = 0; c < m; ++c) {
              const int ow = m * tj + c;
              if (ow >= g->ow) break;
              float *o = yt + (((size_t)b * g->oh + oh) * g->ow + ow) * oc + ob;
#pragma omp simd
              for (int q = 0; q < n; ++q) {
                float acc = bb[q];
                for (int k = 0; k < a; ++k) acc += AT(m, c, k) * s[(size_t)(r * a + k) * MD_CB + q];
                o[q] = acc;
              }
            }
          }
        }
      }
}

MD_INLINE void dy_m(int m, const md_wino_geom *g, const float *dyt, int oc, int nimg, float *z,
                    size_t xs, float *scratch) {
  const int a = m + 2, tpi = g->th * g->tw;
  float *zero = scratch;
  float *rt = zero + MD_CB; /* m x a x MD_CB: rt[(r*a + k) * MD_CB + q] */
  memset(zero, 0, sizeof(float) * MD_CB);
  const float *e[4][4];
  for (int b = 0; b < nimg; ++b)
    for (int ti = 0; ti < g->th; ++ti)
      for (int tj = 0; tj < g->tw; ++tj) {
        const size_t t = (size_t)b * tpi + (size_t)ti * g->tw + tj;
        for (int ob = 0; ob < oc; ob += MD_CB) {
          const int n = oc - ob < MD_CB ? oc - ob : MD_CB;
          for (int r = 0; r < m; ++r)
            for (int c = 0; c < m; ++c) {
              const int oh = m * ti + r, ow = m * tj + c;
              e[r][c] = oh < g->oh && ow < g->ow
                            ? dyt + (((size_t)b * g->oh + oh) * g->ow + ow) * oc + ob
                            : zero;
            }
          /* along the columns: rt[r][k] = sum over c of A^T[c][k] dy[r][c] */
          for (int r = 0; r < m; ++r)
            for (int k = 0; k < a; ++k) {
              float *o = rt + (size_t)(r * a + k) * MD_CB;
#pragma omp simd
              for (int q = 0; q < n; ++q) {
                float acc = 0.0f;
                for (int c = 0; c < m; ++c) acc += AT(m, c, k) * e[r][c][q];
                o[q] = acc;
              }
            }
          /* along the rows: Z[i][k] = sum over r of A^T[r][i] rt[r][k] */
          for (int i = 0; i < a; ++i)
            for (int k = 0; k < a; ++k) {
              float *o = z + (size_t)(i * a + k) * xs + t * oc + ob;
#pragma omp simd
              for (int q = 0; q < n; ++q) {
                float acc = 0.0f;
                for (int r = 0; r < m; ++r)
                  acc += AT(m, r, i) * rt[(size_t)(r * a + k) * MD_CB + q];
                o[q] = acc;
              }
            }
        }
      }
}

MD_INLINE void input_adjoint_m(int m, const md_wino_geom *g, const float *dv, size_t xs, int c,
                               int nimg, float *dxt, float *scratch) {
  const int a = m + 2, p = g->pad, tpi = g->th * g->tw;
  float *cr = scratch + MD_CB; /* a x a x MD_CB: cr[(l*a + k) * MD_CB + q] */
  for (int b = 0; b < nimg; ++b)
    for (int ti = 0; ti < g->th; ++ti)
      for (int tj = 0; tj < g->tw; ++tj) {
        const size_t t = (size_t)b * tpi + (size_t)ti * g->tw + tj;
        for (int cb = 0; cb < c; cb += MD_CB) {
          const int n = c - cb < MD_CB ? c - cb : MD_CB;
          /* along the rows: cr[l][k] = sum over i of B^T[i][l] dV[i][k] */
          for (int l = 0; l < a; ++l)
            for (int k = 0; k < a; ++k) {
              float *o = cr + (size_t)(l * a + k) * MD_CB;
#pragma omp simd
              for (int q = 0; q < n; ++q) {
                float acc = 0.0f;
                for (int i = 0; i < a; ++i)
                  acc += BT(m, i, l) * dv[(size_t)(i * a + k) * xs + t * c + cb + q];
                o[q] = acc;
              }
            }
          /* along the columns, added into the window */
          for (int l = 0; l < a; ++l) {
            const int ih = m * ti - p + l;
            if (ih < 0 || ih >= g->h) continue;
            for (int l2 = 0; l2 < a; ++l2) {
              const int iw = m * tj - p + l2;
              if (iw < 0 || iw >= g->w) continue;
              float *o = dxt + (((size_t)b * g->h + ih) * g->w + iw) * c + cb;
#pragma omp simd
              for (int q = 0; q < n; ++q) {
                float acc = 0.0f;
                for (int k = 0; k < a; ++k)
                  acc += BT(m, k, l2) * cr[(size_t)(l * a + k) * MD_CB + q];
                o[q] += acc;
              }
            }
          }
        }
      }
}

void md_wino_nhwc_input(const md_wino_geom *g, const float *xt, int c_all, int nimg, int c0,
                        int c1, float *v, size_t xs, float *scratch) {
  if (g->m == 2) input_m(2, g, xt, c_all, nimg, c0, c1, v, xs, scratch);
  else input_m(4, g, xt, c_all, nimg, c0, c1, v, xs, scratch);
}

void md_wino_nhwc_output(const md_wino_geom *g, const float *m, size_t xs, int oc, int nimg,
                         const float *bias, float *yt, float *scratch) {
  if (g->m == 2) output_m(2, g, m, xs, oc, nimg, bias, yt, scratch);
  else output_m(4, g, m, xs, oc, nimg, bias, yt, scratch);
}

void md_wino_nhwc_dy(const md_wino_geom *g, const float *dyt, int oc, int nimg, float *z,
                     size_t xs, float *scratch) {
  if (g->m == 2) dy_m(2, g, dyt, oc, nimg, z, xs, scratch);
  else dy_m(4, g, dyt, oc, nimg, z, xs, scratch);
}

void md_wino_nhwc_input_adjoint(const md_wino_geom *g, const float *dv, size_t xs, int c,
                                int nimg, float *dxt, float *scratch) {
  if (g->m == 2) input_adjoint_m(2, g, dv, xs, c, nimg, dxt, scratch);
  else input_adjoint_m(4, g, dv, xs, c, nimg, dxt, scratch);
}
