/// An error from libhdf5 or from the file system, with what was being done and where.
public struct HDF5Error: Error, CustomStringConvertible, Sendable {
  /// What nnbatch was doing ("create dataset", "fsync", ...).
  public let operation: String
  /// The file, or file and object path, it was done to.
  public let path: String
  /// The library's or the system's explanation.
  public let reason: String

  /// An error for `operation` on `path` because of `reason`.
  public init(operation: String, path: String, reason: String) {
    self.operation = operation
    self.path = path
    self.reason = reason
  }

  /// One line: "<path>: cannot <operation>: <reason>".
  public var description: String { "\(path): cannot \(operation): \(reason)" }
}
