import Foundation
import HDF5Store

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// `-` as a file argument: standard input.
///
/// The readers sniff a file's first bytes and HDF5 needs a real file, so standard
/// input is copied to a temporary file first; messages name it "standard input".
package enum StandardInput {
  /// The argument that means standard input.
  package static let argument = "-"

  /// `body` run on `path`, or on a copy of standard input when `path` is "-".
  package static func reading<T>(_ path: String, _ body: (String) throws(NNBatchError) -> T)
    throws(NNBatchError) -> T
  {
    guard path == argument else { return try body(path) }
    let directory = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
    let copy = "\(directory)/nnbatch-stdin-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    try copyStandardInput(to: copy)
    defer {
      do {
        try FileSystem.remove(copy)
      } catch {
        writeToStandardError("warning: cannot remove the copy of standard input: \(error)\n")
      }
    }
    do {
      return try body(copy)
    } catch {
      throw NNBatchError(
        error.kind, error.lines.map { $0.replacingOccurrences(of: copy, with: "standard input") })
    }
  }

  /// Copies standard input to a new file at `copy` in 1 MiB pieces: memory stays
  /// bounded whatever arrives (an endless stream ends at the disk's limit, as an error).
  private static func copyStandardInput(to copy: String) throws(NNBatchError) {
    let out = open(copy, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
    guard out >= 0 else {
      throw NNBatchError(
        .failure,
        "standard input: cannot create its temporary copy \(copy): \(String(cString: strerror(errno)))")
    }
    let piece = 1 << 20
    let buffer = UnsafeMutableRawPointer.allocate(byteCount: piece, alignment: 16)
    defer { buffer.deallocate() }
    var failure: String?
    var kind = NNBatchError.Kind.usage
    copying: while true {
      let n = read(STDIN_FILENO, buffer, piece)
      if n < 0 {
        if errno == EINTR { continue }
        failure = "cannot read it: \(String(cString: strerror(errno)))"
        break
      }
      if n == 0 { break }
      var written = 0
      while written < n {
        let w = write(out, buffer + written, n - written)
        if w < 0 {
          if errno == EINTR { continue }
          failure = "cannot copy it to \(copy): \(String(cString: strerror(errno)))"
          kind = .failure
          break copying
        }
        written += w
      }
    }
    if close(out) != 0 && failure == nil {
      failure = "cannot copy it to \(copy): \(String(cString: strerror(errno)))"
      kind = .failure
    }
    if let failure {
      unlink(copy)
      throw NNBatchError(kind, "standard input: \(failure)")
    }
  }
}
