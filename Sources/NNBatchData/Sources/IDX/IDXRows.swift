import NNBatchCore
import NeuralNet

/// An IDX images file read by row blocks, with its labels (one byte per image) held in memory.
///
/// Gzipped IDX cannot be read at an offset, so it cannot stream: `data.stream: true`
/// refuses it, and the automatic choice loads it whole.
package final class IDXRows: RowSource {
  private let images: RowFile
  private let labelValues: [Float]
  /// One image's shape ([1, H, W] for rank-3 files).
  package let sampleShape: Shape?
  /// Classes: the largest label + 1.
  package let classes: Int?

  private init(images: RowFile, labels: [Float], sampleShape: Shape, classes: Int?) {
    self.images = images
    labelValues = labels
    self.sampleShape = sampleShape
    self.classes = classes
  }

  /// Samples in the file.
  package var rows: Int { images.rows }
  /// Features per sample.
  package var features: Int { images.rowElements }
  /// Target columns per sample (0: inputs only).
  package var targetColumns: Int { labelValues.isEmpty ? 0 : 1 }
  /// The file, for messages.
  package var name: String { images.path }
  /// Bytes of one sample's inputs in the file.
  package var inputBytesPerRow: Int { images.rowBytes }

  /// Reads images (scaled to [0, 1]) and their labels.
  package func read(
    _ range: Range<Int>, inputs: UnsafeMutablePointer<Float>, targets: UnsafeMutablePointer<Float>?
  ) throws(NNBatchError) {
    try images.read(range, into: inputs)
    if let targets, !labelValues.isEmpty {
      for (i, r) in range.enumerated() { targets[i] = labelValues[r] }
    }
  }

  /// The images file `images` (header checked against the file's size), and `labels` unless nil.
  package static func open(images path: String, labels labelsPath: String?) throws(NNBatchError) -> IDXRows {
    let (shape, offset) = try header(path)
    guard shape.count >= 2 else {
      throw NNBatchError(
        .usage, "\(path): expected images of rank ≥ 2 (count, rows, ...), found rank \(shape.count)")
    }
    guard let width = checkedProduct(Array(shape.dropFirst())) else {
      throw NNBatchError(
        .usage,
        "\(path): byte 8: expected an IDX image shape whose pixel count fits in memory, found \(Array(shape.dropFirst())) (the product overflows)"
      )
    }
    guard width > 0 else {
      throw NNBatchError(
        .usage, "\(path): expected images of at least one pixel, found shape \(shape) (zero features)")
    }
    guard shape[0] > 0 else {
      throw NNBatchError(.usage, "\(path): expected at least one image, found shape \(shape)")
    }
    let file = try RowFile(
      path: path, rows: shape[0], rowElements: width, element: .unitByte, dataOffset: offset)
    let sample = shape.count == 3 ? [1] + shape.dropFirst() : Array(shape.dropFirst())
    var labels: [Float] = []
    var classes: Int?
    if let labelsPath {
      let (labelShape, bytes) = try IDXSource.parse(labelsPath, expectedRank: 1)
      guard labelShape[0] == shape[0] else {
        throw NNBatchError(
          .usage,
          "\(labelsPath): expected \(shape[0]) labels (one per image in \(path)), found \(labelShape[0])")
      }
      labels = bytes.map { Float($0) }
      classes = Int(bytes.max() ?? 0) + 1
    }
    return IDXRows(images: file, labels: labels, sampleShape: Shape(sample), classes: classes)
  }

  /// Whether `path` is gzip-compressed (and so cannot stream).
  package static func isGzip(_ path: String) throws(NNBatchError) -> Bool {
    try FileHead(path: path).isGzip
  }

  /// An uncompressed IDX file's shape and where its data starts, checked against its size.
  private static func header(_ path: String) throws(NNBatchError) -> ([Int], Int) {
    let head = try FileHead(path: path)
    guard !head.isGzip else {
      throw NNBatchError(
        .usage,
        "\(path): gzipped IDX cannot stream (it cannot be read at an offset); gunzip it, or set data.stream false to load it whole"
      )
    }
    let header = try IDXHeader.parse(path, size: head.size, expectedRank: nil) {
      offset, count throws(NNBatchError) in
      try head.bytes(at: offset, count: count)
    }
    return (header.shape, header.dataOffset)
  }
}

extension IDXSource {
  /// The images streamed from disk, labels in memory.
  package func openRows(task: LearningTask) throws(NNBatchError) -> (any RowSource)? {
    try IDXRows.open(images: images, labels: labels)
  }
}
