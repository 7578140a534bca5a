#if canImport(Glibc)
@preconcurrency import Glibc
#endif

// Fitting progress lines to the terminal: a line longer than the terminal wraps, and a
// redrawn line (`\r` + clear to end of line) then leaves its wrapped part behind.

/// Columns of the terminal on standard output: the kernel's window size, else `COLUMNS`, else 80.
///
/// Asked again at every redraw (at most ten times a second), so a resized window is followed.
package func terminalColumns() -> Int {
  var size = winsize()
  // TIOCGWINSZ fails (ENOTTY) when stdout is not a terminal, and a pseudo-terminal
  // nobody sized reports 0 columns: both fall back.
  if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 {
    return Int(size.ws_col)
  }
  if let text = getenv("COLUMNS"), let columns = Int(String(cString: text)), columns > 0 {
    return columns
  }
  return 80
}

/// One field of a progress line, and how readily it is left out when the line is too long.
package struct LineField {
  /// The field's text.
  package var text: String
  /// Fields of higher rank are dropped first; rank 0 is never dropped.
  package var dropRank: Int

  /// A field that goes when fields of a higher `dropRank` were not enough.
  package init(_ text: String, dropRank: Int = 0) {
    self.text = text
    self.dropRank = dropRank
  }
}

/// `fields` joined by `separator` in at most `width` characters.
///
/// Fields are dropped, highest `dropRank` first (the last of equal rank first), until
/// the line fits; if the kept fields alone are too long, the line is cut and ends in "…".
/// Characters are counted as `Character`s: progress text is ASCII apart from "…".
package func fitLine(_ fields: [LineField], separator: String = " ", width: Int) -> String {
  var kept = fields
  func joined() -> String { kept.map(\.text).joined(separator: separator) }
  var line = joined()
  while line.count > width, let rank = kept.map(\.dropRank).max(), rank > 0,
    let drop = kept.lastIndex(where: { $0.dropRank == rank })
  {
    kept.remove(at: drop)
    line = joined()
  }
  guard line.count > width else { return line }
  guard width > 1 else { return String(line.prefix(max(width, 0))) }
  return String(line.prefix(width - 1)) + "…"
}

/// `text`'s lines broken between words so that each fits `width`; continuation lines are indented.
///
/// For messages printed once on a terminal (the run's notes and summary): the terminal
/// would wrap them mid-word. A word longer than the width (a long path) is kept whole.
package func wrapWords(_ text: String, width: Int) -> String {
  var out: [String] = []
  for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
    guard line.count > width else {
      out.append(String(line))
      continue
    }
    let indent = String(line.prefix { $0 == " " })
    var current = ""
    for word in line.split(separator: " ") {
      let candidate = current.isEmpty ? indent + word : current + " " + word
      if current.isEmpty || candidate.count <= width {
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
