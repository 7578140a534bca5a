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
static inline int nnb_dnnl_arg_diff_src(void) { return DNNL_ARG_DIFF_SRC; }
static inline int nnb_dnnl_arg_diff_weights(void) { return DNNL_ARG_DIFF_WEIGHTS; }
static inline int nnb_dnnl_arg_diff_bias(void) { return DNNL_ARG_DIFF_BIAS; }
static inline int nnb_dnnl_arg_diff_dst(void) { return DNNL_ARG_DIFF_DST; }
static inline int nnb_dnnl_arg_scratchpad(void) { return DNNL_ARG_SCRATCHPAD; }
static inline int nnb_dnnl_arg_from(void) { return DNNL_ARG_FROM; }
static inline int nnb_dnnl_arg_to(void) { return DNNL_ARG_TO; }

// A 4-D memory descriptor [d0, d1, d2, d3] in `tag`'s layout (dnnl_nchw,
// dnnl_oihw, or dnnl_format_tag_any to let a convolution choose a blocked one).
static inline dnnl_status_t nnb_dnnl_md_4d(
    dnnl_memory_desc_t *md, int64_t d0, int64_t d1, int64_t d2, int64_t d3,
    dnnl_format_tag_t tag) {
  dnnl_dims_t dims = {d0, d1, d2, d3};
  return dnnl_memory_desc_init_by_tag(md, 4, dims, dnnl_f32, tag);
}

// A 1-D f32 descriptor [count] (a convolution's bias).
static inline dnnl_status_t nnb_dnnl_md_1d(dnnl_memory_desc_t *md, int64_t count) {
  dnnl_dims_t dims = {count};
  return dnnl_memory_desc_init_by_tag(md, 1, dims, dnnl_f32, dnnl_a);
}

// Convolution descriptors with 2-D strides and padding (top/left, bottom/right);
// `pass` 0 forward training, 1 backward data, 2 backward weights. `bias` may be NULL.
static inline dnnl_status_t nnb_dnnl_convolution_desc(
    dnnl_convolution_desc_t *desc, int pass, const dnnl_memory_desc_t *src,
    const dnnl_memory_desc_t *weights, const dnnl_memory_desc_t *bias,
    const dnnl_memory_desc_t *dst, int64_t stride_h, int64_t stride_w,
    int64_t top, int64_t left, int64_t bottom, int64_t right) {
  dnnl_dims_t strides = {stride_h, stride_w};
  dnnl_dims_t padding_l = {top, left};
  dnnl_dims_t padding_r = {bottom, right};
  switch (pass) {
  case 0:
    return dnnl_convolution_forward_desc_init(desc, dnnl_forward_training,
        dnnl_convolution_direct, src, weights, bias, dst, strides, padding_l,
        padding_r);
  case 1:
    return dnnl_convolution_backward_data_desc_init(desc,
        dnnl_convolution_direct, src, weights, dst, strides, padding_l,
        padding_r);
  default:
    return dnnl_convolution_backward_weights_desc_init(desc,
        dnnl_convolution_direct, src, weights, bias, dst, strides, padding_l,
        padding_r);
  }
}
#endif
