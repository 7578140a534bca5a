import Foundation
import HDF5Store
import NeuralNet

// Checkpoints of a run: what goes into one, durable saves, resume, warm start.
extension Trainer {
  /// The run's complete state as a checkpoint.
  func makeCheckpoint() -> Checkpoint {
    let layers = network.architecture.layers.map {
      Checkpoint.Layer(
        activation: $0.activation.rawValue, inputs: $0.inputShape.elements, units: $0.outputShape.elements)
    }
    let settings = optimizer.settings
    var hyper: [String: Double] = [
      "learning_rate": settings.learningRate, "weight_decay": settings.weightDecay,
    ]
    switch settings.kind {
    case .sgd:
      hyper["momentum"] = settings.momentum
      hyper["nesterov"] = settings.nesterov ? 1 : 0
    case .adam, .adamw:
      hyper["beta1"] = settings.beta1
      hyper["beta2"] = settings.beta2
      hyper["epsilon"] = settings.epsilon
    }
    if let clip = settings.clipNorm { hyper["clip_norm"] = clip }
    var slots: [String: [Float]] = [:]
    for (name, buffer) in zip(settings.slotNames, optimizer.slots) { slots[name] = buffer.array }
    let created = ISO8601DateFormatter().string(from: Date())
    var state = self.state
    state["epoch_loss_sum"] = epochLossSum
    state["epoch_samples"] = epochSamples
    var checkpoint = Checkpoint(
      nnbatchVersion: nnbatchVersion, created: created, config: config.text, step: step, epoch: epoch,
      batchInEpoch: batchInEpoch, samplesSeen: samplesSeen, layers: layers, bias: config.bias,
      parameters: parameters.array, optimizerKind: settings.kind.rawValue, hyperparameters: hyper,
      optimizerStep: optimizer.step, optimizerSlots: slots, lossHistory: lossHistory,
      epochHistory: history.series, rngState: generator.state, epochRNGState: epochGenerator.state,
      stateValues: state, task: config.task.rawValue, labels: data.labels,
      scaling: data.scaler.kind.rawValue, scaleShift: data.scaler.shift, scaleFactor: data.scaler.factor)
    checkpoint.targetScaling = data.targetScaler.kind.rawValue
    checkpoint.targetShift = data.targetScaler.shift
    checkpoint.targetFactor = data.targetScaler.factor
    return checkpoint
  }

  func save(reason: String, name: String? = nil) throws(NNBatchError) {
    do {
      try store.save(makeCheckpoint(), name: name)
      if !replacedEarlierRun {
        // This run's first durable file: files of a run it replaces (a fresh
        // start, or a resume from an older file) go now, so that a later
        // --resume cannot pick them up. Never earlier: a run that fails
        // before its first save leaves the folder as it was.
        let current = step
        let fresh = !resumed
        try removeCheckpoints { $0 > current || (fresh && ($0 < current || name != nil)) }
        if fresh && name == nil {
          try FileSystem.remove("\(config.checkpointDir)/\(CheckpointStore.bestFileName)")
        }
        replacedEarlierRun = true
      }
      if name == nil {
        lastSaved = position
        try store.prune(keep: config.keep)
      }
    } catch {
      throw NNBatchError(
        .failure,
        "checkpoint save failed (\(reason), step \(step)): \(error); earlier checkpoints in \(config.checkpointDir) are intact"
      )
    }
  }

  /// Removes the step checkpoints whose step matches `condition`.
  func removeCheckpoints(where condition: (Int) -> Bool) throws {
    for file in try store.checkpointFiles() where condition(file.step) {
      try FileSystem.remove(file.path)
      reporter.note("removed \(file.path) of the run this one replaces")
    }
  }

  func resume(from path: String) throws(NNBatchError) {
    let checkpoint: Checkpoint
    let file: String
    do {
      if FileSystem.isDirectory(path) {
        let found = try CheckpointStore(directory: path).newestValid()
        guard let found else {
          throw NNBatchError(.usage, "\(path): no checkpoint to resume from (step-*.h5)")
        }
        for skipped in found.skipped {
          reporter.note("skipped checkpoint \(skipped)")
          FileHandle.standardError.write(Data("warning: skipped \(skipped)\n".utf8))
        }
        checkpoint = found.checkpoint
        file = found.path
      } else {
        checkpoint = try Checkpoint.read(from: path)
        file = path
      }
    } catch let error as NNBatchError {
      throw error
    } catch {
      throw NNBatchError(.usage, "cannot resume: \(error)")
    }
    try checkCompatible(checkpoint, file: file)
    parameters.assign(checkpoint.parameters)
    let settings = config.optimizer
    var slots: [FloatBuffer] = []
    for name in settings.slotNames {
      guard let values = checkpoint.optimizerSlots[name], values.count == parameters.count else {
        throw NNBatchError(.usage, "\(file): optimizer state \"\(name)\" is missing or has the wrong size")
      }
      slots.append(FloatBuffer(values))
    }
    optimizer = OptimizerState(settings: settings, step: checkpoint.optimizerStep, slots: slots)
    guard let rng = SeededGenerator(state: checkpoint.rngState),
      let epochRNG = SeededGenerator(state: checkpoint.epochRNGState)
    else {
      throw NNBatchError(.usage, "\(file): /state/rng is not a valid generator state")
    }
    generator = rng
    epochGenerator = epochRNG
    step = checkpoint.step
    epoch = checkpoint.epoch
    batchInEpoch = checkpoint.batchInEpoch
    samplesSeen = checkpoint.samplesSeen
    lossHistory = checkpoint.lossHistory
    history = EpochHistory(series: checkpoint.epochHistory)
    epochLossSum = checkpoint.stateValues["epoch_loss_sum"] ?? 0
    epochSamples = checkpoint.stateValues["epoch_samples"] ?? 0
    state = checkpoint.stateValues
    lastSaved = position
    resumed = true
    reporter.note("resumed from \(file) at step \(step) (epoch \(epoch + 1), batch \(batchInEpoch))")
  }

  /// Refuses a checkpoint whose run differs in anything but the resumable settings.
  func checkCompatible(_ checkpoint: Checkpoint, file: String) throws(NNBatchError) {
    let saved: Config
    do {
      saved = try Config.parse(text: checkpoint.config, file: "\(file):/@config")
    } catch {
      throw NNBatchError(.usage, "\(file): the saved config does not parse: \(error)")
    }
    var differences: [String] = []
    func compare<T: Equatable>(_ field: String, _ old: T, _ new: T) {
      if old != new {
        differences.append("\(field): checkpoint has \(old), config has \(new)")
      }
    }
    compare(
      "model.layers", saved.layers.map(\.description), config.layers.map(\.description))
    compare("model.bias", saved.bias, config.bias)
    compare("model.init", saved.initializer.rawValue, config.initializer.rawValue)
    compare("loss", saved.loss.rawValue, config.loss.rawValue)
    compare("optimizer", "\(saved.optimizer)", "\(config.optimizer)")
    var savedSchedule = saved.schedule
    savedSchedule.totalSteps = schedule.totalSteps
    compare("optimizer.schedule", "\(savedSchedule)", "\(schedule)")
    compare("seed", saved.seed, config.seed)
    compare("data", saved.data, config.data)
    compare("data.validation", saved.validation, config.validation)
    compare("data.validation_split", saved.validationSplit, config.validationSplit)
    compare("data.scale", saved.scaling.rawValue, config.scaling.rawValue)
    compare("data.scale_targets", saved.targetScaling.rawValue, config.targetScaling.rawValue)
    compare("training.batch_size", saved.batchSize, config.batchSize)
    compare("training.shard_size", saved.shardSize, config.shardSize)
    compare("training.shuffle", saved.shuffle, config.shuffle)
    compare("training.drop_last", saved.dropLast, config.dropLast)
    if checkpoint.parameters.count != parameters.count {
      differences.append(
        "parameters: checkpoint has \(checkpoint.parameters.count), model has \(parameters.count)")
    }
    if !differences.isEmpty {
      throw NNBatchError(
        .usage, differences.map { "cannot resume from \(file): \($0)" })
    }
  }

  func warmStart(from path: String) throws(NNBatchError) {
    let checkpoint: Checkpoint
    do {
      checkpoint = try Checkpoint.read(from: path)
    } catch {
      throw NNBatchError(.usage, "cannot initialise from \(path): \(error)")
    }
    let expected = network.architecture.layers.map {
      "[\($0.inputShape.elements), \($0.outputShape.elements)]"
    }
    let found = checkpoint.layers.map { "[\($0.inputs), \($0.units)]" }
    guard expected == found, checkpoint.bias == config.bias else {
      throw NNBatchError(
        .usage,
        "cannot initialise from \(path): layer shapes differ: model has \(expected.joined(separator: " ")) bias \(config.bias), checkpoint has \(found.joined(separator: " ")) bias \(checkpoint.bias)"
      )
    }
    parameters.assign(checkpoint.parameters)
    reporter.note(
      "initialised weights from \(path) (step \(checkpoint.step)); optimizer and counters start fresh")
  }
}

extension Trainer {
  /// Times `repeats` durable saves and verified loads of this run's checkpoint.
  ///
  /// For `tools/bench`: returns the file size and every save and load time
  /// in milliseconds (save = build the file, write, fsync, rename, fsync the
  /// folder; load = seal check, HDF5 read, content checksum).
  public func benchmarkCheckpoints(repeats: Int) throws(NNBatchError) -> (
    bytes: Int, saveMilliseconds: [Double], loadMilliseconds: [Double]
  ) {
    var saves: [Double] = []
    var loads: [Double] = []
    var bytes = 0
    do {
      for _ in 0..<repeats {
        let start = monotonicSeconds()
        let path = try store.save(makeCheckpoint())
        let saved = monotonicSeconds()
        _ = try Checkpoint.read(from: path)
        let loaded = monotonicSeconds()
        saves.append((saved - start) * 1000)
        loads.append((loaded - saved) * 1000)
        bytes = try FileSystem.size(path)
      }
    } catch {
      throw NNBatchError(.failure, "\(error)")
    }
    return (bytes, saves, loads)
  }
}
