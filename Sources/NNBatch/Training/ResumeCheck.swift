import Checkpoints
import NNBatchCore
import NNBatchData
import NeuralNet

/// Whether a checkpoint can continue the run a config describes, said in config terms.
///
/// Every setting that changes what a resumed run computes must match:
/// model, loss, optimizer (each hyper-parameter and the schedule), seed,
/// data (source settings, task, validation, split, scaling) and batching.
/// Epochs, checkpoint policy, logs, threads, ranks and the `distributed`
/// settings (a deadline, whether the exchange overlaps backward) may
/// change. Each difference is one line naming the JSON path with both
/// plain values:
/// `$.optimizer.momentum: checkpoint has 0.9, config has 0.5`. Model and
/// optimizer come from the checkpoint's typed contents (what a resume
/// restores), the rest from the config text saved in it, parsed with
/// defaults filled in.
enum ResumeCheck {
  /// Throws a usage error listing every difference between `checkpoint` (read from `file`) and this run.
  static func requireCompatible(
    _ checkpoint: Checkpoint, file: String, config: Config, architecture: Architecture, data: DataFacts
  ) throws(NNBatchError) {
    let saved: Config
    do {
      saved = try Config.parse(text: checkpoint.config, file: "\(file):/@config")
    } catch {
      throw NNBatchError(.usage, "\(file): the saved config does not parse: \(error)")
    }
    var found = differences(checkpoint: checkpoint, saved: saved, config: config, architecture: architecture)
    // Different data settings already explain different samples.
    if !found.contains(where: { $0.hasPrefix("$.data") || $0.hasPrefix("$.seed") }) {
      found += dataDifferences(checkpoint: checkpoint.data, data: data)
    }
    if !found.isEmpty {
      throw NNBatchError(.usage, found.map { "cannot resume from \(file): \($0)" })
    }
  }

  /// Throws a usage error when the checkpoint's position does not fit an epoch of this run.
  ///
  /// The file's counters are in range and agree with each other (checked on
  /// load); here they must also agree with this run's epoch of `batches`
  /// batches over `samples` rows: the batch in the epoch is one of them (a
  /// larger one would end the epoch at once and skip its training), the step
  /// count is `epoch · batches + batch_in_epoch`, and the samples seen are
  /// the rows of those batches. Products are checked: the counters may be as
  /// large as 2⁵³−1.
  static func requirePosition(
    _ counters: RunCounters, file: String, batches: Int, samples: Int, batchSize: Int, dropLast: Bool
  ) throws(NNBatchError) {
    func refuse(_ path: String, expected: String, found: Int) -> NNBatchError {
      NNBatchError(
        .usage,
        "cannot resume from \(file): \(path): expected \(expected) for an epoch of \(batches) batch\(batches == 1 ? "" : "es") of \(batchSize) (\(samples) training samples), found \(found)"
      )
    }
    guard counters.batchInEpoch < batches else {
      throw refuse("/@batch_in_epoch", expected: "0..<\(batches)", found: counters.batchInEpoch)
    }
    let steps = checkedSum([checkedProduct([counters.epoch, batches]), counters.batchInEpoch])
    guard let steps, steps == counters.step else {
      let expected =
        steps == nil
        ? "more than 2⁶³−1 (/@epoch \(counters.epoch) × \(batches) + /@batch_in_epoch \(counters.batchInEpoch))"
        : "\(steps ?? 0) (/@epoch \(counters.epoch) × \(batches) + /@batch_in_epoch \(counters.batchInEpoch))"
      throw refuse("/@step", expected: expected, found: counters.step)
    }
    // Every batch but an epoch's last is full; the last one is only ever done at the epoch's end.
    let rows = checkedSum([
      checkedProduct([counters.epoch, dropLast ? batches * batchSize : samples]),
      checkedProduct([counters.batchInEpoch, batchSize]),
    ])
    guard let rows, rows == counters.samplesSeen else {
      throw refuse(
        "/@samples_seen", expected: rows.map { "\($0)" } ?? "more than 2⁶³−1",
        found: counters.samplesSeen)
    }
  }

  /// The differences, one line each (empty when the checkpoint can continue this run).
  static func differences(
    checkpoint: Checkpoint, saved: Config, config: Config, architecture: Architecture
  ) -> [String] {
    var lines = Differences()
    lines.append(
      contentsOf: modelDifferences(
        checkpoint: checkpoint.architecture, model: architecture, paths: config.layerPaths))
    // model.init is not compared: a resumed run restores its weights, so it cannot matter.
    lines.compare("$.loss", saved.loss.rawValue, config.loss.rawValue)
    compareOptimizer(checkpoint.optimizer.settings, config.optimizer, into: &lines)
    compareSchedule(saved.schedule, config.schedule, into: &lines)
    lines.compare("$.seed", saved.seed, config.seed)
    compareData(saved.data, config.data, path: "$.data", into: &lines)
    lines.compare("$.data.task", saved.task.rawValue, config.task.rawValue)
    switch (saved.validation, config.validation) {
    case (nil, nil): break
    case (let old?, let new?): compareData(old, new, path: "$.data.validation", into: &lines)
    case (let old, let new):
      lines.compare(
        "$.data.validation", old.map(\.sourceName) ?? "none", new.map(\.sourceName) ?? "none")
    }
    lines.compare("$.data.validation_split", saved.validationSplit, config.validationSplit)
    lines.compare("$.data.missing", saved.data.missing.description, config.data.missing.description)
    lines.compare(
      "$.data.categorical", DataFacts.labelsText(saved.data.categorical),
      DataFacts.labelsText(config.data.categorical))
    lines.compare("$.data.scale", saved.scaling.rawValue, config.scaling.rawValue)
    lines.compare("$.data.scale_targets", saved.targetScaling.rawValue, config.targetScaling.rawValue)
    // Augmentation changes the samples every later step trains on.
    let before = (saved.augment ?? AugmentSettings()).entries
    let after = (config.augment ?? AugmentSettings()).entries
    for (old, new) in zip(before, after) { lines.compare("$.data.augment.\(old.key)", old.value, new.value) }
    lines.compare("$.training.batch_size", saved.batchSize, config.batchSize)
    lines.compare("$.training.shard_size", saved.shardSize, config.shardSize)
    lines.compare("$.training.shuffle", saved.shuffle, config.shuffle)
    lines.compare("$.training.drop_last", saved.dropLast, config.dropLast)
    lines.compare("$.training.precision", saved.precision.rawValue, config.precision.rawValue)
    lines.compare(
      "$.training.class_weight", saved.classWeight?.description ?? "none",
      config.classWeight?.description ?? "none")
    // The best value so far only means something for the metric it was measured on.
    if checkpoint.counters.best != nil {
      let before = saved.earlyStopping?.monitor ?? saved.bestMonitor
      let after = config.earlyStopping?.monitor ?? config.bestMonitor
      let path = config.earlyStopping != nil ? "$.training.early_stopping.monitor" : "$.checkpoint.monitor"
      lines.compare(path, before, after)
    }
    return lines.lines
  }

  /// Differences of the samples themselves, which the same `data` section can hide (a file rewritten in place).
  static func dataDifferences(checkpoint: DataFacts, data: DataFacts) -> [String] {
    var lines = Differences()
    lines.compare(
      "$.data (class labels)", DataFacts.labelsText(checkpoint.labels), DataFacts.labelsText(data.labels))
    // Files written before fingerprints existed have none: nothing to compare.
    if let saved = checkpoint.fingerprint, let now = data.fingerprint, saved != now {
      lines.append(
        "$.data: the samples differ from the ones the checkpoint was trained on (fingerprint \(saved), now \(now)); the data files changed since"
      )
    }
    return lines.lines
  }

  /// Differences of the model: input width, layer count, each layer's kind and settings.
  ///
  /// `paths` are the config paths of `model`'s layers (an implied flatten
  /// shifts the indices); missing ones are `$.model.layers[i]`.
  static func modelDifferences(checkpoint: Architecture, model: Architecture, paths: [String] = [])
    -> [String]
  {
    var lines = Differences()
    lines.compare("input shape (from $.data)", checkpoint.inputShape, model.inputShape)
    if checkpoint.layers.count != model.layers.count {
      lines.append(
        "$.model.layers: checkpoint has \(checkpoint.layers.count) layers, config has \(model.layers.count)")
    }
    for (index, (old, new)) in zip(checkpoint.layers, model.layers).enumerated() {
      let before = LayerSchemas.describe(old)
      let after = LayerSchemas.describe(new)
      let path = index < paths.count ? paths[index] : "$.model.layers[\(index)]"
      guard before.kind == after.kind else {
        lines.compare("\(path).kind", before.kind, after.kind)
        continue
      }
      for (a, b) in zip(before.settings, after.settings) where a.key == b.key && a.value != b.value {
        lines.compare("\(path).\(a.key)", a.value, b.value)
      }
      // A graph wired otherwise is another model, even with the same layers.
      func wiring(_ architecture: Architecture) -> String {
        architecture.layerInputs[index].map { $0 < 0 ? "input" : "layer_\($0)" }.joined(separator: ", ")
      }
      lines.compare("\(path).inputs", wiring(checkpoint), wiring(model))
    }
    return lines.lines
  }

  /// Why a warm start (`--init-from`) cannot copy the checkpoint's parameters: tensor shapes that differ.
  ///
  /// Said in config terms where a setting explains it, else as the shapes.
  static func shapeDifferences(checkpoint: Architecture, model: Architecture, paths: [String] = [])
    -> [String]
  {
    func shapes(_ layer: any Layer) -> [String] { layer.parameters.map { "\($0.name) \($0.shape)" } }
    let sameShapes =
      checkpoint.layers.count == model.layers.count
      && zip(checkpoint.layers, model.layers).allSatisfy { shapes($0) == shapes($1) }
    guard !sameShapes else { return [] }
    // Activations may change in a warm start; shapes are what must match.
    let lines = modelDifferences(checkpoint: checkpoint, model: model, paths: paths).filter {
      !$0.contains(".activation:")
    }
    if !lines.isEmpty { return lines }
    return zip(checkpoint.layers, model.layers).enumerated().compactMap { index, pair in
      let (old, new) = (shapes(pair.0), shapes(pair.1))
      return old == new
        ? nil
        : "\(index < paths.count ? paths[index] : "$.model.layers[\(index)]"): checkpoint has \(old.joined(separator: ", ")), config has \(new.joined(separator: ", "))"
    }
  }

  private static func compareOptimizer(
    _ old: OptimizerSettings, _ new: OptimizerSettings, into lines: inout Differences
  ) {
    lines.compare("$.optimizer.kind", old.kind.rawValue, new.kind.rawValue)
    let before = Dictionary(uniqueKeysWithValues: old.hyperParameters.map { ($0.name, $0.value) })
    let after = Dictionary(uniqueKeysWithValues: new.hyperParameters.map { ($0.name, $0.value) })
    for parameter in new.hyperParameters + old.hyperParameters.filter({ after[$0.name] == nil }) {
      let name = parameter.name
      switch (before[name], after[name]) {
      case (let a?, let b?): lines.compare("$.optimizer.\(name)", a, b)
      // Only clip_norm is optional within one kind; other one-sided names come with a kind change.
      case (let a, let b) where old.kind == new.kind:
        lines.compare(
          "$.optimizer.\(name)", a.map(\.description) ?? "not set", b.map(\.description) ?? "not set")
      default: break
      }
    }
  }

  private static func compareSchedule(
    _ old: LearningRateSchedule, _ new: LearningRateSchedule, into lines: inout Differences
  ) {
    let path = "$.optimizer.schedule"
    lines.compare("\(path).kind", old.kind.rawValue, new.kind.rawValue)
    lines.compare("\(path).warmup_steps", old.warmupSteps, new.warmupSteps)
    guard old.kind == new.kind else { return }
    // total_steps follows from the epochs, which a resume may change.
    switch new.kind {
    case .constant: break
    case .step:
      lines.compare("\(path).every_epochs", old.everyEpochs, new.everyEpochs)
      lines.compare("\(path).factor", old.factor, new.factor)
    case .exponential:
      lines.compare("\(path).gamma", old.gamma, new.gamma)
    case .cosine:
      lines.compare("\(path).floor", old.floor, new.floor)
    }
  }

  private static func compareData(
    _ old: DataConfig, _ new: DataConfig, path: String, into lines: inout Differences
  ) {
    let before = old.source.settings
    let after = new.source.settings
    guard old.sourceName == new.sourceName else {
      lines.compare("\(path).source", old.sourceName, new.sourceName)
      return
    }
    for (a, b) in zip(before, after) where a.identity != b.identity {
      if a.key == "fingerprint", old.source is MemorySource {
        lines.append(
          "\(path): the in-memory samples differ from the ones the checkpoint was trained on (fingerprint \(a.shown), now \(b.shown)); resume with the same samples"
        )
      } else if a.shown == b.shown {
        lines.append("\(path).\(a.key): checkpoint and config have different values (\(a.shown) each)")
      } else {
        lines.compare("\(path).\(a.key)", a.shown, b.shown)
      }
    }
  }
}

/// Difference lines, "PATH: checkpoint has OLD, config has NEW".
private struct Differences {
  var lines: [String] = []

  mutating func append(_ line: String) { lines.append(line) }

  mutating func append(contentsOf more: [String]) { lines.append(contentsOf: more) }

  mutating func compare<T: Equatable & CustomStringConvertible>(_ path: String, _ old: T, _ new: T) {
    if old != new { lines.append("\(path): checkpoint has \(old), config has \(new)") }
  }
}
