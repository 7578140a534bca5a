/// A checkpoint that could not be read or did not verify.
public struct CheckpointError: Error, CustomStringConvertible, Sendable {
  /// The file (or folder, for a store with no valid checkpoint).
  public let path: String
  /// What is wrong with it.
  public let reason: String

  /// An error about `path`.
  public init(path: String, reason: String) {
    self.path = path
    self.reason = reason
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

  init(_ reason: String) {
    self.reason = reason
  }
}
