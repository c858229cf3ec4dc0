/* maxdrop/conv2d.h - 2-D convolution (cross-correlation, as torch.nn.Conv2d).
 *
 *   y[n][o][i][j] = b[o] + sum over c, u, v of
 *                   w[o][c][u][v] * x[n][c][i*stride - pad + u][j*stride - pad + v]
 *
 * with x read as 0 outside the image. Buffers are flat NCHW float32:
 *   x  (N, in_c, H, W)            weight (out_c, in_c, k_h, k_w)
 *   y  (N, out_c, OH, OW)         bias   (out_c)
 *   OH = (H + 2*pad - k_h) / stride + 1,  OW = (W + 2*pad - k_w) / stride + 1
 * (integer division, as PyTorch). Any kernel size, stride and padding.
 *
 * Backward ACCUMULATES (+=) into dx, dweight and dbias: the caller zeroes the
 * gradients once per step. dx may be NULL (no input gradient: the first layer),
 * dweight may be NULL (frozen weight); dbias must be NULL when the layer has
 * no bias (and may be NULL when its gradient is not wanted).
 *
 * Nothing is allocated: scratch memory ("workspace") is given by the caller,
 * sized by md_conv2d_workspace_floats for the largest batch and the number of
 * threads it will run with. The kernels run on OpenMP threads (at most
 * omp_get_max_threads(), and no more than the workspace holds) with
 * single-threaded OpenBLAS GEMM calls inside; they set OpenBLAS to one thread.
 * The results do not depend on the number of threads: every output element is
 * summed in the same order whatever the split.
 *
 * Two algorithms, chosen from the shapes alone (never from the thread count):
 *  - Winograd F(2x2, 3x3) for 3x3 stride-1 kernels with at least 16 input and
 *    16 output channels and an output of at least 4x4: 2.25 times fewer
 *    multiplications, for forward, backward-data and backward-weight alike
 *    (src/nn/conv2d_winograd_*.c);
 *  - im2col + SGEMM otherwise, on tiles of output positions (part of one
 *    image, or a few whole images when the maps are small) so that scratch
 *    stays small; backward-data is a GEMM followed by col2im, backward-weight
 *    a GEMM accumulating over the tiles; 1x1 stride-1 convolutions skip
 *    im2col (src/nn/conv2d_im2col_*.c).
 * Both agree with the direct sum to float32 rounding (relative error ~1e-6).
 * md_conv2d_desc.algo can force one of them. */
#ifndef MAXDROP_CONV2D_H
#define MAXDROP_CONV2D_H

#include <stddef.h>
#include <stdint.h>

#include "maxdrop/api.h"
#include "maxdrop/status.h"
#include "maxdrop/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum md_conv2d_algo {
  MD_CONV2D_AUTO = 0,     /* Winograd where it applies, else im2col */
  MD_CONV2D_IM2COL = 1,   /* im2col + SGEMM for any shape */
  MD_CONV2D_WINOGRAD = 2  /* Winograd F(2x2, 3x3): 3x3 kernels, stride 1 only */
} md_conv2d_algo;

typedef struct md_conv2d_desc {
  int in_c, out_c;     /* channels, >= 1 */
  int k_h, k_w;        /* kernel height and width, >= 1 */
  int stride;          /* the same in both directions, >= 1 */
  int pad;             /* zeros added on every side, >= 0 */
  int has_bias;        /* 0 or 1 */
  md_conv2d_algo algo; /* 0 (auto) unless a test or benchmark forces one */
} md_conv2d_desc;

/* MD_ERR_INVALID_ARGUMENT (NULL, a field out of the ranges above, sizes whose
 * products overflow, or MD_CONV2D_WINOGRAD for a kernel that is not 3x3 with
 * stride 1). */
MD_API md_status md_conv2d_check(const md_conv2d_desc *d);

/* Output shape for an (N, in_c, H, W) input. MD_ERR_INVALID_ARGUMENT for a bad
 * descriptor; MD_ERR_SHAPE when in.c != in_c, a dimension is negative or too
 * large for int, or the kernel does not fit in the padded input (OH or OW
 * would be < 1); MD_ERR_EMPTY when N == 0 or H or W is 0. */
MD_API md_status md_conv2d_output_shape(const md_conv2d_desc *d, md_shape in,
                                        md_shape *out);

/* Number of weight elements, out_c * in_c * k_h * k_w (0 for a bad descriptor). */
MD_API int64_t md_conv2d_weight_numel(const md_conv2d_desc *d);

/* Workspace (in floats) that forward and backward need for inputs of shape
 * `in` (or any smaller batch) on up to `max_threads` threads (<= 0: the
 * current omp_get_max_threads()). Errors as md_conv2d_output_shape. */
MD_API md_status md_conv2d_workspace_floats(const md_conv2d_desc *d, md_shape in,
                                            int max_threads, size_t *floats);

/* Forward. x, weight, bias, y as described above; bias must be NULL exactly
 * when !d->has_bias. ws holds ws_floats floats of scratch; with less than one
 * thread's share (md_conv2d_workspace_floats with max_threads 1) the call
 * fails with MD_ERR_INVALID_ARGUMENT. Shape errors as md_conv2d_output_shape. */
MD_API md_status md_conv2d_forward(const md_conv2d_desc *d, md_shape in,
                                   const float *x,      /* (N, in_c, H, W) */
                                   const float *weight, /* (out_c, in_c, k_h, k_w) */
                                   const float *bias,   /* (out_c) or NULL */
                                   float *y,            /* (N, out_c, OH, OW) */
                                   float *ws, size_t ws_floats);

/* Backward: dx += dL/dx, dweight += dL/dweight, dbias += dL/dbias for
 * dy = dL/dy. x and weight are the forward's inputs (x is needed only for
 * dweight, weight only for dx). dbias must be NULL when the layer has no
 * bias; any gradient may be NULL when it is not wanted. */
MD_API md_status md_conv2d_backward(const md_conv2d_desc *d, md_shape in,
                                    const float *x,      /* (N, in_c, H, W) */
                                    const float *weight, /* (out_c, in_c, k_h, k_w) */
                                    const float *dy,     /* (N, out_c, OH, OW) */
                                    float *dx,           /* (N, in_c, H, W) or NULL */
                                    float *dweight,      /* (out_c, in_c, k_h, k_w) or NULL */
                                    float *dbias,        /* (out_c) or NULL */
                                    float *ws, size_t ws_floats);

#ifdef __cplusplus
}
#endif

#endif
