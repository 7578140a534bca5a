// Umbrella header for OpenBLAS's CBLAS interface (Debian libopenblas-dev).
// pkg-config `openblas` puts its include directory first on the path.
#ifndef NNB_CBLAS_SHIM_H
#define NNB_CBLAS_SHIM_H
#include <cblas.h>
#endif
