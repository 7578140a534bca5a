import Checkpoints
import HDF5Store
import NNBatch
import NeuralNet

/// A trained network with its input scaling: what a checkpoint holds, ready to predict.
public struct TrainedModel: Sendable {
  let saved: SavedModel
  /// The epochs of the ``TrainingConfig/train(threads:epochs:checkpointDirectory:resume:callbacks:onEvent:)``
  /// call that returned this model (as Keras's `fit`); empty for a model loaded from a file.
  public internal(set) var history = History()

  init(_ saved: SavedModel) {
    self.saved = saved
  }

  /// Loads and verifies the checkpoint at `path` (any `step-*.h5` or `best.h5` nnbatch wrote, or a run's folder: its newest valid file).
  public init(checkpoint path: String) throws(NNBatchKitError) {
    do {
      saved = try SavedModel.load(path)
    } catch {
      throw NNBatchKitError(error)
    }
  }

  /// Saves the model, with its training state, as a checkpoint file at `path`.
  ///
  /// `path` follows nnbatch's rule for output paths (`FileSystem.openOutput`):
  /// a file is written under an unpredictable temporary name in its folder,
  /// fsynced and renamed, like every checkpoint; a symlink's target is
  /// replaced that way; a directory is refused (`.usage`). `nnbatch predict`,
  /// `inspect` and `train --resume` read the file.
  public func save(to path: String) throws(NNBatchKitError) {
    let folder = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? ""
    do {
      if !folder.isEmpty { try FileSystem.createDirectories(folder) }
      try saved.checkpoint.write(to: path)
    } catch let error as FileSystemError where error.isUsageError {
      throw NNBatchKitError(.usage, "\(path): cannot save the model: \(error.reason)")
    } catch {
      throw NNBatchKitError(.failure, "\(path): cannot save the model: \(error)")
    }
  }

  /// The config the model was trained with.
  public var config: TrainingConfig { TrainingConfig(config: saved.config) }
  /// Features per sample the model takes (for images: channels × height × width, row-major).
  public var inputCount: Int { saved.rawFeatures }
  /// Outputs per sample.
  public var outputCount: Int { saved.network.architecture.outputs }
  /// Whether the model classifies (outputs are class probabilities).
  public var isClassifier: Bool { saved.isClassifier }
  /// Class names of a classifier's outputs, in output order; empty for regression.
  public var classLabels: [String] { saved.isClassifier ? saved.labels : [] }
  /// Training steps the model has had.
  public var step: Int { saved.checkpoint.counters.step }
  /// Epochs the model has had.
  public var epoch: Int { saved.checkpoint.counters.epoch }
  /// Training loss of every step, oldest first.
  public var lossHistory: [Double] { saved.checkpoint.lossHistory }

  /// Outputs for `inputs`, one row per sample: exactly what `nnbatch predict` writes.
  ///
  /// Inputs are scaled as at training time; regression outputs come back in the
  /// targets' units; a classifier returns class probabilities.
  public func predict(_ inputs: FloatMatrix) throws(NNBatchKitError) -> FloatMatrix {
    guard inputs.columns == inputCount || inputs.rows == 0 else {
      throw NNBatchKitError(
        .usage,
        "inputs: expected \(inputCount) features per sample (the model's inputs), found \(inputs.columns)")
    }
    guard inputs.rows > 0 else { return FloatMatrix(rows: 0, columns: outputCount, values: []) }
    let matrix = Matrix(rows: inputs.rows, columns: inputs.columns, values: inputs.values)  // [rows, inputs]
    // predict's own checks: inputs finite before and after scaling, outputs finite.
    do {
      let prepared = try saved.prepareInputs(matrix, source: "inputs", before: 0)
      let outputs = saved.outputs(scaled: prepared)  // [rows, outputs]
      try saved.checkOutputs(outputs, source: "inputs", before: 0)
      return FloatMatrix(rows: outputs.rows, columns: outputs.columns, values: outputs.storage.array)
    } catch {
      throw NNBatchKitError(error)
    }
  }

  /// A classifier's label for each sample of `inputs`, as `nnbatch predict` prints it.
  ///
  /// The most probable class; for one sigmoid output, the second class from 0.5 up.
  public func classify(_ inputs: [[Float]]) throws(NNBatchKitError) -> [String] {
    guard isClassifier else {
      throw NNBatchKitError(.usage, "classify: the model does regression; use predict")
    }
    let outputs = try predict(inputs)
    let matrix = Matrix(rows: outputs.count, columns: outputCount, values: outputs.flatMap { $0 })
    let labels = saved.labels
    return (0..<outputs.count).map { saved.label(matrix, row: $0, labels: labels) }
  }

  /// Outputs for `inputs`, one array per sample: exactly what `nnbatch predict` writes.
  public func predict(_ inputs: [[Float]]) throws(NNBatchKitError) -> [[Float]] {
    if let bad = inputs.firstIndex(where: { $0.count != inputCount }) {
      throw NNBatchKitError(
        .usage,
        "inputs: sample \(bad + 1): expected \(inputCount) features (the model's inputs), found \(inputs[bad].count)"
      )
    }
    return try predict(FloatMatrix(rows: inputs.count, columns: inputCount, values: inputs.flatMap { $0 }))
      .arrays
  }
}

extension TrainingConfig {
  init(config: Config) {
    self.config = config
  }
}
