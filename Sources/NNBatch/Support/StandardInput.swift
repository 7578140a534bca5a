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
    let bytes: Data
    do {
      bytes = try FileHandle.standardInput.readToEnd() ?? Data()
    } catch {
      throw NNBatchError(.usage, "standard input: cannot read it: \(error)")
    }
    let directory = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
    let copy = "\(directory)/nnbatch-stdin-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    do {
      try FileSystem.writeNewFile(copy, bytes: [UInt8](bytes))
    } catch {
      throw NNBatchError(.failure, "standard input: cannot copy it to a temporary file: \(error)")
    }
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
}
