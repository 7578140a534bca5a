/// A failed file-system call (open, write, fsync, rename, ...), with the system's message.
public struct FileSystemError: Error, CustomStringConvertible, Sendable {
  /// What was being done ("fsync", "rename to DIR/step-000000010.h5", ...).
  public let operation: String
  /// The file or folder it was done to.
  public let path: String
  /// The system's explanation (strerror of errno) or what was wrong.
  public let reason: String
  /// Whether the path itself is wrong (a directory as an output file): a usage error, exit 2.
  public let isUsageError: Bool

  /// An error for `operation` on `path` because of `reason`.
  public init(operation: String, path: String, reason: String, isUsageError: Bool = false) {
    self.operation = operation
    self.path = path
    self.reason = reason
    self.isUsageError = isUsageError
  }

  /// One line: "<path>: cannot <operation>: <reason>".
  public var description: String { "\(path): cannot \(operation): \(reason)" }
}
