// Raw file-system calls for durable saves; all of them check errno.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Durable file operations: fsync, rename, remove, list, each throwing a `FileSystemError`.
///
/// Every file nnbatch creates goes through here: new files under
/// unpredictable names with `O_EXCL|O_NOFOLLOW` (`createUniqueFile`), nameless
/// temporary files (`createAnonymousFile`), and outputs by one rule per kind
/// of path (`openOutput`).
public enum FileSystem {
  private static func failure(_ operation: String, _ path: String) -> FileSystemError {
    FileSystemError(operation: operation, path: path, reason: String(cString: strerror(errno)))
  }

  /// Writes all of `bytes` to `fd` (retrying short writes); the error names `path`.
  public static func writeAll(to fd: Int32, _ bytes: [UInt8], path: String) throws(FileSystemError) {
    var offset = 0
    let failed: Int32? = bytes.withUnsafeBytes { raw in
      guard let base = raw.baseAddress else { return nil }  // nothing to write
      while offset < raw.count {
        let n = write(fd, base + offset, raw.count - offset)
        if n < 0 {
          if errno == EINTR { continue }
          return errno
        }
        offset += n
      }
      return nil
    }
    if let failed {
      throw FileSystemError(
        operation: "write (\(offset) of \(bytes.count) bytes written)", path: path,
        reason: String(cString: strerror(failed)))
    }
  }

  /// 16 hex digits from the system's CSPRNG: part of a name nobody can know before it exists.
  private static func randomName() -> String {
    var generator = SystemRandomNumberGenerator()
    let digits = String(generator.next() as UInt64, radix: 16)
    return String(repeating: "0", count: 16 - digits.count) + digits
  }

  /// Creates a new file `folder/<prefix><16 random hex digits><suffix>`, open for writing.
  ///
  /// Every file nnbatch creates in a folder that others may write is made
  /// here. `O_EXCL|O_NOFOLLOW`: whatever already sits at the name (a planted
  /// file or symlink) fails the open instead of being written through, and
  /// the random part makes such a clash a matter of chance, retried with a
  /// fresh name, rather than a failed save.
  public static func createUniqueFile(
    in folder: String, prefix: String, suffix: String, mode: mode_t = 0o644
  ) throws(FileSystemError) -> (descriptor: Int32, path: String) {
    let base = folder.isEmpty ? "./" : folder.hasSuffix("/") ? folder : folder + "/"
    for _ in 0..<100 {
      let path = base + prefix + randomName() + suffix
      let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
      if fd >= 0 { return (fd, path) }
      guard errno == EEXIST else { throw failure("create", path) }
    }
    throw FileSystemError(
      operation: "create a file", path: folder, reason: "100 random names in a row were taken")
  }

  /// Writes `bytes` to a new file under an unpredictable name in `folder`
  /// (`createUniqueFile`), fsyncs and closes it, and returns its path.
  ///
  /// A short or failed write (ENOSPC, EFBIG, EIO) throws with the path and
  /// the system's message, after removing the file.
  public static func writeUniqueFile(in folder: String, prefix: String, suffix: String, bytes: [UInt8])
    throws(FileSystemError) -> String
  {
    let (fd, path) = try createUniqueFile(in: folder, prefix: prefix, suffix: suffix)
    do throws(FileSystemError) {
      try writeAll(to: fd, bytes, path: path)
      guard fsync(fd) == 0 else { throw failure("fsync", path) }
    } catch {
      close(fd)
      unlink(path)
      throw error
    }
    guard close(fd) == 0 else {
      let error = failure("close", path)
      unlink(path)
      throw error
    }
    return path
  }

  /// A new file in `folder` that has no name, open for reading and writing.
  ///
  /// `O_TMPFILE` where the file system has it; elsewhere a unique name
  /// (`createUniqueFile`) unlinked at once. Either way the file goes away with
  /// its last descriptor, however the process ends (even SIGKILL). Read it
  /// back by name through `descriptorPath`.
  public static func createAnonymousFile(in folder: String, fallbackPrefix: String) throws(FileSystemError)
    -> Int32
  {
    let fd = open(folder, __O_TMPFILE | O_DIRECTORY | O_RDWR | O_CLOEXEC, 0o600)
    if fd >= 0 { return fd }
    // Kernels and file systems without O_TMPFILE say so with one of these.
    guard errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL else {
      throw failure("create a temporary file in", folder)
    }
    let (named, path) = try createUniqueFile(in: folder, prefix: fallbackPrefix, suffix: ".tmp", mode: 0o600)
    guard unlink(path) == 0 else {
      let error = failure("unlink the new temporary file", path)
      close(named)
      throw error
    }
    return named
  }

  /// A path that opens the file behind `descriptor` anew, even when it has no name (Linux's /proc).
  public static func descriptorPath(_ descriptor: Int32) -> String { descriptorFolder + String(descriptor) }

  private static let descriptorFolder = "/proc/self/fd/"

  /// Whether `path` is one of `descriptorPath`'s: a symlink that realpath cannot resolve for a nameless file.
  public static func isDescriptorPath(_ path: String) -> Bool { path.hasPrefix(descriptorFolder) }

  /// The folder for temporary files: `$TMPDIR` when set and not empty, else /tmp.
  ///
  /// Throws (a usage error) when `$TMPDIR` is not valid UTF-8: nnbatch hands
  /// paths to the system as text, so such a path would name another folder.
  public static func temporaryDirectory() throws(FileSystemError) -> String {
    guard let raw = getenv("TMPDIR"), raw.pointee != 0 else { return "/tmp" }
    guard let folder = String(validatingCString: raw) else {
      throw FileSystemError(
        operation: "use $TMPDIR", path: String(cString: raw),
        reason: "expected a folder name in UTF-8, found other bytes", isUsageError: true)
    }
    return folder
  }

  // MARK: Output paths

  /// Where an output path leads, by the one rule for output paths (`openOutput`).
  public enum OutputTarget: Equatable, Sendable {
    /// A regular file, or nothing yet: replaced atomically at this path (symlinks already followed).
    case file(String)
    /// A character device or a FIFO: written through at this path.
    case stream(String)
  }

  /// The usage error for an output path that nnbatch never writes.
  private static func refused(_ path: String, _ found: String) -> FileSystemError {
    FileSystemError(
      operation: "write", path: path, reason: "expected a file, a device or a FIFO, found \(found)",
      isUsageError: true)
  }

  /// What output `path` is once its symlinks are followed; throws a usage
  /// error for kinds nnbatch never writes (a directory, block device or socket).
  public static func outputTarget(_ path: String) throws(FileSystemError) -> OutputTarget {
    guard !path.isEmpty else {
      throw FileSystemError(
        operation: "write", path: "\"\"", reason: "expected a file path, found an empty string",
        isUsageError: true)
    }
    var current = path
    for _ in 0..<40 {  // the kernel's own limit on links in a row (ELOOP)
      let name = current.split(separator: "/", omittingEmptySubsequences: false).last ?? ""
      if name.isEmpty || name == "." || name == ".." { throw refused(path, "a folder path") }
      var info = stat()
      guard lstat(current, &info) == 0 else {
        guard errno == ENOENT else { throw failure("look up the output", current) }
        return .file(current)
      }
      switch info.st_mode & S_IFMT {
      case S_IFREG: return .file(current)
      case S_IFCHR, S_IFIFO: return .stream(current)
      case S_IFLNK: current = try linkTarget(current)
      case S_IFDIR: throw refused(path, current == path ? "a directory" : "a symlink to directory \(current)")
      case S_IFBLK: throw refused(path, "a block device")
      case S_IFSOCK: throw refused(path, "a socket")
      default: throw refused(path, "a special file")
      }
    }
    throw FileSystemError(
      operation: "write", path: path, reason: "expected a file, found over 40 symlinks in a row",
      isUsageError: true)
  }

  /// Where symlink `link` points, relative targets taken from the link's own folder.
  private static func linkTarget(_ link: String) throws(FileSystemError) -> String {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let n = readlink(link, &buffer, buffer.count - 1)
    guard n >= 0 else { throw failure("read the symlink", link) }
    let target = String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    guard !target.hasPrefix("/"), let slash = link.lastIndex(of: "/") else { return target }
    return String(link[...slash]) + target
  }

  /// The folder holding `path` and the name in it.
  private static func split(_ path: String) -> (folder: String, name: String) {
    guard let slash = path.lastIndex(of: "/") else { return (".", path) }
    let folder = String(path[..<slash])
    return (folder.isEmpty ? "/" : folder, String(path[path.index(after: slash)...]))
  }

  /// An output opened by `openOutput`: its descriptor, open for writing at
  /// the end of what is there, and the path it writes (symlinks followed).
  public struct OutputFile: Sendable {
    /// The open descriptor; the caller closes it.
    public let descriptor: Int32
    /// The file, device or FIFO written.
    public let path: String
  }

  /// Opens output `path` with `bytes` written, by the one rule for output paths.
  ///
  /// - a character device or a FIFO is written through: opened `O_WRONLY`,
  ///   never created, truncated or renamed over (`-o /dev/stdout`, a pipe);
  /// - a symlink is followed to its final target, which these rules then treat;
  /// - a regular file, or nothing, is replaced atomically: `bytes` go to a new
  ///   file with an unpredictable name in the target's own folder
  ///   (`createUniqueFile`), keeping an existing file's permissions, fsynced,
  ///   renamed over the target, and the folder fsynced;
  /// - anything else (a directory, block device, socket) is refused as a
  ///   usage error before anything is created.
  ///
  /// Only a regular file is ever renamed over. The descriptor stays open so
  /// that a log can go on appending; the caller closes it (`closeOutput`).
  public static func openOutput(_ path: String, writing bytes: [UInt8]) throws(FileSystemError) -> OutputFile
  {
    switch try outputTarget(path) {
    case .stream(let stream):
      // O_NOFOLLOW and the fstat below: what is opened is what outputTarget saw.
      let fd = open(stream, O_WRONLY | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC)
      guard fd >= 0 else { throw failure("open for writing", stream) }
      var info = stat()
      guard fstat(fd, &info) == 0 else {
        let error = failure("stat", stream)
        close(fd)
        throw error
      }
      guard info.st_mode & S_IFMT == S_IFCHR || info.st_mode & S_IFMT == S_IFIFO else {
        close(fd)
        throw FileSystemError(
          operation: "write", path: stream, reason: "expected a device or a FIFO, found it replaced by a file"
        )
      }
      do throws(FileSystemError) {
        try writeAll(to: fd, bytes, path: stream)
      } catch {
        close(fd)
        throw error
      }
      return OutputFile(descriptor: fd, path: stream)
    case .file(let target):
      let (folder, name) = split(target)
      var existing = stat()
      let keptMode: mode_t? =
        lstat(target, &existing) == 0 && existing.st_mode & S_IFMT == S_IFREG ? existing.st_mode & 0o777 : nil
      // Long names stay within NAME_MAX (255 bytes) with the random part added.
      let stem = name.utf8.count > 200 ? String(decoding: name.utf8.prefix(200), as: UTF8.self) : name
      let (fd, temporary) = try createUniqueFile(in: folder, prefix: ".\(stem).", suffix: ".tmp")
      do throws(FileSystemError) {
        if let keptMode, fchmod(fd, keptMode) != 0 { throw failure("set the permissions of", temporary) }
        try writeAll(to: fd, bytes, path: temporary)
        guard fsync(fd) == 0 else { throw failure("fsync", temporary) }
        guard Glibc.rename(temporary, target) == 0 else { throw failure("rename to \(target)", temporary) }
      } catch {
        close(fd)
        unlink(temporary)
        throw error
      }
      do throws(FileSystemError) {
        try fsyncDirectory(folder)
      } catch {
        close(fd)
        throw error
      }
      return OutputFile(descriptor: fd, path: target)
    }
  }

  /// Closes an output from `openOutput`, reporting a failed close (where NFS reports deferred write errors).
  public static func closeOutput(_ output: OutputFile) throws(FileSystemError) {
    guard close(output.descriptor) == 0 else { throw failure("close", output.path) }
  }

  /// Writes `bytes` as the whole of output `path`, by the rule of `openOutput`; returns the path written.
  @discardableResult
  public static func writeOutput(_ path: String, bytes: [UInt8]) throws(FileSystemError) -> String {
    let output = try openOutput(path, writing: bytes)
    try closeOutput(output)
    return output.path
  }

  /// Makes renames and deletions in directory `path` durable.
  public static func fsyncDirectory(_ path: String) throws(FileSystemError) {
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
      // d_name is declared as 256 bytes, but a record ends at its name's NUL
      // (d_reclen): copying the whole array would read past the record, and past
      // readdir's buffer for its last entry. Read up to the NUL in place.
      let name = withUnsafeMutablePointer(to: &entry.pointee.d_name) { field in
        let bytes = UnsafeRawPointer(field).assumingMemoryBound(to: CChar.self)
        return String(decoding: UnsafeRawBufferPointer(start: bytes, count: strlen(bytes)), as: UTF8.self)
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

  /// What a file of `mode` (a `stat` mode) is when it is not a regular file, as messages name it
  /// ("a directory", "a FIFO (named pipe)", ...); nil for a regular file.
  public static func nonRegularKind(_ mode: mode_t) -> String? {
    switch mode & S_IFMT {
    case S_IFREG: return nil
    case S_IFDIR: return "a directory"
    case S_IFIFO: return "a FIFO (named pipe)"
    case S_IFCHR: return "a character device"
    case S_IFBLK: return "a block device"
    case S_IFSOCK: return "a socket"
    default: return "not a regular file"
    }
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
