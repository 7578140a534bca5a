// Umbrella header for zlib (Debian zlib1g-dev): gzip-compressed IDX files.
#ifndef NNB_ZLIB_SHIM_H
#define NNB_ZLIB_SHIM_H
#include <zlib.h>
#endif
