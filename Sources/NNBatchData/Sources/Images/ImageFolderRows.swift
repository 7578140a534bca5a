import NNBatchCore
import NeuralNet
import Synchronization

/// A listed image folder as a row source: the images of a row range decoded on demand.
///
/// Streamed training reads it in the prefetch ring's thread, so images are
/// decoded there, a window at a time, and memory stays bounded by the ring.
package final class ImageFolderRows: RowSource {
  private let folder: ImageFolder
  private let shape: ImageShape
  private let labelled: Bool
  /// Files `skip_bad_files` left out, reported at the first read (when the run really streams).
  private let skipped: [NNBatchError]
  private let listed: Int
  private let reported = Mutex(false)

  /// The images of `folder` as `shape`; `labelled` gives each its class as target.
  init(
    _ folder: ImageFolder, shape: ImageShape, labelled: Bool, skipped: [NNBatchError] = [], listed: Int = 0
  ) {
    self.folder = folder
    self.shape = shape
    self.labelled = labelled
    self.skipped = skipped
    self.listed = listed
  }

  /// Images.
  package var rows: Int { folder.files.count }
  /// Floats per image.
  package var features: Int { shape.features }
  /// One class index per image (0 when reading inputs only).
  package var targetColumns: Int { labelled ? 1 : 0 }
  /// The class names.
  package var labels: [String] { folder.classes }
  /// Classes: one per class folder.
  package var classes: Int? { labelled ? folder.classes.count : nil }
  /// [C, H, W].
  package var sampleShape: Shape? { shape.sampleShape }
  /// The folder, for messages.
  package var name: String { folder.root }
  /// Bytes of one image as decoded 8-bit pixels (the files' own sizes vary).
  package var inputBytesPerRow: Int { shape.features }
  /// Images are named by their paths.
  package var rowNameColumn: String? { "path" }

  /// The paths of images `range`.
  package func rowNames(_ range: Range<Int>) -> [String]? { Array(folder.files[range]) }

  /// Decodes images `range` and their classes.
  package func read(
    _ range: Range<Int>, inputs: UnsafeMutablePointer<Float>, targets: UnsafeMutablePointer<Float>?
  ) throws(NNBatchError) {
    if !skipped.isEmpty
      && !reported.withLock({ done in
        defer { done = true }
        return done
      })
    {
      try ImageFolderSource.reportSkipped(skipped, of: listed, in: folder.root)
    }
    for (i, r) in range.enumerated() {
      try shape.decode(folder.files[r], into: inputs + i * shape.features)
      if let targets, labelled { targets[i] = Float(folder.labels[r]) }
    }
  }
}
