/* OpenBLAS runs single-threaded inside maxdrop's OpenMP loops (blas_threads.h). */
#include "nn/blas_threads.h"

#include <cblas.h>

void md_blas_one_thread(void) {
  if (openblas_get_num_threads() != 1) openblas_set_num_threads(1);
}
