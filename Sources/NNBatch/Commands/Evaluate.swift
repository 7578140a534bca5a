import Foundation
import NeuralNet
import Parallel

/// `nnbatch evaluate`: a checkpoint's loss and metrics on a data set.
public enum Evaluate {
  /// Loss and metrics of checkpoint `path` on a data set (its own, or `dataConfig`'s).
  ///
  /// `dataConfig` is a config (a JSON object) or a data file; a data file's format is
  /// `format` (csv, idx, hdf5) or, when nil, detected from its first bytes; "-" is standard input.
  public static func run(
    checkpoint path: String, dataConfig: String?, format: String? = nil, threads: Int
  ) throws(NNBatchError) -> String {
    guard let dataConfig, dataConfig == StandardInput.argument else {
      return try evaluate(checkpoint: path, dataConfig: dataConfig, format: format, threads: threads)
    }
    return try StandardInput.reading(dataConfig) { (file) throws(NNBatchError) in
      try evaluate(checkpoint: path, dataConfig: file, format: format, threads: threads)
        .replacingOccurrences(of: file, with: "standard input")
    }
  }

  private static func evaluate(
    checkpoint path: String, dataConfig: String?, format: String?, threads: Int
  ) throws(NNBatchError) -> String {
    let model = try SavedModel.load(path)
    let (dataset, config, source) = try samples(
      config: model.config, data: dataConfig, format: format, labels: model.checkpoint.data.labels)
    guard dataset.features == model.network.architecture.inputs else {
      throw NNBatchError(
        .usage,
        "\(source): \(dataset.features) features, but the model takes \(model.network.architecture.inputs)")
    }
    model.scaler.apply(to: dataset.inputs)
    let prepared = PreparedData(
      train: dataset, validation: nil, labels: model.checkpoint.data.labels, scaler: model.scaler,
      targetScaler: model.targetScaler, sampleShape: model.network.architecture.inputShape)
    try DataLoader.check(prepared, against: config, classes: nil)
    // The loss is computed as in training (scaled targets); MAE and R² in the targets' units.
    model.targetScaler.apply(to: dataset.targets)
    let batch = min(256, max(dataset.count, 1))
    let engine = Parallel.DataParallelEngine(
      network: model.network, plan: Parallel.ShardPlan(batchSize: batch, shardSize: min(batch, 64)),
      threads: threads, targetColumns: dataset.targetColumns)
    let sums = engine.evaluate(
      parameters: model.parameters, data: dataset, targetScale: model.targetScaler)
    var lines = ["evaluated \(path) on \(source): \(sums.samples) samples"]
    let lossNote =
      model.targetScaler.kind == .none
      ? "" : ", on targets scaled by data.scale_targets \(model.targetScaler.kind.rawValue)"
    lines.append(
      "loss       \(format6(sums.reducedLoss(model.network.loss))) (\(model.network.loss.rawValue)\(lossNote))"
    )
    if model.isClassifier {
      lines.append("accuracy   \(String(format: "%.4f", sums.accuracy)) (\(sums.correct)/\(sums.samples))")
      lines.append(contentsOf: confusionMatrix(model: model, dataset: dataset))
    } else {
      lines.append("mae        \(format6(sums.meanAbsoluteError))")
      lines.append("r2         \(format6(sums.rSquared))")
    }
    return lines.joined(separator: "\n")
  }

  /// The samples to evaluate on (unscaled), the config that reads them, and their name for messages.
  ///
  /// Without `data`: the run's validation samples, the very rows training
  /// held out (`DataLoader.select`), or its training data when it had none.
  /// With a config (a file holding a JSON object, unless `format` is given): all of that config's
  /// `data`. With a data file: read like the training data (same CSV
  /// columns, HDF5 dataset names; `IMAGES,LABELS` for IDX).
  ///
  /// Whole sets, not row blocks: `DataParallelEngine.evaluate` sums its
  /// metrics over one `Dataset`, in a fixed order that a block-wise reader
  /// would change.
  package static func samples(config: Config, data: String?, format: String?, labels: [String])
    throws(NNBatchError) -> (Dataset, Config, String)
  {
    var config = config
    guard let data else {
      let selected = try DataLoader.select(config, labels: labels)
      if let validation = selected.validation {
        return (validation, config, "the checkpoint's validation data")
      }
      return (selected.train, config, "the checkpoint's training data")
    }
    let raw: RawData
    // A config is told from a data file by its content (a JSON object), never by its name.
    var isConfig = false
    if format == nil && FileManager.default.fileExists(atPath: data) {
      isConfig = try FileHead(path: data).isJSONObject
    }
    if isConfig {
      let other = try Config.load(path: data)
      config.data = other.data
      config.validation = other.validation
      config.validationSplit = other.validationSplit
      raw = try DataLoader.read(config.data, task: config.task, labels: labels)
    } else {
      let (source, resolved) = try fileSource(like: config.data.source, reading: data, format: format)
      config.data.source = source
      config.validation = nil
      config.validationSplit = 0
      let dataConfig = config.data
      let task = config.task
      raw = try resolved.reading { () throws(NNBatchError) in
        try DataLoader.read(dataConfig, task: task, labels: labels)
      }
    }
    return (Dataset(inputs: raw.inputs, targets: raw.targets), config, data)
  }

  /// The training data's source with its file(s) replaced by `argument`'s.
  ///
  /// `argument` is one file, or files separated by commas (IDX: IMAGES,LABELS)
  /// when no file has that whole name. The first file's format (`format`, or
  /// its content) must be the training data's.
  static func fileSource(like trained: any DataSource, reading argument: String, format: String?)
    throws(NNBatchError) -> (any DataSource, ResolvedFormat)
  {
    let kind = type(of: trained).name
    guard let trained = trained as? any FileDataSource else {
      throw NNBatchError(
        .usage,
        "\(argument): the model was trained on \(kind) data, so nnbatch cannot tell how to read this file; pass a config (.json) whose data section describes it"
      )
    }
    let files =
      FileManager.default.fileExists(atPath: argument)
      ? [argument] : argument.split(separator: ",").map(String.init)
    let resolved = try DataSources.resolve(files.first ?? argument, format: format)
    guard resolved.kind.name == kind else {
      throw NNBatchError(
        .usage,
        "\(argument): \(resolved.kind.formatName) data (\(resolved.origin)), but the model was trained on \(kind) data, so nnbatch cannot tell how to read it; pass a config (.json) whose data section describes it"
      )
    }
    return (try trained.reading(files, as: argument), resolved)
  }

  private static func confusionMatrix(model: SavedModel, dataset: Dataset) -> [String] {
    let outputs = model.network.predict(parameters: model.parameters, inputs: dataset.inputs)
    let width = outputs.columns
    let classes = max(width, 2)
    var matrix = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
    for r in 0..<dataset.count {
      let predicted = width == 1 ? (outputs[r, 0] >= 0.5 ? 1 : 0) : argmax(outputs.row(r), count: width)
      let t = dataset.targets.row(r)
      let expected =
        dataset.targetColumns == 1
        ? Int(t[0] >= 0 ? t[0].rounded() : 0) : argmax(t, count: dataset.targetColumns)
      if expected < classes { matrix[expected][predicted] += 1 }
    }
    let labels =
      model.checkpoint.data.labels.isEmpty ? (0..<classes).map(String.init) : model.checkpoint.data.labels
    let cell = max(6, (labels.map(\.count).max() ?? 1) + 1, String(dataset.count).count + 1)
    func pad(_ s: String) -> String { String(repeating: " ", count: max(0, cell - s.count)) + s }
    var lines = ["confusion matrix (rows: true class, columns: predicted)"]
    lines.append(pad("") + labels.prefix(classes).map(pad).joined())
    for (i, row) in matrix.enumerated() {
      lines.append(pad(i < labels.count ? labels[i] : "\(i)") + row.map { pad(String($0)) }.joined())
    }
    return lines
  }
}
