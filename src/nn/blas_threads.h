/* OpenBLAS threading policy of the nn kernels.
 *
 * maxdrop threads with OpenMP and calls single-threaded SGEMMs from inside its
 * parallel loops (over tiles, images or weight chunks), so that the work split
 * and therefore the summation order are its own. OpenBLAS's pthread pool must
 * then stay out of the way: md_blas_one_thread() sets it to one thread (a
 * process-wide setting; a no-op when it already is). Call it before a parallel
 * region, never inside one. */
#ifndef MD_NN_BLAS_THREADS_H
#define MD_NN_BLAS_THREADS_H

void md_blas_one_thread(void);

#endif
