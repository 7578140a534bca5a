import CZlib
import Foundation
import HDF5Store
import NeuralNet

/// Samples read from a source, before splitting and scaling.
public struct RawData: Sendable {
  /// Inputs [N, F].
  public var inputs: Matrix
  /// Targets [N, C]: class indices (C = 1) for classification, values for regression.
  public var targets: Matrix
  /// Class labels in class-index order (empty: the labels are the indices).
  public var labels: [String]
  /// Classes known from the source (synthetic, idx), else nil.
  public var classes: Int?
}

/// Training and validation data, ready for the engine.
public struct PreparedData: Sendable {
  /// Training samples (scaled).
  public var train: Dataset
  /// Validation samples (scaled), if any.
  public var validation: Dataset?
  /// Class labels in class-index order.
  public var labels: [String]
  /// The scaling fitted on the training split.
  public var scaler: AffineScaler
  /// The regression-target scaling fitted on the training split (`data.scale_targets`).
  public var targetScaler: AffineScaler
}

/// Reads data sources and checks them against the model.
public enum DataLoader {
  /// Reads `config`'s training data (and validation data), splits, scales and checks it.
  public static func prepare(_ config: Config) throws(NNBatchError) -> PreparedData {
    let raw = try read(config.data, task: config.task)
    var labels = raw.labels
    var trainInputs = raw.inputs
    var trainTargets = raw.targets
    var validation: Dataset?
    if let v = config.validation {
      let rawValidation = try read(v, task: config.task, labels: raw.labels)
      if !rawValidation.labels.isEmpty { labels = rawValidation.labels }
      guard rawValidation.inputs.columns == raw.inputs.columns else {
        throw NNBatchError(
          .usage,
          "\(describe(v.source)): validation data has \(rawValidation.inputs.columns) features, training data has \(raw.inputs.columns)"
        )
      }
      validation = Dataset(inputs: rawValidation.inputs, targets: rawValidation.targets)
    } else if config.validationSplit > 0 {
      let n = raw.inputs.rows
      let held = Int((Double(n) * config.validationSplit).rounded())
      guard held >= 1 && held < n else {
        throw NNBatchError(
          .usage,
          "\(config.file): data.validation_split \(config.validationSplit) of \(n) samples leaves \(held) for validation and \(n - held) for training; both need at least one"
        )
      }
      let all = Dataset(inputs: raw.inputs, targets: raw.targets)
      let split = validationSplit(count: n, held: held, seed: config.seed)
      validation = all.subset(split.validation)
      let train = all.subset(split.train)
      trainInputs = train.inputs
      trainTargets = train.targets
    }
    let scaler = AffineScaler.fit(config.scaling, to: trainInputs)
    scaler.apply(to: trainInputs)
    if let validation { scaler.apply(to: validation.inputs) }
    let targetScaler = AffineScaler.fit(config.targetScaling, to: trainTargets)
    // Targets are checked in their own units first, then scaled.
    try check(
      PreparedData(
        train: Dataset(inputs: trainInputs, targets: trainTargets), validation: validation,
        labels: labels, scaler: scaler, targetScaler: .identity),
      against: config, classes: raw.classes)
    targetScaler.apply(to: trainTargets)
    if let validation { targetScaler.apply(to: validation.targets) }
    let prepared = PreparedData(
      train: Dataset(inputs: trainInputs, targets: trainTargets), validation: validation,
      labels: labels, scaler: scaler, targetScaler: targetScaler)
    return prepared
  }

  /// The seeded hold-out: row numbers of the `held` validation samples and of the rest.
  ///
  /// `evaluate` calls it too, to find the same validation rows again.
  static func validationSplit(count n: Int, held: Int, seed: UInt64) -> (validation: [Int], train: [Int]) {
    var generator = SeededGenerator(seed: seed ^ 0x5EED_5EED_0000_0001)
    var order = Array(0..<n)
    generator.shuffle(&order)
    return (Array(order[0..<held]).sorted(), Array(order[held...]).sorted())
  }

  /// Checks targets against the loss and the output layer.
  static func check(_ data: PreparedData, against config: Config, classes: Int?) throws(NNBatchError) {
    // Layers that do not fit the data are reported when the network is built.
    guard let outputs = config.outputs(features: data.train.features) else { return }
    let name = describe(config.data.source)
    let columns = data.train.targetColumns
    if config.loss == .crossEntropy && columns == 1 {
      let needed = max(classes ?? 0, data.labels.count)
      if needed > outputs {
        throw NNBatchError(
          .usage,
          "\(name): the data has \(needed) classes but the last layer has \(outputs) units; set its units to \(needed)"
        )
      }
    }
    if !config.loss.accepts(targetColumns: columns, outputs: outputs) {
      throw NNBatchError(
        .usage,
        "\(name): targets have \(columns) column(s) but the last layer has \(outputs) units (loss \(config.loss.rawValue))"
      )
    }
    for (set, dataset) in [("training", Optional(data.train)), ("validation", data.validation)] {
      guard let dataset else { continue }
      try checkValues(dataset, set: set, source: name, config: config, outputs: outputs)
    }
  }

  private static func checkValues(
    _ dataset: Dataset, set: String, source: String, config: Config, outputs: Int
  ) throws(NNBatchError) {
    let classIndices = config.loss == .crossEntropy && dataset.targetColumns == 1
    for r in 0..<dataset.count {
      let x = dataset.inputs.row(r)
      for j in 0..<dataset.features where !x[j].isFinite {
        throw NNBatchError(
          .usage, "\(source): \(set) sample \(r + 1), feature \(j): expected a finite number, found \(x[j])")
      }
      let t = dataset.targets.row(r)
      for j in 0..<dataset.targetColumns {
        let v = t[j]
        if !v.isFinite {
          throw NNBatchError(
            .usage, "\(source): \(set) sample \(r + 1), target \(j): expected a finite number, found \(v)")
        }
        if classIndices && (v != v.rounded() || v < 0 || Int(v) >= outputs) {
          throw NNBatchError(
            .usage,
            "\(source): \(set) sample \(r + 1): expected a class index in 0...\(outputs - 1), found \(v)")
        }
        if config.loss == .binaryCrossEntropy && (v < 0 || v > 1) {
          throw NNBatchError(
            .usage,
            "\(source): \(set) sample \(r + 1), target \(j): binary_cross_entropy needs targets in [0, 1], found \(v)"
          )
        }
      }
    }
  }

  /// A short name for a source, for messages.
  static func describe(_ source: DataSource) -> String {
    switch source {
    case .inline: return "inline data"
    case .synthetic: return "synthetic data"
    case .csv(let options): return options.path
    case .idx(let images, _): return images
    case .hdf5(let path, _, _): return path
    }
  }

  /// Reads one source.
  ///
  /// `labels` maps class labels of a validation set to the training set's indices.
  public static func read(_ data: DataConfig, task: LearningTask, labels: [String] = []) throws(NNBatchError)
    -> RawData
  {
    switch data.source {
    case .inline(let inputs, let targets):
      let x = Matrix(inputs.map { $0.map(Float.init) })
      let t = Matrix(targets.map { $0.map(Float.init) })
      return RawData(inputs: x, targets: t, labels: [], classes: nil)
    case .synthetic(let samples, let features, let classes, let seed):
      return synthetic(samples: samples, features: features, classes: classes, seed: seed)
    case .csv(let options):
      return try CSVSource.read(options, task: task, knownLabels: labels)
    case .idx(let images, let labelsPath):
      return try IDXSource.read(images: images, labels: labelsPath)
    case .hdf5(let path, let inputs, let targets):
      return try HDF5Source.read(path: path, inputs: inputs, targets: targets)
    }
  }

  /// Seeded synthetic classification data: x uniform in [0, 1), y = argmax((x − 0.5) · M).
  ///
  /// M [features, classes] is Gaussian from the same seed, so classes are
  /// roughly balanced and linearly separable (learnable by any network).
  public static func synthetic(samples: Int, features: Int, classes: Int, seed: UInt64) -> RawData {
    var generator = SeededGenerator(seed: seed)
    let projection = Matrix(rows: features, columns: classes)
    for i in 0..<(features * classes) {
      projection.storage.pointer[i] = Float(generator.nextGaussian())
    }
    let inputs = Matrix(rows: samples, columns: features)
    let x = inputs.storage.pointer
    for i in 0..<(samples * features) { x[i] = generator.nextFloat() }
    // Scores = (x − 0.5) · M = x · M − 0.5 · colsum(M), in blocks of rows.
    var offset = [Float](repeating: 0, count: classes)
    for j in 0..<features {
      for c in 0..<classes { offset[c] += 0.5 * projection[j, c] }
    }
    let targets = Matrix(rows: samples, columns: 1)
    let block = 4096
    let scores = FloatBuffer(count: block * classes)
    var start = 0
    while start < samples {
      let rows = min(block, samples - start)
      gemm(
        .none, .none, m: rows, n: classes, k: features, alpha: 1, a: inputs.row(start),
        lda: features, b: projection.storage.pointer, ldb: classes, beta: 0, c: scores.pointer,
        ldc: classes)
      for r in 0..<rows {
        let s = scores.pointer + r * classes
        for c in 0..<classes { s[c] -= offset[c] }
        targets.storage.pointer[start + r] = Float(argmax(s, count: classes))
      }
      start += rows
    }
    return RawData(inputs: inputs, targets: targets, labels: [], classes: classes)
  }
}

/// Reads a whole file as bytes, transparently gunzipping (zlib's gzread).
func readFileBytes(_ path: String) throws(NNBatchError) -> [UInt8] {
  guard FileManager.default.fileExists(atPath: path) else {
    throw NNBatchError(.usage, "\(path): no such file")
  }
  guard let file = gzopen(path, "rb") else {
    throw NNBatchError(.usage, "\(path): cannot open: \(String(cString: strerror(errno)))")
  }
  defer { gzclose(file) }
  var bytes: [UInt8] = []
  // The file's size is the exact size of a plain file and a lower bound for
  // a gzipped one: reserving it avoids regrowing a buffer of hundreds of MB.
  var info = stat()
  if stat(path, &info) == 0 { bytes.reserveCapacity(Int(info.st_size)) }
  var chunk = [UInt8](repeating: 0, count: 1 << 20)
  while true {
    let n = chunk.withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32($0.count)) }
    if n < 0 {
      var code: Int32 = 0
      let message = gzerror(file, &code).map { String(cString: $0) } ?? "read error"
      throw NNBatchError(.usage, "\(path): cannot read: \(message)")
    }
    if n == 0 { break }
    bytes.append(contentsOf: chunk[0..<Int(n)])
  }
  return bytes
}
