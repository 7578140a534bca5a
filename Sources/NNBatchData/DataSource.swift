import NNBatchCore
import NeuralNet

// One protocol for every data source, and the reading seam under it.
//
//   config  --decode-->  DataSource (one struct per kind, NNBatchData/Sources/)
//   DataSource --open-->  SampleReader  --next(maxRows:)-->  SampleBlock, SampleBlock, ...
//
// Everything above the seam (DataLoader, predict, evaluate) reads through
// `SampleReader`. `open` reads a file whole (`InMemorySamples`); sources that
// can stream (hdf5, idx, npy) also give a `RowSource` (`openRows`), which
// streamed training and `predict` read by row blocks (docs/streaming.md).

/// A kind of data source: its config keys, their checks, how it reads, how it is named in messages.
///
/// A value is one configured source (`data` or `data.validation`). A new
/// kind is one file that defines a conforming struct, plus its line in
/// `DataSources.kinds`.
package protocol DataSource: Sendable, Equatable, CustomStringConvertible {
  /// The `data.source` value that selects this kind ("csv").
  static var name: String { get }

  /// The task this kind implies when `data.task` is absent (labels only: classification), or nil.
  static var impliedTask: LearningTask? { get }

  /// Reads this kind's keys from `keys` (whose `source` and `task` are already read).
  ///
  /// Reports every problem to the reader (unknown keys are reported by the
  /// caller's `finish()`); returns nil when a required key is missing or bad.
  static func decode(_ keys: ObjectReader, context: DataSourceContext) -> Self?

  /// Opens the samples for reading; `labels` orders class labels as in the training data.
  ///
  /// Streaming plugs in here: a source that cannot or should not hold its
  /// file in memory returns a reader that reads row blocks from disk.
  func open(task: LearningTask, labels: [String]) throws(NNBatchError) -> any SampleReader

  /// The samples as a row source that reads row blocks from disk, or nil when this kind cannot stream.
  ///
  /// Throws when the kind streams but this file cannot (gzipped IDX).
  func openRows(task: LearningTask) throws(NNBatchError) -> (any RowSource)?

  /// The samples as a row source whose class labels follow `labels` (the model's), as `open` numbers them.
  ///
  /// For sources whose rows name their classes (image folders); others number classes as the file does.
  func openRows(task: LearningTask, labels: [String]) throws(NNBatchError) -> (any RowSource)?

  /// A short name for messages: the file ("configs/data/flowers.csv"), or "inline data".
  var description: String { get }

  /// The source's keys with defaults filled in, in config order: what a resume compares.
  var settings: [DataSourceSetting] { get }
}

/// One setting of a configured source: its key, how messages show it, and what is compared.
package struct DataSourceSetting: Sendable, Equatable {
  /// The key under `data` ("path").
  package let key: String
  /// The value as messages show it ("configs/data/flowers.csv", "120 rows").
  package let shown: String
  /// What two settings are compared by (the full value where `shown` abbreviates it).
  package let identity: String
  /// The path, when the setting names a file to read (checked before reading, `Config.requireDataFiles`).
  package private(set) var file: String?

  /// A setting shown as `value`, compared by `identity` (default: as shown).
  package init(_ key: String, _ value: some CustomStringConvertible, identity: String? = nil) {
    self.key = key
    shown = value.description
    self.identity = identity ?? value.description
  }

  /// A setting that names the data file `path` (not a dataset inside one).
  package static func file(_ key: String, _ path: String) -> DataSourceSetting {
    var setting = DataSourceSetting(key, path)
    setting.file = path
    return setting
  }
}

extension DataSource {
  /// No task implied.
  package static var impliedTask: LearningTask? { nil }

  /// Streams nothing: the source is read whole.
  package func openRows(task: LearningTask) throws(NNBatchError) -> (any RowSource)? { nil }

  /// The file's own class numbers: its targets are class indices already.
  package func openRows(task: LearningTask, labels: [String]) throws(NNBatchError) -> (any RowSource)? {
    try openRows(task: task)
  }

  /// Whether `other` is a source of the same kind with the same settings.
  package func isEqual(to other: any DataSource) -> Bool {
    (other as? Self) == self
  }
}

/// A data source whose samples live in files of its own format (CSV, IDX, HDF5, npy), or in a folder.
///
/// `predict` reads inputs-only data of these kinds, and `evaluate --data FILE`
/// reads labelled data like the training data; both choose the kind from
/// `--format` or from the location's content (`DataSources.format(of:)`):
/// a file's first bytes, or a folder's entries for a kind that reads folders.
package protocol FileDataSource: DataSource {
  /// The format's name in messages ("CSV").
  static var formatName: String { get }

  /// How surely `head` (a file's first bytes) is in this format.
  static func recognize(_ head: FileHead) throws(NNBatchError) -> FormatMatch?

  /// How surely the folder `path` holds data of this format; nil (the default) for kinds that read files only.
  static func recognize(folder path: String) throws(NNBatchError) -> FormatMatch?

  /// This source reading `locations` instead of its own, keeping its other settings (evaluate --data FILE).
  func reading(_ locations: [DataLocation], as argument: String) throws(NNBatchError) -> Self

  /// The inputs-only data at `location` for predict: every row's features, no targets.
  static func openInputs(_ location: DataLocation, _ request: InputRequest) throws(NNBatchError)
    -> any SampleReader
}

extension FileDataSource {
  /// Files only: no folder is in this format.
  package static func recognize(folder path: String) throws(NNBatchError) -> FormatMatch? { nil }
}

/// How well a file's first bytes fit a format.
package enum FormatMatch: Int, Sendable, Comparable {
  /// The bytes could be this format (CSV: they look like text).
  case plausible
  /// The format's magic number is there.
  case magic

  /// Whether the match is weaker than `other`.
  package static func < (a: FormatMatch, b: FormatMatch) -> Bool { a.rawValue < b.rawValue }
}

/// What `predict` knows about its input file besides the path.
package struct InputRequest: Sendable {
  /// `--dataset`: the inputs dataset of an HDF5 file.
  package var dataset: String?
  /// `--header`: whether a CSV file has a header row (nil: detect).
  package var header: Bool?
  /// Columns left out when a CSV header names them: the model's training targets.
  package var skipColumns: [String]
  /// The source the model was trained on, whose settings a kind may reuse (images: channels and size).
  package var trainedSource: (any DataSource)?
  /// The model's input shape ([C, H, W] for a convolutional model), if known.
  package var modelInput: Shape?
  /// Which CSV cells may be missing: the training config's `data.missing`.
  package var missing = MissingPolicy.refuse
  /// The trained model's categories by feature position (its `CategoricalEncoder`), or nil.
  package var categories: [Int: [String]]? = nil

  /// A request with predict's `--dataset` and `--header`, and what the model was trained on.
  package init(
    dataset: String? = nil, header: Bool? = nil, skipColumns: [String] = [],
    trainedSource: (any DataSource)? = nil, modelInput: Shape? = nil
  ) {
    self.dataset = dataset
    self.header = header
    self.skipColumns = skipColumns
    self.trainedSource = trainedSource
    self.modelInput = modelInput
  }
}

/// What a source's config decoding may need besides its own keys.
package struct DataSourceContext {
  /// The run's seed (the default of `synthetic`'s `seed`).
  package var seed: UInt64
  /// Where problems inside arrays (reported by JSON value, not by key) go.
  package var sink: DiagnosticSink
}

// MARK: - The reading seam

/// Consecutive samples of a source: inputs [rows, features], targets [rows, C] or none.
package struct SampleBlock {
  /// One row per sample.
  package var inputs: Matrix
  /// One row per sample; nil when reading inputs only (predict).
  package var targets: Matrix?
  /// Each row's name (its file), when the source names rows (`SampleReader.rowNameColumn`).
  package var names: [String]?

  /// A block of `inputs` and, unless inputs only, `targets` with as many rows.
  package init(inputs: Matrix, targets: Matrix?) {
    precondition(targets.map { $0.rows == inputs.rows } ?? true, "inputs and targets differ in row count")
    self.inputs = inputs
    self.targets = targets
  }
}

/// Hands out a source's samples in row blocks, in the source's order.
///
/// The in-memory implementation is `InMemorySamples`. The streamed one,
/// `StreamedSamples` (HDF5 hyperslabs, IDX and .npy read by offset), implements
/// `next(maxRows:)` by reading the next rows from disk; `labels` and
/// `classes` must be known when it is opened (from the file's metadata or a
/// first pass). Callers that need every row at once (training shuffles
/// across the whole set) call `readAll()`; callers that go row block by row
/// block (predict) call `next(maxRows:)`.
package protocol SampleReader: AnyObject {
  /// Features per sample.
  var features: Int { get }
  /// Target columns per sample (0 when reading inputs only).
  var targetColumns: Int { get }
  /// Class labels in class-index order (empty: the labels are the indices).
  var labels: [String] { get }
  /// Classes known from the source (synthetic, idx), else nil.
  var classes: Int? { get }
  /// One sample's shape when the source knows it (IDX images: [1, H, W]), else nil.
  var sampleShape: Shape? { get }
  /// The column that names each row in predictions ("path" for image files), or nil.
  var rowNameColumn: String? { get }

  /// The next block of at most `maxRows` rows, or nil when every row was handed out.
  func next(maxRows: Int) throws(NNBatchError) -> SampleBlock?

  /// Every remaining row, in one pair of matrices.
  func readAll() throws(NNBatchError) -> RawData
}

extension SampleReader {
  /// Every remaining row, gathered block by block (streamed readers).
  package func readAll() throws(NNBatchError) -> RawData {
    var inputs: [Float] = []
    var targets: [Float] = []
    var rows = 0
    while let block = try next(maxRows: 1 << 16) {
      inputs.append(
        contentsOf: UnsafeBufferPointer(
          start: block.inputs.storage.pointer, count: block.inputs.storage.count))
      if let t = block.targets {
        targets.append(contentsOf: UnsafeBufferPointer(start: t.storage.pointer, count: t.storage.count))
      }
      rows += block.inputs.rows
    }
    return RawData(
      inputs: Matrix(rows: rows, columns: features, values: inputs),
      targets: Matrix(rows: rows, columns: targetColumns, values: targets), labels: labels,
      classes: classes, sampleShape: sampleShape)
  }

  /// Sources know no shape unless they say so.
  package var sampleShape: Shape? { nil }
  /// Rows are unnamed unless the source names them.
  package var rowNameColumn: String? { nil }
}

/// Samples read from a source, before splitting and scaling.
public struct RawData: Sendable {
  /// Inputs [N, F].
  public var inputs: Matrix
  /// Targets [N, C]: class indices (C = 1) for classification, values for regression; C = 0 inputs-only.
  public var targets: Matrix
  /// Class labels in class-index order (empty: the labels are the indices).
  public var labels: [String]
  /// Classes known from the source (synthetic, idx), else nil.
  public var classes: Int?
  /// One sample's shape when the source knows it (IDX images: [1, H, W]), else nil.
  public var sampleShape: Shape?
  /// The target columns' names when the source names them (a CSV header), else nil.
  public var targetNames: [String]? = nil
  /// One `data.missing` rule per feature column when some cells may be missing (NaN in `inputs`), else nil.
  public var missingRules: [MissingRule]? = nil
  /// The categorical feature columns with their categories by code (first appearance), when detected or declared.
  public var categorical: [CategoricalColumn]? = nil

  /// Samples with their metadata.
  public init(
    inputs: Matrix, targets: Matrix, labels: [String] = [], classes: Int? = nil, sampleShape: Shape? = nil
  ) {
    precondition(inputs.rows == targets.rows, "inputs and targets differ in row count")
    precondition(
      sampleShape.map { $0.elements == inputs.columns } ?? true, "sample shape does not fit the features")
    self.inputs = inputs
    self.targets = targets
    self.labels = labels
    self.classes = classes
    self.sampleShape = sampleShape
  }
}

/// A source read whole into memory, handed out in row blocks.
package final class InMemorySamples: SampleReader {
  private let data: RawData
  private var position = 0

  /// Samples `data`; targets with 0 columns mean inputs only.
  package init(_ data: RawData) {
    self.data = data
  }

  /// Features per sample.
  package var features: Int { data.inputs.columns }
  /// Target columns per sample.
  package var targetColumns: Int { data.targets.columns }
  /// Class labels in class-index order.
  package var labels: [String] { data.labels }
  /// Classes known from the source.
  package var classes: Int? { data.classes }
  /// One sample's shape, when the source knows it.
  package var sampleShape: Shape? { data.sampleShape }

  /// The next rows; the whole set itself (no copy) when it fits in one block.
  package func next(maxRows: Int) throws(NNBatchError) -> SampleBlock? {
    precondition(maxRows > 0, "next(maxRows:) needs a positive block size")
    let total = data.inputs.rows
    guard position < total else { return nil }
    let rows = min(maxRows, total - position)
    let inputs: Matrix
    let targets: Matrix
    if position == 0 && rows == total {
      inputs = data.inputs
      targets = data.targets
    } else {
      inputs = copyRows(data.inputs, from: position, count: rows)
      targets = copyRows(data.targets, from: position, count: rows)
    }
    position += rows
    return SampleBlock(inputs: inputs, targets: data.targets.columns == 0 ? nil : targets)
  }

  /// The remaining rows; the stored matrices themselves when nothing was handed out yet.
  package func readAll() throws(NNBatchError) -> RawData {
    let total = data.inputs.rows
    if position == 0 {
      position = total
      return data
    }
    let rest = total - position
    let result = RawData(
      inputs: copyRows(data.inputs, from: position, count: rest),
      targets: copyRows(data.targets, from: position, count: rest), labels: data.labels,
      classes: data.classes, sampleShape: data.sampleShape)
    position = total
    return result
  }

  private func copyRows(_ m: Matrix, from start: Int, count: Int) -> Matrix {
    let copy = Matrix(rows: count, columns: m.columns)
    if count > 0 && m.columns > 0 {
      copy.storage.pointer.update(from: m.row(start), count: count * m.columns)
    }
    return copy
  }
}
