import Checkpoints
import Foundation
import NNBatchCore
import NNBatchData
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
  /// Where each step's samples come from: memory, or the streamed file.
  let feed: any BatchSource
  /// `data.fingerprint`, computed once: saved in checkpoints, compared on resume.
  let dataFingerprint: String
  let network: Network
  /// `data.augment` resolved for the samples' shape; training steps' contexts carry it (nil: none).
  let augmentation: ImageAugmentation?
  /// Runs the steps and owns the optimizer state (a group's engine: this rank's range of it).
  let engine: any TrainingEngine
  let parameters: FloatBuffer
  var schedule: LearningRateSchedule
  let store: CheckpointStore
  let reporter: ProgressReporter
  /// JSON records, CSV and TensorBoard logs (empty on processes that do not write logs).
  let logs: RunLogs
  let signals: StopSignals?
  /// This run's hold on its checkpoint folder (released when the trainer goes); nil on ranks other than 0.
  let lock: RunLock?
  /// Whether this process reports and writes checkpoints: always, but for ranks other than 0 of a group.
  var isRoot: Bool { options.group.map { $0.rank == 0 } ?? true }

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
  /// The monitored metric's best value so far (early stopping, keep_best).
  var best: BestMetric?
  /// The base learning rate an epoch-end callback set (`TrainOptions.epochControl`); nil: the config's.
  var learningRateOverride: Double?
  /// The config's base learning rate, or the one a callback set.
  var baseLearningRate: Double { learningRateOverride ?? config.optimizer.learningRate }
  /// (step, epoch) of the newest checkpoint written or resumed from.
  var lastSaved: [Int]?

  var position: [Int] { [step, epoch] }
  /// Whether this run continues a checkpoint (its counters came from one).
  var resumed = false
  /// Set after the first save, once files of a replaced run are gone.
  var replacedEarlierRun = false
  /// The newest checkpoint file written or resumed from (for the logs' summary).
  var newestCheckpoint: String?
  /// Whether early stopping ended the run.
  var stoppedEarly = false
  /// A save the checkpoint policy asked for on an epoch's last step, made once the epoch's history is in.
  var saveAtEpochEnd = false

  /// Sets up a run: reads config and data, builds the network, restores a checkpoint if asked.
  public init(options: TrainOptions, signals: StopSignals?) throws(NNBatchError) {
    var config = try Trainer.agreedConfig(of: options)
    if let epochs = options.epochs { config.epochs = epochs }
    if let dir = options.checkpointDir { config.checkpointDir = dir }
    self.options = options
    self.signals = signals
    // Before the checkpoint is sent to every rank and before any gradient exchange.
    options.group?.setTimeout(seconds: config.distributedTimeout)
    // The variable that turned the overlap on before the config key existed: say so once, not silently ignore it.
    if getenv("NNBATCH_MPI_OVERLAP") != nil && options.group.map({ $0.rank == 0 }) ?? true {
      Warnings.emit(
        "NNBATCH_MPI_OVERLAP is no longer read; the config's distributed.overlap decides (\(config.distributedOverlap) in \(config.file))"
      )
    }
    do {
      // Before the engine is made; one process has no exchange to overlap.
      try options.group?.setOverlap(config.distributedOverlap)
    } catch {
      // Rank 0's setting holds on every rank, whatever this rank's copy of the config says.
      throw NNBatchError(
        error.kind, error.lines.map { "\(config.file): $.distributed.overlap is true on rank 0: \($0)" })
    }
    let plan = ShardPlan(batchSize: config.batchSize, shardSize: config.shardSize)
    // Before anything slow: a second run on this folder stops at once.
    // Only rank 0 of a group touches the folder.
    if options.group.map({ $0.rank == 0 }) ?? true {
      lock = try RunLock(directory: config.checkpointDir, signals: signals)
    } else {
      lock = nil
    }
    // The checkpoint to continue is read first: its scalings prepare the data.
    let continued = try Trainer.checkpointToContinue(options: options, config: config)
    data = try DataLoader.prepare(
      config, scalers: continued.map { ($0.checkpoint.data.features, $0.checkpoint.data.targets) },
      resumed: continued.map { $0.checkpoint.data.stream.map(ResumedReading.streamed) ?? .inMemory },
      group: options.group)
    if let stream = data.stream {
      let streamed = StreamedBatches(stream, batchSize: config.batchSize)
      // One process stops a wait for data on a signal; a group stops together at a step's end.
      if options.group == nil { streamed.stopRequested = { [signals] in signals?.receivedSignal != nil } }
      feed = streamed
    } else {
      feed = InMemoryBatches(data.train)
    }
    dataFingerprint = data.fingerprint
    // Residual shortcuts first, so that the config's layer paths are the network's.
    try config.resolveShortcuts(input: config.networkInput(sample: data.sampleShape))
    let architecture = try Trainer.withConvolutionKernels(
      config.architecture(input: config.networkInput(sample: data.sampleShape)),
      continuing: continued?.checkpoint, group: options.group)
    try Trainer.requireMemory(
      architecture, config: config, threads: options.threads, targetColumns: data.train.targetColumns,
      validationRows: data.validation?.count ?? 0)
    if options.group != nil, architecture.parameterCount > Int(Int32.max) {
      // MPI's element counts are 32-bit: a range exchange must fit one.
      throw NNBatchError(
        .usage,
        "\(config.file): $.model.layers: a run over mpirun supports at most \(Int32.max) parameters; found \(architecture.parameterCount)"
      )
    }
    try config.requireMonitorFits(outputs: architecture.outputs)
    if config.task == .classification, let validation = data.validation {
      // Each epoch keeps every validation row's outputs (and, for two classes, a score and its sort).
      try MemoryBudget.require(
        checkedProduct([validation.count, architecture.outputs * 4 + 3 * MemoryLayout<ScoredSample>.stride]),
        for: "the outputs of \(validation.count) validation samples (for F1 and AUC)", in: config.file)
    }
    network = Network(
      architecture: architecture, loss: config.loss,
      classWeights: try config.resolvedClassWeights(data: data, outputs: architecture.outputs))
    let batches = Trainer.batchesPerEpoch(samples: data.train.count, config: config)
    guard batches > 0 else {
      throw NNBatchError(
        .usage,
        "\(config.file): $.training.drop_last: \(data.train.count) training samples make no full batch of \(config.batchSize)"
      )
    }
    try config.requireBatchNormShards(architecture, trainingSamples: data.train.count)
    augmentation = try config.augmentation(sample: data.sampleShape)
    // Every step and sample count of the run must fit a checkpoint's counters (at most 2⁵³−1),
    // so that the run's own files load again and its counter arithmetic cannot overflow.
    let totalSteps = batches.multipliedReportingOverflow(by: config.epochs)
    let totalSamples = data.train.count.multipliedReportingOverflow(by: config.epochs)
    guard !totalSteps.overflow, !totalSamples.overflow,
      max(totalSteps.partialValue, totalSamples.partialValue) <= Checkpoint.maximumCounter
    else {
      throw NNBatchError(
        .usage,
        "\(config.file): $.training.epochs: expected at most \(Checkpoint.maximumCounter) steps and samples in all (2⁵³−1), found \(config.epochs) epochs of \(batches) batches over \(data.train.count) samples"
      )
    }
    config.schedule.totalSteps = totalSteps.partialValue
    schedule = config.schedule
    self.config = config
    if let group = options.group {
      // The engine holds this rank's range of the optimizer state (ZeRO-1);
      // the whole exists only on rank 0, gathered for each save.
      engine = group.makeEngine(
        network: network, plan: plan, threads: options.threads, targetColumns: data.train.targetColumns,
        optimizer: config.optimizer, precision: config.precision, stopCode: { [signals] in signals?.exitCode }
      )
      Trainer.restrict(feed, to: engine, samples: data.train.count, config: config)
    } else {
      engine = DataParallelEngine(
        network: network, plan: plan, threads: options.threads, targetColumns: data.train.targetColumns,
        optimizer: config.optimizer, precision: config.precision)
    }
    parameters = FloatBuffer(count: architecture.parameterCount)
    store = CheckpointStore(directory: config.checkpointDir)
    // Ranks other than 0 print nothing but errors (their summaries are skipped below).
    let root = options.group.map { $0.rank == 0 } ?? true
    reporter = ProgressReporter(
      format: root ? options.logFormat : .text, quiet: root ? options.quiet : true, epochs: config.epochs,
      logEvery: options.logEvery, liveAllowed: options.group == nil, observer: options.observer,
      silent: options.silent,
      monitor: config.earlyStopping?.monitor ?? (config.keepBest ? config.bestMonitor : nil))
    // The one gate of multi-process runs: only the process that writes logs (rank 0) builds them.
    logs = options.writesLogs && root ? RunLogs(options: options, config: config) : RunLogs([])
    if config.precision == .bf16 && !KernelLibrary.hasNativeBF16 {
      reporter.note(
        "this CPU has no avx512_bf16 or AMX (oneDNN uses \(KernelLibrary.cpuFeatures)): bf16 products run emulated, slower than f32"
      )
    }
    generator = SeededGenerator(seed: config.seed)
    config.initializer.initialize(parameters, for: architecture, using: &generator)
    epochGenerator = generator

    for skipped in continued?.skipped ?? [] { reporter.note("skipped checkpoint \(skipped)") }
    if let continued {
      try resume(continued.checkpoint, file: continued.file)
    } else if options.start == .resumeLatest {
      reporter.note("no checkpoint in \(config.checkpointDir) yet; starting a new run")
    } else if case .initFrom(let path) = options.start {
      try warmStart(from: path)
    }
  }

  /// The signal's exit code once a stop is due: in a group, the one all ranks agreed on in the last step.
  var stopRequest: Int32? {
    options.group == nil ? signals?.exitCode : engine.agreedStop
  }

  static func batchesPerEpoch(samples: Int, config: Config) -> Int {
    config.dropLast ? samples / config.batchSize : (samples + config.batchSize - 1) / config.batchSize
  }

  /// Trains to the end (or to a signal); returns the exit code.
  ///
  /// Opens the logs first (a log that cannot be created exits 2 before
  /// anything else is written) and ends them with a summary, also when training fails.
  public func run() throws(NNBatchError) -> Int32 {
    let started = monotonicSeconds()
    let firstEpoch = epoch
    defer { reportStreamReads(epochs: epoch - firstEpoch) }
    try logs.start(
      RunStart(
        name: config.name, step: step, epoch: epoch, epochs: config.epochs,
        resumedFrom: resumed ? newestCheckpoint : nil, threads: engine.workers.count,
        trainSamples: data.train.count, validationSamples: data.validation?.count ?? 0,
        parameters: network.architecture.parameterCount,
        batchesPerEpoch: Trainer.batchesPerEpoch(samples: data.train.count, config: config),
        tensorboard: options.tensorboardDir ?? config.logging.tensorboard,
        csv: options.csvLog ?? config.logging.csv))
    var summary = RunSummary(
      status: "failed", exitCode: 1, epoch: epoch, step: step, finalLoss: nil, elapsed: 0,
      checkpoint: nil, error: nil)
    defer {
      summary.epoch = epoch
      summary.step = step
      summary.finalLoss = lossHistory.last
      if let last = lastEpoch {
        summary.finalEpoch = last.epoch
        summary.finalEpochLoss = last.loss
        summary.finalValidation = last.validation
      }
      summary.elapsed = monotonicSeconds() - started
      summary.checkpoint = newestCheckpoint
      logs.summary(summary)
    }
    do {
      let code = try train()
      summary.exitCode = code
      summary.status = code != 0 ? "stopped" : stoppedEarly ? "early_stop" : "done"
      return code
    } catch {
      summary.exitCode = error.kind.rawValue
      summary.error = "\(error)"
      throw error
    }
  }

  private func train() throws(NNBatchError) -> Int32 {
    // From here a signal stops after a step, with a checkpoint.
    signals?.beginTraining()
    do {
      let removed = isRoot ? try store.removeTemporaryFiles() : []
      for file in removed { reporter.note("removed leftover temporary file \(file)") }
    } catch {
      throw NNBatchError(.failure, "\(error)")
    }
    // A group agrees, so that every rank leaves here or none.
    let earlyStop = options.group.map { $0.agree(stop: signals?.exitCode) } ?? signals?.exitCode
    if let code = earlyStop {
      // Signalled while the data loaded: nothing trained, nothing to save.
      if isRoot {
        reporter.summary(lines: [
          [
            LineField("stopped by signal"), LineField(" before training started", dropRank: 1, lead: ""),
            LineField("; no checkpoint written", lead: ""),
          ]
        ])
      }
      return code
    }
    let started = monotonicSeconds()
    let n = data.train.count
    let batchSize = config.batchSize
    let batches = Trainer.batchesPerEpoch(samples: n, config: config)
    let existing: [(step: Int, path: String)]
    do {
      existing = isRoot ? try store.checkpointFiles() : []
    } catch {
      throw NNBatchError(.failure, "\(error)")
    }
    if !resumed, let newest = existing.last {
      reporter.note(
        "\(config.checkpointDir) holds checkpoints of an earlier run (newest: step \(newest.step)); this run replaces them when it saves its first checkpoint (pass --resume to continue that run instead)"
      )
    }
    if step == 0 && epoch == 0 {
      let threads = "\(engine.workers.count) thread\(engine.workers.count == 1 ? "" : "s")"
      let ranks = options.group.map { "\($0.size) rank\($0.size == 1 ? "" : "s") × " } ?? ""
      // On a narrow terminal the threads go first, then the parameters, then the batches.
      reporter.note([
        LineField("training \(config.name):", opensList: true),
        LineField("\(n) samples", lead: ", ", openingLead: " "),
        LineField("\(network.architecture.parameterCount) parameters", dropRank: 2, lead: ", "),
        LineField(
          "\(batches) batch\(batches == 1 ? "" : "es") of \(batchSize) per epoch", dropRank: 1, lead: ", "),
        LineField("\(ranks)\(threads)", dropRank: 3, lead: ", "),
      ])
    }
    if config.epochs == 0 || epoch >= config.epochs {
      if lastSaved != position { try save(reason: "final") }
      if isRoot { reporter.summary(lines: finalSummary(elapsed: monotonicSeconds() - started)) }
      return 0
    }
    let run = RunSpan(
      started: started, samples: n, batchSize: batchSize, batches: batches, firstStep: step,
      firstSamples: samplesSeen)
    // Reserved up front so appending a step's loss never allocates.
    // (At most a million entries up front: a longer run grows the array rarely.)
    let steps = batches.multipliedReportingOverflow(by: config.epochs)
    lossHistory.reserveCapacity(steps.overflow ? 1 << 20 : min(steps.partialValue, 1 << 20))
    history.reserveCapacity(min(config.epochs, 1 << 20))
    var stopExit: Int32?
    epochs: while epoch < config.epochs {
      switch try trainEpoch(run) {
      case .finished: continue
      case .stoppedEarly: break epochs
      case .stopped(let code):
        stopExit = code
        break epochs
      }
    }
    if lastSaved != position { try save(reason: "final") }
    guard isRoot else { return stopExit ?? 0 }
    if let stopExit {
      reporter.summary(lines: [
        [
          LineField("stopped by signal"), LineField(" at step \(step)", dropRank: 1, lead: ""),
          LineField(" (epoch \(epoch + 1), batch \(batchInEpoch))", dropRank: 3, lead: ""),
          LineField("; checkpoint written", lead: ""),
          LineField("; resume with --resume", dropRank: 2, lead: ""),
        ]
      ])
      return stopExit
    }
    reporter.summary(lines: finalSummary(elapsed: monotonicSeconds() - started))
    return 0
  }

  /// A streamed read failed mid-run: the steps done since the last save are saved first, so nothing is lost.
  ///
  /// Only once this run owns its folder (it has saved before): a first save
  /// would replace an earlier run's files, which a failed run must never do.
  /// One process only: a group's ranks would wait on each other in the save.
  func saveBeforeFailing(_ error: NNBatchError) throws(NNBatchError) {
    guard options.group == nil, replacedEarlierRun, lastSaved != position else { return }
    do {
      try save(reason: "data error")
    } catch let saveError {
      // Both matter: what stopped the run, and that its last steps could not be kept.
      throw NNBatchError(
        error.kind, "\(error); the checkpoint of the steps before it then failed too: \(saveError)")
    }
    reporter.note(
      "the data could not be read at step \(step + 1); checkpoint written at step \(step): fix the data and resume with --resume"
    )
  }

  /// The last finished epoch (1-based), its mean training loss and its validation
  /// metrics, from the history (which a resumed run restores), if an epoch finished.
  var lastEpoch: (epoch: Int, loss: Double, validation: [String: Double])? {
    guard let loss = history.trainLoss.last else { return nil }
    let count = history.trainLoss.count
    // Validation is measured every epoch; a series of another length would name another epoch.
    let validation = history.validationLoss.count == count ? history.lastValidation : [:]
    return (count, loss, validation)
  }

  /// The closing lines: what ran and where it is saved, then the last epoch's mean
  /// loss and validation metrics (the figures its epoch line shows, not one batch's).
  ///
  /// As fields, so that a narrow terminal leaves out the least useful (`fitStatusLine`).
  private func finalSummary(elapsed: Double) -> [[LineField]] {
    var lines: [[LineField]] = [
      [
        LineField("done:", opensList: true), LineField("\(epoch) epochs", openingLead: " "),
        LineField("\(step) steps", dropRank: 2, lead: ", "),
        LineField(formatDuration(elapsed), dropRank: 1, lead: ", "), LineField("; checkpoint", lead: ""),
        LineField("\(config.checkpointDir)/\(CheckpointStore.fileName(step: step))", isPath: true),
      ]
    ]
    if let last = lastEpoch {
      lines.append([
        LineField("final epoch \(last.epoch): train_loss \(format6(last.loss))"),
        LineField(" (epoch mean)", dropRank: 1, lead: ""),
      ])
      if !last.validation.isEmpty {
        lines.append(
          [LineField("final epoch \(last.epoch):", opensList: true)]
            + reporter.validationFields(last.validation, lead: ", "))
      }
    }
    // Like the tutorial: show each sample's prediction next to its target.
    if data.train.count <= 20 && data.validation == nil && data.stream == nil {
      let predictions = network.predict(parameters: parameters, inputs: data.train.inputs)
      lines.append([LineField("predictions (input -> output, target):")])
      for r in 0..<data.train.count {
        let x = data.train.inputs.nested[r].map { format6(Double($0)) }.joined(separator: ", ")
        let y = predictions.nested[r].map { String(format: "%.4f", Double($0)) }.joined(separator: ", ")
        let t = data.train.targets.nested[r].map { format6(Double($0)) }.joined(separator: ", ")
        lines.append([
          LineField("  [\(x)]", dropRank: 2), LineField(" -> [\(y)]", lead: ""),
          LineField("  target [\(t)]", dropRank: 1, lead: ""),
        ])
      }
    }
    return lines
  }
}
