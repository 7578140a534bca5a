import CHDF5

/// The element types nnbatch stores in datasets.
public enum HDF5ElementType: String, Sendable {
  /// IEEE 754 binary32.
  case float32
  /// IEEE 754 binary64.
  case float64
  /// Signed 64-bit integer.
  case int64
  /// Unsigned 64-bit integer.
  case uint64

  var nativeType: hid_t {
    switch self {
    case .float32: return nnb_H5T_NATIVE_FLOAT()
    case .float64: return nnb_H5T_NATIVE_DOUBLE()
    case .int64: return nnb_H5T_NATIVE_INT64()
    case .uint64: return nnb_H5T_NATIVE_UINT64()
    }
  }

  var isFloatingPoint: Bool { self == .float32 || self == .float64 }
}

/// A Swift type that can be stored as an HDF5 dataset element.
public protocol HDF5Element: Sendable {
  /// The matching HDF5 element type.
  static var hdf5Type: HDF5ElementType { get }
  /// Zero, for allocating read buffers.
  static var zero: Self { get }
}

extension Float: HDF5Element {
  /// binary32.
  public static var hdf5Type: HDF5ElementType { .float32 }
}

extension Double: HDF5Element {
  /// binary64.
  public static var hdf5Type: HDF5ElementType { .float64 }
}

extension Int64: HDF5Element {
  /// 64-bit signed.
  public static var hdf5Type: HDF5ElementType { .int64 }
}

extension UInt64: HDF5Element {
  /// 64-bit unsigned.
  public static var hdf5Type: HDF5ElementType { .uint64 }
}

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
  ///
  /// `userBlock` bytes at the start are reserved for the application.
  public static func create(path: String, userBlock: Int = 0) throws -> HDF5File {
    try make(path: path, userBlock: userBlock, inMemory: false)
  }

  /// Creates a file that lives only in memory; `image()` returns its bytes.
  ///
  /// Checkpoints are built this way: libhdf5 never writes to disk, so a
  /// full disk cannot leave it with a half-flushed file, and nnbatch writes
  /// the finished image itself with checked writes and fsync. `name` is
  /// used in error messages only.
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

/// An open group of an HDF5 file: sub-groups, datasets and attributes.
public final class HDF5Group {
  let id: hid_t
  /// Keeps the file open while the group is used.
  let file: HDF5File
  /// The group's path inside the file ("/model/layer_0").
  public let path: String

  init(id: hid_t, file: HDF5File, path: String) {
    self.id = id
    self.file = file
    self.path = path
  }

  deinit {
    withHDF5 {
      // After a strong file close the id is already gone; that is not an error.
      if H5Iis_valid(id) > 0 { _ = H5Gclose(id) }
      _ = H5Eclear2(nnb_H5E_DEFAULT())
    }
  }

  private func childPath(_ name: String) -> String {
    path == "/" ? "/\(name)" : "\(path)/\(name)"
  }

  private func where_(_ name: String) -> String { "\(file.path):\(childPath(name))" }

  /// Creates the sub-group `name`.
  public func createGroup(_ name: String) throws -> HDF5Group {
    try withHDF5 {
      let child = try checkID(
        H5Gcreate2(id, name, nnb_H5P_DEFAULT(), nnb_H5P_DEFAULT(), nnb_H5P_DEFAULT()),
        "create group", where_(name))
      return HDF5Group(id: child, file: file, path: childPath(name))
    }
  }

  /// Opens the existing sub-group `name`.
  public func openGroup(_ name: String) throws -> HDF5Group {
    try withHDF5 {
      guard contains(name) else {
        throw HDF5Error(operation: "open group", path: where_(name), reason: "no such group")
      }
      let child = try checkID(H5Gopen2(id, name, nnb_H5P_DEFAULT()), "open group", where_(name))
      return HDF5Group(id: child, file: file, path: childPath(name))
    }
  }

  /// Whether a link `name` (group or dataset) exists in this group.
  public func contains(_ name: String) -> Bool {
    withHDF5 {
      let exists = H5Lexists(id, name, nnb_H5P_DEFAULT())
      if exists < 0 { _ = HDF5Library.errorStackMessage() }
      return exists > 0
    }
  }

  /// Names of the links in this group, in name order.
  public func memberNames() throws -> [String] {
    try withHDF5 {
      var info = H5G_info_t()
      try check(H5Gget_info(id, &info), "list group", "\(file.path):\(path)")
      var names: [String] = []
      for index in 0..<info.nlinks {
        let size = H5Lget_name_by_idx(
          id, ".", H5_INDEX_NAME, H5_ITER_INC, index, nil, 0, nnb_H5P_DEFAULT())
        guard size >= 0 else {
          try check(-1, "read link name", "\(file.path):\(path)")
          continue
        }
        var buffer = [CChar](repeating: 0, count: Int(size) + 1)
        let written = H5Lget_name_by_idx(
          id, ".", H5_INDEX_NAME, H5_ITER_INC, index, &buffer, buffer.count,
          nnb_H5P_DEFAULT())
        try check(written < 0 ? -1 : 0, "read link name", "\(file.path):\(path)")
        names.append(String(decoding: buffer.prefix(Int(size)).map { UInt8(bitPattern: $0) }, as: UTF8.self))
      }
      return names
    }
  }

  // MARK: Datasets

  /// Writes `values` as a new dataset `name` of `shape` (row-major), chunked with fletcher32.
  public func write<T: HDF5Element>(_ values: [T], shape: [Int], name: String) throws {
    try values.withUnsafeBufferPointer { try write($0, shape: shape, name: name) }
  }

  /// Writes the elements of `values` as a new dataset `name` of `shape`, without copying them.
  public func write<T: HDF5Element>(_ values: UnsafeBufferPointer<T>, shape: [Int], name: String) throws {
    precondition(!shape.isEmpty, "datasets have rank ≥ 1")
    precondition(shape.reduce(1, *) == values.count, "shape does not match the value count")
    try withHDF5 {
      let target = where_(name)
      var dims = shape.map { hsize_t($0) }
      let space = try checkID(
        H5Screate_simple(Int32(dims.count), &dims, nil), "create dataspace", target)
      defer { Close.dataspace(space) }
      let dcpl = try checkID(
        H5Pcreate(nnb_H5P_DATASET_CREATE()), "create dataset property list", target)
      defer { Close.plist(dcpl) }
      if !shape.contains(0) {
        var chunk = HDF5Group.chunkShape(for: shape).map { hsize_t($0) }
        try check(H5Pset_chunk(dcpl, Int32(chunk.count), &chunk), "set chunking", target)
        try check(H5Pset_fletcher32(dcpl), "enable fletcher32", target)
      }
      let type = T.hdf5Type.nativeType
      let dataset = try checkID(
        H5Dcreate2(
          id, name, type, space, nnb_H5P_DEFAULT(), dcpl, nnb_H5P_DEFAULT()),
        "create dataset", target)
      var writeError: Error?
      if !values.isEmpty {
        let status = H5Dwrite(
          dataset, type, nnb_H5S_ALL(), nnb_H5S_ALL(), nnb_H5P_DEFAULT(), UnsafeRawPointer(values.baseAddress)
        )
        do { try check(status, "write dataset", target) } catch { writeError = error }
      }
      try Close.dataset(dataset, target)
      if let writeError { throw writeError }
    }
  }

  /// Chunk dimensions: the whole dataset, cut along leading axes past 4 Mi elements.
  static func chunkShape(for shape: [Int]) -> [Int] {
    let limit = 1 << 22
    var chunk = shape
    for axis in chunk.indices {
      let total = chunk.reduce(1, *)
      if total <= limit { break }
      let rest = total / chunk[axis]
      chunk[axis] = max(1, limit / max(rest, 1))
    }
    return chunk
  }

  /// The shape and stored element type of dataset `name`.
  public func datasetInfo(_ name: String) throws -> (shape: [Int], type: HDF5ElementType?) {
    try withHDF5 {
      let target = where_(name)
      guard contains(name) else {
        throw HDF5Error(operation: "open dataset", path: target, reason: "no such dataset")
      }
      let dataset = try checkID(H5Dopen2(id, name, nnb_H5P_DEFAULT()), "open dataset", target)
      defer { _ = H5Dclose(dataset) }
      return try info(of: dataset, target)
    }
  }

  private func info(of dataset: hid_t, _ target: String) throws -> (
    shape: [Int], type: HDF5ElementType?
  ) {
    let space = try checkID(H5Dget_space(dataset), "read dataspace", target)
    defer { Close.dataspace(space) }
    let rank = H5Sget_simple_extent_ndims(space)
    try check(rank < 0 ? -1 : 0, "read rank", target)
    var dims = [hsize_t](repeating: 0, count: Int(rank))
    try check(H5Sget_simple_extent_dims(space, &dims, nil) < 0 ? -1 : 0, "read shape", target)
    let type = try checkID(H5Dget_type(dataset), "read datatype", target)
    defer { Close.datatype(type) }
    let typeClass = H5Tget_class(type)
    let size = H5Tget_size(type)
    var element: HDF5ElementType?
    if typeClass == H5T_FLOAT {
      element = size == 4 ? .float32 : size == 8 ? .float64 : nil
    } else if typeClass == H5T_INTEGER {
      element = H5Tget_sign(type) == H5T_SGN_NONE ? .uint64 : .int64
    }
    return (dims.map { Int($0) }, element)
  }

  /// Reads dataset `name` as `T`, converting from any numeric type of the same kind.
  ///
  /// Floating-point reads accept float32, float64 and integer datasets;
  /// integer reads accept integer datasets only.
  public func read<T: HDF5Element>(_: T.Type, name: String) throws -> (values: [T], shape: [Int]) {
    try withHDF5 {
      let target = where_(name)
      guard contains(name) else {
        throw HDF5Error(operation: "read dataset", path: target, reason: "no such dataset")
      }
      let dataset = try checkID(H5Dopen2(id, name, nnb_H5P_DEFAULT()), "open dataset", target)
      var values: [T] = []
      var shape: [Int] = []
      do {
        let (dims, stored) = try info(of: dataset, target)
        shape = dims
        guard let stored else {
          throw HDF5Error(
            operation: "read dataset", path: target,
            reason: "expected numeric \(T.hdf5Type.rawValue) data, found a non-numeric type")
        }
        if !T.hdf5Type.isFloatingPoint && stored.isFloatingPoint {
          throw HDF5Error(
            operation: "read dataset", path: target,
            reason: "expected integer data, found \(stored.rawValue)")
        }
        values = [T](repeating: T.zero, count: dims.reduce(1, *))
        if !values.isEmpty {
          let status = values.withUnsafeMutableBytes { bytes in
            H5Dread(
              dataset, T.hdf5Type.nativeType, nnb_H5S_ALL(), nnb_H5S_ALL(), nnb_H5P_DEFAULT(),
              bytes.baseAddress)
          }
          try check(status, "read dataset", target)
        }
      } catch {
        _ = H5Dclose(dataset)
        throw error
      }
      try Close.dataset(dataset, target)
      return (values, shape)
    }
  }

  // MARK: Attributes

  /// Sets string attribute `name` (UTF-8, fixed length).
  public func setAttribute(_ name: String, _ value: String) throws {
    try withHDF5 {
      let target = "\(file.path):\(path)@\(name)"
      let bytes = Array(value.utf8)
      let type = try checkID(H5Tcopy(nnb_H5T_C_S1()), "copy string type", target)
      defer { Close.datatype(type) }
      try check(H5Tset_size(type, max(bytes.count, 1)), "set string size", target)
      try check(H5Tset_strpad(type, H5T_STR_NULLPAD), "set string padding", target)
      try check(H5Tset_cset(type, H5T_CSET_UTF8), "set string encoding", target)
      let space = try checkID(H5Screate(H5S_SCALAR), "create dataspace", target)
      defer { Close.dataspace(space) }
      try writeAttribute(name, type: type, space: space, target: target) { attribute in
        var padded = bytes.isEmpty ? [0] : bytes
        return H5Awrite(attribute, type, &padded)
      }
    }
  }

  /// Sets 64-bit integer attribute `name`.
  public func setAttribute(_ name: String, _ value: Int) throws {
    try writeScalar(name, Int64(value))
  }

  /// Sets float64 attribute `name`.
  public func setAttribute(_ name: String, _ value: Double) throws {
    try writeScalar(name, value)
  }

  private func writeScalar<T: HDF5Element>(_ name: String, _ value: T) throws {
    try withHDF5 {
      let target = "\(file.path):\(path)@\(name)"
      let space = try checkID(H5Screate(H5S_SCALAR), "create dataspace", target)
      defer { Close.dataspace(space) }
      let type = T.hdf5Type.nativeType
      try writeAttribute(name, type: type, space: space, target: target) { attribute in
        withUnsafeBytes(of: value) { H5Awrite(attribute, type, $0.baseAddress) }
      }
    }
  }

  private func writeAttribute(
    _ name: String, type: hid_t, space: hid_t, target: String, write: (hid_t) -> herr_t
  ) throws {
    let attribute = try checkID(
      H5Acreate2(id, name, type, space, nnb_H5P_DEFAULT(), nnb_H5P_DEFAULT()),
      "create attribute", target)
    let status = write(attribute)
    let message = status < 0 ? HDF5Library.errorStackMessage() : nil
    try Close.attribute(attribute, target)
    if let message {
      throw HDF5Error(operation: "write attribute", path: target, reason: message)
    }
  }

  /// Names of this group's attributes, in name order.
  public func attributeNames() throws -> [String] {
    try withHDF5 {
      final class Collector {
        var names: [String] = []
      }
      let collector = Collector()
      var index: hsize_t = 0
      let status = withExtendedLifetime(collector) {
        H5Aiterate2(
          id, H5_INDEX_NAME, H5_ITER_INC, &index,
          { _, name, _, clientData in
            guard let name, let clientData else { return -1 }
            Unmanaged<Collector>.fromOpaque(clientData).takeUnretainedValue().names.append(
              String(cString: name))
            return 0
          }, Unmanaged.passUnretained(collector).toOpaque())
      }
      try check(status, "list attributes", "\(file.path):\(path)")
      return collector.names
    }
  }

  /// Whether attribute `name` exists on this group.
  public func hasAttribute(_ name: String) -> Bool {
    withHDF5 {
      let exists = H5Aexists(id, name)
      if exists < 0 { _ = HDF5Library.errorStackMessage() }
      return exists > 0
    }
  }

  /// Reads string attribute `name`.
  public func stringAttribute(_ name: String) throws -> String {
    try withAttribute(name) { attribute, type, target in
      guard H5Tget_class(type) == H5T_STRING, H5Tis_variable_str(type) == 0 else {
        throw HDF5Error(
          operation: "read attribute", path: target, reason: "expected a fixed-length string")
      }
      let size = H5Tget_size(type)
      var buffer = [UInt8](repeating: 0, count: size + 1)
      try check(H5Aread(attribute, type, &buffer), "read attribute", target)
      let end = buffer.firstIndex(of: 0) ?? size
      guard let text = String(validating: buffer[..<end], as: UTF8.self) else {
        throw HDF5Error(operation: "read attribute", path: target, reason: "not valid UTF-8")
      }
      return text
    }
  }

  /// Reads integer attribute `name`.
  public func intAttribute(_ name: String) throws -> Int {
    Int(try readScalar(name, Int64.self))
  }

  /// Reads float64 attribute `name`.
  public func doubleAttribute(_ name: String) throws -> Double {
    try readScalar(name, Double.self)
  }

  private func readScalar<T: HDF5Element>(_ name: String, _: T.Type) throws -> T {
    try withAttribute(name) { attribute, type, target in
      let typeClass = H5Tget_class(type)
      let expected = T.hdf5Type.isFloatingPoint ? H5T_FLOAT : H5T_INTEGER
      guard typeClass == expected else {
        throw HDF5Error(
          operation: "read attribute", path: target,
          reason: "expected \(T.hdf5Type.rawValue), found another type")
      }
      var value = T.zero
      let status = withUnsafeMutableBytes(of: &value) {
        H5Aread(attribute, T.hdf5Type.nativeType, $0.baseAddress)
      }
      try check(status, "read attribute", target)
      return value
    }
  }

  /// Opens attribute `name` and its datatype for `body`, closing both after.
  private func withAttribute<T>(_ name: String, _ body: (hid_t, hid_t, String) throws -> T) throws -> T {
    try withHDF5 {
      let target = "\(file.path):\(path)@\(name)"
      let attribute = try openAttribute(name, target)
      defer { _ = H5Aclose(attribute) }
      let type = try checkID(H5Aget_type(attribute), "read attribute type", target)
      defer { Close.datatype(type) }
      return try body(attribute, type, target)
    }
  }

  private func openAttribute(_ name: String, _ target: String) throws -> hid_t {
    guard hasAttribute(name) else {
      throw HDF5Error(operation: "read attribute", path: target, reason: "no such attribute")
    }
    return try checkID(H5Aopen(id, name, nnb_H5P_DEFAULT()), "open attribute", target)
  }
}

/// Exposes the chunking rule to tests.
public enum HDF5ChunkShape {
  /// The chunk dimensions used for a dataset of `shape`.
  public static func forTesting(_ shape: [Int]) -> [Int] { HDF5Group.chunkShape(for: shape) }
}
