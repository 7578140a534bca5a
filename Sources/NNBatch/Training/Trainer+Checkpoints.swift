import Checkpoints
import Foundation
import HDF5Store
import NNBatchCore
import NNBatchData
import NeuralNet
import Parallel

// Checkpoints of a run: what goes into one, durable saves, resume, warm start.
extension Trainer {
  /// The run's complete state as a checkpoint, with `optimizer` the engine's whole state.
  func makeCheckpoint(optimizer: OptimizerState) -> Checkpoint {
    var checkpoint = Checkpoint(
      nnbatchVersion: nnbatchVersion, created: ISO8601DateFormatter().string(from: Date()),
      config: config.text,
      counters: RunCounters(
        step: step, epoch: epoch, batchInEpoch: batchInEpoch, samplesSeen: samplesSeen,
        epochLossSum: epochLossSum, epochSamples: Int(epochSamples), best: best,
        learningRate: learningRateOverride),
      architecture: network.architecture, parameters: parameters.array,
      optimizer: OptimizerSnapshot(
        settings: optimizer.settings, step: optimizer.step, slots: optimizer.slots.map(\.array)),
      generator: generator, epochGenerator: epochGenerator, lossHistory: lossHistory, epochHistory: history,
      data: DataFacts(
        task: config.task, labels: data.labels, features: data.scaler, targets: data.targetScaler,
        fingerprint: dataFingerprint, stream: data.stream?.plan.text, targetNames: data.targetNames))
    checkpoint.data.imputer = data.imputer
    checkpoint.data.encoder = data.encoder
    if let memory = config.data.source as? MemorySource {
      checkpoint.data.memory = InMemoryDataFacts(
        fingerprint: memory.fingerprint, rows: memory.rows, features: memory.features,
        targetColumns: memory.targetColumns)
    }
    checkpoint.kernels = .current(for: network.architecture)
    return checkpoint
  }

  func save(reason: String, name: String? = nil) throws(NNBatchError) {
    // In a group every rank takes part in gathering the optimizer; rank 0 alone writes.
    let optimizer = engine.optimizerState()
    guard isRoot, let optimizer else {
      if name == nil { lastSaved = position }
      return
    }
    // The logs first: a run killed after this save has them up to its step.
    logs.flush()
    do {
      let path = try store.save(makeCheckpoint(optimizer: optimizer), name: name)
      logs.checkpoint(path: path, step: step, epoch: epoch, reason: reason)
      if !replacedEarlierRun {
        // This run's first durable file: files of the run it replaces go now (CheckpointStore's rule).
        let removed = try store.removeFilesOfReplacedRun(
          firstSave: name == nil ? .step(step) : .best(atStep: step), resumed: resumed)
        for file in removed where file.hasSuffix(".h5") && !file.hasSuffix(CheckpointStore.bestFileName) {
          reporter.note("removed \(file) of the run this one replaces")
        }
        replacedEarlierRun = true
      }
      if name == nil {
        lastSaved = position
        newestCheckpoint = path
        try store.prune(keep: config.keep)
      }
    } catch {
      throw NNBatchError(
        .failure,
        "checkpoint save failed (\(reason), step \(step)): \(error); earlier checkpoints in \(config.checkpointDir) are intact"
      )
    }
  }

  /// The checkpoint `--resume PATH` continues: the file, or the newest valid one of a folder.
  ///
  /// Damaged newer files of a folder are skipped with a warning on stderr
  /// (and returned, for the progress log).
  static func checkpointToResume(_ path: String) throws(NNBatchError) -> (
    checkpoint: Checkpoint, file: String, skipped: [CheckpointError]
  ) {
    do {
      guard FileSystem.isDirectory(path) else {
        return (try Checkpoint.read(from: path), path, [])
      }
      guard let found = try CheckpointStore(directory: path).newestValid() else {
        throw NNBatchError(.usage, "\(path): no checkpoint to resume from (step-*.h5)")
      }
      for skipped in found.skipped {
        writeMessageToStandardError("warning: skipped \(skipped)\n")
      }
      return (found.checkpoint, found.path, found.skipped)
    } catch let error as NNBatchError {
      throw error
    } catch {
      throw NNBatchError(.usage, "cannot resume: \(error)")
    }
  }

  /// Continues `checkpoint` (read from `file`) after checking it fits this run.
  func resume(_ checkpoint: Checkpoint, file: String) throws(NNBatchError) {
    try ResumeCheck.requireCompatible(
      checkpoint, file: file, config: config, architecture: network.architecture,
      data: DataFacts(
        task: config.task, labels: data.labels, features: data.scaler, targets: data.targetScaler,
        fingerprint: dataFingerprint))
    try ResumeCheck.requirePosition(
      checkpoint.counters, file: file,
      batches: Trainer.batchesPerEpoch(samples: data.train.count, config: config),
      samples: data.train.count, batchSize: config.batchSize, dropLast: config.dropLast)
    if let kernels = checkpoint.kernels, !kernels.sameLibrary(as: .current) {
      reporter.note(
        "\(file) was computed with \(kernels), this run uses \(KernelProvenance.current): bits may differ from the original run's"
      )
    }
    // Same settings (checked above), so the slots are the ones this optimizer keeps.
    parameters.assign(checkpoint.parameters)
    engine.restoreOptimizer(
      OptimizerState(
        settings: config.optimizer, step: checkpoint.optimizer.step,
        slots: checkpoint.optimizer.slots.map { FloatBuffer($0) }))
    generator = checkpoint.generator
    epochGenerator = checkpoint.epochGenerator
    let counters = checkpoint.counters
    step = counters.step
    epoch = counters.epoch
    batchInEpoch = counters.batchInEpoch
    samplesSeen = counters.samplesSeen
    epochLossSum = counters.epochLossSum
    epochSamples = Double(counters.epochSamples)
    best = counters.best
    learningRateOverride = counters.learningRate
    lossHistory = checkpoint.lossHistory
    history = checkpoint.epochHistory
    lastSaved = position
    newestCheckpoint = file
    resumed = true
    reporter.note([
      LineField("resumed from"), LineField(file, isPath: true),
      LineField(" at step \(step)", dropRank: 2, lead: ""),
      LineField(" (epoch \(epoch + 1), batch \(batchInEpoch))", dropRank: 1, lead: ""),
    ])
  }

  func warmStart(from path: String) throws(NNBatchError) {
    let checkpoint = try warmStartCheckpoint(path)
    let differences = ResumeCheck.shapeDifferences(
      checkpoint: checkpoint.architecture, model: network.architecture, paths: config.layerPaths)
    guard differences.isEmpty else {
      throw NNBatchError(
        .usage, differences.map { "cannot initialise from \(path): layer shapes differ: \($0)" })
    }
    parameters.assign(checkpoint.parameters)
    reporter.note(
      "initialised weights from \(path) (step \(checkpoint.counters.step)); optimizer and counters start fresh"
    )
  }
}

extension Trainer {
  /// Times `repeats` durable saves and verified loads of this run's checkpoint.
  ///
  /// For `tools/bench`: returns the file size and every save and load time
  /// in milliseconds (save = build the file, write, fsync, rename, fsync the
  /// folder; load = seal check, HDF5 read, content checksum, decoding).
  package func benchmarkCheckpoints(repeats: Int) throws(NNBatchError) -> (
    bytes: Int, saveMilliseconds: [Double], loadMilliseconds: [Double]
  ) {
    var saves: [Double] = []
    var loads: [Double] = []
    var bytes = 0
    do {
      for _ in 0..<repeats {
        let start = monotonicSeconds()
        guard let optimizer = engine.optimizerState() else { break }
        let path = try store.save(makeCheckpoint(optimizer: optimizer))
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

extension Trainer {
  /// Per-layer timings of one worker on a shard of `rows` rows (default: the config's shard size), for `tools/profile-layers`.
  package func profile(rows: Int?, repeats: Int) -> (rows: Int, layers: [LayerTiming]) {
    let rows = rows ?? min(config.shardSize, config.batchSize)
    return (rows, profileLayers(network: network, parameters: parameters, rows: rows, repeats: repeats))
  }
}

extension Trainer {
  /// Each conv2d layer's passes through im2col and oneDNN on a shard (default: the config's shard size), for `tools/bench-conv`.
  package func convolutionBenchmark(rows: Int?, repeats: Int) -> (rows: Int, timings: [ConvolutionTiming]) {
    let rows = rows ?? min(config.shardSize, config.batchSize)
    var timings: [ConvolutionTiming] = []
    for (index, layer) in network.architecture.layers.enumerated() {
      guard let conv = layer as? Conv2D else { continue }
      timings += benchmarkConvolution(layer: conv, index: index, rows: rows, repeats: repeats)
    }
    return (rows, timings)
  }
}

extension Trainer {
  /// `architecture` with the conv2d kernels this run uses: the checkpoint's it continues
  /// (im2col for files written before the choice was recorded), else the rule's for this
  /// CPU, in a group rank 0's (so every rank runs the same arithmetic).
  static func withConvolutionKernels(
    _ architecture: Architecture, continuing checkpoint: Checkpoint?, group: (any ProcessGroup)?
  ) -> Architecture {
    let count = architecture.convolutionKernels.count
    guard count > 0 else { return architecture }
    if let checkpoint {
      // Every rank holds the checkpoint rank 0 read; its reader checked the count.
      let recorded = checkpoint.kernels?.convolutions ?? Array(repeating: .im2col, count: count)
      return architecture.with(convolutionKernels: recorded)
    }
    guard let group else { return architecture }
    let order = ConvolutionKernel.allCases
    let mine = architecture.convolutionKernels.map { UInt8(order.firstIndex(of: $0) ?? 0) }
    let chosen = group.broadcast(group.rank == 0 ? mine : [])
    // Same config, same layers: every rank has `count` conv2d layers.
    precondition(chosen.count == count, "rank 0 sent \(chosen.count) conv2d kernels for \(count) layers")
    return architecture.with(convolutionKernels: chosen.map { order[Int($0) % order.count] })
  }
}
