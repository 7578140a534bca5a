// Twelve independent accumulator chains per round: with an FMA latency of 4 cycles and
// two FMA pipes, 8 chains keep both busy; 12 leave margin for CPUs with longer latency.
// Start values come through a volatile array and every chain passes an empty asm barrier
// each round, so the compiler can neither fold chains it proves constant nor merge them.
#include "peak.h"

#include <immintrin.h>
#include <time.h>

#define CHAINS 12

volatile float nnb_peak_seeds[CHAINS] = {1.01f, 1.02f, 1.03f, 1.04f, 1.05f, 1.06f,
                                         1.07f, 1.08f, 1.09f, 1.10f, 1.11f, 1.12f};

static double now_seconds(void) {
  struct timespec t;
  if (clock_gettime(CLOCK_MONOTONIC, &t) != 0) return 0;
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

nnb_peak_isa nnb_peak_widest_isa(void) {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return NNB_PEAK_AVX512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return NNB_PEAK_AVX2;
  return NNB_PEAK_NONE;
}

// Returns a value derived from every chain so the compiler keeps them all.
__attribute__((target("avx2,fma"))) static float run_avx2(long iterations) {
  __m256 acc[CHAINS];
  for (int k = 0; k < CHAINS; k++) acc[k] = _mm256_set1_ps(nnb_peak_seeds[k]);
  const __m256 scale = _mm256_set1_ps(0.999999f), shift = _mm256_set1_ps(1e-6f);
  for (long i = 0; i < iterations; i++) {
    for (int k = 0; k < CHAINS; k++) {
      acc[k] = _mm256_fmadd_ps(acc[k], scale, shift);
      __asm__("" : "+x"(acc[k]));
    }
  }
  __m256 sum = acc[0];
  for (int k = 1; k < CHAINS; k++) sum = _mm256_add_ps(sum, acc[k]);
  float lanes[8];
  _mm256_storeu_ps(lanes, sum);
  return lanes[0] + lanes[7];
}

__attribute__((target("avx512f"))) static float run_avx512(long iterations) {
  __m512 acc[CHAINS];
  for (int k = 0; k < CHAINS; k++) acc[k] = _mm512_set1_ps(nnb_peak_seeds[k]);
  const __m512 scale = _mm512_set1_ps(0.999999f), shift = _mm512_set1_ps(1e-6f);
  for (long i = 0; i < iterations; i++) {
    for (int k = 0; k < CHAINS; k++) {
      acc[k] = _mm512_fmadd_ps(acc[k], scale, shift);
      __asm__("" : "+v"(acc[k]));
    }
  }
  __m512 sum = acc[0];
  for (int k = 1; k < CHAINS; k++) sum = _mm512_add_ps(sum, acc[k]);
  return _mm512_reduce_add_ps(sum);
}

static volatile float nnb_peak_sink;

double nnb_peak_gflops(nnb_peak_isa isa, long iterations, int trials) {
  nnb_peak_isa widest = nnb_peak_widest_isa();
  if (isa == NNB_PEAK_NONE || isa > widest || iterations <= 0) return 0;
  const int lanes = isa == NNB_PEAK_AVX512 ? 16 : 8;
  double best = 0;
  for (int t = 0; t < trials; t++) {
    double start = now_seconds();
    nnb_peak_sink = isa == NNB_PEAK_AVX512 ? run_avx512(iterations) : run_avx2(iterations);
    double seconds = now_seconds() - start;
    if (seconds <= 0) continue;
    double gflops = (double)iterations * CHAINS * lanes * 2 / seconds * 1e-9;
    if (gflops > best) best = gflops;
  }
  return best;
}
