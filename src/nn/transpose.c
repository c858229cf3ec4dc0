/* Channel-first <-> channel-last copies in 16 x 16 blocks (see transpose.h).
 * With AVX-512 a whole 16 x 16 block is transposed in registers (16 loads,
 * 64 shuffles, 16 stores); edge blocks and other CPUs take the scalar path.
 * Either way every value is copied (or added) exactly once, so both paths
 * give the same bits. */
#include "nn/transpose.h"

#include <stddef.h>

#include "nn/conv2d_epilogue.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

enum { MD_TB = 16 };

#if defined(__AVX512F__)
/* r[i] holds row i of a 16 x 16 block; on return r[j] holds column j. */
static inline void transpose16(__m512 r[16]) {
  __m512 u[4][4];
  for (int g = 0; g < 4; ++g) {
    const __m512 t0 = _mm512_unpacklo_ps(r[4 * g], r[4 * g + 1]);
    const __m512 t1 = _mm512_unpackhi_ps(r[4 * g], r[4 * g + 1]);
    const __m512 t2 = _mm512_unpacklo_ps(r[4 * g + 2], r[4 * g + 3]);
    const __m512 t3 = _mm512_unpackhi_ps(r[4 * g + 2], r[4 * g + 3]);
    /* u[g][j], lane l: column j + 4 l of rows 4 g .. 4 g + 3 */
    u[g][0] = _mm512_shuffle_ps(t0, t2, 0x44);
    u[g][1] = _mm512_shuffle_ps(t0, t2, 0xEE);
    u[g][2] = _mm512_shuffle_ps(t1, t3, 0x44);
    u[g][3] = _mm512_shuffle_ps(t1, t3, 0xEE);
  }
  for (int j = 0; j < 4; ++j) {
    /* lo[h]: columns j and j + 8 of rows 8 h .. 8 h + 7; hi[h]: j + 4, j + 12 */
    const __m512 lo0 = _mm512_shuffle_f32x4(u[0][j], u[1][j], 0x88);
    const __m512 hi0 = _mm512_shuffle_f32x4(u[0][j], u[1][j], 0xDD);
    const __m512 lo1 = _mm512_shuffle_f32x4(u[2][j], u[3][j], 0x88);
    const __m512 hi1 = _mm512_shuffle_f32x4(u[2][j], u[3][j], 0xDD);
    r[j] = _mm512_shuffle_f32x4(lo0, lo1, 0x88);
    r[j + 8] = _mm512_shuffle_f32x4(lo0, lo1, 0xDD);
    r[j + 4] = _mm512_shuffle_f32x4(hi0, hi1, 0x88);
    r[j + 12] = _mm512_shuffle_f32x4(hi0, hi1, 0xDD);
  }
}

/* dst[j * ds + i] (+)= src[i * ss + j] for a full 16 x 16 block. */
static inline void block16(const float *src, size_t ss, float *dst, size_t ds, int add) {
  __m512 r[16];
  for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(src + (size_t)i * ss);
  transpose16(r);
  for (int j = 0; j < 16; ++j) {
    float *d = dst + (size_t)j * ds;
    _mm512_storeu_ps(d, add ? _mm512_add_ps(_mm512_loadu_ps(d), r[j]) : r[j]);
  }
}
/* As block16 (add = 0) into y, then the output step: dst row j is channel
 * c + j; add_blk is the residual at dst (or NULL). Same operations, in the
 * same order, as md_conv_epilogue_value. */
static inline void block16_ep(const float *src, size_t ss, float *dst, size_t ds,
                              const md_conv_epilogue *ep, int c, const float *add_blk) {
  __m512 r[16];
  for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(src + (size_t)i * ss);
  transpose16(r);
  const __m512 zero = _mm512_setzero_ps();
  for (int j = 0; j < 16; ++j) {
    __m512 v = r[j];
    if (ep->scale)
      v = _mm512_add_ps(_mm512_mul_ps(_mm512_sub_ps(v, _mm512_set1_ps(ep->mean[c + j])),
                                      _mm512_set1_ps(ep->scale[c + j])),
                        _mm512_set1_ps(ep->shift[c + j]));
    if (add_blk) v = _mm512_add_ps(v, _mm512_loadu_ps(add_blk + (size_t)j * ds));
    if (ep->relu) v = _mm512_mask_mov_ps(v, _mm512_cmp_ps_mask(v, zero, _CMP_LT_OQ), zero);
    _mm512_storeu_ps(dst + (size_t)j * ds, v);
  }
}
#define MD_HAVE_BLOCK16 1
#else
#define MD_HAVE_BLOCK16 0
#endif

void md_to_channels_last(const float *x, int hw, int c0, int c1, float *xt) {
  const int cn = c1 - c0;
  for (int c = c0; c < c1; c += MD_TB) {
    const int ce = c + MD_TB < c1 ? c + MD_TB : c1;
    for (int p = 0; p < hw; p += MD_TB) {
      const int pe = p + MD_TB < hw ? p + MD_TB : hw;
#if MD_HAVE_BLOCK16
      if (ce - c == MD_TB && pe - p == MD_TB) {
        block16(x + (size_t)c * hw + p, (size_t)hw, xt + (size_t)p * cn + (c - c0), (size_t)cn,
                0);
        continue;
      }
#endif
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
#if MD_HAVE_BLOCK16
      if (ce - c == MD_TB && pe - p == MD_TB) {
        block16(yt + (size_t)p * cn + c, (size_t)cn, y + (size_t)c * hw + p, (size_t)hw, add);
        continue;
      }
#endif
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

void md_from_channels_last_ep(const float *yt, int cn, int hw, float *y,
                              const md_conv_epilogue *ep, const float *add_img) {
  const int affine = ep->scale != NULL;
  for (int c = 0; c < cn; c += MD_TB) {
    const int ce = c + MD_TB < cn ? c + MD_TB : cn;
    for (int p = 0; p < hw; p += MD_TB) {
      const int pe = p + MD_TB < hw ? p + MD_TB : hw;
#if MD_HAVE_BLOCK16
      if (ce - c == MD_TB && pe - p == MD_TB) {
        const size_t at = (size_t)c * hw + p;
        block16_ep(yt + (size_t)p * cn + c, (size_t)cn, y + at, (size_t)hw, ep, c,
                   add_img ? add_img + at : NULL);
        continue;
      }
#endif
      for (int k = c; k < ce; ++k) {
        const float mean = affine ? ep->mean[k] : 0.0f, scale = affine ? ep->scale[k] : 0.0f;
        const float shift = affine ? ep->shift[k] : 0.0f;
        for (int q = p; q < pe; ++q) {
          const size_t at = (size_t)k * hw + q;
          y[at] = md_conv_epilogue_value(yt[(size_t)q * cn + k], mean, scale, shift, affine,
                                         add_img ? add_img + at : NULL, ep->relu);
        }
      }
    }
  }
}
