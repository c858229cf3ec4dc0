/* Winograd F(2x2, 3x3) transforms (Lavin & Gray, "Fast Algorithms for
 * Convolutional Neural Networks", 2016), for 3x3 stride-1 convolutions.
 *
 * The output is cut into 2x2 tiles; tile (ti, tj) reads the 4x4 input window
 * whose top-left corner is (2*ti - pad, 2*tj - pad). With
 *
 *   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
 *   G   = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
 *   A^T = [1 1 1 0; 0 1 -1 -1]
 *
 * a tile of y is A^T [ sum over c of (G w G^T) .* (B^T d B) ] A: sixteen
 * element-wise products, i.e. sixteen GEMMs over the channels, one per
 * transform point xi = 4*i + k. The gradients go through the same linear
 * maps transposed:
 *   Z  = A dy A^T                    (4x4 from a 2x2 tile of dy)
 *   dV = sum over o of U .* Z,  dx window += B dV B^T
 *   dU = sum over tiles of V .* Z,  dw += G^T dU G
 *
 * Transformed data is laid out by transform point first: entry xi of tile t
 * of a channel lives at v[xi * xi_stride + t]. The functions below work on
 * the tile rows [tr0, tr1) of one channel plane; tiles are numbered
 * (tr - tr0) * TW + tj. All transforms are exact in binary floating point
 * except for the rounding of the additions (the only constants are 1 and
 * 1/2). */
#ifndef MD_NN_WINOGRAD_H
#define MD_NN_WINOGRAD_H

#include <stddef.h>

typedef struct md_wino_geom {
  int h, w;     /* input plane */
  int pad;      /* zero padding on every side */
  int oh, ow;   /* output plane: h + 2*pad - 2, w + 2*pad - 2 */
  int th, tw;   /* tiles: ceil(oh / 2), ceil(ow / 2) */
} md_wino_geom;

/* Floats of scratch the row transforms need (a few rows of tiles). */
size_t md_wino_scratch_floats(const md_wino_geom *g);

/* V = B^T d B for the tiles of rows [tr0, tr1) of input plane x (H, W). */
void md_wino_input(const md_wino_geom *g, const float *x, int tr0, int tr1, float *v,
                   size_t xi_stride, float *scratch);

/* y (OH, OW) = A^T M A + bias over the tiles of rows [tr0, tr1); positions
 * beyond OH or OW are dropped. */
void md_wino_output(const md_wino_geom *g, const float *m, size_t xi_stride, int tr0, int tr1,
                    float bias, float *y, float *scratch);

/* Z = A dy A^T for the tiles of rows [tr0, tr1) of dy (OH, OW) (zeros
 * beyond its edges). */
void md_wino_dy(const md_wino_geom *g, const float *dy, int tr0, int tr1, float *z,
                size_t xi_stride, float *scratch);

/* dx (H, W) += B dV B^T, each tile's 4x4 window added where it lies inside
 * the plane; tiles in order, rows top to bottom. */
void md_wino_input_adjoint(const md_wino_geom *g, const float *dv, size_t xi_stride, int tr0,
                           int tr1, float *dx, float *scratch);

/* u[xi * xi_stride] = (G w G^T)[xi] for one 3x3 kernel w. */
void md_wino_weight(const float *w, float *u, size_t xi_stride);

/* w (3x3) += G^T dU G for one kernel. */
void md_wino_weight_adjoint(const float *du, size_t xi_stride, float *w);

#endif
