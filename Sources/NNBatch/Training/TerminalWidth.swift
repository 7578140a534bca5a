import NNBatchCore

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

// Fitting progress lines to the terminal: a line longer than the terminal wraps, and a
// redrawn line (`\r` + clear to end of line) then leaves its wrapped part behind.

/// One field of a line printed on a terminal, and how readily it is left out when the line is too long.
package struct LineField {
  /// The field's text.
  package var text: String
  /// Fields of higher rank are dropped first; rank 0 is never dropped.
  package var dropRank: Int
  /// What comes before the field when a field before it is kept (nil: the line's separator).
  package var lead: String?
  /// The lead after a kept field that opens a list (`opensList`): " " after "done:".
  package var openingLead: String?
  /// The field ends in a head such as "training xor:": the next kept field takes its `openingLead`.
  package var opensList: Bool
  /// A shorter text tried before the field is dropped (a terminal only; never in a pipe).
  package var short: String?
  /// A path: when the kept fields alone are too long, its leading folders give way to "…".
  package var isPath: Bool

  /// A field that goes when fields of a higher `dropRank` were not enough.
  package init(
    _ text: String, dropRank: Int = 0, lead: String? = nil, openingLead: String? = nil,
    opensList: Bool = false, short: String? = nil, isPath: Bool = false
  ) {
    self.text = text
    self.dropRank = dropRank
    self.lead = lead
    self.openingLead = openingLead
    self.opensList = opensList
    self.short = short
    self.isPath = isPath
  }
}

/// The fields of `fields` at `chosen` (index → text), each after its lead.
private func render(_ fields: [LineField], _ chosen: [Int: String], separator: String) -> String {
  var line = ""
  var previous: Int?
  for index in fields.indices {
    guard let text = chosen[index] else { continue }
    if let before = previous {
      let field = fields[index]
      let opening = fields[before].opensList ? field.openingLead : nil
      line += opening ?? field.lead ?? separator
    }
    line += text
    previous = index
  }
  return line
}

/// `path` in at most `width` columns: whole if it fits, else "…" and as many of its
/// trailing components as fit (the file name at least, whatever its width).
private func shortenedPath(_ path: String, width: Int) -> String {
  guard displayWidth(path) > width, path.contains("/") else { return path }
  var components = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
  var tail = components.removeLast()
  while let next = components.popLast(), displayWidth("…/" + next + "/" + tail) <= width {
    tail = next + "/" + tail
  }
  return "…/" + tail
}

/// The fields kept in `width` columns, and whether they fit.
///
/// Rank 0 always, then by rank (lowest first; the earlier of equal rank first) each
/// field whole, else its `short` text, if the line still fits; then, if rank 0 alone
/// is too wide, its paths shortened from the left.
private func fitFields(_ fields: [LineField], separator: String, width: Int) -> (String, Bool) {
  var chosen: [Int: String] = [:]
  for (index, field) in fields.enumerated() where field.dropRank == 0 { chosen[index] = field.text }
  let order = fields.indices.filter { fields[$0].dropRank > 0 }.sorted {
    (fields[$0].dropRank, $0) < (fields[$1].dropRank, $1)
  }
  for index in order {
    for text in [fields[index].text, fields[index].short].compactMap({ $0 }) {
      chosen[index] = text
      if displayWidth(render(fields, chosen, separator: separator)) <= width { break }
      chosen[index] = nil
    }
  }
  var line = render(fields, chosen, separator: separator)
  var excess = displayWidth(line) - width
  for (index, field) in fields.enumerated() where excess > 0 && field.isPath {
    guard let text = chosen[index] else { continue }
    let shorter = shortenedPath(text, width: max(displayWidth(text) - excess, 0))
    chosen[index] = shorter
    line = render(fields, chosen, separator: separator)
    excess = displayWidth(line) - width
  }
  return (line, excess <= 0)
}

/// `fields` joined by `separator` in at most `width` columns, for a line that is redrawn.
///
/// Fields go, highest `dropRank` first (the last of equal rank first), until the line
/// fits; if the kept fields alone are too long, the line is cut and ends in "…"
/// (a redrawn line cannot take two rows).
package func fitLine(_ fields: [LineField], separator: String = " ", width: Int) -> String {
  let (line, fits) = fitFields(fields, separator: separator, width: width)
  guard !fits else { return line }
  guard width > 1 else { return String(line.prefix(max(width, 0))) }
  var cut = ""
  for character in line {
    guard displayWidth(cut + String(character)) <= width - 1 else { break }
    cut.append(character)
  }
  return cut + "…"
}

/// `fields` as one line of at most `width` columns, for a line printed once (a status line).
///
/// Fields go as in `fitLine`, then paths give way to "…"; a line whose kept fields
/// still cannot fit (a run name wider than the terminal) is broken between words
/// rather than cut, so that nothing it must say is lost.
package func fitStatusLine(_ fields: [LineField], separator: String = " ", width: Int) -> String {
  let (line, fits) = fitFields(fields, separator: separator, width: width)
  return fits ? line : wrapWords(line, width: width)
}

/// `fields` as one line with every field whole: what a pipe or a file receives.
package func fullLine(_ fields: [LineField], separator: String = " ") -> String {
  fitFields(fields, separator: separator, width: Int.max).0
}
