/* Shared by the two halves of the Winograd convolution method
 * (conv2d_winograd_forward.c, conv2d_winograd_backward.c).
 *
 * A thread's workspace region holds, in this order: V (16 x in_c x tiles),
 * M or Z (16 x out_c x tiles), dU (16 x out_c x chunk_max), then the
 * transforms' scratch. Backward-data keeps dV where V goes. */
#ifndef MD_NN_CONV2D_WINOGRAD_H
#define MD_NN_CONV2D_WINOGRAD_H

#include <stddef.h>

#include "nn/conv2d_plan.h"

#define MD_WINO_V_OFFSET(pl) ((size_t)0)
#define MD_WINO_M_OFFSET(pl) ((size_t)16 * (size_t)(pl)->g.c * (size_t)(pl)->tiles)
#define MD_WINO_DU_OFFSET(pl) \
  ((size_t)16 * (size_t)((pl)->g.c + (pl)->oc) * (size_t)(pl)->tiles)
#define MD_WINO_SCRATCH_OFFSET(pl) \
  (MD_WINO_DU_OFFSET(pl) + (size_t)16 * (size_t)(pl)->oc * (size_t)(pl)->chunk_max)

/* U[xi][o][c] = (G w[o][c] G^T)[xi] for every kernel, in parallel over o,
 * into u (16 x out_c x in_c floats). */
void md_conv_wino_weights(const md_conv_plan *pl, const float *weight, float *u,
                          const float *ws, size_t ws_floats);

#endif
