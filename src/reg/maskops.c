/* Bit-packed keep-mask operations (see maskops.h). */
#include "reg/maskops.h"

#include <string.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#elif defined(__SSE2__)
#include <emmintrin.h>
#endif

void md_mask_set_all(uint64_t *mask, int64_t n) {
  const int64_t words = (n + 63) / 64;
  if (words > 0) memset(mask, 0xff, (size_t)words * sizeof *mask);
  if (n & 63) mask[words - 1] = (UINT64_C(1) << (n & 63)) - 1;
}

int md_mask_should_stream(const float *p, int64_t n) {
#if defined(__AVX512F__)
  return n * (int64_t)sizeof *p >= MD_STREAM_MIN_BYTES && ((uintptr_t)p & 63u) == 0;
#else
  (void)p;
  (void)n;
  return 0;
#endif
}

/* One 64-element word: dx = bit ? dy * scale : 0. */
static inline void apply_word(uint64_t w, const float *dy, float scale, float *dx, int len,
                              int stream) {
#if defined(__AVX512F__)
  if (len == 64) {
    const __m512 s = _mm512_set1_ps(scale);
    for (int k = 0; k < 4; ++k) {
      const __mmask16 m = (__mmask16)(w >> (16 * k));
      const __m512 v = _mm512_loadu_ps(dy + 16 * k);
      const __m512 r = scale == 1.0f ? _mm512_maskz_mov_ps(m, v) : _mm512_maskz_mul_ps(m, v, s);
      if (stream)
        _mm512_stream_ps(dx + 16 * k, r);
      else
        _mm512_storeu_ps(dx + 16 * k, r);
    }
    return;
  }
#elif defined(__SSE2__)
  (void)stream;
  if (len == 64) {
    /* lane j of sel selects bit j of a nibble */
    const __m128i sel = _mm_set_epi32(8, 4, 2, 1);
    const __m128 s = _mm_set1_ps(scale);
    for (int k = 0; k < 16; ++k) {
      const __m128i nib = _mm_set1_epi32((int)((w >> (4 * k)) & 15u));
      const __m128 m = _mm_castsi128_ps(_mm_cmpeq_epi32(_mm_and_si128(nib, sel), sel));
      __m128 v = _mm_loadu_ps(dy + 4 * k);
      if (scale != 1.0f) v = _mm_mul_ps(v, s);
      _mm_storeu_ps(dx + 4 * k, _mm_and_ps(m, v));
    }
    return;
  }
#else
  (void)stream;
#endif
  for (int j = 0; j < len; ++j)
    dx[j] = ((w >> j) & 1u) ? (scale == 1.0f ? dy[j] : dy[j] * scale) : 0.0f;
}

void md_mask_apply(const uint64_t *mask, int64_t n, const float *dy, float scale,
                   float *dx) {
  const int64_t words = (n + 63) / 64;
  const int stream = md_mask_should_stream(dx, n);
#pragma omp parallel
  {
#pragma omp for schedule(static) nowait
    for (int64_t k = 0; k < words; ++k) {
      const int64_t i0 = k * 64;
      const int len = n - i0 < 64 ? (int)(n - i0) : 64;
      apply_word(mask[k], dy + i0, scale, dx + i0, len, stream);
    }
#if defined(__AVX512F__)
    if (stream) _mm_sfence(); /* streaming stores visible before the barrier */
#endif
  }
}
