#include <stddef.h>
#include <cblas.h>

/* LAPACK's symmetric eigensolver (divide and conquer), from the LAPACK that OpenBLAS bundles.
   Fortran calling convention: every argument by reference, and the lengths of the two character
   arguments passed last (gfortran's hidden arguments). */
void ssyevd_(const char *jobz, const char *uplo, const int *n, float *a, const int *lda, float *w,
             float *work, const int *lwork, int *iwork, const int *liwork, int *info,
             size_t jobz_len, size_t uplo_len);
