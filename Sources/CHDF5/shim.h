// Umbrella header for libhdf5 (Debian libhdf5-dev, pkg-config `hdf5`).
//
// Swift does not import HDF5's object-like macros that expand to runtime
// expressions (they read `*_g` globals that are -1 until H5open runs).
// Each getter below calls H5open() through the macro itself, so it is safe
// to call first. Only the HDF5Store module imports this header.
#ifndef NNB_HDF5_SHIM_H
#define NNB_HDF5_SHIM_H
#include <hdf5.h>

static inline hid_t nnb_H5P_DEFAULT(void) { return H5P_DEFAULT; }
static inline hid_t nnb_H5S_ALL(void) { return H5S_ALL; }
static inline hid_t nnb_H5E_DEFAULT(void) { return H5E_DEFAULT; }

static inline hid_t nnb_H5T_NATIVE_FLOAT(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t nnb_H5T_NATIVE_DOUBLE(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t nnb_H5T_NATIVE_INT64(void) { return H5T_NATIVE_INT64; }
static inline hid_t nnb_H5T_NATIVE_UINT64(void) { return H5T_NATIVE_UINT64; }
static inline hid_t nnb_H5T_C_S1(void) { return H5T_C_S1; }

static inline hid_t nnb_H5P_FILE_ACCESS(void) { return H5P_FILE_ACCESS; }
static inline hid_t nnb_H5P_FILE_CREATE(void) { return H5P_FILE_CREATE; }
static inline hid_t nnb_H5P_DATASET_CREATE(void) { return H5P_DATASET_CREATE; }
static inline hid_t nnb_H5P_DATASET_ACCESS(void) { return H5P_DATASET_ACCESS; }

static inline unsigned nnb_H5F_ACC_RDONLY(void) { return H5F_ACC_RDONLY; }
static inline unsigned nnb_H5F_ACC_TRUNC(void) { return H5F_ACC_TRUNC; }

/// Silences HDF5's automatic error dump to stderr; errors are read from the
/// stack with H5Ewalk2 instead.
static inline herr_t nnb_silence_errors(void) {
  return H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}
#endif
