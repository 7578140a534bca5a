import NeuralNet

/// Everything needed to continue a training run exactly, or to use its model: the typed checkpoint.
///
/// `Schema/` maps it to HDF5 (`Schema/Format.swift` has the layout of
/// format version 2 and the rules for extending it); `CheckpointStore`
/// keeps a folder of them.
public struct Checkpoint: Sendable, Equatable {
  /// The root `format` attribute's value.
  public static let formatName = "nnbatch-checkpoint"
  /// The format version this build writes.
  public static let formatVersion = 2
  /// The format versions this build reads.
  public static let readableVersions = 1...formatVersion
  /// Names a file's `requires` attribute may list that this build understands.
  public static let understoodRequirements: Set<String> = [
    layerStateRequirement, layerGraphRequirement, imputationRequirement, learningRateOverrideRequirement,
    categoricalRequirement, memoryDataRequirement,
  ]
  /// The `requires` name of a run trained on in-memory data (/data/memory): its config names samples by
  /// fingerprint only, so a reader that ignored it would look for data that no file holds.
  public static let memoryDataRequirement = "memory_data"
  /// The `requires` name of a checkpoint whose features are one-hot encoded (/data/categorical).
  public static let categoricalRequirement = "categorical"
  /// The `requires` name of a checkpoint whose features are filled by an imputer (/data/imputation).
  public static let imputationRequirement = "imputation"
  /// The `requires` name of a model with layer state (`ParameterTensor.Role.state`).
  public static let layerStateRequirement = "layer_state"
  /// The `requires` name of a run whose base learning rate a callback set (`RunCounters.learningRate`):
  /// a reader that ignored it would resume with the config's rate.
  public static let learningRateOverrideRequirement = "learning_rate_override"

  /// What this checkpoint's root `requires` attribute lists: "" for models any version-2 reader loads.
  public var requirements: [String] {
    (architecture.hasState ? [Self.layerStateRequirement] : []) + architecture.graphRequirements
      + (data.imputer == nil ? [] : [Self.imputationRequirement])
      + (data.encoder == nil ? [] : [Self.categoricalRequirement])
      + (data.memory == nil ? [] : [Self.memoryDataRequirement])
      + (counters.learningRate != nil ? [Self.learningRateOverrideRequirement] : [])
  }

  /// The version of nnbatch that wrote the file.
  public var nnbatchVersion: String
  /// ISO 8601 time the file was written (the one entry outside the content checksum).
  public var created: String
  /// The run's config, as JSON text.
  public var config: String
  /// Where the run stands.
  public var counters: RunCounters
  /// The network's shape and parameter layout.
  public var architecture: Architecture
  /// All parameters, flat, in `architecture.layout`.
  public var parameters: [Float]
  /// The optimizer's settings, step and state.
  public var optimizer: OptimizerSnapshot
  /// The run's generator now.
  public var generator: SeededGenerator
  /// The generator as it was at the start of the current epoch (to redo its shuffle).
  public var epochGenerator: SeededGenerator
  /// Loss of every step.
  public var lossHistory: [Double]
  /// Per-epoch series.
  public var epochHistory: EpochHistory
  /// Task, labels and scalings of the training data.
  public var data: DataFacts
  /// The kernels that computed the run's products (nil in files written before it was recorded).
  public var kernels: KernelProvenance?

  /// A checkpoint; every field is given.
  public init(
    nnbatchVersion: String, created: String, config: String, counters: RunCounters,
    architecture: Architecture, parameters: [Float], optimizer: OptimizerSnapshot, generator: SeededGenerator,
    epochGenerator: SeededGenerator, lossHistory: [Double], epochHistory: EpochHistory, data: DataFacts
  ) {
    precondition(parameters.count == architecture.parameterCount, "parameters do not match the architecture")
    precondition(
      optimizer.slots.count == optimizer.settings.slotCount
        && optimizer.slots.allSatisfy { $0.count == architecture.parameterCount },
      "optimizer state does not match the architecture")
    self.nnbatchVersion = nnbatchVersion
    self.created = created
    self.config = config
    self.counters = counters
    self.architecture = architecture
    self.parameters = parameters
    self.optimizer = optimizer
    self.generator = generator
    self.epochGenerator = epochGenerator
    self.lossHistory = lossHistory
    self.epochHistory = epochHistory
    self.data = data
  }
}
