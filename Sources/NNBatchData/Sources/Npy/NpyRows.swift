import NNBatchCore
import NeuralNet

/// A .npy features file and its targets file, read by row blocks.
package final class NpyRows: RowSource {
  private let x: RowFile
  private let t: RowFile?
  /// One sample's shape, when the array has one ([N, H, W] and up).
  package let sampleShape: Shape?

  /// Rows of `features` (and of `targets`, which has as many rows).
  package init(features: RowFile, targets: RowFile?, sampleShape: Shape?) {
    x = features
    t = targets
    self.sampleShape = sampleShape
  }

  /// Samples in the file.
  package var rows: Int { x.rows }
  /// Features per sample.
  package var features: Int { x.rowElements }
  /// Target columns per sample (0: inputs only).
  package var targetColumns: Int { t?.rowElements ?? 0 }
  /// The file, for messages.
  package var name: String { x.path }
  /// Bytes of one sample's inputs in the file.
  package var inputBytesPerRow: Int { x.rowBytes }

  /// Reads rows of both files.
  package func read(
    _ range: Range<Int>, inputs: UnsafeMutablePointer<Float>, targets: UnsafeMutablePointer<Float>?
  ) throws(NNBatchError) {
    try x.read(range, into: inputs)
    if let targets, let t { try t.read(range, into: targets) }
  }
}
