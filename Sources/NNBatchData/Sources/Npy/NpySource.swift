import NNBatchCore
import NeuralNet

/// The `npy` data source: NumPy .npy files, a features array and a targets array, as IDX pairs images and labels.
///
/// Config keys: `features`, `targets`. Features [N, d1, ...] are flattened
/// to [N, d1·d2·...] and read as they are (no [0, 1] scaling: use
/// `data.scale`); targets are [N] (class indices or one value) or [N, C].
/// One sample's shape is kept as IDX keeps it: [N, H, W] gives [1, H, W],
/// [N, C, H, W] gives [C, H, W]. See `NpyHeader` for the accepted headers.
package struct NpySource: FileDataSource {
  /// The config name.
  package static let name = "npy"
  /// The format's name in messages.
  package static let formatName = "NPY"

  /// The features file.
  package var features: String
  /// The targets file.
  package var targets: String

  /// A source reading `features` and `targets`.
  package init(features: String, targets: String) {
    self.features = features
    self.targets = targets
  }

  /// The features file, for messages.
  package var description: String { features }

  /// `features` and `targets`, what a resume compares.
  package var settings: [DataSourceSetting] {
    [.file("features", features), .file("targets", targets)]
  }

  /// Reads `features` and `targets`.
  package static func decode(_ d: ObjectReader, context: DataSourceContext) -> NpySource? {
    let features = d.requiredPath("features")
    let targets = d.requiredPath("targets")
    guard let features, let targets else { return nil }
    return NpySource(features: features, targets: targets)
  }

  /// The magic "\x93NUMPY".
  package static func recognize(_ head: FileHead) -> FormatMatch? {
    !head.isGzip && NpyHeader.hasMagic(head.content) ? .magic : nil
  }

  /// `FEATURES,TARGETS`: the two files.
  package func reading(_ locations: [DataLocation], as argument: String) throws(NNBatchError) -> NpySource {
    let files = locations.map(\.path)
    guard files.count == 2 else {
      throw NNBatchError(.usage, "\(argument): for .npy data give FEATURES,TARGETS (two files), or a config")
    }
    return NpySource(features: files[0], targets: files[1])
  }

  /// A features file, streamed row block by row block.
  package static func openInputs(_ location: DataLocation, _ request: InputRequest) throws(NNBatchError)
    -> any SampleReader
  {
    let path = location.path
    let (file, shape) = try openFeatures(path)
    return StreamedSamples(NpyRows(features: file, targets: nil, sampleShape: shape), inputsOnly: true)
  }

  /// Reads both files into memory.
  package func open(task: LearningTask, labels: [String]) throws(NNBatchError) -> any SampleReader {
    let rows = try rowFiles()
    try MemoryBudget.require(
      checkedProduct([rows.rows, rows.features + rows.targetColumns, MemoryLayout<Float>.size]),
      for: "features and targets as floats", in: features)
    let x = Matrix(rows: rows.rows, columns: rows.features)  // [N, F]
    let t = Matrix(rows: rows.rows, columns: rows.targetColumns)  // [N, C]
    try rows.read(0..<rows.rows, inputs: x.storage.pointer, targets: t.storage.pointer)
    return InMemorySamples(RawData(inputs: x, targets: t, sampleShape: rows.sampleShape))
  }

  /// Both files, streamed.
  package func openRows(task: LearningTask) throws(NNBatchError) -> (any RowSource)? { try rowFiles() }

  /// Both files as a row source.
  package func rowFiles() throws(NNBatchError) -> NpyRows {
    let (x, shape) = try Self.openFeatures(features)
    let header = try Self.header(targets)
    guard header.shape.count == 1 || header.shape.count == 2 else {
      throw NNBatchError(
        .usage, "\(targets): expected targets of shape [N] or [N, C], found shape \(header.shape)")
    }
    guard header.shape[0] == x.rows else {
      throw NNBatchError(
        .usage,
        "\(targets): expected \(x.rows) targets (one per sample in \(features)), found \(header.shape[0])")
    }
    let columns = header.shape.count == 2 ? header.shape[1] : 1
    guard columns > 0 else {
      throw NNBatchError(
        .usage, "\(targets): expected at least one target column, found shape \(header.shape)")
    }
    let t = try RowFile(
      path: targets, rows: x.rows, rowElements: columns, element: header.element,
      dataOffset: header.dataOffset)
    return NpyRows(features: x, targets: t, sampleShape: shape)
  }

  /// The features file's rows and one sample's shape.
  private static func openFeatures(_ path: String) throws(NNBatchError) -> (RowFile, Shape?) {
    let header = try header(path)
    let shape = header.shape
    guard shape.count >= 2 else {
      throw NNBatchError(
        .usage, "\(path): expected features of rank ≥ 2 (samples, features, ...), found shape \(shape)")
    }
    guard let width = checkedProduct(Array(shape.dropFirst())), width > 0 else {
      throw NNBatchError(
        .usage, "\(path): expected samples of at least one feature, found shape \(shape) (zero features)")
    }
    guard shape[0] > 0 else {
      throw NNBatchError(.usage, "\(path): expected at least one sample, found shape \(shape)")
    }
    let file = try RowFile(
      path: path, rows: shape[0], rowElements: width, element: header.element, dataOffset: header.dataOffset)
    let sample: Shape? =
      switch shape.count {
      case 2: nil
      case 3: Shape([1] + shape.dropFirst())
      default: Shape(Array(shape.dropFirst()))
      }
    return (file, sample)
  }

  /// Reads and checks the header of `path`.
  package static func header(_ path: String) throws(NNBatchError) -> NpyHeader {
    let head = try FileHead(path: path)
    guard !head.isGzip else {
      throw NNBatchError(
        .usage, "\(path): expected an uncompressed .npy file, found gzip data; gunzip it first")
    }
    let prefix = try head.bytes(at: 0, count: 12)
    let end = try NpyHeader.headerEnd(prefix, path: path)
    return try NpyHeader.parse(try head.bytes(at: 0, count: end), fileSize: head.size, path: path)
  }
}
