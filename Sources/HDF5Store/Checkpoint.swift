/// Everything needed to continue a training run exactly: the checkpoint schema.
///
/// File layout (DESIGN.md §7), all datasets chunked with fletcher32, V110:
///
///     /                      attrs: format, format_version, nnbatch_version, created,
///                            config, step, epoch, batch_in_epoch, samples_seen,
///                            content_checksum
///     /model                 attrs: bias, layers
///     /model/layer_i         attrs: activation, inputs, units
///     /model/layer_i/weights float32 [inputs, units]   (row i = weights from input i)
///     /model/layer_i/biases  float32 [units]
///     /optimizer             attrs: kind, step, one per hyper-parameter
///     /optimizer/<slot>/layer_i/{weights,biases}  state in the model's shapes
///     /history/loss          float64 [steps]  loss of every step
///     /history/<series>      float64 [epochs] per-epoch series (train_loss, val_loss, ...)
///     /state/rng             uint64 [4]  generator state now
///     /state/epoch_rng       uint64 [4]  generator state at the start of this epoch
///     /state                 attrs: named training-loop values (best metric, ...)
///     /data                  attrs: task, labels (JSON), scaling, target_scaling; datasets
///                            scale_shift, scale_factor, target_shift, target_factor
public struct Checkpoint: Sendable, Equatable {
  /// The `format` attribute's value.
  public static let formatName = "nnbatch-checkpoint"
  /// The newest format version this build reads and the one it writes.
  public static let formatVersion = 1

  /// Shape and activation of one dense layer.
  public struct Layer: Sendable, Equatable {
    /// Activation name ("relu", ...).
    public var activation: String
    /// Inputs (rows of the weight matrix).
    public var inputs: Int
    /// Units (columns of the weight matrix).
    public var units: Int

    /// A layer of `units` units on `inputs` inputs.
    public init(activation: String, inputs: Int, units: Int) {
      self.activation = activation
      self.inputs = inputs
      self.units = units
    }
  }

  /// The version of nnbatch that wrote the file.
  public var nnbatchVersion: String
  /// ISO 8601 time the file was written (not part of the checksum).
  public var created: String
  /// The run's config, as JSON text.
  public var config: String
  /// Optimizer steps taken.
  public var step: Int
  /// Epochs completed.
  public var epoch: Int
  /// Batches done in the current epoch.
  public var batchInEpoch: Int
  /// Samples trained on so far.
  public var samplesSeen: Int

  /// The layers, input side first.
  public var layers: [Layer]
  /// Whether layers have biases.
  public var bias: Bool
  /// All parameters, flat: per layer, weights [inputs, units] then biases [units].
  public var parameters: [Float]

  /// Optimizer name ("sgd", "adam", "adamw").
  public var optimizerKind: String
  /// Optimizer hyper-parameters by name.
  public var hyperparameters: [String: Double]
  /// Updates the optimizer has applied.
  public var optimizerStep: Int
  /// Optimizer state buffers by name, each flat in the parameters' layout.
  public var optimizerSlots: [String: [Float]]

  /// Loss of every step.
  public var lossHistory: [Double]
  /// Per-epoch series by name.
  public var epochHistory: [String: [Double]]

  /// Generator state now.
  public var rngState: [UInt64]
  /// Generator state at the start of the current epoch (to redo its shuffle).
  public var epochRNGState: [UInt64]
  /// Training-loop values by name (best metric, epochs without improvement, ...).
  public var stateValues: [String: Double]

  /// "classification" or "regression".
  public var task: String
  /// Class labels in class-index order (empty when labels are the indices).
  public var labels: [String]
  /// Feature scaling kind ("none", "minmax", "standardize").
  public var scaling: String
  /// Per-feature shift: x' = (x − shift) · factor.
  public var scaleShift: [Float]
  /// Per-feature factor.
  public var scaleFactor: [Float]
  /// Regression-target scaling kind ("none", "minmax", "standardize").
  public var targetScaling: String = "none"
  /// Per-target shift: t' = (t − shift) · factor.
  public var targetShift: [Float] = []
  /// Per-target factor.
  public var targetFactor: [Float] = []

  /// A checkpoint; every field is given.
  public init(
    nnbatchVersion: String, created: String, config: String, step: Int, epoch: Int,
    batchInEpoch: Int, samplesSeen: Int, layers: [Layer], bias: Bool, parameters: [Float],
    optimizerKind: String, hyperparameters: [String: Double], optimizerStep: Int,
    optimizerSlots: [String: [Float]], lossHistory: [Double], epochHistory: [String: [Double]],
    rngState: [UInt64], epochRNGState: [UInt64], stateValues: [String: Double],
    task: String, labels: [String], scaling: String, scaleShift: [Float], scaleFactor: [Float]
  ) {
    self.nnbatchVersion = nnbatchVersion
    self.created = created
    self.config = config
    self.step = step
    self.epoch = epoch
    self.batchInEpoch = batchInEpoch
    self.samplesSeen = samplesSeen
    self.layers = layers
    self.bias = bias
    self.parameters = parameters
    self.optimizerKind = optimizerKind
    self.hyperparameters = hyperparameters
    self.optimizerStep = optimizerStep
    self.optimizerSlots = optimizerSlots
    self.lossHistory = lossHistory
    self.epochHistory = epochHistory
    self.rngState = rngState
    self.epochRNGState = epochRNGState
    self.stateValues = stateValues
    self.task = task
    self.labels = labels
    self.scaling = scaling
    self.scaleShift = scaleShift
    self.scaleFactor = scaleFactor
  }

  /// Number of parameters the layers imply.
  public var expectedParameterCount: Int {
    layers.reduce(0) { $0 + $1.inputs * $1.units + (bias ? $1.units : 0) }
  }

  /// Offsets of each layer's weights and biases in `parameters`.
  public var offsets: [(weights: Int, biases: Int?)] {
    var offset = 0
    return layers.map { layer in
      let weights = offset
      offset += layer.inputs * layer.units
      var biases: Int?
      if bias {
        biases = offset
        offset += layer.units
      }
      return (weights, biases)
    }
  }

  /// The XXH64 of every field but `created`, in a fixed order.
  public var contentChecksum: UInt64 {
    var h = XXH64()
    h.update(Checkpoint.formatName)
    h.update(nnbatchVersion)
    h.update(config)
    h.update([Int64(step), Int64(epoch), Int64(batchInEpoch), Int64(samplesSeen)])
    h.update([Int64(layers.count), bias ? 1 : 0])
    for layer in layers {
      h.update(layer.activation)
      h.update([Int64(layer.inputs), Int64(layer.units)])
    }
    h.update([Int64(parameters.count)])
    h.update(parameters)
    h.update(optimizerKind)
    for key in hyperparameters.keys.sorted() {
      h.update(key)
      h.update([hyperparameters[key] ?? 0])
    }
    h.update([Int64(optimizerStep)])
    for key in optimizerSlots.keys.sorted() {
      h.update(key)
      let values = optimizerSlots[key] ?? []
      h.update([Int64(values.count)])
      h.update(values)
    }
    h.update([Int64(lossHistory.count)])
    h.update(lossHistory)
    for key in epochHistory.keys.sorted() {
      h.update(key)
      let values = epochHistory[key] ?? []
      h.update([Int64(values.count)])
      h.update(values)
    }
    h.update(rngState)
    h.update(epochRNGState)
    for key in stateValues.keys.sorted() {
      h.update(key)
      h.update([stateValues[key] ?? 0])
    }
    h.update(task)
    h.update([Int64(labels.count)])
    for label in labels { h.update(label) }
    h.update(scaling)
    h.update([Int64(scaleShift.count)])
    h.update(scaleShift)
    h.update(scaleFactor)
    h.update(targetScaling)
    h.update([Int64(targetShift.count)])
    h.update(targetShift)
    h.update(targetFactor)
    return h.finalize()
  }

  /// The checksum as stored in the file: "xxh64:" and 16 hex digits.
  public var checksumText: String {
    let hex = String(contentChecksum, radix: 16)
    return "xxh64:" + String(repeating: "0", count: 16 - hex.count) + hex
  }
}
