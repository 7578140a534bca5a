// glibc's malloc tuning (malloc.h is not part of Swift's Glibc module).
#ifndef NNB_MALLOC_SHIM_H
#define NNB_MALLOC_SHIM_H
#include <malloc.h>

/// Serves large blocks from the heap and keeps freed memory for reuse.
///
/// Every checkpoint save allocates and frees tens of MB; as fresh mmaps each
/// block costs a page fault per 4 KiB on first touch. Returns 1 on success.
static inline int nnb_keep_large_allocations(void) {
  return mallopt(M_MMAP_THRESHOLD, 256 << 20) == 1 && mallopt(M_TRIM_THRESHOLD, 512 << 20) == 1;
}
#endif
