/* Winograd minimal-filtering transforms for 3x3 stride-1 convolutions
 * (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016):
 * F(2x2, 3x3) and F(4x4, 3x3).
 *
 * The output is cut into m x m tiles (m = 2 or 4); tile (ti, tj) reads the
 * a x a input window (a = m + 2) whose top-left corner is
 * (m*ti - pad, m*tj - pad). A tile of y is
 *
 *   A^T [ sum over c of (G w G^T) .* (B^T d B) ] A
 *
 * a*a element-wise products, i.e. a*a GEMMs over the channels, one per
 * transform point xi = a*i + k. The gradients go through the same linear maps
 * transposed:
 *   Z  = A dy A^T                       (a x a from an m x m tile of dy)
 *   dV = sum over o of U .* Z,   dx window += B dV B^T
 *   dU = sum over tiles of V .* Z,   dw += G^T dU G
 *
 * F(2x2, 3x3) uses the interpolation points 0, 1, -1 (and infinity): its
 * matrices hold only 0, +-1, +-1/2 and it is as accurate as the direct sum.
 * F(4x4, 3x3) uses 0, 1, -1, 1/2, -2, which keeps its float32 error near
 * 1e-6 relative (the points 0, +-1, +-2 give about three times more); it does
 * 4 times fewer multiplications than the direct sum (F(2x2): 2.25 times).
 *
 * Transformed data is laid out by transform point first: entry xi of tile t
 * of a channel lives at v[xi * xi_stride + t]. The functions below work on
 * the tile rows [tr0, tr1) of one channel plane; tiles are numbered
 * (tr - tr0) * TW + tj. */
#ifndef MD_NN_WINOGRAD_H
#define MD_NN_WINOGRAD_H

#include <stddef.h>

typedef struct md_wino_geom {
  int m;        /* output tile size: 2 or 4; a = m + 2, a*a transform points */
  int h, w;     /* input plane */
  int pad;      /* zero padding on every side */
  int oh, ow;   /* output plane: h + 2*pad - 2, w + 2*pad - 2 */
  int th, tw;   /* tiles: ceil(oh / m), ceil(ow / m) */
} md_wino_geom;

/* Fills th and tw from m, oh, ow. */
void md_wino_geom_tiles(md_wino_geom *g);

/* The input rows [*r0, *r1) that tile rows [tr0, tr1) read (within the plane). */
void md_wino_input_rows(const md_wino_geom *g, int tr0, int tr1, int *r0, int *r1);

/* Floats of scratch the transforms need for blocks of up to `rows` rows of tiles. */
size_t md_wino_scratch_floats(const md_wino_geom *g, int rows);

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

/* dx (H, W) += B dV B^T, each tile's window added where it lies inside the
 * plane, in a fixed order (window row, row of tiles, column). */
void md_wino_input_adjoint(const md_wino_geom *g, const float *dv, size_t xi_stride, int tr0,
                           int tr1, float *dx, float *scratch);

/* The weight transform for the kernels of one output channel: w holds c
 * kernels (c, 3, 3); u[xi * xi_stride + ci] = (G w[ci] G^T)[xi]. */
void md_wino_weights_row(const md_wino_geom *g, const float *w, int c, float *u,
                         size_t xi_stride);

/* Its adjoint: w[ci] (3x3) += G^T dU[ci] G, dU[ci] at du[xi * xi_stride + ci]
 * (summed in double). */
void md_wino_weights_row_adjoint(const md_wino_geom *g, const float *du, size_t xi_stride,
                                 int c, float *w);

/* Channels-last ("NHWC") variants, for small maps: the block's images are
 * first transposed to (H, W, C), so that every transform step is a vector
 * operation over channels. Tile t = b * TH*TW + ti * TW + tj of image b of the
 * block; transformed data at v[xi * xi_stride + t * ld + channel]. */

/* Floats of scratch the channels-last transforms need. */
size_t md_wino_nhwc_scratch_floats(const md_wino_geom *g);

/* V for channels [c0, c1) of nimg images xt (H, W, c_all), stored at
 * v[xi * xi_stride + t * (c1 - c0) + (c - c0)]. */
void md_wino_nhwc_input(const md_wino_geom *g, const float *xt, int c_all, int nimg, int c0,
                        int c1, float *v, size_t xi_stride, float *scratch);

/* yt (nimg x (OH, OW, oc)) = A^T M A + bias, M at m[xi * xi_stride + t * oc + o]. */
void md_wino_nhwc_output(const md_wino_geom *g, const float *m, size_t xi_stride, int oc,
                         int nimg, const float *bias, float *yt, float *scratch);

/* Z at z[xi * xi_stride + t * oc + o] from dyt (nimg x (OH, OW, oc)). */
void md_wino_nhwc_dy(const md_wino_geom *g, const float *dyt, int oc, int nimg, float *z,
                     size_t xi_stride, float *scratch);

/* dxt (nimg x (H, W, c)) += B dV B^T, dV at dv[xi * xi_stride + t * c + channel]. */
void md_wino_nhwc_input_adjoint(const md_wino_geom *g, const float *dv, size_t xi_stride,
                                int c, int nimg, float *dxt, float *scratch);

#endif
