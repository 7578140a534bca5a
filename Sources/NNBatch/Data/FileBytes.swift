import CZlib
import Foundation

#if canImport(Glibc)
import Glibc
#endif

// Byte-level file access shared by the file sources: whole files (gunzipped
// transparently) for in-memory reading, and a file's first bytes for format
// detection.

/// Reads a whole file as bytes, transparently gunzipping (zlib's gzread).
func readFileBytes(_ path: String) throws(NNBatchError) -> [UInt8] {
  guard FileManager.default.fileExists(atPath: path) else {
    throw NNBatchError(.usage, "\(path): no such file")
  }
  guard let file = gzopen(path, "rb") else {
    throw NNBatchError(.usage, "\(path): cannot open: \(String(cString: strerror(errno)))")
  }
  defer { gzclose(file) }
  var bytes: [UInt8] = []
  // The file's size is the exact size of a plain file and a lower bound for
  // a gzipped one: reserving it avoids regrowing a buffer of hundreds of MB.
  var info = stat()
  if stat(path, &info) == 0 { bytes.reserveCapacity(Int(info.st_size)) }
  var chunk = [UInt8](repeating: 0, count: 1 << 20)
  while true {
    let n = chunk.withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32($0.count)) }
    if n < 0 { throw gzipError(file, path: path) }
    if n == 0 { break }
    bytes.append(contentsOf: chunk[0..<Int(n)])
  }
  return bytes
}

private func gzipError(_ file: gzFile, path: String) -> NNBatchError {
  var code: Int32 = 0
  let message = gzerror(file, &code).map { String(cString: $0) } ?? "read error"
  return NNBatchError(.usage, "\(path): cannot read: \(message)")
}

/// A file's first bytes, for telling formats apart by content (never by name).
package final class FileHead {
  /// How many leading bytes `content` holds at most.
  static let length = 4096

  /// The file.
  package let path: String
  /// Its size in bytes.
  package let size: Int
  /// Whether it is gzip-compressed (starts with 1f 8b).
  package let isGzip: Bool
  /// The first bytes of its content, gunzipped when it is compressed.
  package let content: [UInt8]
  /// Its first raw bytes (at most 8).
  private let prefix: [UInt8]
  private let descriptor: Int32

  /// Opens `path` and reads its first bytes.
  package init(path: String) throws(NNBatchError) {
    guard FileManager.default.fileExists(atPath: path) else {
      throw NNBatchError(.usage, "\(path): no such file")
    }
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else {
      throw NNBatchError(.usage, "\(path): cannot open: \(String(cString: strerror(errno)))")
    }
    var info = stat()
    let prefix: [UInt8]
    let content: [UInt8]
    do throws(NNBatchError) {
      guard fstat(fd, &info) == 0 else {
        throw NNBatchError(.usage, "\(path): cannot read: \(String(cString: strerror(errno)))")
      }
      prefix = try Self.read(fd, path: path, at: 0, count: 8)
      content = try Self.readContent(path: path)
    } catch {
      close(fd)
      throw error
    }
    self.path = path
    self.descriptor = fd
    self.size = Int(info.st_size)
    self.prefix = prefix
    self.isGzip = prefix.starts(with: [0x1F, 0x8B])
    self.content = content
  }

  deinit { close(descriptor) }

  /// `count` raw (still compressed) bytes at `offset`; fewer at the end of the file.
  package func bytes(at offset: Int, count: Int) throws(NNBatchError) -> [UInt8] {
    try Self.read(descriptor, path: path, at: offset, count: count)
  }

  /// Whether the content is a JSON object, as a config is: `{` after white space.
  ///
  /// A byte-order mark is skipped. No data format nnbatch reads starts so.
  package var isJSONObject: Bool {
    var bytes = content[...]
    if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }
    return bytes.first { ![0x20, 0x09, 0x0A, 0x0D].contains($0) } == UInt8(ascii: "{")
  }

  /// "first bytes 7f 45 4c 46" (and the gunzipped ones), for messages.
  package var summary: String {
    func hex(_ bytes: some Collection<UInt8>) -> String {
      bytes.map { String(format: "%02x", $0) }.joined(separator: " ")
    }
    if size == 0 { return "an empty file" }
    guard isGzip else { return "first bytes \(hex(content.prefix(4)))" }
    return "first bytes \(hex(prefix.prefix(4))), gunzipped \(hex(content.prefix(4)))"
  }

  private static func read(_ fd: Int32, path: String, at offset: Int, count: Int) throws(NNBatchError)
    -> [UInt8]
  {
    var buffer = [UInt8](repeating: 0, count: count)
    let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(offset)) }
    guard n >= 0 else {
      throw NNBatchError(.usage, "\(path): cannot read: \(String(cString: strerror(errno)))")
    }
    return Array(buffer.prefix(n))
  }

  /// The first `length` bytes through zlib, which passes uncompressed files through.
  private static func readContent(path: String) throws(NNBatchError) -> [UInt8] {
    guard let file = gzopen(path, "rb") else {
      throw NNBatchError(.usage, "\(path): cannot open: \(String(cString: strerror(errno)))")
    }
    defer { gzclose(file) }
    var buffer = [UInt8](repeating: 0, count: length)
    var filled = 0
    while filled < length {
      let n = buffer.withUnsafeMutableBytes { raw in
        gzread(file, raw.baseAddress.map { $0 + filled }, UInt32(length - filled))
      }
      // A truncated gzip stream still tells its format by its first bytes.
      if n < 0 { break }
      if n == 0 { break }
      filled += Int(n)
    }
    return Array(buffer.prefix(filled))
  }
}
