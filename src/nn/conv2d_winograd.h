/* Shared by the two halves of the Winograd convolution method
 * (conv2d_winograd_forward.c, conv2d_winograd_backward.c).
 *
 * Workspace: the shared region holds U (forward and backward-data: the
 * transformed weights) or dU (backward-weight), npts x out_c x in_c floats,
 * laid out [xi][o][c]. A thread's region holds V (npts x in_c x tiles), then
 * M or Z (npts x out_c x tiles), then the transforms' scratch; backward-data keeps
 * dV where V goes. The channels-last kernels add two image blocks (input and
 * output side, images x H x W x channels). */
#ifndef MD_NN_CONV2D_WINOGRAD_H
#define MD_NN_CONV2D_WINOGRAD_H

#include <stddef.h>

#include "nn/conv2d_plan.h"

#define MD_WINO_V_OFFSET(pl) ((size_t)0)
#define MD_WINO_M_OFFSET(pl) ((size_t)(pl)->npts * (size_t)(pl)->g.c * (size_t)(pl)->tiles)
#define MD_WINO_SCRATCH_OFFSET(pl) \
  ((size_t)(pl)->npts * (size_t)((pl)->g.c + (pl)->oc) * (size_t)(pl)->tiles)
/* channels-last kernels only: two transposed image blocks */
#define MD_WINO_R1_OFFSET(pl) (MD_WINO_SCRATCH_OFFSET(pl) + (pl)->wscratch)
#define MD_WINO_R2_OFFSET(pl) (MD_WINO_R1_OFFSET(pl) + (pl)->nhwc_floats)

/* Asks for n floats from p to be brought into the cache (the transforms
 * prefetch the next channel plane while they work on one: each plane is a
 * new page, where the hardware prefetchers start cold). */
static inline void md_prefetch_floats(const float *p, size_t n) {
  for (size_t i = 0; i < n; i += 16) __builtin_prefetch(p + i, 0, 3);
}

/* U[xi][o][c] = (G w[o][c] G^T)[xi] for every kernel, in parallel over o,
 * into u (npts x out_c x in_c floats). */
void md_conv_wino_weights(const md_conv_plan *pl, const float *weight, float *u,
                          const float *ws, size_t ws_floats);

/* The channels-last kernels (conv2d_winograd_nhwc_*.c). */
struct md_conv_epilogue;
void md_conv_winograd_nhwc_forward(const md_conv_plan *pl, const float *x, const float *u,
                                   const float *bias, const struct md_conv_epilogue *ep,
                                   float *y, float *ws, size_t ws_floats);
void md_conv_winograd_nhwc_dx(const md_conv_plan *pl, const float *u, const float *dy,
                              float *dx, float *ws, size_t ws_floats);
void md_conv_winograd_nhwc_du(const md_conv_plan *pl, const float *x, const float *dy,
                              float *du, float *ws, size_t ws_floats);

#endif
