/// An error from libhdf5, with what was being done and where.
public struct HDF5Error: Error, CustomStringConvertible, Sendable {
  /// What was being done ("create dataset", "read attribute", ...).
  public let operation: String
  /// The file, or file and object path ("run.h5:/model/layer_0@units"), it was done to.
  public let path: String
  /// The library's explanation (its error stack) or what was wrong with the object.
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
