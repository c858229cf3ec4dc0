/* maxdrop/blas.h - which OpenBLAS kernels the convolutions run on.
 *
 * OpenBLAS picks its kernels once, when the library is loaded, from the CPU
 * model it recognises. A CPU newer than the installed OpenBLAS (for example
 * Intel family 6 model 207 under Debian 12's OpenBLAS 0.3.21) is not
 * recognised and gets the generic "Prescott" (SSE3) kernels: SGEMM then
 * runs several times slower than the CPU allows. The kernels can only be
 * chosen before OpenBLAS loads, through the environment variable
 * OPENBLAS_CORETYPE; a program that embeds maxdrop can ask
 * md_blas_better_core() and, if it returns a name, set OPENBLAS_CORETYPE to
 * it and re-execute itself (the maxdrop command does this; MAXDROP_BLAS_AUTO=0
 * turns it off). */
#ifndef MAXDROP_BLAS_H
#define MAXDROP_BLAS_H

#include "maxdrop/api.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The kernel set OpenBLAS runs with in this process ("SkylakeX",
 * "Haswell", "Prescott", ...). */
MD_API const char *md_blas_core(void);

/* The kernel set OpenBLAS should be given through OPENBLAS_CORETYPE:
 * "SkylakeX" on a CPU (and OS) with AVX-512 F/CD/BW/DQ/VL when OpenBLAS
 * chose a set without AVX-512 (a CPU it does not know, or an AMD CPU it gives
 * its AVX2 "Zen" set); "Haswell" on one with AVX2 and FMA when OpenBLAS fell
 * back to a generic pre-AVX2 set; NULL when its own choice is as good (or
 * when OPENBLAS_CORETYPE is already set, which OpenBLAS obeys). */
MD_API const char *md_blas_better_core(void);

/* The decision behind md_blas_better_core(), for a given detected kernel
 * set and CPU features (non-zero = present); NULL = keep the detected one. */
MD_API const char *md_blas_core_choice(const char *detected, int has_avx512, int has_avx2_fma);

#ifdef __cplusplus
}
#endif

#endif
