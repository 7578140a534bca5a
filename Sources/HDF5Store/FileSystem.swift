// Raw file-system calls for durable saves; all of them check errno.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Durable file operations: fsync, rename, remove, list, each throwing a `FileSystemError`.
public enum FileSystem {
  private static func failure(_ operation: String, _ path: String) -> FileSystemError {
    FileSystemError(operation: operation, path: path, reason: String(cString: strerror(errno)))
  }

  /// Writes `bytes` to a new file at `path` (replacing it), checking every call, and fsyncs it.
  ///
  /// A short or failed write (ENOSPC, EFBIG, EIO) throws with the path and
  /// the system's message; the caller removes the partial file.
  public static func writeNewFile(_ path: String, bytes: [UInt8]) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw failure("create", path) }
    var closed = false
    defer { if !closed { close(fd) } }
    var offset = 0
    try bytes.withUnsafeBytes { raw in
      guard let base = raw.baseAddress else { return }  // nothing to write
      while offset < raw.count {
        let n = write(fd, base + offset, raw.count - offset)
        if n < 0 {
          if errno == EINTR { continue }
          throw failure("write (\(offset) of \(raw.count) bytes written)", path)
        }
        offset += n
      }
    }
    guard fsync(fd) == 0 else { throw failure("fsync", path) }
    closed = true
    guard close(fd) == 0 else { throw failure("close", path) }
  }

  /// Makes renames and deletions in directory `path` durable.
  public static func fsyncDirectory(_ path: String) throws {
    let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard fd >= 0 else { throw failure("open directory for fsync", path) }
    defer { close(fd) }
    guard fsync(fd) == 0 else { throw failure("fsync directory", path) }
  }

  /// Atomically replaces `destination` with `source` (same file system).
  ///
  /// The corresponding C function is `rename`.
  public static func rename(_ source: String, to destination: String) throws {
    guard Glibc.rename(source, destination) == 0 else {
      throw failure("rename to \(destination)", source)
    }
  }

  /// Removes file `path`; a missing file is not an error.
  public static func remove(_ path: String) throws {
    guard unlink(path) == 0 || errno == ENOENT else { throw failure("remove", path) }
  }

  /// Creates directory `path` and its parents, like `mkdir -p`.
  public static func createDirectories(_ path: String) throws {
    var current = path.hasPrefix("/") ? "" : "."
    for component in path.split(separator: "/") {
      current += "/\(component)"
      if mkdir(current, 0o755) != 0 && errno != EEXIST {
        throw failure("create directory", current)
      }
    }
    var info = stat()
    guard stat(path, &info) == 0 else { throw failure("create directory", path) }
    guard (info.st_mode & S_IFMT) == S_IFDIR else {
      throw FileSystemError(
        operation: "create directory", path: path, reason: "exists and is not a directory")
    }
  }

  /// Names of the entries of directory `path` (without "." and ".."), sorted.
  public static func list(_ path: String) throws -> [String] {
    guard let directory = opendir(path) else { throw failure("list directory", path) }
    defer { closedir(directory) }
    var names: [String] = []
    while let entry = readdir(directory) {
      // d_name is a NUL-terminated fixed-size array.
      let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
        String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
      }
      if name != "." && name != ".." { names.append(name) }
    }
    return names.sorted()
  }

  /// Whether `path` exists.
  public static func exists(_ path: String) -> Bool {
    access(path, F_OK) == 0
  }

  /// Whether `path` is a directory.
  public static func isDirectory(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
  }

  /// What tells a file's contents apart from a changed or replaced file's: device, inode, size, modification time.
  ///
  /// A streamed data file is compared with the identity it had when opened
  /// after every block read: a file truncated, rewritten or renamed over in
  /// the meantime differs in at least one field.
  public struct Identity: Sendable, Equatable, CustomStringConvertible {
    /// Device and inode: which file the path names.
    public var device: UInt64
    /// The inode number.
    public var inode: UInt64
    /// Size in bytes.
    public var size: Int
    /// Modification time, seconds and nanoseconds.
    public var modified: (seconds: Int, nanoseconds: Int)

    /// Whether both name the same file with the same size and modification time.
    public static func == (a: Identity, b: Identity) -> Bool {
      a.device == b.device && a.inode == b.inode && a.size == b.size && a.modified == b.modified
    }

    /// The fields that differ from `earlier`, for messages ("size 1024 → 0 bytes").
    public func changes(since earlier: Identity) -> String {
      var parts: [String] = []
      if device != earlier.device || inode != earlier.inode {
        parts.append("replaced by another file (inode \(earlier.inode) → \(inode))")
      }
      if size != earlier.size { parts.append("size \(earlier.size) → \(size) bytes") }
      if modified != earlier.modified { parts.append("modified") }
      return parts.joined(separator: ", ")
    }

    /// `inode 12, 1024 bytes`.
    public var description: String { "inode \(inode), \(size) bytes" }

    init(_ info: stat) {
      device = UInt64(info.st_dev)
      inode = UInt64(info.st_ino)
      size = Int(info.st_size)
      modified = (Int(info.st_mtim.tv_sec), Int(info.st_mtim.tv_nsec))
    }
  }

  /// The identity of the file `path` names now (following symlinks, as an open does).
  ///
  /// The corresponding C function is `stat`.
  public static func identity(_ path: String) throws(FileSystemError) -> Identity {
    var info = stat()
    guard stat(path, &info) == 0 else { throw failure("stat", path) }
    return Identity(info)
  }

  /// The identity of the open file `descriptor` (`path` names it in errors).
  ///
  /// The corresponding C function is `fstat`.
  public static func identity(descriptor: Int32, path: String) throws(FileSystemError) -> Identity {
    var info = stat()
    guard fstat(descriptor, &info) == 0 else { throw failure("fstat", path) }
    return Identity(info)
  }

  /// Size of file `path` in bytes.
  public static func size(_ path: String) throws -> Int {
    var info = stat()
    guard stat(path, &info) == 0 else { throw failure("stat", path) }
    return Int(info.st_size)
  }
}
