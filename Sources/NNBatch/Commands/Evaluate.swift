import Foundation
import HDF5Store
import NeuralNet
import Parallel

/// `nnbatch evaluate`: a checkpoint's loss and metrics on a data set.
public enum Evaluate {
  /// Loss and metrics of checkpoint `path` on a data set (its own, or `dataConfig`'s).
  public static func run(checkpoint path: String, dataConfig: String?, threads: Int) throws(NNBatchError)
    -> String
  {
    BLASThreads.useSingleThread()
    let model = try SavedModel.load(path)
    var config = model.config
    var source = "the checkpoint's validation data"
    if let dataConfig {
      if dataConfig.lowercased().hasSuffix(".json") {
        let other = try Config.load(path: dataConfig)
        config.data = other.data
        config.validation = other.validation
        config.validationSplit = other.validationSplit
      } else {
        config.data.source = try sameKind(as: config.data.source, reading: dataConfig)
        config.validation = nil
        config.validationSplit = 0
      }
      source = dataConfig
    }
    let raw = try DataLoader.read(config.data, task: config.task, labels: model.checkpoint.data.labels)
    var dataset = Dataset(inputs: raw.inputs, targets: raw.targets)
    if let validation = config.validation, dataConfig == nil {
      let v = try DataLoader.read(validation, task: config.task, labels: model.checkpoint.data.labels)
      dataset = Dataset(inputs: v.inputs, targets: v.targets)
    } else if config.validationSplit > 0 && dataConfig == nil {
      let held = Int((Double(dataset.count) * config.validationSplit).rounded())
      let split = DataLoader.validationSplit(count: dataset.count, held: held, seed: config.seed)
      dataset = dataset.subset(split.validation)
    } else if dataConfig == nil {
      source = "the checkpoint's training data"
    }
    guard dataset.features == model.network.architecture.inputs else {
      throw NNBatchError(
        .usage,
        "\(source): \(dataset.features) features, but the model takes \(model.network.architecture.inputs)")
    }
    model.scaler.apply(to: dataset.inputs)
    let prepared = PreparedData(
      train: dataset, validation: nil, labels: model.checkpoint.data.labels, scaler: model.scaler,
      targetScaler: model.targetScaler)
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

  /// The training data's source with its file(s) replaced by `path`: a CSV
  /// with the same columns, an HDF5 file with the same dataset names, or
  /// "IMAGES,LABELS" for IDX files.
  static func sameKind(as source: DataSource, reading path: String) throws(NNBatchError) -> DataSource {
    switch source {
    case .csv(var options):
      options.path = path
      return .csv(options)
    case .hdf5(_, let inputs, let targets):
      return .hdf5(path: path, inputs: inputs, targets: targets)
    case .idx:
      let parts = path.split(separator: ",").map(String.init)
      guard parts.count == 2 else {
        throw NNBatchError(.usage, "\(path): for IDX data give IMAGES,LABELS (two files), or a config")
      }
      return .idx(images: parts[0], labels: parts[1])
    case .inline, .synthetic:
      throw NNBatchError(
        .usage,
        "\(path): the model was trained on \(source.name) data, so nnbatch cannot tell how to read this file; pass a config (.json) whose data section describes it"
      )
    }
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
