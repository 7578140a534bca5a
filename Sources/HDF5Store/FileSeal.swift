#if canImport(Glibc)
import Glibc
#endif

/// A whole-file checksum kept in the HDF5 user block (the first 512 bytes,
/// which HDF5 reserves for applications and never reads).
///
/// HDF5's own checks cover metadata and chunks but not unused bytes, and a
/// damaged file can crash the library while it parses it. The seal is
/// checked *before* libhdf5 opens a checkpoint, so any flipped bit anywhere
/// is reported as damage and HDF5 only ever parses intact files.
///
/// Layout of the user block: "nnbatch-seal xxh64:<16 hex> bytes:<n>\n",
/// then zeros up to 512 bytes; the hash covers bytes 512..<n.
public enum FileSeal {
  /// Size of the user block reserved in every checkpoint.
  public static let userBlockSize = 512
  private static let magic = "nnbatch-seal xxh64:"

  private static func failure(_ operation: String, _ path: String) -> HDF5Error {
    HDF5Error(operation: operation, path: path, reason: String(cString: strerror(errno)))
  }

  /// Hashes bytes userBlockSize..<end of the open file `fd`; returns (hash, size).
  private static func hashContents(_ fd: Int32, _ path: String) throws -> (UInt64, Int) {
    var hasher = XXH64()
    var offset = userBlockSize
    let chunk = 1 << 20
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 64)
    defer { buffer.deallocate() }
    while true {
      let n = pread(fd, buffer.baseAddress, chunk, off_t(offset))
      if n < 0 {
        if errno == EINTR { continue }
        throw failure("read for checksum", path)
      }
      if n == 0 { break }
      hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
      offset += n
    }
    return (hasher.finalize(), offset)
  }

  private static func header(hash: UInt64, size: Int) -> [UInt8] {
    let hex = String(hash, radix: 16)
    let text = magic + String(repeating: "0", count: 16 - hex.count) + hex + " bytes:\(size)\n"
    return Array(text.utf8) + [UInt8](repeating: 0, count: userBlockSize - text.utf8.count)
  }

  /// Seals a file image held in memory: hashes bytes 512..<end, fills the user block.
  public static func seal(_ bytes: inout [UInt8]) {
    precondition(bytes.count >= userBlockSize, "an image with a user block has at least 512 bytes")
    var hasher = XXH64()
    bytes.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[userBlockSize...])) }
    bytes.replaceSubrange(0..<userBlockSize, with: header(hash: hasher.finalize(), size: bytes.count))
  }

  /// Checks the seal of the file at `path`; throws a `CheckpointError` describing any damage.
  public static func verify(_ path: String) throws {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else {
      throw CheckpointError(path: path, reason: "cannot open: \(String(cString: strerror(errno)))")
    }
    defer { close(fd) }
    var block = [UInt8](repeating: 0, count: userBlockSize)
    let n = block.withUnsafeMutableBytes { pread(fd, $0.baseAddress, userBlockSize, 0) }
    guard n == userBlockSize else {
      throw CheckpointError(
        path: path, reason: "damaged: file too short (\(max(n, 0)) bytes) for a checkpoint")
    }
    guard let newline = block.firstIndex(of: 10),
      let line = String(validating: block[..<newline], as: UTF8.self), line.hasPrefix(magic)
    else {
      throw CheckpointError(
        path: path, reason: "damaged or not an nnbatch checkpoint: no valid seal in the user block")
    }
    let (hash, size) = try hashContents(fd, path)
    let expected = header(hash: hash, size: size)
    guard expected == block else {
      throw CheckpointError(
        path: path,
        reason: "damaged: whole-file checksum mismatch (seal says \"\(line)\", file is \(size) bytes)")
    }
  }
}
