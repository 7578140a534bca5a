#if canImport(Glibc)
import Glibc
#endif

/// Seconds from a monotonic clock: progress, timings and the prefetch ring's waits.
package func monotonicSeconds() -> Double {
  var ts = timespec()
  clock_gettime(CLOCK_MONOTONIC, &ts)
  return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// The median time of `repeats` runs of `body` (at least one), after one untimed warm-up run
/// (first-call primitive creation, page faults): one descheduled run does not count.
package func medianSeconds(repeats: Int, _ body: () -> Void) -> Double {
  body()
  var times: [Double] = []
  for _ in 0..<max(1, repeats) {
    let start = monotonicSeconds()
    body()
    times.append(monotonicSeconds() - start)
  }
  times.sort()
  return times[times.count / 2]
}
