/* Philox4x64-10 random streams (see maxdrop/rng.h). */
#include "maxdrop/rng.h"

#include <math.h>

#define PHILOX_M0 UINT64_C(0xD2E7470EE14C6C93)
#define PHILOX_M1 UINT64_C(0xCA5A826395121157)
#define PHILOX_W0 UINT64_C(0x9E3779B97F4A7C15)
#define PHILOX_W1 UINT64_C(0xBB67AE8584CAA73B)

static inline uint64_t mulhilo(uint64_t a, uint64_t b, uint64_t *hi) {
  __extension__ unsigned __int128 p = (unsigned __int128)a * b;
  *hi = (uint64_t)(p >> 64);
  return (uint64_t)p;
}

void md_philox4x64(const uint64_t ctr[4], const uint64_t key[2], uint64_t out[4]) {
  uint64_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
  uint64_t k0 = key[0], k1 = key[1];
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += PHILOX_W0;
      k1 += PHILOX_W1;
    }
    uint64_t hi0, hi1;
    uint64_t lo0 = mulhilo(PHILOX_M0, c0, &hi0);
    uint64_t lo1 = mulhilo(PHILOX_M1, c2, &hi1);
    uint64_t n0 = hi1 ^ c1 ^ k0;
    uint64_t n2 = hi0 ^ c3 ^ k1;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

void md_rng_init(md_rng *r, uint64_t seed, uint64_t stream) {
  r->key[0] = seed;
  r->key[1] = stream;
  r->block = 0;
  r->buf[0] = r->buf[1] = r->buf[2] = r->buf[3] = 0;
  r->pos = 4;
}

void md_rng_block(const md_rng *r, uint64_t block, uint64_t out[4]) {
  const uint64_t ctr[4] = {block, 0, 0, 0};
  md_philox4x64(ctr, r->key, out);
}

uint64_t md_rng_u64(md_rng *r) {
  if (r->pos >= 4) {
    md_rng_block(r, r->block, r->buf);
    r->block++;
    r->pos = 0;
  }
  return r->buf[r->pos++];
}

float md_rng_uniform(md_rng *r) { return md_u64_to_unit_float(md_rng_u64(r)); }

double md_rng_uniform_double(md_rng *r) {
  return (double)(md_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
}

uint64_t md_rng_below(md_rng *r, uint64_t n) {
  if (n <= 1) return 0;
  /* Rejection on the largest multiple of n that fits in 64 bits. */
  const uint64_t limit = UINT64_MAX - (UINT64_MAX % n + 1) % n;
  uint64_t x;
  do {
    x = md_rng_u64(r);
  } while (x > limit);
  return x % n;
}

double md_rng_normal(md_rng *r) {
  /* 1 - u lies in (0, 1], so the logarithm is finite. */
  const double u1 = 1.0 - md_rng_uniform_double(r);
  const double u2 = md_rng_uniform_double(r);
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

uint64_t md_rng_reserve(md_rng *r, uint64_t nblocks) {
  r->pos = 4;
  const uint64_t first = r->block;
  r->block += nblocks;
  return first;
}
