import NNBatch
import NNBatchCore

/// Why a config, a training run, a checkpoint or a prediction failed.
public struct NNBatchKitError: Error, Sendable, CustomStringConvertible {
  /// What kind of failure, as the command line's exit codes tell them apart.
  public enum Kind: Sendable {
    /// A config, data or argument error (the command line's exit 2).
    case usage
    /// A training or I/O failure: non-finite loss, disk full (the command line's exit 1).
    case failure
  }

  /// What kind of failure.
  public var kind: Kind
  /// One line per problem, each naming the file, JSON path or argument.
  public var lines: [String]

  /// All problems, one per line.
  public var description: String { lines.joined(separator: "\n") }

  init(_ error: NNBatchError) {
    kind = error.kind == .usage ? .usage : .failure
    lines = error.lines
  }

  init(_ kind: Kind, _ line: String) {
    self.kind = kind
    lines = [line]
  }
}
