/* Channel-first <-> channel-last copies in 16 x 16 blocks (see transpose.h). */
#include "nn/transpose.h"

#include <stddef.h>

enum { MD_TB = 16 };

void md_to_channels_last(const float *x, int hw, int c0, int c1, float *xt) {
  const int cn = c1 - c0;
  for (int c = c0; c < c1; c += MD_TB) {
    const int ce = c + MD_TB < c1 ? c + MD_TB : c1;
    for (int p = 0; p < hw; p += MD_TB) {
      const int pe = p + MD_TB < hw ? p + MD_TB : hw;
      for (int q = p; q < pe; ++q)
        for (int k = c; k < ce; ++k) xt[(size_t)q * cn + (k - c0)] = x[(size_t)k * hw + q];
    }
  }
}

void md_from_channels_last(const float *yt, int cn, int hw, float *y, int add) {
  for (int c = 0; c < cn; c += MD_TB) {
    const int ce = c + MD_TB < cn ? c + MD_TB : cn;
    for (int p = 0; p < hw; p += MD_TB) {
      const int pe = p + MD_TB < hw ? p + MD_TB : hw;
      for (int k = c; k < ce; ++k) {
        float *dst = y + (size_t)k * hw;
        if (add) {
          for (int q = p; q < pe; ++q) dst[q] += yt[(size_t)q * cn + k];
        } else {
          for (int q = p; q < pe; ++q) dst[q] = yt[(size_t)q * cn + k];
        }
      }
    }
  }
}
