/// A checkpoint that could not be read or did not verify.
public struct CheckpointError: Error, CustomStringConvertible, Sendable {
  /// The file (or folder, for a store with no valid checkpoint).
  public let path: String
  /// What is wrong with it.
  public let reason: String
  /// Whether the file is sound but written by a newer nnbatch (a newer format
  /// version, or a required feature this build lacks), rather than damaged.
  ///
  /// Resume never skips such a file for an older one: continuing from the
  /// older file would retire the newer files at its first save.
  public let isNewerFormat: Bool

  /// An error about `path`.
  public init(path: String, reason: String, isNewerFormat: Bool = false) {
    self.path = path
    self.reason = reason
    self.isNewerFormat = isNewerFormat
  }

  /// One line: "<path>: <reason>".
  public var description: String { "\(path): \(reason)" }
}

/// A problem with a file's contents, named by the HDF5 path of what is wrong
/// ("/model/layer_1@activation: unknown activation \"swish\"").
///
/// Thrown while decoding; `Checkpoint.read` adds the file's path.
struct SchemaError: Error {
  let reason: String
  /// See `CheckpointError.isNewerFormat`.
  let isNewerFormat: Bool

  init(_ reason: String, isNewerFormat: Bool = false) {
    self.reason = reason
    self.isNewerFormat = isNewerFormat
  }
}
