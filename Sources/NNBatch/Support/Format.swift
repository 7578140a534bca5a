import Foundation

// Number formatting shared by progress, inspect, evaluate and plot.

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
