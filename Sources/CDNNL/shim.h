// Umbrella header for oneDNN's C API (Debian libdnnl-dev, oneDNN 2.6) and the
// two OpenMP calls nnbatch needs. oneDNN has no pkg-config file in Debian;
// its headers live in /usr/include/oneapi/dnnl.
#ifndef NNB_CDNNL_SHIM_H
#define NNB_CDNNL_SHIM_H
#include <stdint.h>
#include <oneapi/dnnl/dnnl.h>

// libgomp (which libdnnl links): Debian's oneDNN runs its primitives on
// OpenMP threads; the thread count is a per-thread setting (ICV).
int omp_get_max_threads(void);
void omp_set_num_threads(int num_threads);

// DNNL_ARG_* are macros of macros; Swift imports neither.
static inline int nnb_dnnl_arg_src(void) { return DNNL_ARG_SRC; }
static inline int nnb_dnnl_arg_weights(void) { return DNNL_ARG_WEIGHTS; }
static inline int nnb_dnnl_arg_bias(void) { return DNNL_ARG_BIAS; }
static inline int nnb_dnnl_arg_dst(void) { return DNNL_ARG_DST; }

// A 2-D memory descriptor [rows, columns] with element strides (dnnl_dims_t is
// a C array, which Swift sees as a 12-tuple).
static inline dnnl_status_t nnb_dnnl_md_2d(
    dnnl_memory_desc_t *md, int64_t rows, int64_t columns, int64_t row_stride,
    int64_t column_stride, dnnl_data_type_t type) {
  dnnl_dims_t dims = {rows, columns};
  dnnl_dims_t strides = {row_stride, column_stride};
  return dnnl_memory_desc_init_by_strides(md, 2, dims, type, strides);
}

// A 1-D bias descriptor broadcast over rows: [1, columns], dense.
static inline dnnl_status_t nnb_dnnl_md_bias(
    dnnl_memory_desc_t *md, int64_t columns, dnnl_data_type_t type) {
  dnnl_dims_t dims = {1, columns};
  dnnl_dims_t strides = {columns, 1};
  return dnnl_memory_desc_init_by_strides(md, 2, dims, type, strides);
}
#endif
