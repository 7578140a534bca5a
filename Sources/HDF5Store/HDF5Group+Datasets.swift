import CHDF5

extension HDF5Group {
  /// Writes `values` as a new dataset `name` of `shape` (row-major), chunked with fletcher32.
  public func write<T: HDF5Element>(_ values: [T], shape: [Int], name: String) throws {
    try values.withUnsafeBufferPointer { try write($0, shape: shape, name: name) }
  }

  /// Writes the elements of `values` as a new dataset `name` of `shape`, without copying them.
  public func write<T: HDF5Element>(_ values: UnsafeBufferPointer<T>, shape: [Int], name: String) throws {
    precondition(!shape.isEmpty, "datasets have rank ≥ 1")
    precondition(shape.reduce(1, *) == values.count, "shape does not match the value count")
    try withHDF5 {
      let target = location(name)
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

  /// Test hook: a chunked float32 dataset of `shape` whose chunks are never written.
  ///
  /// Such a dataset declares any size and stores none of it: the file stays
  /// small however large the shape (the hostile input of issue 14).
  package func declareForTesting(shape: [Int], name: String) throws {
    try withHDF5 {
      let target = location(name)
      var dims = shape.map { hsize_t($0) }
      let space = try checkID(H5Screate_simple(Int32(dims.count), &dims, nil), "create dataspace", target)
      defer { Close.dataspace(space) }
      let dcpl = try checkID(H5Pcreate(nnb_H5P_DATASET_CREATE()), "create dataset property list", target)
      defer { Close.plist(dcpl) }
      var chunk = shape.map { _ in hsize_t(1) }
      try check(H5Pset_chunk(dcpl, Int32(chunk.count), &chunk), "set chunking", target)
      let dataset = try checkID(
        H5Dcreate2(id, name, Float.hdf5Type.nativeType, space, nnb_H5P_DEFAULT(), dcpl, nnb_H5P_DEFAULT()),
        "create dataset", target)
      try Close.dataset(dataset, target)
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

  private static func elementType(_ number: HDF5NumberType) -> HDF5ElementType? {
    switch (number.kind, number.bytes) {
    case (.float, 4): return .float32
    case (.float, 8): return .float64
    case (.signedInteger, 8): return .int64
    case (.unsignedInteger, 8): return .uint64
    default: return nil
    }
  }

  /// Opens dataset `name` for `body`, closing it after (a failing close is reported).
  private func withDataset<R>(
    _ name: String, _ operation: String, _ body: (hid_t, String) throws -> R
  ) throws -> R {
    try withHDF5 {
      let target = location(name)
      guard contains(name) else {
        throw HDF5Error(operation: operation, path: target, reason: "no such dataset")
      }
      let dataset = try checkID(H5Dopen2(id, name, nnb_H5P_DEFAULT()), "open dataset", target)
      let result: R
      do {
        result = try body(dataset, target)
      } catch {
        _ = H5Dclose(dataset)
        throw error
      }
      try Close.dataset(dataset, target)
      return result
    }
  }

  /// The shape of dataset `name`, read without its values (to check sizes before reading).
  public func datasetShape(_ name: String) throws -> [Int] {
    try withDataset(name, "read dataset") { dataset, target in try datasetLayout(dataset, target).shape }
  }

  /// Reads dataset `name` as `T`, converting from any numeric type of the same kind.
  ///
  /// Floating-point reads accept float and integer datasets; integer reads
  /// accept integer datasets only.
  public func read<T: HDF5Element>(_: T.Type, name: String) throws -> (values: [T], shape: [Int]) {
    try withDataset(name, "read dataset") { dataset, target in
      let (shape, stored) = try datasetLayout(dataset, target)
      guard let stored else {
        throw HDF5Error(
          operation: "read dataset", path: target,
          reason: "expected numeric \(T.hdf5Type.rawValue) data, found a non-numeric type")
      }
      if !T.hdf5Type.isFloatingPoint && stored.kind == .float {
        throw HDF5Error(
          operation: "read dataset", path: target, reason: "expected integer data, found \(stored)")
      }
      return (try readAll(dataset, T.self, count: shape.reduce(1, *), target), shape)
    }
  }

  private func readAll<T: HDF5Element>(_ dataset: hid_t, _: T.Type, count: Int, _ target: String) throws
    -> [T]
  {
    var values = [T](repeating: T.zero, count: count)
    if !values.isEmpty {
      let status = values.withUnsafeMutableBytes { bytes in
        H5Dread(
          dataset, T.hdf5Type.nativeType, nnb_H5S_ALL(), nnb_H5S_ALL(), nnb_H5P_DEFAULT(), bytes.baseAddress)
      }
      try check(status, "read dataset", target)
    }
    return values
  }

  /// Reads dataset `name` as it is stored: its shape and values in their own number format.
  ///
  /// float32, float64, int64 and uint64 come back typed; other numeric
  /// formats as native-order bytes. Non-numeric datasets are an error.
  public func readDataset(_ name: String) throws -> HDF5Dataset {
    try withDataset(name, "read dataset") { dataset, target in
      let (shape, stored) = try datasetLayout(dataset, target)
      guard let stored else {
        throw HDF5Error(operation: "read dataset", path: target, reason: "not numeric data")
      }
      guard !shape.isEmpty else {
        throw HDF5Error(
          operation: "read dataset", path: target, reason: "a scalar dataset (rank 0) is not supported")
      }
      let count = shape.reduce(1, *)
      func all<T: HDF5Element>() throws -> ArraySlice<T> {
        try readAll(dataset, T.self, count: count, target)[...]
      }
      let values: HDF5Values
      switch Self.elementType(stored) {
      case .float32: values = .float32(try all())
      case .float64: values = .float64(try all())
      case .int64: values = .int64(try all())
      case .uint64: values = .uint64(try all())
      case nil:
        let fileType = try checkID(H5Dget_type(dataset), "read datatype", target)
        defer { Close.datatype(fileType) }
        let native = try checkID(H5Tget_native_type(fileType, H5T_DIR_ASCEND), "read datatype", target)
        defer { Close.datatype(native) }
        let width = H5Tget_size(native)
        var bytes = [UInt8](repeating: 0, count: count * width)
        if !bytes.isEmpty {
          let status = bytes.withUnsafeMutableBytes {
            H5Dread(dataset, native, nnb_H5S_ALL(), nnb_H5S_ALL(), nnb_H5P_DEFAULT(), $0.baseAddress)
          }
          try check(status, "read dataset", target)
        }
        values = .other(HDF5NumberType(kind: stored.kind, bytes: width), bytes)
      }
      return HDF5Dataset(shape: shape, values: values)
    }
  }
}

/// Exposes the chunking rule to tests.
package enum HDF5ChunkShape {
  /// The chunk dimensions used for a dataset of `shape`.
  package static func forTesting(_ shape: [Int]) -> [Int] { HDF5Group.chunkShape(for: shape) }
}
