import NNBatchCore
import NeuralNet

/// The `idx` data source: MNIST-format image and label files, gzipped or not.
///
/// Config keys: `images`, `labels`. Layout: magic 0x0000_08RR (08 = unsigned
/// byte elements, RR = rank), then one big-endian UInt32 per dimension, then
/// the elements. Images [count, d1, d2, ...] are flattened to [count, d1·d2·...]
/// and scaled to [0, 1]; labels [count] are class indices. One image's shape
/// is kept for convolutions: [count, H, W] gives [1, H, W] (one channel),
/// [count, C, H, W] gives [C, H, W], [count, F] gives [F].
package struct IDXSource: FileDataSource {
  /// The config name.
  package static let name = "idx"
  /// The format's name in messages.
  package static let formatName = "IDX"
  /// Labels only: classification.
  package static var impliedTask: LearningTask? { .classification }

  /// The images file.
  package var images: String
  /// The labels file.
  package var labels: String

  /// A source reading `images` and `labels`.
  package init(images: String, labels: String) {
    self.images = images
    self.labels = labels
  }

  /// The images file, for messages.
  package var description: String { images }

  package var settings: [DataSourceSetting] {
    [.file("images", images), .file("labels", labels)]
  }

  // MARK: Config

  /// Reads `images` and `labels`.
  package static func decode(_ d: ObjectReader, context: DataSourceContext) -> IDXSource? {
    let images = d.requiredPath("images")
    let labels = d.requiredPath("labels")
    guard let images, let labels else { return nil }
    return IDXSource(images: images, labels: labels)
  }

  // MARK: Files

  /// The IDX magic number, 00 00 TT RR (any element type TT, rank RR ≥ 1), also inside gzip.
  ///
  /// Element types other than unsigned bytes are recognized so that reading
  /// them fails with IDX's own message rather than "not CSV, IDX or HDF5".
  package static func recognize(_ head: FileHead) -> FormatMatch? {
    let b = head.content
    let types: Set<UInt8> = [0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E]
    guard b.count >= 4, b[0] == 0, b[1] == 0, types.contains(b[2]), b[3] >= 1 else { return nil }
    return .magic
  }

  /// `IMAGES,LABELS`: the two files.
  package func reading(_ locations: [DataLocation], as argument: String) throws(NNBatchError) -> IDXSource {
    let files = locations.map(\.path)
    guard files.count == 2 else {
      throw NNBatchError(.usage, "\(argument): for IDX data give IMAGES,LABELS (two files), or a config")
    }
    return IDXSource(images: files[0], labels: files[1])
  }

  /// An images file: one flattened, [0, 1]-scaled image per row, streamed unless gzipped.
  package static func openInputs(_ location: DataLocation, _ request: InputRequest) throws(NNBatchError)
    -> any SampleReader
  {
    let path = location.path
    // Uncompressed files stream row block by row block (bounded memory); gzip cannot be read at an offset.
    if try !IDXRows.isGzip(path) {
      return StreamedSamples(try IDXRows.open(images: path, labels: nil), inputsOnly: true)
    }
    let (inputs, shape) = try readImages(path)
    return InMemorySamples(
      RawData(inputs: inputs, targets: Matrix(rows: inputs.rows, columns: 0), sampleShape: shape))
  }

  /// Reads both files into memory.
  package func open(task: LearningTask, labels known: [String]) throws(NNBatchError) -> any SampleReader {
    let (inputs, shape) = try Self.readImages(images)
    let (labelShape, labelBytes) = try Self.parse(labels, expectedRank: 1)
    let count = inputs.rows
    guard labelShape[0] == count else {
      throw NNBatchError(
        .usage, "\(labels): expected \(count) labels (one per image in \(images)), found \(labelShape[0])")
    }
    let targets = Matrix(rows: count, columns: 1)
    var classes = 0
    for (i, label) in labelBytes.enumerated() {
      targets.storage.pointer[i] = Float(label)
      classes = max(classes, Int(label) + 1)
    }
    return InMemorySamples(
      RawData(inputs: inputs, targets: targets, labels: [], classes: classes, sampleShape: shape))
  }

  // MARK: Reading

  /// An images file as [count, pixels] in [0, 1], and one image's shape: the one IDX-to-matrix path.
  static func readImages(_ path: String) throws(NNBatchError) -> (Matrix, Shape) {
    let (shape, bytes) = try parse(path, expectedRank: nil)
    guard shape.count >= 2 else {
      throw NNBatchError(
        .usage, "\(path): expected images of rank ≥ 2 (count, rows, ...), found rank \(shape.count)")
    }
    let count = shape[0]
    // parse checked the product of every dimension against the file's size,
    // but a count of 0 makes that product 0 whatever the other dimensions are.
    guard let features = checkedProduct(Array(shape.dropFirst())) else {
      throw NNBatchError(
        .usage,
        "\(path): byte 8: expected an IDX image shape whose pixel count fits in memory, found \(Array(shape.dropFirst())) (the product overflows)"
      )
    }
    guard features > 0 else {
      throw NNBatchError(
        .usage, "\(path): expected images of at least one pixel, found shape \(shape) (zero features)")
    }
    guard count > 0 else {
      throw NNBatchError(.usage, "\(path): expected at least one image, found shape \(shape)")
    }
    try MemoryBudget.require(
      checkedProduct([count, features, MemoryLayout<Float>.size]), for: "images \(shape) as floats",
      in: path)
    let inputs = Matrix(rows: count, columns: features)
    let x = inputs.storage.pointer
    bytes.withUnsafeBufferPointer { source in
      for i in 0..<(count * features) { x[i] = Float(source[i]) / 255 }
    }
    // A rank-3 file holds one-channel images: channels-first [1, H, W].
    let sample = shape.count == 3 ? [1] + shape.dropFirst() : Array(shape.dropFirst())
    return (inputs, Shape(sample))
  }

  /// An IDX file read whole: its shape (checked, `expectedRank` if given) and its data bytes.
  static func parse(_ path: String, expectedRank: Int?) throws(NNBatchError) -> ([Int], ArraySlice<UInt8>) {
    let bytes = try readFileBytes(path)
    let header = try IDXHeader.parse(path, size: bytes.count, expectedRank: expectedRank) { offset, count in
      Array(bytes[min(offset, bytes.count)..<min(offset + count, bytes.count)])
    }
    return (header.shape, bytes[header.dataOffset...])
  }
}
