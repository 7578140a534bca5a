/// One problem found in an input file, located as precisely as possible.
public struct Diagnostic: Sendable, Hashable, CustomStringConvertible {
  /// The file.
  public var file: String
  /// Line and column, when known.
  public var location: SourceLocation?
  /// JSON path ("$.model.layers[1].activation") or record description, when known.
  public var path: String?
  /// What was expected and what was found.
  public var message: String

  /// A problem in `file`.
  public init(file: String, location: SourceLocation? = nil, path: String? = nil, message: String) {
    self.file = file
    self.location = location
    self.path = path
    self.message = message
  }

  /// "file:line:column: path: message".
  public var description: String {
    var text = file
    if let location { text += ":\(location)" }
    text += ": "
    if let path { text += "\(path): " }
    return text + message
  }
}

/// How a failed command ends: the message lines and the process exit code.
public struct NNBatchError: Error, CustomStringConvertible, Sendable {
  /// Exit codes of the command line (README, "Exit codes").
  public enum Kind: Int32, Sendable {
    /// Training or I/O failure: non-finite loss, disk full, ...
    case failure = 1
    /// Usage, config or data error.
    case usage = 2
  }

  /// Which exit code.
  public var kind: Kind
  /// One line per problem.
  public var lines: [String]

  /// An error of `kind` with `lines`.
  public init(_ kind: Kind, _ lines: [String]) {
    self.kind = kind
    self.lines = lines
  }

  /// An error of `kind` with one line.
  public init(_ kind: Kind, _ line: String) {
    self.init(kind, [line])
  }

  /// A usage error from diagnostics.
  public init(diagnostics: [Diagnostic]) {
    self.init(.usage, diagnostics.map(\.description))
  }

  /// The lines joined.
  public var description: String { lines.joined(separator: "\n") }
}

/// Edit distance, for "did you mean" suggestions.
package func editDistance(_ a: String, _ b: String) -> Int {
  let a = Array(a.lowercased())
  let b = Array(b.lowercased())
  if a.isEmpty { return b.count }
  if b.isEmpty { return a.count }
  var previous = Array(0...b.count)
  var current = previous
  for i in 1...a.count {
    current[0] = i
    for j in 1...b.count {
      current[j] = min(
        previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
    }
    swap(&previous, &current)
  }
  return previous[b.count]
}

/// The longest name (in bytes) that `suggestion(for:among:)` compares.
package let suggestionLength = 256

/// The closest of `candidates` to `word`, if it is close enough to be a typo.
///
/// Only names of at most `suggestionLength` bytes are compared: the edit distance
/// costs the product of both lengths, and a column name of 100 MB is no typo.
package func suggestion(for word: String, among candidates: [String]) -> String? {
  guard word.utf8.count <= suggestionLength else { return nil }
  let scored = candidates.filter { $0.utf8.count <= suggestionLength }.map { ($0, editDistance(word, $0)) }
    .min { $0.1 < $1.1 }
  guard let (best, distance) = scored else { return nil }
  return distance <= max(2, best.count / 3) ? best : nil
}
