/* Internal: operations on bit-packed keep-masks (bit i of word i / 64 set =
 * element i kept), shared by Dropout and MaxDropout. */
#ifndef MD_REG_MASKOPS_H
#define MD_REG_MASKOPS_H

#include <stdint.h>

/* Sets bits 0 .. n-1 and clears the unused high bits of the last word. */
void md_mask_set_all(uint64_t *mask, int64_t n);

/* Outputs of at least this many bytes, 64-byte aligned, are written with
 * non-temporal (streaming) stores where the CPU has them: they would not
 * stay in cache anyway, and streaming saves reading each line before it is
 * overwritten. */
#define MD_STREAM_MIN_BYTES ((int64_t)16 << 20)

/* Whether n floats at p should be written with streaming stores. */
int md_mask_should_stream(const float *p, int64_t n);

/* dx[i] = bit i ? dy[i] * scale : 0 for i < n (OpenMP; dx may be dy). With
 * scale == 1 the kept values are copied bit for bit. */
void md_mask_apply(const uint64_t *mask, int64_t n, const float *dy, float scale,
                   float *dx);

#endif
