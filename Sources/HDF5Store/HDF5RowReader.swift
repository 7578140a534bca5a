import CHDF5

/// Reads row blocks (hyperslabs [start..<start+count, all columns]) of one 1-D or 2-D numeric dataset.
///
/// Streamed training keeps one open for the whole run, so libhdf5's chunk
/// cache lives across reads: opening the dataset per block would decode a
/// chunk again for every block inside it.
public final class HDF5RowReader {
  private let file: HDF5File
  private let dataset: hid_t
  private let target: String
  private var isOpen = true
  /// Rows (the first dimension).
  public let rows: Int
  /// Values per row (the product of the other dimensions; 1 for a 1-D dataset).
  public let columns: Int
  /// The dataset's shape.
  public let shape: [Int]
  /// Rows per chunk for a chunked dataset, else nil (contiguous or compact).
  public let chunkRows: Int?
  /// Bytes per stored element.
  public let elementBytes: Int
  /// Bytes the file stores for the dataset (unwritten chunks store none).
  public let storedBytes: Int

  /// Opens dataset `name` (a path such as "/train/x") of `path` for reading rows.
  ///
  /// The dataset must be numeric (integers or floats) of rank 1 or 2.
  public init(path: String, dataset name: String) throws {
    let file = try HDF5File.openForReading(path: path)
    self.file = file
    let target = path + ":" + name
    self.target = target
    let opened: (hid_t, [Int], Int?, Int, Int) = try withHDF5 {
      let dataset = try checkID(H5Dopen2(file.id, name, nnb_H5P_DEFAULT()), "open dataset", target)
      var closed = false
      do {
        let (shape, number) = try datasetLayout(dataset, target)
        guard let elementBytes = number?.bytes else {
          throw HDF5Error(operation: "read dataset", path: target, reason: "expected numeric data")
        }
        // H5Tget_size answers 0 on failure: that would also pass the sparse-storage check.
        guard elementBytes > 0 else {
          throw HDF5Error(operation: "read datatype size", path: target, reason: "libhdf5 gave no size")
        }
        let plist = try checkID(H5Dget_create_plist(dataset), "read dataset creation list", target)
        defer { Close.plist(plist) }
        let layout = H5Pget_layout(plist)
        guard layout.rawValue >= 0 else {
          throw HDF5Error(operation: "read dataset layout", path: target, reason: "libhdf5 gave no layout")
        }
        var chunkRows: Int?
        if layout == H5D_CHUNKED {
          var dims = [hsize_t](repeating: 0, count: shape.count)
          let rank = H5Pget_chunk(plist, Int32(dims.count), &dims)
          try check(rank < 0 ? -1 : 0, "read chunk shape", target)
          chunkRows = dims.first.flatMap { Int(exactly: $0) }
        }
        let filters = layout == H5D_CHUNKED ? H5Pget_nfilters(plist) : 0
        try check(filters < 0 ? -1 : 0, "read filters", target)
        let stored = H5Dget_storage_size(dataset)
        if filters > 0 {
          // Closed first: a second open of an open dataset shares the first one's chunk cache.
          closed = true
          try Close.dataset(dataset, target)
          let cached = try Self.reopenWithChunkCache(file: file, name: name, target)
          return (cached, shape, chunkRows, elementBytes, Int(clamping: stored))
        }
        return (dataset, shape, chunkRows, elementBytes, Int(clamping: stored))
      } catch {
        if !closed { _ = H5Dclose(dataset) }
        throw error
      }
    }
    dataset = opened.0
    shape = opened.1
    chunkRows = opened.2
    elementBytes = opened.3
    storedBytes = opened.4
    rows = opened.1.first ?? 0
    columns = opened.1.count == 2 ? opened.1[1] : 1
    guard opened.1.count == 1 || opened.1.count == 2 else {
      let dataset = opened.0
      withHDF5 { _ = H5Dclose(dataset) }
      isOpen = false
      throw HDF5Error(
        operation: "read dataset", path: target,
        reason: "expected a 1-D or 2-D dataset, found shape \(opened.1)")
    }
  }

  /// Bytes of decompressed chunks kept for a compressed (filtered) dataset.
  ///
  /// A rank under mpirun reads single rows scattered over a window's chunks,
  /// and libhdf5's default cache (1 MiB) holds no chunk of 1,024 rows of 784
  /// floats: every row would decompress its whole chunk again. 64 MiB holds a
  /// default 32 MiB window's chunks. Unfiltered data keeps the default, which
  /// reads whole chunks straight into the caller's buffer.
  public static let filteredChunkCacheBytes = 64 << 20

  private static func reopenWithChunkCache(file: HDF5File, name: String, _ target: String) throws -> hid_t {
    let access = try checkID(H5Pcreate(nnb_H5P_DATASET_ACCESS()), "create dataset access list", target)
    defer { Close.plist(access) }
    // 12,421 hash slots: a prime about 100 times the chunks the cache holds, as libhdf5 advises.
    try check(H5Pset_chunk_cache(access, 12_421, filteredChunkCacheBytes, 0.75), "set chunk cache", target)
    return try checkID(H5Dopen2(file.id, name, access), "open dataset", target)
  }

  /// Reads rows `start..<start+count` as Float into `destination` ([count, columns], row-major).
  ///
  /// libhdf5 converts other number formats to Float as it reads.
  public func read(start: Int, count: Int, into destination: UnsafeMutablePointer<Float>) throws {
    precondition(start >= 0 && count >= 0 && start + count <= rows, "row range outside the dataset")
    guard count > 0 else { return }
    try withHDF5 {
      guard isOpen else {
        throw HDF5Error(operation: "read rows", path: target, reason: "the reader is closed")
      }
      let fileSpace = try checkID(H5Dget_space(dataset), "read dataspace", target)
      defer { Close.dataspace(fileSpace) }
      var offset = [hsize_t(start)] + (shape.count == 2 ? [0] : [])
      var extent = [hsize_t(count)] + (shape.count == 2 ? [hsize_t(columns)] : [])
      try check(
        H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, &offset, nil, &extent, nil), "select rows", target)
      let memory = try checkID(
        H5Screate_simple(Int32(extent.count), &extent, nil), "create memory dataspace", target)
      defer { Close.dataspace(memory) }
      try check(
        H5Dread(dataset, nnb_H5T_NATIVE_FLOAT(), memory, fileSpace, nnb_H5P_DEFAULT(), destination),
        "read rows \(start)..<\(start + count)", target)
    }
  }

  /// Closes the dataset and the file, reporting a failing close.
  public func close() throws {
    try withHDF5 {
      guard isOpen else { return }
      isOpen = false
      try Close.dataset(dataset, target)
    }
    try file.close()
  }

  deinit {
    if isOpen {
      withHDF5 { _ = H5Dclose(dataset) }
    }
  }
}
