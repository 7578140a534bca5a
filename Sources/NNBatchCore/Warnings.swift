import Synchronization

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Writes `text` to stderr with write(2), ignoring failures.
///
/// Foundation's `FileHandle.write` traps when the write fails, and with
/// SIGPIPE ignored a closed stderr (`2>&1 | head -1`) fails every write: a
/// message that cannot be shown must not turn into a crash.
package func writeToStandardError(_ text: String) {
  let bytes = Array(text.utf8)
  var start = 0
  while start < bytes.count {
    let n = bytes.withUnsafeBytes {
      write(STDERR_FILENO, $0.baseAddress.map { $0 + start }, $0.count - start)
    }
    if n < 0 && errno == EINTR { continue }
    if n <= 0 { return }
    start += n
  }
}

/// Writes a message of whole lines to stderr; on a terminal its lines are broken between words
/// to fit its width (a terminal would break them mid-word), in a pipe or file byte for byte.
package func writeMessageToStandardError(_ text: String) {
  guard isatty(STDERR_FILENO) == 1 else { return writeToStandardError(text) }
  let body = text.hasSuffix("\n") ? String(text.dropLast()) : text
  writeToStandardError(wrapWords(body, width: terminalColumns(of: STDERR_FILENO)) + "\n")
}

/// Warnings: one line each on stderr, "warning: FILE:LINE: what and what nnbatch does about it".
///
/// A warning is for input that is read correctly but probably not as its
/// author meant (a constant column, a duplicate column name, labels spelled
/// two ways); anything that would be read wrongly is an error instead.
package enum Warnings {
  private static let recorder = Mutex<[String]?>(nil)

  /// Prints `text` to stderr as a warning.
  package static func emit(_ text: String) {
    writeMessageToStandardError("warning: \(text)\n")
    recorder.withLock { $0?.append(text) }
  }

  /// Runs `body` and returns the warnings it emitted (for tests).
  package static func recording<T>(_ body: () throws -> T) rethrows -> (result: T, warnings: [String]) {
    recorder.withLock { $0 = [] }
    defer { recorder.withLock { $0 = nil } }
    let result = try body()
    return (result, recorder.withLock { $0 ?? [] })
  }
}
