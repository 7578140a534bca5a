import Export
import Foundation
import HDF5Store
import NNBatch
import NNBatchCore

/// A model's loss and metrics on a data set, as `nnbatch evaluate` reports them.
public struct Evaluation: Sendable, Equatable {
  /// Samples evaluated.
  public var samples: Int
  /// Metrics by name: `loss`, then `accuracy`, `precision_macro`, `recall_macro`, `f1_macro`,
  /// their `_weighted` averages and, for two classes, `auc` and `pr_auc` for a classifier;
  /// `mae` and `r2` (in the targets' units) for a regression.
  public var metrics: [String: Double]
  /// A classifier's confusion matrix, rows the true classes and columns the predicted ones,
  /// in ``TrainedModel/classLabels`` order; empty for a regression.
  public var confusionMatrix: [[Int]]

  /// The loss, computed as in training.
  public var loss: Double { metrics["loss"] ?? .nan }
}

/// A file format ``TrainedModel/export(to:format:)`` writes, as `nnbatch export --format`.
public enum ModelFormat: String, Sendable, CaseIterable {
  /// An ONNX model for onnxruntime and other ONNX runtimes.
  case onnx
  /// A Keras 3 `.keras` archive for `keras.saving.load_model`.
  case keras
}

extension TrainedModel {
  /// Loss and metrics on `inputs` and `targets` (one row per sample, targets as in the training data).
  public func evaluate(inputs: [[Float]], targets: [[Float]], threads: Int? = nil) throws(NNBatchKitError)
    -> Evaluation
  {
    try evaluate(.inline(inputs: inputs, targets: targets), threads: threads)
  }

  /// Loss and metrics on the samples of `data` (a CSV file, in-memory samples).
  ///
  /// Read as `nnbatch evaluate` reads a config's data: scaled as at training time, streamed
  /// when the source can stream. With a `validationSplit`, only the rows it holds out count.
  public func evaluate(_ data: TrainingData, threads: Int? = nil) throws(NNBatchKitError) -> Evaluation {
    let reading = try self.config.replacingData(data, reading: true)
    return try reading.withMemorySamples { () throws(NNBatchKitError) in
      try evaluate(reading.config, threads: threads)
    }
  }

  /// Loss and metrics on a classifier's `inputs` and class labels (`classLabels` names).
  public func evaluate(inputs: [[Float]], labels: [String], threads: Int? = nil) throws(NNBatchKitError)
    -> Evaluation
  {
    try evaluate(.inline(inputs: inputs, labels: labels), threads: threads)
  }

  private func evaluate(_ config: Config, threads: Int?) throws(NNBatchKitError) -> Evaluation {
    do {
      let opened = try Evaluate.reader(
        config: config, data: nil, format: nil, labels: saved.checkpoint.data.labels,
        categories: saved.categoriesByPosition)
      var (sums, confusion) = try Evaluate.measure(
        model: saved, opened: opened, threads: threads ?? ProcessInfo.processInfo.activeProcessorCount)
      var metrics = ["loss": sums.reducedLoss(saved.network.loss)]
      if isClassifier {
        metrics["accuracy"] = sums.accuracy
        metrics.merge(confusion.averages()) { first, _ in first }
      } else {
        metrics["mae"] = sums.meanAbsoluteError
        metrics["r2"] = sums.rSquared
      }
      return Evaluation(
        samples: sums.samples, metrics: metrics, confusionMatrix: isClassifier ? confusion.counts : [])
    } catch {
      throw NNBatchKitError(error)
    }
  }

  /// Outputs for the samples of `data`, one row per sample: what ``predict(_:)-([[Float]])`` returns for them.
  ///
  /// `data` is described like the training data (a CSV file still has its target column).
  public func predict(_ data: TrainingData) throws(NNBatchKitError) -> FloatMatrix {
    try predict(inputs(of: data))
  }

  /// A classifier's class names for the samples of `data`: ``classify(_:)-([[Float]])`` of its inputs.
  public func classify(_ data: TrainingData) throws(NNBatchKitError) -> [String] {
    try classify(inputs(of: data).arrays)
  }

  /// The unscaled inputs of `data`'s samples, read as evaluate reads them.
  private func inputs(of data: TrainingData) throws(NNBatchKitError) -> FloatMatrix {
    let reading = try config.replacingData(data, reading: true)
    return try reading.withMemorySamples { () throws(NNBatchKitError) in
      do throws(NNBatchError) {
        let (set, _, _) = try Evaluate.samples(
          config: reading.config, data: nil, format: nil, labels: saved.checkpoint.data.labels)
        return FloatMatrix(rows: set.count, columns: set.inputs.columns, values: set.inputs.storage.array)
      } catch {
        throw NNBatchKitError(error)
      }
    }
  }

  /// Writes the model, with its input scaling, as `format` to `path`: the file `nnbatch export` writes.
  ///
  /// A format that cannot express the model is refused (`.usage`), saying what. `path`
  /// follows the rule for output paths, like ``save(to:)``.
  public func export(to path: String, format: ModelFormat) throws(NNBatchKitError) {
    let exportFormat: ExportFormat = format == .onnx ? .onnx : .keras
    let bytes: [UInt8]
    do {
      bytes = try ModelExport.encode(saved, format: exportFormat)
    } catch {
      throw NNBatchKitError(error)
    }
    do {
      _ = try FileSystem.writeOutput(path, bytes: bytes)
    } catch  where error.isUsageError {
      throw NNBatchKitError(.usage, "\(path): cannot write the \(format.rawValue) export: \(error.reason)")
    } catch {
      throw NNBatchKitError(.failure, "\(path): cannot write the \(format.rawValue) export: \(error)")
    }
  }
}

extension JSONText {
  /// `value` as written back, numbers in their source text.
  init(_ value: JSONValue) {
    switch value {
    case .object(let members, _): self = .object(members.map { ($0.key, JSONText($0.value)) })
    case .array(let items, _): self = .array(items.map { JSONText($0) })
    case .string(let string, _): self = .string(string)
    case .number(_, let text, _): self = .number(text)
    case .bool(let flag, _): self = .bool(flag)
    case .null: self = .null
    }
  }
}
