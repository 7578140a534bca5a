import Dispatch
import NNBatchCore
import NeuralNet
import Synchronization

/// The `images` data source: a folder with one sub-folder per class, each holding PNG or JPEG files.
///
/// Config keys: `path` (the folder), `image_size` [H, W], `channels` (1 grey
/// or 3 RGB, default 3), `skip_bad_files` (default false). Class names and
/// files are sorted by code point (`ImageFolder`); the class names are the
/// labels. Each image becomes `channels`×H×W floats in [0, 1], channels
/// first (`DecodedImage.write`). A file that is not a readable PNG or JPEG is
/// an error naming it, or with `skip_bad_files` a warning, and it is left out.
/// Folders stream (decoded in the prefetch ring) or load whole by the rule of
/// every other source (docs/streaming.md).
package struct ImageFolderSource: FileDataSource {
  /// The config name.
  package static let name = "images"
  /// The format's name in messages.
  package static let formatName = "PNG/JPEG"
  /// Labels only: classification.
  package static var impliedTask: LearningTask? { .classification }

  /// The folder.
  package var path: String
  /// What each image becomes.
  package var shape: ImageShape
  /// Whether files that are not readable images are left out (with a warning) instead of stopping the run.
  package var skipBadFiles: Bool

  /// A source reading the folder `path`.
  package init(path: String, shape: ImageShape, skipBadFiles: Bool = false) {
    self.path = path
    self.shape = shape
    self.skipBadFiles = skipBadFiles
  }

  /// The folder, for messages.
  package var description: String { path }

  /// `path`, `image_size`, `channels`, `skip_bad_files`: what a resume compares.
  package var settings: [DataSourceSetting] {
    [
      DataSourceSetting("path", path), DataSourceSetting("image_size", "[\(shape.height), \(shape.width)]"),
      DataSourceSetting("channels", shape.channels), DataSourceSetting("skip_bad_files", skipBadFiles),
    ]
  }

  // MARK: Config

  /// Reads `path`, `image_size`, `channels` and `skip_bad_files`.
  package static func decode(_ d: ObjectReader, context: DataSourceContext) -> ImageFolderSource? {
    let path = d.requiredPath("path")
    var channels: Int? = 3
    if let value = d.int("channels") {
      channels = value
      if value != 1 && value != 3 {
        d.report("channels", "expected 1 (grey) or 3 (RGB), found \(value)")
        channels = nil
      }
    }
    var size: (Int, Int)?
    if let items = d.array("image_size") {
      let sides = items.compactMap { item -> Int? in
        guard case .number(let value, _, _) = item, item.isInteger, value >= 1,
          value <= Double(ImageLimits.maximumSide)
        else { return nil }
        return Int(value)
      }
      if sides.count == 2 && items.count == 2 {
        size = (sides[0], sides[1])
      } else {
        d.report(
          "image_size",
          "expected [height, width], two integers in 1...\(ImageLimits.maximumSide), found [\(items.map(\.summary).joined(separator: ", "))]"
        )
      }
    } else if !d.has("image_size") {
      d.missing("image_size", "[height, width] (every image is resized to it)")
    }
    let skip = d.bool("skip_bad_files") ?? false
    guard let path, let channels, let size else { return nil }
    return ImageFolderSource(
      path: path, shape: ImageShape(channels: channels, height: size.0, width: size.1), skipBadFiles: skip)
  }

  // MARK: Files

  /// PNG or JPEG magic bytes: one image, which `predict --input` reads.
  package static func recognize(_ head: FileHead) -> FormatMatch? {
    !head.isGzip && ImageFormat.detect(head.content.prefix(8)) != nil ? .magic : nil
  }

  /// A folder holding PNG or JPEG files (the first one found decides).
  package static func recognize(folder path: String) -> FormatMatch? {
    ImageFolder.holdsImages(path) ? .magic : nil
  }

  /// The same settings reading the labelled folder `locations[0]`.
  package func reading(_ locations: [DataLocation], as argument: String) throws(NNBatchError)
    -> ImageFolderSource
  {
    guard locations.count == 1, case .folder(let folder) = locations[0] else {
      throw NNBatchError(
        .usage, "\(argument): give a folder with one sub-folder per class (the labels), or a config (.json)")
    }
    var copy = self
    copy.path = folder
    return copy
  }

  /// An image file, or a folder of them: each image, streamed block by block, named by its path.
  ///
  /// Images become what the model was trained on: the training source's
  /// `channels` and `image_size` when it read images, else the model's input [C, H, W].
  package static func openInputs(_ location: DataLocation, _ request: InputRequest) throws(NNBatchError)
    -> any SampleReader
  {
    let shape: ImageShape
    if let trained = request.trainedSource as? ImageFolderSource {
      shape = trained.shape
    } else if let input = request.modelInput, input.rank == 3, [1, 3].contains(input.dimensions[0]) {
      shape = ImageShape(
        channels: input.dimensions[0], height: input.dimensions[1], width: input.dimensions[2])
    } else {
      throw NNBatchError(
        .usage,
        "\(location.path): images need a model trained on images (data.source \"images\") or taking [1 or 3, H, W] inputs; this model takes \(request.modelInput.map { "\($0)" } ?? "other inputs")"
      )
    }
    let folder = try ImageFolder.inputs(location)
    return StreamedSamples(ImageFolderRows(folder, shape: shape, labelled: false), inputsOnly: true)
  }

  /// Decodes every image into memory.
  package func open(task: LearningTask, labels known: [String]) throws(NNBatchError) -> any SampleReader {
    let folder = try ImageFolder.labelled(path, known: known)
    let features = shape.features
    let count = folder.files.count
    try MemoryBudget.require(
      checkedProduct([count, features + 1, MemoryLayout<Float>.size]),
      for: "\(count) images of \(shape) as floats", in: path)
    let inputs = Matrix(rows: count, columns: features)  // [N, C·H·W]
    let failures = Self.decodeAll(folder.files, shape: shape, into: inputs)
    // Failures are judged in file order, so the error (or the list of skipped files) never depends on timing.
    var bad: [NNBatchError] = []
    for case let error? in failures {
      guard skipBadFiles, error.kind == .usage else { throw error }
      bad.append(error)
    }
    try Self.reportSkipped(bad, of: count, in: path)
    var targets: [Float] = []
    targets.reserveCapacity(count)
    var kept = inputs
    if bad.isEmpty {
      targets = folder.labels.map(Float.init)
    } else {
      kept = Matrix(rows: count - bad.count, columns: features)
      for (row, label) in folder.labels.enumerated() where failures[row] == nil {
        kept.row(targets.count).update(from: inputs.row(row), count: features)
        targets.append(Float(label))
      }
    }
    return InMemorySamples(
      RawData(
        inputs: kept, targets: Matrix(rows: targets.count, columns: 1, values: targets),
        labels: folder.classes,
        classes: folder.classes.count, sampleShape: shape.sampleShape))
  }

  /// The folder streamed: each block's images decoded as the prefetch ring reads it.
  ///
  package func openRows(task: LearningTask) throws(NNBatchError) -> (any RowSource)? {
    try openRows(task: task, labels: [])
  }

  /// The folder streamed, its classes numbered as `labels` (the model's) number them; empty: by their own order.
  ///
  /// With `skip_bad_files` every image is decoded once here, so that the
  /// rows (the readable images) are known before training numbers them.
  package func openRows(task: LearningTask, labels known: [String]) throws(NNBatchError) -> (any RowSource)? {
    var folder = try ImageFolder.labelled(path, known: known)
    var skipped: [NNBatchError] = []
    if skipBadFiles {
      // Checked 256 images at a time on every core, into a scratch block that is thrown away.
      let window = 256
      try MemoryBudget.require(
        checkedProduct([window, shape.features, MemoryLayout<Float>.size]),
        for: "checking \(window) images at a time (data.skip_bad_files)", in: path)
      let scratch = Matrix(rows: window, columns: shape.features)
      var files: [String] = []
      var labels: [Int] = []
      for start in stride(from: 0, to: folder.files.count, by: window) {
        let end = min(start + window, folder.files.count)
        let failures = Self.decodeAll(Array(folder.files[start..<end]), shape: shape, into: scratch)
        for (offset, failure) in failures.enumerated() {
          if let failure {
            guard failure.kind == .usage else { throw failure }
            skipped.append(failure)
          } else {
            files.append(folder.files[start + offset])
            labels.append(folder.labels[start + offset])
          }
        }
      }
      if files.isEmpty { try Self.reportSkipped(skipped, of: folder.files.count, in: path) }
      folder.files = files
      folder.labels = labels
    }
    return ImageFolderRows(
      folder, shape: shape, labelled: true, skipped: skipped, listed: folder.files.count + skipped.count)
  }

  /// Decodes `files` into the rows of `inputs`, on every core (each image its own row); each file's error, or nil.
  static func decodeAll(_ files: [String], shape: ImageShape, into inputs: Matrix) -> [NNBatchError?] {
    let failures = Mutex([NNBatchError?](repeating: nil, count: files.count))
    let chunk = 64
    DispatchQueue.concurrentPerform(iterations: (files.count + chunk - 1) / chunk) { part in
      for row in (part * chunk)..<min(files.count, (part + 1) * chunk) {
        do throws(NNBatchError) {
          try shape.decode(files[row], into: inputs.row(row))  // each worker writes its own rows
        } catch {
          failures.withLock { $0[row] = error }
        }
      }
    }
    return failures.withLock { $0 }
  }

  /// Warns about each file left out by `skip_bad_files`, then their count; throws when none was readable.
  static func reportSkipped(_ bad: [NNBatchError], of count: Int, in path: String) throws(NNBatchError) {
    guard !bad.isEmpty else { return }
    for error in bad { Warnings.emit("\(error.description); skipped (data.skip_bad_files)") }
    Warnings.emit(
      "\(path): skipped \(bad.count) of \(count) files that are not readable images (data.skip_bad_files)")
    guard bad.count < count else {
      throw NNBatchError(
        .usage, "\(path): expected at least one readable image, found none of \(count) files")
    }
  }
}

/// What each image becomes: `channels` (1 or 3) planes of `height`×`width` floats.
package struct ImageShape: Sendable, Equatable, CustomStringConvertible {
  /// 1 (grey) or 3 (RGB).
  package var channels: Int
  /// Rows after resizing.
  package var height: Int
  /// Columns after resizing.
  package var width: Int

  /// A shape of `channels` planes of `height`×`width`.
  package init(channels: Int, height: Int, width: Int) {
    self.channels = channels
    self.height = height
    self.width = width
  }

  /// Floats per image.
  package var features: Int { channels * height * width }
  /// One sample's shape [C, H, W].
  package var sampleShape: Shape { [channels, height, width] }
  /// "[3, 32, 32]".
  package var description: String { "[\(channels), \(height), \(width)]" }

  /// Largest image file read (bytes): far above any image within `ImageLimits`, compressed.
  static let maximumFileBytes = 256 << 20

  /// Reads and decodes the image file `path` into `features` floats at `output`.
  package func decode(_ path: String, into output: UnsafeMutablePointer<Float>) throws(NNBatchError) {
    let bytes = try readRegularFile(path, limit: Self.maximumFileBytes)
    try DecodedImage.decode(bytes, path: path).write(
      channels: channels, height: height, width: width, into: output)
  }
}
