/* The fused output step of the Conv2d forward (see conv2d_epilogue.h): the
 * row form used by the im2col and channel-first Winograd paths (the
 * channels-last path applies it while transposing, src/nn/transpose.c). */
#include "nn/conv2d_epilogue.h"

void md_conv_epilogue_row(const md_conv_epilogue *ep, int o, const float *src, float *dst,
                          const float *add_row, size_t n) {
  const int affine = ep->scale != NULL, relu = ep->relu;
  const float mean = affine ? ep->mean[o] : 0.0f, scale = affine ? ep->scale[o] : 0.0f;
  const float shift = affine ? ep->shift[o] : 0.0f;
  if (add_row) {
#pragma omp simd
    for (size_t j = 0; j < n; ++j)
      dst[j] = md_conv_epilogue_value(src[j], mean, scale, shift, affine, add_row + j, relu);
  } else {
#pragma omp simd
    for (size_t j = 0; j < n; ++j)
      dst[j] = md_conv_epilogue_value(src[j], mean, scale, shift, affine, NULL, relu);
  }
}
