#if canImport(Glibc)
import Glibc
#endif

/// A whole-file checksum kept in the HDF5 user block (the first 512 bytes,
/// which HDF5 reserves for applications and never reads).
///
/// HDF5's own checks cover metadata and chunks but not unused bytes, and a
/// damaged file can crash the library while it parses it. The seal is
/// checked *before* libhdf5 opens a file, so any flipped bit anywhere is
/// reported as damage and HDF5 only ever parses intact files.
///
/// Layout of the user block: "nnbatch-seal xxh64:<16 hex> bytes:<n>\n",
/// then zeros up to 512 bytes; the hash covers bytes 512..<n. (The magic
/// names the project that defined the seal; files of every format version
/// carry it, so it stays.)
public enum FileSeal {
  /// Size of the user block reserved in every sealed file.
  public static let userBlockSize = 512
  private static let magic = "nnbatch-seal xxh64:"

  private static func failure(_ operation: String, _ path: String) -> FileSealError {
    FileSealError(
      path: path, problem: .unreadable("cannot \(operation): \(String(cString: strerror(errno)))"))
  }

  /// Hashes bytes userBlockSize..<end of the open file `fd`; returns (hash, size).
  private static func hashContents(_ fd: Int32, _ path: String) throws(FileSealError) -> (UInt64, Int) {
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

  /// Checks the seal of the file at `path`; throws a `FileSealError` describing any damage.
  public static func verify(_ path: String) throws(FileSealError) {
    // O_NONBLOCK: opening a FIFO named like a checkpoint would otherwise wait for a writer for
    // ever. What was opened is then checked to be a regular file (a directory opens too).
    let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
    guard fd >= 0 else { throw failure("open", path) }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else { throw failure("stat", path) }
    if let kind = FileSystem.nonRegularKind(info.st_mode) {
      throw FileSealError(path: path, problem: .unreadable("expected a checkpoint file, found \(kind)"))
    }
    var block = [UInt8](repeating: 0, count: userBlockSize)
    let n = block.withUnsafeMutableBytes { pread(fd, $0.baseAddress, userBlockSize, 0) }
    guard n == userBlockSize else {
      throw FileSealError(path: path, problem: .tooShort(bytes: max(n, 0)))
    }
    guard let newline = block.firstIndex(of: 10),
      let line = String(validating: block[..<newline], as: UTF8.self), line.hasPrefix(magic)
    else {
      throw FileSealError(path: path, problem: .noSeal)
    }
    let (hash, size) = try hashContents(fd, path)
    let expected = header(hash: hash, size: size)
    guard expected == block else {
      throw FileSealError(path: path, problem: .mismatch(seal: line, bytes: size))
    }
  }
}

/// A file whose seal is missing or does not match its bytes, or that could not be read to check it.
public struct FileSealError: Error, CustomStringConvertible, Sendable {
  /// What went wrong.
  public enum Problem: Sendable, Equatable {
    /// A system call failed (the text says which and why).
    case unreadable(String)
    /// The file is shorter than the user block.
    case tooShort(bytes: Int)
    /// The user block holds no seal: another kind of file, or a damaged one.
    case noSeal
    /// The bytes do not hash to the seal's value.
    case mismatch(seal: String, bytes: Int)
  }

  /// The file.
  public let path: String
  /// What went wrong.
  public let problem: Problem

  /// An error about `path`.
  public init(path: String, problem: Problem) {
    self.path = path
    self.problem = problem
  }

  /// What is wrong, without the path.
  public var reason: String {
    switch problem {
    case .unreadable(let text): return text
    case .tooShort(let bytes): return "damaged: file too short (\(bytes) bytes) to hold a seal"
    case .noSeal: return "damaged or not sealed: no valid seal in the user block"
    case .mismatch(let seal, let bytes):
      return "damaged: whole-file checksum mismatch (seal says \"\(seal)\", file is \(bytes) bytes)"
    }
  }

  /// One line: "<path>: <reason>".
  public var description: String { "\(path): \(reason)" }
}
