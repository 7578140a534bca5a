import NNBatchCore
import NeuralNet

/// What reading a run's data needs from its config: the data sections, how to split and scale them, and the model's width.
///
/// The training config (`Config`, in NNBatch) conforms; the data module
/// reads through this protocol, so it depends on no model or training code.
public protocol DataPlan: Sendable {
  /// The config file, for messages.
  var file: String { get }
  /// The training data (`data`).
  var data: DataConfig { get }
  /// `data.validation`, if any.
  var validation: DataConfig? { get }
  /// `data.validation_split`: the fraction of `data` held out (0: none).
  var validationSplit: Double { get }
  /// The run's seed (the hold-out's shuffle).
  var seed: UInt64 { get }
  /// classification or regression.
  var task: LearningTask { get }
  /// The loss, which decides what targets must look like.
  var loss: Loss { get }
  /// `data.scale`.
  var scaling: Scaling { get }
  /// `data.scale_targets`.
  var targetScaling: Scaling { get }

  /// One sample's shape: `data.shape` (checked against `features`), else the source's, else [features].
  func sampleShape(features: Int, sourceShape: Shape?) throws(NNBatchError) -> Shape

  /// The model's output width for samples of `sample` shape, or nil when the layers do not fit it.
  func outputs(sample: Shape) -> Int?
}

extension DataPlan {
  /// Throws unless every data file the config names (`data`, `data.validation`) is a regular file this process can open.
  package func requireDataFiles() throws(NNBatchError) {
    try data.requireFiles(at: "$.data", in: file)
    try validation?.requireFiles(at: "$.data.validation", in: file)
  }
}
