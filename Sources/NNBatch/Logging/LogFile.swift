import HDF5Store

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

// The POSIX calls of the run's logs (CSV, TensorBoard), each checked and
// reported as a `FileSystemError` with errno's text.

/// An open log file that is only ever appended to.
final class LogFile {
  /// The file's path, for messages.
  let path: String
  private let descriptor: Int32
  private var closed = false

  /// Creates a new file at `path` for appending; anything already there, a symlink included, is an error.
  init(creating path: String) throws(FileSystemError) {
    self.path = path
    descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
    guard descriptor >= 0 else { throw LogFile.failure("create", path) }
  }

  /// The log written to `output` (from `FileSystem.openOutput`), which it now owns.
  init(_ output: FileSystem.OutputFile) {
    path = output.path
    descriptor = output.descriptor
  }

  deinit {
    // A close that fails here has nothing left to report to: `close()` is the checked one.
    if !closed { _ = Glibc.close(descriptor) }
  }

  /// Appends `bytes`; a short or failed write (ENOSPC, EFBIG, EIO) throws.
  func write(_ bytes: [UInt8]) throws(FileSystemError) {
    try FileSystem.writeAll(to: descriptor, bytes, path: path)
  }

  /// Closes the file, reporting a failed close (where NFS reports deferred write errors).
  func close() throws(FileSystemError) {
    guard !closed else { return }
    closed = true
    guard Glibc.close(descriptor) == 0 else { throw LogFile.failure("close", path) }
  }

  /// This machine's host name (TensorBoard puts it in event file names), or "localhost".
  static func hostName() -> String {
    var name = [CChar](repeating: 0, count: 256)
    guard gethostname(&name, name.count - 1) == 0 else { return "localhost" }
    let host = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return host.isEmpty ? "localhost" : host
  }

  /// This process's ID.
  static var processID: Int32 { getpid() }

  private static func failure(_ operation: String, _ path: String) -> FileSystemError {
    FileSystemError(operation: operation, path: path, reason: String(cString: strerror(errno)))
  }
}

/// `seconds` since 1970 as ISO 8601 UTC with milliseconds: "2026-11-29T08:10:18.527Z".
///
/// By hand from `gmtime_r`: a `DateFormatter` costs more than a progress record should.
func isoTimestamp(_ seconds: Double) -> String {
  let whole = seconds.rounded(.down)
  var time = time_t(whole)
  var parts = tm()
  guard gmtime_r(&time, &parts) != nil else { return "\(seconds)" }  // a year beyond Int32: seconds as is
  let milliseconds = min(Int((seconds - whole) * 1000), 999)
  func pad(_ value: Int32, _ width: Int) -> String {
    let digits = String(value)
    return String(repeating: "0", count: max(0, width - digits.count)) + digits
  }
  return
    "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))"
    + "T\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))"
    + ".\(pad(Int32(milliseconds), 3))Z"
}

/// Seconds since 1970, now (for event wall times and record timestamps).
func wallClockSeconds() -> Double {
  var now = timespec()
  guard clock_gettime(CLOCK_REALTIME, &now) == 0 else { return 0 }  // CLOCK_REALTIME cannot fail on Linux
  return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}
