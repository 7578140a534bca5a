import CHDF5

/// An open HDF5 file; closed by `close()` (checked) or, failing that, on deinit.
///
/// New files use the V110 format (metadata checksums) so that damage is
/// detected rather than read back silently.
public final class HDF5File {
  let id: hid_t
  /// The file's path.
  public let path: String
  private var isOpen = true

  private init(id: hid_t, path: String) {
    self.id = id
    self.path = path
  }

  /// Creates (or truncates) the file at `path` in the V110 format.
  public static func create(path: String) throws -> HDF5File {
    try make(path: path, userBlock: 0, inMemory: false)
  }

  /// Creates a file that lives only in memory; `image()` returns its bytes.
  ///
  /// Files meant to survive crashes are built this way: libhdf5 never
  /// writes to disk, so a full disk cannot leave it with a half-flushed
  /// file, and the caller writes the finished image with checked writes and
  /// fsync (`FileSystem.writeUniqueFile`). `userBlock` bytes at the start are
  /// reserved for the application (`FileSeal`). `name` is used in error
  /// messages only.
  public static func createInMemory(name: String, userBlock: Int = 0) throws -> HDF5File {
    try make(path: name, userBlock: userBlock, inMemory: true)
  }

  private static func make(path: String, userBlock: Int, inMemory: Bool) throws -> HDF5File {
    try withHDF5 {
      let fcpl = try checkID(H5Pcreate(nnb_H5P_FILE_CREATE()), "create file creation list", path)
      defer { Close.plist(fcpl) }
      if userBlock > 0 {
        try check(H5Pset_userblock(fcpl, hsize_t(userBlock)), "reserve user block", path)
      }
      let fapl = try checkID(
        H5Pcreate(nnb_H5P_FILE_ACCESS()), "create file access list", path)
      defer { Close.plist(fapl) }
      try check(
        H5Pset_libver_bounds(fapl, H5F_LIBVER_V110, H5F_LIBVER_V110), "set format bounds",
        path)
      try check(H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG), "set close degree", path)
      if inMemory {
        try check(H5Pset_fapl_core(fapl, 8 << 20, false), "select the in-memory driver", path)
      }
      let id = try checkID(
        H5Fcreate(path, nnb_H5F_ACC_TRUNC(), fcpl, fapl), "create file", path)
      return HDF5File(id: id, path: path)
    }
  }

  /// The bytes of the file, after `prefix` zero bytes for its user block (flushes first).
  ///
  /// libhdf5's image starts with the superblock and leaves the user block
  /// out; a file created with a user block gets that many bytes in front.
  public func image(prefix: Int = 0) throws -> [UInt8] {
    try withHDF5 {
      try check(H5Fflush(id, H5F_SCOPE_LOCAL), "flush file", path)
      let size = H5Fget_file_image(id, nil, 0)
      try check(size < 0 ? -1 : 0, "measure file image", path)
      var bytes = [UInt8](repeating: 0, count: prefix + size)
      let copied = bytes.withUnsafeMutableBytes { raw in
        H5Fget_file_image(id, raw.baseAddress.map { $0 + prefix }, size)
      }
      try check(copied != size ? -1 : 0, "copy file image", path)
      try SuperblockChecksum.repair(&bytes, at: prefix, name: path)
      return bytes
    }
  }

  /// Opens an existing file for reading.
  public static func openForReading(path: String) throws -> HDF5File {
    try withHDF5 {
      let fapl = try checkID(
        H5Pcreate(nnb_H5P_FILE_ACCESS()), "create file access list", path)
      defer { Close.plist(fapl) }
      // Closing the file closes its groups too, so no handle keeps it (and its lock) alive.
      try check(H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG), "set close degree", path)
      if FileSystem.isDescriptorPath(path) {
        // The default driver resolves a symlink with realpath, which fails for
        // a nameless file (a copy of standard input); the stdio driver just opens it.
        try check(H5Pset_fapl_stdio(fapl), "select the stdio driver", path)
      }
      let id = try checkID(
        H5Fopen(path, nnb_H5F_ACC_RDONLY(), fapl), "open file", path)
      return HDF5File(id: id, path: path)
    }
  }

  /// The root group "/".
  public func root() throws -> HDF5Group {
    try withHDF5 {
      let group = try checkID(H5Gopen2(id, "/", nnb_H5P_DEFAULT()), "open group /", path)
      return HDF5Group(id: group, file: self, path: "/")
    }
  }

  /// Flushes and closes the file, reporting any failure.
  ///
  /// H5Fclose can succeed after a failed write, so writers must also check
  /// every write; this is the last check, not the only one.
  public func close() throws {
    try withHDF5 {
      guard isOpen else { return }
      isOpen = false
      let flushed = H5Fflush(id, H5F_SCOPE_LOCAL)
      let flushMessage = flushed < 0 ? HDF5Library.errorStackMessage() : nil
      try check(H5Fclose(id), "close file", path)
      if let flushMessage {
        throw HDF5Error(operation: "flush file", path: path, reason: flushMessage)
      }
    }
  }

  deinit {
    if isOpen {
      withHDF5 { _ = H5Fclose(id) }
    }
  }
}
