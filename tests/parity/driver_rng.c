/* Prints the first COUNT words of stream STREAM of seed SEED, one hex per line:
 *   driver_rng SEED STREAM COUNT */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "maxdrop/rng.h"

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: driver_rng SEED STREAM COUNT\n");
    return 2;
  }
  md_rng r;
  md_rng_init(&r, strtoull(argv[1], NULL, 0), strtoull(argv[2], NULL, 0));
  const long n = strtol(argv[3], NULL, 10);
  for (long i = 0; i < n; ++i) printf("%016" PRIx64 "\n", md_rng_u64(&r));
  return 0;
}
