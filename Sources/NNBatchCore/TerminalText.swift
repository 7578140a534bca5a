#if canImport(Glibc)
@preconcurrency import Glibc
#endif

// Text for a terminal: its width, the columns a string takes, and breaking between words,
// for the progress lines (NNBatch) and the warnings and errors printed here alike.

/// Columns of the terminal on `descriptor` (standard output unless told): the kernel's
/// window size, else `COLUMNS`, else 80.
///
/// Asked again at every redraw (at most ten times a second), so a resized window is followed.
package func terminalColumns(of descriptor: Int32 = STDOUT_FILENO) -> Int {
  var size = winsize()
  // TIOCGWINSZ fails (ENOTTY) when the descriptor is not a terminal, and a pseudo-terminal
  // nobody sized reports 0 columns: both fall back.
  if ioctl(descriptor, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 {
    return Int(size.ws_col)
  }
  if let text = getenv("COLUMNS"), let columns = Int(String(cString: text)), columns > 0 {
    return columns
  }
  return 80
}

/// Columns `text` takes on a terminal: East Asian wide and fullwidth characters (and emoji)
/// take two, combining marks, zero-width and control characters none, the rest one.
///
/// A table of the ranges, not `wcwidth(3)`, whose answer depends on the process's locale.
package func displayWidth(_ text: String) -> Int {
  var width = 0
  for scalar in text.unicodeScalars {
    let v = scalar.value
    switch scalar.properties.generalCategory {
    case .nonspacingMark, .enclosingMark, .format, .control: continue
    default: break
    }
    if v == 0x200B { continue }
    let wide =
      (0x1100...0x115F).contains(v) || (0x2E80...0x303E).contains(v) || (0x3041...0x33FF).contains(v)
      || (0x3400...0x4DBF).contains(v) || (0x4E00...0x9FFF).contains(v) || (0xA000...0xA4CF).contains(v)
      || (0xAC00...0xD7A3).contains(v) || (0xF900...0xFAFF).contains(v) || (0xFE30...0xFE4F).contains(v)
      || (0xFF00...0xFF60).contains(v) || (0xFFE0...0xFFE6).contains(v) || (0x1F300...0x1F64F).contains(v)
      || (0x1F900...0x1F9FF).contains(v) || (0x20000...0x3FFFD).contains(v)
    width += wide ? 2 : 1
  }
  return width
}

/// `text`'s lines broken between words so that each fits `width`; continuation lines are indented.
///
/// For messages printed once on a terminal (the run's notes and summary): the terminal
/// would wrap them mid-word. A word longer than the width (a long path) is kept whole.
package func wrapWords(_ text: String, width: Int) -> String {
  var out: [String] = []
  for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
    guard displayWidth(String(line)) > width else {
      out.append(String(line))
      continue
    }
    let indent = String(line.prefix { $0 == " " })
    var current = ""
    for word in line.split(separator: " ") {
      let candidate = current.isEmpty ? indent + word : current + " " + word
      if current.isEmpty || displayWidth(candidate) <= width {
        current = candidate
      } else {
        out.append(current)
        current = indent + "  " + word
      }
    }
    out.append(current)
  }
  return out.joined(separator: "\n")
}
