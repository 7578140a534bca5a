import CZlib
import Foundation
import NNBatchCore

#if canImport(Glibc)
import Glibc
#endif

// Byte-level file access shared by the file sources: whole files (gunzipped
// transparently) for in-memory reading, and a file's first bytes for format
// detection.

/// Reads a whole file as bytes, gunzipping it when it starts with the gzip magic.
///
/// Refuses what cannot be read correctly: anything but a regular file (a
/// device such as /dev/zero never ends), a gzip stream without its end
/// (truncated: its trailer holds the length and CRC that prove it whole),
/// bytes after the last gzip member that are not another member, and
/// contents larger than the memory nnbatch may use.
func readFileBytes(_ path: String) throws(NNBatchError) -> [UInt8] {
  let raw = try readRegularFile(path)
  guard raw.starts(with: [0x1F, 0x8B]) else { return raw }
  return try gunzip(raw, path: path)
}

/// The error of a failed open, stat or read of data file `path`, its exit code chosen by `code` (errno).
///
/// The one place that tells the system's failures from the file's: a process
/// out of descriptors (EMFILE, ENFILE), out of memory (ENOMEM, ENOBUFS) or a
/// failing device (EIO, ...) is an I/O failure (exit 1) that says nothing about
/// the file, and the same command may work later; a missing, unreadable or
/// unsuitable file (ENOENT, EACCES, EISDIR, ELOOP, ...) is the caller's to fix (exit 2).
func dataFileError(_ path: String, _ action: String, code: Int32 = errno) -> NNBatchError {
  let system: Set<Int32> = [EMFILE, ENFILE, ENOMEM, ENOBUFS, EIO, EAGAIN, EINTR, ETIMEDOUT, ESTALE, ENOLCK]
  let reason = code == ENOENT ? "no such file" : "\(action): \(String(cString: strerror(code)))"
  return NNBatchError(system.contains(code) ? .failure : .usage, "\(path): \(reason)")
}

/// Throws unless `path` is a regular file this process can open for reading.
///
/// A device such as /dev/zero never ends, a FIFO blocks; the file is opened
/// once (and closed) so that a source read by libhdf5, which reports no errno,
/// is refused here with the exit code `dataFileError` gives.
func requireRegularFile(_ path: String) throws(NNBatchError) {
  var info = stat()
  guard stat(path, &info) == 0 else { throw dataFileError(path, "cannot open") }
  let kind: String
  switch info.st_mode & S_IFMT {
  case S_IFREG:
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw dataFileError(path, "cannot open") }
    close(fd)
    return
  case S_IFDIR: kind = "a directory"
  case S_IFCHR: kind = "a character device"
  case S_IFBLK: kind = "a block device"
  case S_IFIFO: kind = "a FIFO (named pipe)"
  case S_IFSOCK: kind = "a socket"
  default: kind = "not a regular file"
  }
  throw NNBatchError(.usage, "\(path): expected a regular file, found \(kind)")
}

/// A regular file's raw bytes, its size checked first against `limit` (bytes) or else the memory budget.
///
/// `limit` is for many small files (images), where reading the budget per file would cost more than the file.
func readRegularFile(_ path: String, limit: Int? = nil) throws(NNBatchError) -> [UInt8] {
  try requireRegularFile(path)
  let fd = open(path, O_RDONLY)
  guard fd >= 0 else {
    throw dataFileError(path, "cannot open")
  }
  defer { close(fd) }
  var info = stat()
  guard fstat(fd, &info) == 0 else {
    throw dataFileError(path, "cannot read")
  }
  let size = Int(info.st_size)
  if let limit {
    guard size <= limit else {
      throw NNBatchError(
        .usage,
        "\(path): expected a file of at most \(MemoryBudget.format(limit)), found \(MemoryBudget.format(size))"
      )
    }
  } else {
    try MemoryBudget.require(size, for: "reading the file", in: path)
  }
  var bytes = [UInt8](repeating: 0, count: size)
  var filled = 0
  while filled < size {
    let n = bytes.withUnsafeMutableBytes { raw in
      pread(fd, raw.baseAddress.map { $0 + filled }, size - filled, off_t(filled))
    }
    if n < 0 && errno == EINTR { continue }
    guard n >= 0 else {
      throw dataFileError(path, "cannot read")
    }
    // The file shrank while being read: what is left is what there is.
    if n == 0 { break }
    filled += n
  }
  return filled == size ? bytes : Array(bytes.prefix(filled))
}

/// The concatenated contents of every gzip member of `compressed` (RFC 1952).
private func gunzip(_ compressed: [UInt8], path: String) throws(NNBatchError) -> [UInt8] {
  var output: [UInt8] = []
  output.reserveCapacity(compressed.count)
  let budget = MemoryBudget.current()
  var stream = z_stream()
  // 15 + 16: a 32 KB window, gzip wrapper only (a zlib or raw stream is an error).
  guard inflateInit2_(&stream, 15 + 16, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
    throw NNBatchError(.failure, "\(path): cannot start gunzip (zlib)")
  }
  defer { inflateEnd(&stream) }
  var chunk = [UInt8](repeating: 0, count: 1 << 20)
  var offset = 0  // input consumed so far
  return try compressed.withUnsafeBufferPointer { input throws(NNBatchError) -> [UInt8] in
    guard let base = input.baseAddress else { return [] }
    while true {
      // One member: inflate until its end (trailer checked by zlib).
      stream.next_in = UnsafeMutablePointer(mutating: base + offset)
      stream.avail_in = UInt32(clamping: input.count - offset)
      var status = Z_OK
      while status != Z_STREAM_END {
        let before = Int(stream.avail_in)
        status = chunk.withUnsafeMutableBufferPointer { out in
          stream.next_out = out.baseAddress
          stream.avail_out = UInt32(out.count)
          return inflate(&stream, Z_NO_FLUSH)
        }
        let produced = chunk.count - Int(stream.avail_out)
        offset += before - Int(stream.avail_in)
        if status != Z_OK && status != Z_STREAM_END && status != Z_BUF_ERROR {
          let reason = stream.msg.map { String(cString: $0) } ?? "zlib error \(status)"
          throw NNBatchError(
            .usage, "\(path): byte \(offset): expected gzip data, found damaged data (\(reason))")
        }
        if produced > 0 {
          guard output.count + produced <= budget.bytes else {
            throw NNBatchError(
              .usage,
              "\(path): gunzipped content exceeds \(MemoryBudget.format(output.count)), more than nnbatch may use: \(budget)"
            )
          }
          output.append(contentsOf: chunk[0..<produced])
        }
        if status == Z_STREAM_END { break }
        if produced == 0 && Int(stream.avail_in) == before {
          // No progress: the whole file went in and the member has not ended.
          throw NNBatchError(
            .usage,
            "\(path): byte \(offset): expected the rest of the gzip stream (its end and trailer), found the end of the file (truncated after \(output.count) gunzipped bytes)"
          )
        }
        if input.count - offset > 0 && stream.avail_in == 0 {
          stream.next_in = UnsafeMutablePointer(mutating: base + offset)
          stream.avail_in = UInt32(clamping: input.count - offset)
        }
      }
      guard offset < input.count else { return output }
      // gzip allows several members one after another; anything else is garbage.
      guard input.count - offset >= 2, input[offset] == 0x1F, input[offset + 1] == 0x8B else {
        throw NNBatchError(
          .usage,
          "\(path): byte \(offset): expected the end of the file or another gzip member after the gzip stream, found \(input.count - offset) more bytes"
        )
      }
      guard inflateReset(&stream) == Z_OK else {
        throw NNBatchError(.failure, "\(path): cannot restart gunzip (zlib)")
      }
    }
  }
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
    try requireRegularFile(path)
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else {
      throw dataFileError(path, "cannot open")
    }
    var info = stat()
    let prefix: [UInt8]
    let content: [UInt8]
    do throws(NNBatchError) {
      guard fstat(fd, &info) == 0 else {
        throw dataFileError(path, "cannot read")
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
      throw dataFileError(path, "cannot read")
    }
    return Array(buffer.prefix(n))
  }

  /// The first `length` bytes through zlib, which passes uncompressed files through.
  private static func readContent(path: String) throws(NNBatchError) -> [UInt8] {
    guard let file = gzopen(path, "rb") else {
      throw dataFileError(path, "cannot open")
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
