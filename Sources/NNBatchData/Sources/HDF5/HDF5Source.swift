import HDF5Store
import NNBatchCore
import NeuralNet

/// The `hdf5` data source: inputs [N, F] and targets [N] or [N, C] from named datasets of one file.
///
/// Config keys: `path`, `inputs`, `targets` (dataset paths such as
/// "/train/x"). Float32 or float64 elements.
package struct HDF5Source: FileDataSource {
  /// The config name.
  package static let name = "hdf5"
  /// The format's name in messages.
  package static let formatName = "HDF5"

  /// The file.
  package var path: String
  /// The inputs dataset.
  package var inputs: String
  /// The targets dataset.
  package var targets: String

  /// A source reading datasets `inputs` and `targets` of `path`.
  package init(path: String, inputs: String, targets: String) {
    self.path = path
    self.inputs = inputs
    self.targets = targets
  }

  /// The file, for messages.
  package var description: String { path }

  package var settings: [DataSourceSetting] {
    [
      .file("path", path), DataSourceSetting("inputs", inputs),
      DataSourceSetting("targets", targets),
    ]
  }

  // MARK: Config

  /// Reads `path`, `inputs` and `targets`.
  package static func decode(_ d: ObjectReader, context: DataSourceContext) -> HDF5Source? {
    let path = d.requiredPath("path")
    let inputs = d.requiredPath("inputs")
    let targets = d.requiredPath("targets")
    guard let path, let inputs, let targets else { return nil }
    return HDF5Source(path: path, inputs: inputs, targets: targets)
  }

  // MARK: Files

  /// Finds the HDF5 signature (89 'HDF' 0d 0a 1a 0a) at offset 0, 512, 1024, 2048 and so on.
  ///
  /// Offsets past 0 are where the signature sits after a user block.
  package static func recognize(_ head: FileHead) throws(NNBatchError) -> FormatMatch? {
    let signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]
    guard !head.isGzip else { return nil }
    var offset = 0
    while offset + signature.count <= head.size {
      if try head.bytes(at: offset, count: signature.count) == signature { return .magic }
      offset = offset == 0 ? 512 : offset * 2
    }
    return nil
  }

  /// The same dataset names read from `files[0]`.
  package func reading(_ locations: [DataLocation], as argument: String) throws(NNBatchError) -> HDF5Source {
    let files = locations.map(\.path)
    guard files.count == 1 else {
      throw NNBatchError(.usage, "\(argument): give one HDF5 file, or a config (.json)")
    }
    return HDF5Source(path: files[0], inputs: inputs, targets: targets)
  }

  /// The dataset `--dataset` names: [samples, features], read by hyperslabs of rows.
  package static func openInputs(_ location: DataLocation, _ request: InputRequest) throws(NNBatchError)
    -> any SampleReader
  {
    let path = location.path
    guard let dataset = request.dataset else {
      throw NNBatchError(.usage, "\(path): give the inputs' dataset with --dataset NAME")
    }
    // The dataset's existence and shape are checked as the in-memory reader checks them; rows then stream.
    let shape = try withRoot(path) { root in try inputsShape(root, dataset, path: path) }
    guard shape.count == 2 else {
      throw NNBatchError(
        .usage, "\(path):\(dataset): expected a 2-D dataset [samples, features], found shape \(shape)")
    }
    return StreamedSamples(try HDF5Rows.open(path: path, inputs: dataset, targets: nil), inputsOnly: true)
  }

  /// Reads both datasets into memory (`openRows` reads hyperslabs of rows instead).
  package func open(task: LearningTask, labels: [String]) throws(NNBatchError) -> any SampleReader {
    let path = self.path
    let inputs = self.inputs
    let targets = self.targets
    let data = try Self.withRoot(path) { root in
      let x = try Self.readInputs(root, inputs, path: path)
      let (t, tShape) = try Self.readDataset(root, targets, path: path)
      guard tShape.count == 1 || tShape.count == 2 else {
        throw NNBatchError(.usage, "\(path):\(targets): expected a 1-D or 2-D dataset, found shape \(tShape)")
      }
      guard tShape[0] == x.rows else {
        throw NNBatchError(
          .usage, "\(path):\(targets): expected \(x.rows) rows (as \(inputs)), found \(tShape[0])")
      }
      let columns = tShape.count == 2 ? tShape[1] : 1
      return RawData(
        inputs: x, targets: Matrix(rows: tShape[0], columns: columns, values: t), labels: [], classes: nil)
    }
    return InMemorySamples(data)
  }

  // MARK: Reading

  /// Runs `body` on the root group of `path` opened for reading; errors become usage errors.
  private static func withRoot<T>(_ path: String, _ body: (HDF5Group) throws -> T) throws(NNBatchError) -> T {
    // libhdf5 would read a device such as /dev/zero without end.
    try requireRegularFile(path)
    do {
      let file = try HDF5File.openForReading(path: path)
      defer { try? file.close() }  // Read-only: a close error loses nothing.
      return try body(file.root())
    } catch let error as NNBatchError {
      throw error
    } catch {
      throw NNBatchError(.usage, "\(error)")
    }
  }

  private static func readInputs(_ root: HDF5Group, _ name: String, path: String) throws -> Matrix {
    let (x, shape) = try readDataset(root, name, path: path)
    guard shape.count == 2 else {
      throw NNBatchError(
        .usage, "\(path):\(name): expected a 2-D dataset [samples, features], found shape \(shape)")
    }
    return Matrix(rows: shape[0], columns: shape[1], values: x)
  }

  /// Checks a dataset's declared shape before reading: rows and columns ≥ 1, and room in memory.
  ///
  /// A chunked dataset can declare petabytes and store nothing: its size on
  /// disk says nothing, so the declared size is compared with the memory budget.
  private static func checkShape(_ shape: [Int], _ name: String, path: String) throws {
    if shape.contains(0) {
      throw NNBatchError(
        .usage,
        "\(path):\(name): expected at least one sample and one feature (no axis of size 0), found shape \(shape)"
      )
    }
    // Read as Float; libhdf5 converts through a buffer of the stored type as well.
    try MemoryBudget.require(
      checkedProduct(shape + [2 * MemoryLayout<Float>.size]), for: "dataset \(name) of shape \(shape)",
      in: path)
  }

  /// The shape of dataset `name` (a path such as "/a/b"), checked as `readDataset` checks it.
  private static func inputsShape(_ root: HDF5Group, _ name: String, path: String) throws -> [Int] {
    let (group, leaf) = try dataset(name, in: root, path: path)
    let shape = try group.datasetShape(leaf)
    if shape.contains(0) {
      throw NNBatchError(
        .usage,
        "\(path):\(name): expected at least one sample and one feature (no axis of size 0), found shape \(shape)"
      )
    }
    return shape
  }

  /// The group holding dataset `name` ("/a/b/c": groups a and b opened) and the dataset's name in it.
  private static func dataset(_ name: String, in root: HDF5Group, path: String) throws -> (HDF5Group, String)
  {
    var parts = name.split(separator: "/").map(String.init)
    guard let leaf = parts.popLast() else {
      throw NNBatchError(.usage, "\(path): empty dataset name")
    }
    var group = root
    for part in parts { group = try group.openGroup(part) }
    guard group.contains(leaf) else {
      throw NNBatchError(.usage, "\(path): no dataset \(name)")
    }
    return (group, leaf)
  }

  private static func readDataset(_ root: HDF5Group, _ name: String, path: String) throws -> ([Float], [Int])
  {
    let (group, leaf) = try dataset(name, in: root, path: path)
    try checkShape(try group.datasetShape(leaf), name, path: path)
    let (values, shape) = try group.read(Float.self, name: leaf)
    return (values, shape)
  }
}
