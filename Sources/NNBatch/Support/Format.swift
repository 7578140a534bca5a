import Foundation

#if canImport(Glibc)
import Glibc
#endif

// Clock and number formatting shared by progress, inspect, evaluate and plot.

/// Seconds from a monotonic clock.
func monotonicSeconds() -> Double {
  var ts = timespec()
  clock_gettime(CLOCK_MONOTONIC, &ts)
  return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// A number with six significant digits.
func format6(_ value: Double) -> String {
  String(format: "%.6g", value)
}

/// "1.2s", "3m04s", "1h02m".
func formatDuration(_ seconds: Double) -> String {
  if seconds < 60 { return String(format: "%.1fs", seconds) }
  let s = Int(seconds)
  if s < 3600 { return String(format: "%dm%02ds", s / 60, s % 60) }
  return String(format: "%dh%02dm", s / 3600, (s % 3600) / 60)
}

/// `text` for a message, cut to its first `limit` characters plus its size when longer.
///
/// A field or a column name from a data file can be megabytes long; an error
/// line quotes its start: `xxxx… (104857600 bytes)`.
func excerpt(_ text: some StringProtocol, limit: Int = 80) -> String {
  // Up to 4 bytes per character: a longer text needs no count of all its characters.
  guard text.utf8.count > limit else { return String(text) }
  let start = text.prefix(limit)
  guard start.endIndex < text.endIndex else { return String(text) }
  return "\(start)… (\(text.utf8.count) bytes)"
}

/// The bytes of a data file's field as text for a message, cut as `excerpt(_:limit:)` cuts text.
///
/// Only the first bytes are decoded, so a field of 100 MB is never copied whole.
func excerpt(bytes: some Collection<UInt8>, limit: Int = 80) -> String {
  let head = String(decoding: bytes.prefix(4 * limit + 4), as: UTF8.self)
  let start = head.prefix(limit)
  guard bytes.count > start.utf8.count else { return String(start) }
  return "\(start)… (\(bytes.count) bytes)"
}
