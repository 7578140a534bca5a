// Umbrella header for libspng (Debian libspng-dev, pkg-config `spng`): PNG images.
//
// libspng reports every error by return code, which Swift can check; classic
// libpng reports them by longjmp, which Swift cannot catch. Only
// NNBatchData/Sources/Images/PNGDecoder.swift imports this header.
#ifndef NNB_SPNG_SHIM_H
#define NNB_SPNG_SHIM_H
#include <spng.h>
#endif
