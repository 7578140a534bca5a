import CZlib

#if canImport(Glibc)
import Glibc
#endif

// Shared by the libFuzzer harnesses (built only by tools/fuzz). The readers
// under test take paths, so each input is written to a scratch file first; a
// failure here is the harness's own, not a finding, and stops the run loudly.

/// A per-process scratch directory under $TMPDIR (default /tmp), made on first use.
private let scratchDirectory: String = {
  let base = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
  var template = Array("\(base)/nnbatch-fuzz-XXXXXX".utf8CString)
  let made = template.withUnsafeMutableBufferPointer { buffer in buffer.baseAddress.flatMap { mkdtemp($0) } }
  guard let made else {
    fatalError(
      "fuzz harness: cannot create a scratch directory in \(base): \(String(cString: strerror(errno)))")
  }
  return String(cString: made)
}()

/// The path of scratch file `name` (the same path on every call, overwritten by each input).
public func scratchPath(_ name: String) -> String {
  "\(scratchDirectory)/\(name)"
}

/// Writes `bytes` to scratch file `name`, replacing it; returns its path.
@discardableResult
public func writeScratch(_ name: String, _ bytes: some Collection<UInt8>) -> String {
  let path = scratchPath(name)
  let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
  guard fd >= 0 else {
    fatalError("fuzz harness: cannot create \(path): \(String(cString: strerror(errno)))")
  }
  defer { close(fd) }
  let array = Array(bytes)
  var written = 0
  while written < array.count {
    let n = array.withUnsafeBytes { write(fd, $0.baseAddress.map { $0 + written }, array.count - written) }
    if n < 0 && errno == EINTR { continue }
    guard n > 0 else { fatalError("fuzz harness: cannot write \(path): \(String(cString: strerror(errno)))") }
    written += n
  }
  return path
}

/// Writes `bytes` gzip-compressed to scratch file `name`; returns its path.
///
/// Compressing the mutated bytes keeps the gzip layer valid, so mutations
/// reach the format inside it rather than stopping at zlib's checks.
@discardableResult
public func writeScratchGzipped(_ name: String, _ bytes: [UInt8]) -> String {
  let path = scratchPath(name)
  guard let file = gzopen(path, "wb") else {
    fatalError("fuzz harness: cannot create \(path): \(String(cString: strerror(errno)))")
  }
  let n = bytes.withUnsafeBytes { gzwrite(file, $0.baseAddress, UInt32($0.count)) }
  let closed = gzclose(file)
  guard Int(n) == bytes.count || bytes.isEmpty, closed == Z_OK else {
    fatalError("fuzz harness: cannot write \(path) gzipped")
  }
  return path
}

/// The fuzzer's input as an array (libFuzzer passes a null pointer for an empty input).
public func fuzzInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
  guard let data, size > 0 else { return [] }
  return Array(UnsafeBufferPointer(start: data, count: size))
}
