// The single-core FMA peak probe: independent fused multiply-add chains in the widest
// vector unit this CPU has, chosen at run time (the package is built for baseline x86-64).
#ifndef NNB_PEAK_H
#define NNB_PEAK_H

/// Vector instruction sets the probe can measure.
typedef enum {
  NNB_PEAK_NONE = 0,    ///< no FMA: the probe cannot run
  NNB_PEAK_AVX2 = 1,    ///< 256-bit AVX2 + FMA3
  NNB_PEAK_AVX512 = 2,  ///< 512-bit AVX-512F
} nnb_peak_isa;

/// The widest instruction set of this CPU that the probe knows.
nnb_peak_isa nnb_peak_widest_isa(void);

/// Best GFLOP/s (2 per FMA) of `trials` runs of `iterations` FMA rounds in `isa` on the
/// calling thread; 0 when the CPU lacks `isa`.
double nnb_peak_gflops(nnb_peak_isa isa, long iterations, int trials);

#endif
