import Checkpoints
import FuzzSupport
import HDF5Store
import NNBatch
import NeuralNet

/// libFuzzer entry point: a checkpoint file, re-sealed, through libhdf5 and the schema decoding;
/// or, for inputs shorter than the user block, a program of counter edits on a valid checkpoint.
///
/// The seal (a whole-file checksum in the 512-byte user block) would stop
/// almost every mutation before libhdf5 sees the file, so the harness seals
/// each mutated image first: mutations then reach HDF5's parsing, its own
/// checksums, the format version checks and every entry's decoding.
/// libhdf5 1.10.8 itself crashes on some damaged files (SIGSEGV inside the
/// library); tools/fuzz tells those apart from crashes in nnbatch's code and
/// reports them separately (see docs/fuzzing.md).
///
/// A short input (under 512 bytes, too short for a checkpoint file) is a
/// counter program instead (`counterFuzz`): byte mutations of a whole file
/// almost never make a counter both extreme and re-checksummed, so this mode
/// writes them directly.
@_cdecl("LLVMFuzzerTestOneInput")
public func checkpointFuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  var image = fuzzInput(data, size)
  if image.count < FileSeal.userBlockSize {
    counterFuzz(image)
    return 0
  }
  FileSeal.seal(&image)
  let path = writeScratch("checkpoint.h5", image)
  do {
    _ = try CheckpointFile.read(path).checkpoint.fileImage(name: "fuzz.h5")
  } catch {
    _ = "\(error)"
  }
  return 0
}

/// A valid checkpoint of 2 epochs of 4 steps with validation and a tracked best, as a tree.
private let baseTree: HDF5Node = {
  do {
    let architecture = try Architecture(
      input: [3],
      layers: [Dense.Spec(units: 4, activation: .relu), Dense.Spec(units: 2, activation: .softmax)])
    let parameters = (0..<architecture.parameterCount).map { Float($0) * 0.01 }
    let config = """
      { "name": "fuzz", "data": { "source": "synthetic", "samples": 16, "features": 3, "classes": 2 },
        "model": { "layers": [ { "units": 4, "activation": "relu" }, { "units": 2, "activation": "softmax" } ] },
        "loss": "cross_entropy", "optimizer": { "kind": "adam", "learning_rate": 0.01 },
        "training": { "epochs": 2, "batch_size": 4 }, "checkpoint": { "dir": "ck" } }
      """
    guard let generator = SeededGenerator(state: [1, 2, 3, 4]) else { fatalError("fuzz harness: generator") }
    let checkpoint = Checkpoint(
      nnbatchVersion: "fuzz", created: "2026-01-01T00:00:00Z", config: config,
      counters: RunCounters(
        step: 8, epoch: 2, batchInEpoch: 0, samplesSeen: 32,
        best: BestMetric(value: 0.5, epoch: 1, staleEpochs: 1)),
      architecture: architecture, parameters: parameters,
      optimizer: OptimizerSnapshot(
        settings: OptimizerSettings(kind: .adam, learningRate: 0.01), step: 8,
        slots: [parameters, parameters]),
      generator: generator, epochGenerator: generator, lossHistory: (0..<8).map { 1 / Double($0 + 1) },
      epochHistory: EpochHistory(series: [
        "train_loss": [0.5, 0.25], "learning_rate": [0.01, 0.01], "val_loss": [0.6, 0.5],
        "val_accuracy": [0.5, 0.75],
      ]),
      data: DataFacts(task: .classification, labels: ["a", "b"], features: .identity, targets: .identity))
    return checkpoint.encode()
  } catch {
    fatalError("fuzz harness: cannot build the base checkpoint: \(error)")
  }
}()

/// Values a crafted counter takes: the edges of Int64, of 2⁵³ and small ones around the base's.
private let extremes: [Int] = [
  0, 1, 2, 3, 4, 7, 8, 9, 100, -1, -2, Int.min, Int.max, Int.max - 1, 1 << 62, 1 << 53, (1 << 53) - 1,
  (1 << 53) + 1, 1 << 32, Int(Int32.max), Int(UInt32.max),
]

/// Applies the edits `program` spells to the base checkpoint, reads the file back, and checks
/// that decoding refused it or gave counters within the stated bounds; it must never trap.
///
/// Each edit takes 2 bytes (a field, a value from `extremes`) or, when the
/// value byte's high bit is set, 2 + 8 bytes (the value raw, little-endian).
/// Fields: the root counters, /optimizer@step, the /state counters, the
/// lengths of /history series (capped at 4096 values) and, as a float
/// attribute, a counter written with the wrong type; NaN and ∞ go into a
/// history value and a hyper-parameter. What loads is also run through
/// `inspect`, text and JSON, which must not fail (exit 1).
private func counterFuzz(_ program: [UInt8]) {
  var tree = baseTree
  var index = 0
  func next() -> UInt8? {
    guard index < program.count else { return nil }
    defer { index += 1 }
    return program[index]
  }
  while let field = next(), let choice = next() {
    var value = extremes[Int(choice & 0x7F) % extremes.count]
    if choice & 0x80 != 0 {
      var raw: UInt64 = 0
      for shift in stride(from: 0, to: 64, by: 8) { raw |= UInt64(next() ?? 0) << UInt64(shift) }
      value = Int(Int64(bitPattern: raw))
    }
    edit(&tree, field: field, value: value)
  }
  Checkpoint.seal(&tree)
  let path: String
  do {
    path = writeScratch("counters.h5", try Checkpoint.fileImage(tree, name: "counters.h5"))
  } catch {
    fatalError("fuzz harness: cannot build a file image: \(error)")
  }
  let checkpoint: Checkpoint
  do {
    checkpoint = try CheckpointFile.read(path).checkpoint
  } catch {
    _ = "\(error)"
    return
  }
  checkBounds(checkpoint)
  for json in [false, true] {
    do {
      _ = try Inspect.run(path: path, json: json)
    } catch  where error.kind == .failure {
      fatalError("inspect\(json ? " --json" : "") failed on a checkpoint that loads: \(error)")
    } catch {
      _ = "\(error)"
    }
  }
}

/// Sets field `field` (mod the field count) of `tree` to `value`.
private func edit(_ tree: inout HDF5Node, field: UInt8, value: Int) {
  // Lengths are capped: the file is built in memory for every input.
  let length = Int(value.magnitude % 4097)
  func series(_ name: String, _ count: Int) {
    // Epoch series are left out when empty, as nnbatch writes them; the per-step loss never is.
    tree.groups["history"]?.datasets[name] =
      count == 0 && name != "loss"
      ? nil : HDF5Dataset(shape: [count], values: .float64(ArraySlice(repeating: 0.5, count: count)))
  }
  let special = [Double.nan, .infinity, -.infinity][Int(value.magnitude % 3)]
  switch field % 17 {
  case 0: tree.attributes["step"] = .integer(value)
  case 1: tree.attributes["epoch"] = .integer(value)
  case 2: tree.attributes["batch_in_epoch"] = .integer(value)
  case 3: tree.attributes["samples_seen"] = .integer(value)
  case 4: tree.groups["optimizer"]?.attributes["step"] = .integer(value)
  case 5: tree.groups["state"]?.attributes["epoch_samples"] = .integer(value)
  case 6: tree.groups["state"]?.attributes["best_epoch"] = .integer(value)
  case 7: tree.groups["state"]?.attributes["stale_epochs"] = .integer(value)
  case 8: series("loss", length)
  case 9: series("train_loss", length)
  case 10: series("val_loss", length)
  case 11: series("learning_rate", length)
  case 12: tree.attributes["step"] = .real(Double(value))
  case 13:
    // A consistent run of `length` steps in its first epoch: what a valid file can say.
    for name in ["step", "samples_seen", "batch_in_epoch"] { tree.attributes[name] = .integer(length) }
    tree.attributes["epoch"] = .integer(0)
    tree.groups["optimizer"]?.attributes["step"] = .integer(length)
    tree.groups["state"]?.attributes["epoch_samples"] = .integer(length)
    tree.groups["state"]?.attributes["epoch_loss_sum"] = .real(Double(length))
    tree.groups["state"]?.attributes["best_metric"] = nil
    for name in EpochHistory.seriesNames { series(name, 0) }
    series("loss", length)
  case 14:
    tree.groups["history"]?.datasets["val_loss"] = HDF5Dataset(shape: [2], values: .float64([special, 0.5]))
  case 15: tree.groups["optimizer"]?.attributes["learning_rate"] = .real(special)
  default: tree.groups["state"]?.attributes["epoch_loss_sum"] = .real(Double(value))
  }
}

/// Traps (a finding) when a checkpoint that loaded breaks a bound or relation decoding promises.
private func checkBounds(_ checkpoint: Checkpoint) {
  let c = checkpoint.counters
  let counters = [
    ("step", c.step), ("epoch", c.epoch), ("batch_in_epoch", c.batchInEpoch), ("samples_seen", c.samplesSeen),
    ("epoch_samples", c.epochSamples), ("optimizer step", checkpoint.optimizer.step),
    ("best_epoch", c.best?.epoch ?? 0), ("stale_epochs", c.best?.staleEpochs ?? 0),
  ]
  for (name, value) in counters where !(0...Checkpoint.maximumCounter).contains(value) {
    fatalError("decoded \(name) \(value) is outside 0...\(Checkpoint.maximumCounter)")
  }
  let history = checkpoint.epochHistory
  guard checkpoint.optimizer.step == c.step, checkpoint.lossHistory.count == c.step,
    c.step >= c.epoch + c.batchInEpoch, c.samplesSeen >= c.step,
    (c.batchInEpoch...c.samplesSeen).contains(c.epochSamples),
    history.trainLoss.count == c.epoch, history.series.values.allSatisfy({ $0.count == c.epoch }),
    c.best.map({ $0.epoch >= 1 && $0.epoch <= c.epoch && $0.staleEpochs <= c.epoch - $0.epoch }) ?? true
  else {
    fatalError("decoded counters contradict each other: \(c), \(checkpoint.lossHistory.count) losses")
  }
}
