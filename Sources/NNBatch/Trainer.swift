import Foundation
import HDF5Store
import NeuralNet
import Parallel

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// One training run: the loop, validation, checkpoints, signals and progress.
public final class Trainer {
  let config: Config
  let options: TrainOptions
  let data: PreparedData
  let network: Network
  let engine: DataParallelEngine
  let parameters: FloatBuffer
  var optimizer: OptimizerState
  var schedule: LearningRateSchedule
  let store: CheckpointStore
  let reporter: ProgressReporter
  let signals: StopSignals?

  // Counters and history: everything a checkpoint needs to continue exactly.
  var generator: SeededGenerator
  var epochGenerator: SeededGenerator
  var step = 0
  var epoch = 0
  var batchInEpoch = 0
  var samplesSeen = 0
  var lossHistory: [Double] = []
  var history = EpochHistory()
  /// Σ loss · rows and Σ rows of the current epoch's steps (its mean training loss).
  var epochLossSum = 0.0
  var epochSamples = 0.0
  var state: [String: Double] = [:]
  /// (step, epoch) of the newest checkpoint written or resumed from.
  var lastSaved: [Int]?

  var position: [Int] { [step, epoch] }
  /// Whether this run continues a checkpoint (its counters came from one).
  var resumed = false
  /// Set after the first save, once files of a replaced run are gone.
  var replacedEarlierRun = false

  /// Sets up a run: reads config and data, builds the network, restores a checkpoint if asked.
  public init(options: TrainOptions, signals: StopSignals?) throws(NNBatchError) {
    BLASThreads.useSingleThread()
    var config = try Config.load(path: options.configPath)
    if let epochs = options.epochs { config.epochs = epochs }
    if let dir = options.checkpointDir { config.checkpointDir = dir }
    self.options = options
    self.signals = signals
    data = try DataLoader.prepare(config)
    let architecture = Architecture(inputs: data.train.features, layers: config.layers, bias: config.bias)
    network = Network(architecture: architecture, loss: config.loss)
    let batches = Trainer.batchesPerEpoch(samples: data.train.count, config: config)
    guard batches > 0 else {
      throw NNBatchError(
        .usage,
        "\(config.file): $.training.drop_last: \(data.train.count) training samples make no full batch of \(config.batchSize)"
      )
    }
    config.schedule.totalSteps = batches * config.epochs
    schedule = config.schedule
    self.config = config
    engine = DataParallelEngine(
      network: network, plan: ShardPlan(batchSize: config.batchSize, shardSize: config.shardSize),
      threads: options.threads, targetColumns: data.train.targetColumns)
    parameters = FloatBuffer(count: architecture.parameterCount)
    optimizer = OptimizerState(settings: config.optimizer, parameterCount: architecture.parameterCount)
    store = CheckpointStore(directory: config.checkpointDir)
    reporter = ProgressReporter(
      format: options.logFormat, quiet: options.quiet, epochs: config.epochs, logEvery: options.logEvery)
    generator = SeededGenerator(seed: config.seed)
    config.initializer.initialize(parameters, for: architecture, using: &generator)
    epochGenerator = generator

    switch options.start {
    case .fresh:
      break
    case .resumeLatest:
      // A bare --resume with nothing to resume starts fresh, so scripts
      // (and preemptible jobs) can always pass it.
      let existing: [(step: Int, path: String)]
      do {
        existing = try CheckpointStore(directory: config.checkpointDir).checkpointFiles()
      } catch {
        throw NNBatchError(.failure, "\(error)")
      }
      if existing.isEmpty {
        reporter.note("no checkpoint in \(config.checkpointDir) yet; starting a new run")
      } else {
        try resume(from: config.checkpointDir)
      }
    case .resume(let path):
      try resume(from: path)
    case .initFrom(let path):
      try warmStart(from: path)
    }
  }

  static func batchesPerEpoch(samples: Int, config: Config) -> Int {
    config.dropLast ? samples / config.batchSize : (samples + config.batchSize - 1) / config.batchSize
  }

  /// Trains to the end (or to a signal); returns the exit code.
  public func run() throws(NNBatchError) -> Int32 {
    do {
      let removed = try store.removeTemporaryFiles()
      for file in removed { reporter.note("removed leftover temporary file \(file)") }
    } catch {
      throw NNBatchError(.failure, "\(error)")
    }
    if let code = signals?.exitCode {
      // Signalled while the data loaded: nothing trained, nothing to save.
      reporter.summary("stopped by signal before training started; no checkpoint written")
      return code
    }
    let started = monotonicSeconds()
    let n = data.train.count
    let batchSize = config.batchSize
    let batches = Trainer.batchesPerEpoch(samples: n, config: config)
    let existing: [(step: Int, path: String)]
    do {
      existing = try store.checkpointFiles()
    } catch {
      throw NNBatchError(.failure, "\(error)")
    }
    if !resumed, let newest = existing.last {
      reporter.note(
        "\(config.checkpointDir) holds checkpoints of an earlier run (newest: step \(newest.step)); this run replaces them when it saves its first checkpoint (pass --resume to continue that run instead)"
      )
    }
    if step == 0 && epoch == 0 {
      reporter.note(
        "training \(config.name): \(n) samples, \(network.architecture.parameterCount) parameters, \(batches) batches of \(batchSize) per epoch, \(engine.workers.count) threads"
      )
    }
    if config.epochs == 0 || epoch >= config.epochs {
      if lastSaved != position { try save(reason: "final") }
      reporter.summary(finalSummary(elapsed: monotonicSeconds() - started))
      return 0
    }
    let firstStep = step
    let firstSamples = samplesSeen
    var order = Array(0..<n)
    // Reserved up front so appending a step's loss never allocates.
    lossHistory.reserveCapacity(batches * config.epochs)
    history.reserveCapacity(config.epochs)
    var stopExit: Int32?
    var saveAtEpochEnd = false
    while epoch < config.epochs {
      // The epoch's order comes from the generator state at the epoch's
      // start, so a resumed run redoes exactly the same shuffle.
      generator = epochGenerator
      for i in 0..<n { order[i] = i }
      if config.shuffle { generator.shuffle(&order) }
      // Clock reads only for epochs that are reported: the tutorial's run has
      // 1500 one-step epochs, where they would cost more than the step.
      let timed = reporter.reports(epoch: epoch + 1, of: config.epochs)
      let epochStarted = timed ? monotonicSeconds() : 0
      let firstBatch = batchInEpoch
      var learningRate = config.optimizer.learningRate
      while batchInEpoch < batches {
        let start = batchInEpoch * batchSize
        let indices = order[start..<min(start + batchSize, n)]
        learningRate = schedule.learningRate(base: config.optimizer.learningRate, step: step, epoch: epoch)
        let outcome = engine.step(
          parameters: parameters, optimizer: optimizer, data: data.train, indices: indices,
          learningRate: learningRate)
        guard outcome.isFinite else {
          throw NNBatchError(
            .failure,
            "training diverged at step \(step + 1) (epoch \(epoch + 1)): loss \(outcome.loss), gradient norm \(outcome.gradientNorm); nothing was saved from this step. Try a smaller learning rate (now \(learningRate)), data.scale \"standardize\", or optimizer.clip_norm"
          )
        }
        step += 1
        batchInEpoch += 1
        samplesSeen += outcome.rows
        lossHistory.append(outcome.loss)
        epochLossSum += outcome.loss * Double(outcome.rows)
        epochSamples += Double(outcome.rows)
        reporter.stepDone(
          epoch: epoch + 1, epochs: config.epochs, batch: batchInEpoch, batches: batches, step: step,
          loss: outcome.loss, started: started, done: step - firstStep,
          total: config.epochs * batches - firstStep, samples: samplesSeen - firstSamples)
        // A save due on an epoch's last step waits for the epoch's end, so
        // the file holds the finished epoch's history.
        let lastOfEpoch = batchInEpoch == batches
        if let every = config.checkpointEverySteps, step % every == 0 {
          if lastOfEpoch { saveAtEpochEnd = true } else { try save(reason: "every_steps") }
        }
        if !lastOfEpoch, let code = signals?.exitCode {
          stopExit = code
          break
        }
      }
      if stopExit != nil { break }

      // End of epoch: metrics, history, early stopping, checkpoints.
      epochGenerator = generator
      let trainLoss = epochLossSum / max(epochSamples, 1)
      epochLossSum = 0
      epochSamples = 0
      epoch += 1
      batchInEpoch = 0
      var validation: MetricSums?
      if let set = data.validation {
        validation = engine.evaluate(parameters: parameters, data: set)
      }
      history.append(
        trainLoss: trainLoss, learningRate: learningRate, validation: validation, loss: config.loss,
        classification: config.task == .classification)
      if timed {
        let seconds = monotonicSeconds() - epochStarted
        let trained = Double((batches - firstBatch) * batchSize)
        reporter.epochDone(
          EpochReport(
            epoch: epoch, epochs: config.epochs, step: step, trainLoss: trainLoss,
            validation: history.lastValidation, learningRate: learningRate,
            samplesPerSecond: seconds > 0 ? trained / seconds : 0, elapsed: monotonicSeconds() - started))
      }

      let improved = try trackBest()
      if let every = config.checkpointEveryEpochs, epoch % every == 0 { saveAtEpochEnd = true }
      if saveAtEpochEnd {
        try save(reason: "checkpoint policy")
        saveAtEpochEnd = false
      }
      if improved == false, let es = config.earlyStopping,
        Int(state["stale_epochs"] ?? 0) >= es.patience
      {
        reporter.note(
          "early stopping after epoch \(epoch): \(es.monitor) has not improved for \(es.patience) epochs (best \(format6(state["best_metric"] ?? .nan)) at epoch \(Int(state["best_epoch"] ?? 0)))"
        )
        break
      }
      if let code = signals?.exitCode {
        stopExit = code
        break
      }
    }
    if lastSaved != position { try save(reason: "final") }
    if let stopExit {
      reporter.summary(
        "stopped by signal at step \(step) (epoch \(epoch + 1), batch \(batchInEpoch)); checkpoint written; resume with --resume"
      )
      return stopExit
    }
    reporter.summary(finalSummary(elapsed: monotonicSeconds() - started))
    return 0
  }

  /// Updates the best-metric state and saves best.h5 when asked.
  ///
  /// Returns nil when nothing is monitored.
  private func trackBest() throws(NNBatchError) -> Bool? {
    let monitor = config.earlyStopping?.monitor ?? config.bestMonitor
    guard config.earlyStopping != nil || config.keepBest else { return nil }
    guard let value = history.last(monitor) else { return nil }
    let maximize = monitor.hasSuffix("accuracy") || monitor.hasSuffix("r2")
    let minDelta = config.earlyStopping?.minDelta ?? 0
    let improved: Bool
    if let best = state["best_metric"] {
      improved = maximize ? value > best + minDelta : value < best - minDelta
    } else {
      improved = true
    }
    if improved {
      state["best_metric"] = value
      state["best_epoch"] = Double(epoch)
      state["stale_epochs"] = 0
      if config.keepBest {
        try save(reason: "best", name: CheckpointStore.bestFileName)
      }
    } else {
      state["stale_epochs", default: 0] += 1
    }
    return improved
  }

  private func finalSummary(elapsed: Double) -> String {
    var lines: [String] = []
    let last = lossHistory.last.map(format6) ?? "n/a"
    lines.append(
      "done: \(epoch) epochs, \(step) steps, final loss \(last), \(formatDuration(elapsed)); checkpoint \(config.checkpointDir)/\(CheckpointStore.fileName(step: step))"
    )
    // Like the tutorial: show each sample's prediction next to its target.
    if data.train.count <= 20 && data.validation == nil {
      let predictions = network.predict(parameters: parameters, inputs: data.train.inputs)
      lines.append("predictions (input -> output, target):")
      for r in 0..<data.train.count {
        let x = data.train.inputs.nested[r].map { format6(Double($0)) }.joined(separator: ", ")
        let y = predictions.nested[r].map { String(format: "%.4f", Double($0)) }.joined(separator: ", ")
        let t = data.train.targets.nested[r].map { format6(Double($0)) }.joined(separator: ", ")
        lines.append("  [\(x)] -> [\(y)]  target [\(t)]")
      }
    }
    return lines.joined(separator: "\n")
  }

  // MARK: Checkpoints

  func makeCheckpoint() -> Checkpoint {
    let layers = network.architecture.layout.map {
      Checkpoint.Layer(activation: $0.activation.rawValue, inputs: $0.inputs, units: $0.units)
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
    return Checkpoint(
      nnbatchVersion: nnbatchVersion, created: created, config: config.text, step: step, epoch: epoch,
      batchInEpoch: batchInEpoch, samplesSeen: samplesSeen, layers: layers, bias: config.bias,
      parameters: parameters.array, optimizerKind: settings.kind.rawValue, hyperparameters: hyper,
      optimizerStep: optimizer.step, optimizerSlots: slots, lossHistory: lossHistory,
      epochHistory: history.series, rngState: generator.state, epochRNGState: epochGenerator.state,
      stateValues: state, task: config.task.rawValue, labels: data.labels,
      scaling: data.scaler.kind.rawValue, scaleShift: data.scaler.shift, scaleFactor: data.scaler.factor)
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
  private func removeCheckpoints(where condition: (Int) -> Bool) throws {
    for file in try store.checkpointFiles() where condition(file.step) {
      try FileSystem.remove(file.path)
      reporter.note("removed \(file.path) of the run this one replaces")
    }
  }

  private func resume(from path: String) throws(NNBatchError) {
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
  private func checkCompatible(_ checkpoint: Checkpoint, file: String) throws(NNBatchError) {
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
      "model.layers", saved.layers.map { "\($0.units) \($0.activation.rawValue)" },
      config.layers.map { "\($0.units) \($0.activation.rawValue)" })
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

  private func warmStart(from path: String) throws(NNBatchError) {
    let checkpoint: Checkpoint
    do {
      checkpoint = try Checkpoint.read(from: path)
    } catch {
      throw NNBatchError(.usage, "cannot initialise from \(path): \(error)")
    }
    let expected = network.architecture.layout.map { "[\($0.inputs), \($0.units)]" }
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
