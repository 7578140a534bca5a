import Foundation
import HDF5Store
import NNBatchCore

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// `-` as a file argument: standard input.
///
/// The readers sniff a file's first bytes and HDF5 needs a real file, so standard
/// input is copied to a temporary file first; messages name it "standard input".
/// The copy has no name from the start (`FileSystem.createAnonymousFile`) and is
/// read through its descriptor, so it never outlives the process, however the
/// process ends.
package enum StandardInput {
  /// The argument that means standard input.
  package static let argument = "-"

  /// `body` run on `path`, or on a copy of standard input when `path` is "-".
  package static func reading<T>(_ path: String, _ body: (String) throws(NNBatchError) -> T)
    throws(NNBatchError) -> T
  {
    guard path == argument else { return try body(path) }
    let copy: Int32
    do {
      copy = try FileSystem.createAnonymousFile(
        in: FileSystem.temporaryDirectory(), fallbackPrefix: ".nnbatch-stdin-")
    } catch {
      throw NNBatchError(
        error.isUsageError ? .usage : .failure, "standard input: cannot create its temporary copy: \(error)")
    }
    defer { close(copy) }
    try copyStandardInput(to: copy)
    let name = FileSystem.descriptorPath(copy)
    do {
      return try body(name)
    } catch {
      throw NNBatchError(
        error.kind, error.lines.map { $0.replacingOccurrences(of: name, with: "standard input") })
    }
  }

  /// Copies standard input to `copy` in 1 MiB pieces: memory stays bounded
  /// whatever arrives (an endless stream ends at the disk's limit, as an error).
  private static func copyStandardInput(to out: Int32) throws(NNBatchError) {
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
          failure = "cannot copy it to a temporary file: \(String(cString: strerror(errno)))"
          kind = .failure
          break copying
        }
        written += w
      }
    }
    if let failure {
      throw NNBatchError(kind, "standard input: \(failure)")
    }
  }
}
