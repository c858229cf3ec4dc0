/* im2col / col2im: the unfolded-patch matrix of images, for the GEMM
 * convolution kernels (src/nn/conv2d_*.c).
 *
 * For an image x (C, H, W) and a kernel k_h x k_w applied with `stride` and
 * `pad`, the im2col matrix has one row per (c, u, v) (row c*k_h*k_w + u*k_w +
 * v) and one column per output position p = i*OW + j; its entry is
 * x[c][i*stride - pad + u][j*stride - pad + v], or 0 outside the image.
 * These functions handle a block of it: the rows of channels [c0, c1) and the
 * columns of output positions [p0, p1), for `nimg` images side by side (image
 * b at x + b * x_stride, its columns at b * (p1 - p0) in the block; several
 * images only with p0 = 0 and p1 = OH*OW). */
#ifndef MD_NN_IM2COL_H
#define MD_NN_IM2COL_H

#include <stddef.h>

typedef struct md_conv_geom {
  int c, h, w;      /* input channels and size */
  int kh, kw;       /* kernel size */
  int stride, pad;  /* stride >= 1, pad >= 0 */
  int oh, ow;       /* output size */
} md_conv_geom;

/* col[(c - c0)*kh*kw + u*kw + v][b*(p1 - p0) + p - p0] = the entry above;
 * `ld` is the row stride of col. */
void md_im2col(const md_conv_geom *g, const float *x /* nimg x (C, H, W) */, size_t x_stride,
               int nimg, int c0, int c1, int p0, int p1, float *col, int ld);

/* The adjoint: adds every entry of the same block of col into the x element
 * it was read from (entries that fall in the padding are dropped). col is
 * scratch: the entries that fall in the padding may be overwritten with 0. */
void md_col2im_add(const md_conv_geom *g, float *col, int ld, int nimg, int c0, int c1,
                   int p0, int p1, float *x /* nimg x (C, H, W) */, size_t x_stride);

#endif
