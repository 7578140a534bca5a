import Checkpoints
import Foundation
import HDF5Store
import NeuralNet
import TestSupport
import XCTest

/// The typed checkpoint: round trips, h5dump, durable saves, retention and damage handling.
final class CheckpointTests: XCTestCase {
  static func sample(step: Int = 10, scale: Float = 1) throws -> Checkpoint {
    let architecture = try Architecture(
      input: [3],
      layers: [Dense.Spec(units: 4, activation: .relu), Dense.Spec(units: 2, activation: .softmax)])
    let count = 3 * 4 + 4 + 4 * 2 + 2
    XCTAssertEqual(architecture.parameterCount, count)
    let parameters = (0..<count).map { Float($0) * 0.25 * scale - 1 }
    return Checkpoint(
      nnbatchVersion: "test", created: "2026-01-01T00:00:00Z", config: "{\"name\": \"t\"}",
      counters: RunCounters(
        step: step, epoch: 2, batchInEpoch: 1, samplesSeen: 123, epochLossSum: 1.5, epochSamples: 12,
        best: BestMetric(value: 0.25, epoch: 1, staleEpochs: 1)),
      architecture: architecture, parameters: parameters,
      optimizer: OptimizerSnapshot(
        settings: OptimizerSettings(kind: .sgd, learningRate: 0.1, ["momentum": 0.9]), step: step,
        slots: [parameters.map { $0 / 2 }]),
      generator: try XCTUnwrap(SeededGenerator(state: [1, 2, 3, UInt64.max])),
      epochGenerator: try XCTUnwrap(SeededGenerator(state: [5, 6, 7, 8])),
      lossHistory: (0..<step).map { 1 / Double($0 + 1) },
      epochHistory: EpochHistory(series: ["train_loss": [0.5, 0.25], "val_accuracy": [0.5, 0.75]]),
      data: DataFacts(
        task: .classification, labels: ["cat", "d\"o/g\\\n\u{1}é"],
        features: AffineScaler(kind: .standardize, shift: [0, 1, 2], factor: [1, 0.5, 0.25]),
        targets: .identity))
  }

  /// Writes `tree` as a sealed checkpoint file (for trees edited by a test).
  static func write(_ tree: HDF5Node, to path: String) throws {
    try FileSystem.writeOutput(path, bytes: Checkpoint.fileImage(tree, name: path))
  }

  /// The error `Checkpoint.read` gives for `tree` after `edit` (the checksum resealed).
  private func readError(_ edit: (inout HDF5Node) -> Void) throws -> String {
    let dir = TemporaryDirectory()
    var tree = try Self.sample().encode()
    edit(&tree)
    Checkpoint.seal(&tree)
    try Self.write(tree, to: dir.file("edited.h5"))
    do {
      _ = try Checkpoint.read(from: dir.file("edited.h5"))
    } catch {
      XCTAssertTrue(error.description.hasPrefix(dir.file("edited.h5") + ": "), error.description)
      return error.reason
    }
    XCTFail("an edited file was accepted")
    return ""
  }

  func testRoundTripAndH5dump() throws {
    let dir = TemporaryDirectory()
    let store = CheckpointStore(directory: dir.file("run"))
    let original = try Self.sample()
    let path = try store.save(original)
    XCTAssertEqual(path, dir.file("run/step-000000010.h5"))
    let file = try CheckpointFile.read(path)
    XCTAssertEqual(file.checkpoint, original)
    XCTAssertEqual(file.formatVersion, 2)
    XCTAssertTrue(file.checksum.hasPrefix("xxh64:"), file.checksum)

    let h5dump = try XCTUnwrap(tool("h5dump"))
    let weights = try runProcess(h5dump, ["-d", "/model/layer_0/weights", path])
    XCTAssertEqual(weights.status, 0, weights.stderr)
    XCTAssertTrue(weights.stdout.contains("( 3, 4 )"), weights.stdout)
    XCTAssertEqual(h5dumpValues(weights.stdout).map { Float($0) }, Array(original.parameters[0..<12]))
    let biases = try runProcess(h5dump, ["-d", "/model/layer_1/biases", path])
    XCTAssertEqual(h5dumpValues(biases.stdout).map { Float($0) }, Array(original.parameters[24..<26]))
    let velocity = try runProcess(h5dump, ["-d", "/optimizer/velocity/layer_1/weights", path])
    XCTAssertEqual(
      h5dumpValues(velocity.stdout).map { Float($0) }, original.parameters[16..<24].map { $0 / 2 })
    let attributes = try runProcess(h5dump, ["-A", path])
    for expected in [
      "nnbatch-checkpoint", "format_version", "requires", "content_checksum", "\"relu\"", "\"dense\"",
      "batch_in_epoch", "best_metric", "\"standardize\"",
    ] {
      XCTAssertTrue(attributes.stdout.contains(expected), "h5dump -A lacks \(expected)")
    }
    let properties = try runProcess(h5dump, ["-p", "-d", "/model/layer_0/weights", path])
    XCTAssertTrue(properties.stdout.contains("CHECKSUM FLETCHER32"), properties.stdout)
    XCTAssertTrue(properties.stdout.contains("CHUNKED"), properties.stdout)
    let superblock = try runProcess(h5dump, ["-B", "-H", path])
    XCTAssertTrue(superblock.stdout.contains("SUPERBLOCK_VERSION 3"), "V110 files have superblock v3")
  }

  func testNoBiasNoMomentumAndNoBestRoundTrip() throws {
    let dir = TemporaryDirectory()
    var c = try Self.sample()
    c.architecture = try Architecture(
      input: [3],
      layers: [
        Dense.Spec(units: 4, activation: .sigmoid, bias: false), Dense.Spec(units: 1, activation: .linear),
      ])
    c.parameters = (0..<c.architecture.parameterCount).map(Float.init)
    c.optimizer = OptimizerSnapshot(
      settings: OptimizerSettings(kind: .adamw, learningRate: 0.01, clipNorm: 2), step: c.counters.step,
      slots: [c.parameters, c.parameters.map { $0 * 2 }])
    c.counters.best = nil
    c.data = DataFacts(
      task: .regression, labels: [], features: .identity,
      targets: AffineScaler(kind: .minmax, shift: [5], factor: [0.5]), targetNames: ["price, in k\"€\""])
    try c.write(to: dir.file("c.h5"))
    XCTAssertEqual(try Checkpoint.read(from: dir.file("c.h5")), c)
    XCTAssertFalse(
      try HDF5File.openForReading(path: dir.file("c.h5")).root().openGroup("model")
        .openGroup("layer_0").contains("biases"))
  }

  func testSavesAreAtomicAndPruned() throws {
    let dir = TemporaryDirectory()
    let store = CheckpointStore(directory: dir.path)
    for step in [5, 10, 15, 20] {
      try store.save(Self.sample(step: step))
      try store.prune(keep: 2)
    }
    XCTAssertEqual(try store.checkpointFiles().map(\.step), [15, 20])
    // No temporary files remain after successful saves.
    XCTAssertEqual(try FileSystem.list(dir.path), ["step-000000015.h5", "step-000000020.h5"])
    // A leftover from a killed save is never loaded and is cleaned up.
    dir.write(".step-000000025.h5.999.tmp", "partial")
    XCTAssertEqual(try store.newestValid()?.checkpoint.counters.step, 20)
    XCTAssertEqual(try store.removeTemporaryFiles(), [dir.file(".step-000000025.h5.999.tmp")])
    XCTAssertEqual(try FileSystem.list(dir.path).count, 2)
  }

  /// Issue 23 #4: symlinks planted at every name the old scheme (`.NAME.<pid>.tmp`) could
  /// use, this process's PID included, are never written through; the save succeeds.
  func testPlantedSymlinksInTheFolderAreNeverWrittenThrough() throws {
    let dir = TemporaryDirectory()
    let victim = dir.write("victim.txt", "precious")
    let folder = dir.file("ck")
    try FileSystem.createDirectories(folder)
    let pid = Int(getpid())
    for name in ["step-000000010.h5", "best.h5"] {
      for candidate in max(1, pid - 50)...(pid + 50) {
        XCTAssertEqual(symlink(victim, "\(folder)/.\(name).\(candidate).tmp"), 0)
      }
    }
    let store = CheckpointStore(directory: folder)
    try store.save(Self.sample(step: 10))
    try store.save(Self.sample(step: 10), name: CheckpointStore.bestFileName)
    XCTAssertEqual(try String(contentsOfFile: victim, encoding: .utf8), "precious")
    XCTAssertEqual(try Checkpoint.read(from: "\(folder)/step-000000010.h5").counters.step, 10)
    XCTAssertEqual(try Checkpoint.read(from: "\(folder)/best.h5").counters.step, 10)
    // The planted links are leftovers like any other: removed, their target untouched.
    XCTAssertEqual(try store.removeTemporaryFiles().count, 202)
    XCTAssertEqual(try FileSystem.list(folder), ["best.h5", "step-000000010.h5"])
    XCTAssertEqual(try String(contentsOfFile: victim, encoding: .utf8), "precious")
  }

  /// Writes step 10 (good) and step 20 (then damaged); the store must skip 20 and load 10.
  private func assertDamageDetected(
    _ name: String, file: StaticString = #filePath, line: UInt = #line, damage: (String) throws -> Void
  ) throws {
    let dir = TemporaryDirectory()
    let store = CheckpointStore(directory: dir.path)
    try store.save(Self.sample(step: 10))
    let newest = try store.save(Self.sample(step: 20, scale: 2))
    try damage(newest)
    XCTAssertThrowsError(
      try Checkpoint.read(from: newest), "\(name): damage not detected", file: file, line: line
    ) {
      error in
      XCTAssertTrue(error is CheckpointError, "\(name): \(error)", file: file, line: line)
      XCTAssertTrue(
        "\(error)".hasPrefix(newest), "\(name): message names the file: \(error)", file: file, line: line)
    }
    let found = try XCTUnwrap(try store.newestValid(), file: file, line: line)
    XCTAssertEqual(found.checkpoint.counters.step, 10, name, file: file, line: line)
    XCTAssertEqual(found.skipped.count, 1, name, file: file, line: line)
  }

  func testTruncatedEmptyAndGarbageFilesAreRejected() throws {
    for fraction in [0.0, 0.1, 0.5, 0.9, 0.99] {
      try assertDamageDetected("truncated to \(fraction)") { path in
        try truncate(path, to: Int(Double(fileSize(path)) * fraction))
      }
    }
    try assertDamageDetected("garbage") { path in
      try Data("garbage".utf8).write(to: URL(fileURLWithPath: path))
    }
  }

  func testBitFlipsInDataAndMetadataAreDetected() throws {
    // Flip one bit at many offsets across the file: superblock, object
    // headers, B-trees, attribute heaps and raw data chunks alike.
    let dir = TemporaryDirectory()
    let probe = try CheckpointStore(directory: dir.path).save(Self.sample(step: 20, scale: 2))
    let size = fileSize(probe)
    var offsets = Array(stride(from: 0, to: size, by: max(1, size / 150)))
    offsets.append(size - 1)
    var generator = SystemRandomNumberGenerator()
    for _ in 0..<40 { offsets.append(Int.random(in: 0..<size, using: &generator)) }
    for offset in offsets {
      try assertDamageDetected("bit flip at \(offset)") { path in
        try flipBit(path, offset: offset, bit: offset % 8)
      }
    }
  }

  func testZeroedBlocksAreDetected() throws {
    let dir = TemporaryDirectory()
    let probe = try CheckpointStore(directory: dir.path).save(Self.sample(step: 20, scale: 2))
    let size = fileSize(probe)
    let bytes = try Data(contentsOf: URL(fileURLWithPath: probe))
    // Only blocks holding some non-zero byte: zeroing zeros changes nothing.
    let offsets = stride(from: 0, to: size - 64, by: 32).filter { o in
      bytes[o..<(o + 64)].contains { $0 != 0 }
    }
    XCTAssertGreaterThan(offsets.count, 20)
    for offset in offsets.enumerated().filter({ $0.offset % max(1, offsets.count / 25) == 0 }).map(\.element)
    {
      try assertDamageDetected("zeroed block at \(offset)") { path in
        try zeroBlock(path, offset: offset, count: 64)
      }
    }
  }

  func testWrongFormatAndVersionAreRefused() throws {
    let dir = TemporaryDirectory()
    let path = dir.file("other.h5")
    // A sealed file, as checkpoints are made, whose format attribute is wrong.
    var other = HDF5Node()
    other.attributes["format"] = .string("something-else")
    try Self.write(other, to: path)
    XCTAssertThrowsError(try Checkpoint.read(from: path)) { error in
      XCTAssertTrue("\(error)".contains("not an nnbatch checkpoint"), "\(error)")
    }
    let plain = dir.file("plain.h5")
    let file = try HDF5File.create(path: plain)
    try file.close()
    XCTAssertThrowsError(try Checkpoint.read(from: plain)) { error in
      XCTAssertTrue("\(error)".contains("no valid seal") || "\(error)".contains("too short"), "\(error)")
    }
    XCTAssertThrowsError(try Checkpoint.read(from: dir.file("missing.h5"))) { error in
      XCTAssertTrue("\(error)".contains("no such file"), "\(error)")
    }
    // A newer version is refused naming both versions, before anything else is read.
    let newer = try readError { $0.attributes["format_version"] = .integer(3) }
    XCTAssertEqual(newer, "format version 3 is newer than this build reads (1...2); use a newer nnbatch")
    let older = try readError { $0.attributes["format_version"] = .integer(0) }
    XCTAssertTrue(older.contains("format version 0 is not a version this build reads (1...2)"), older)
  }

  func testImplausibleSizesInAResealedFileAreErrorsNotTraps() throws {
    let cases: [(String, (inout HDF5Node) -> Void)] = [
      (
        "/model/layer_0: ",
        { $0.groups["model"]?.groups["layer_0"]?.attributes["units"] = .integer(Int.max / 2) }
      ),
      (
        "/model/input_shape: expected 1 to 255 dimensions in 1...2³¹ of at most 2⁴⁰ values, found [4294967296, 4294967296]",
        {
          $0.groups["model"]?.datasets["input_shape"] = HDF5Dataset(
            shape: [2], values: .int64([1 << 32, 1 << 32][...]))
        }
      ),
      (
        "/model/input_shape: expected 1 to 255 dimensions in 1...2³¹ of at most 2⁴⁰ values, found [3, 0]",
        {
          $0.groups["model"]?.datasets["input_shape"] = HDF5Dataset(shape: [2], values: .int64([3, 0][...]))
        }
      ),
    ]
    for (expected, edit) in cases {
      let reason = try readError(edit)
      XCTAssertTrue(reason.hasPrefix(expected), "expected \(expected), got \(reason)")
    }
    let units = try readError {
      $0.groups["model"]?.groups["layer_0"]?.attributes["units"] = .integer(Int.max / 2)
    }
    XCTAssertTrue(units.contains("at most 2⁴⁰ weights (inputs × units), found 3 × \(Int.max / 2)"), units)
  }

  func testUnknownNamesInAFileAreErrorsNamingTheAttribute() throws {
    let cases: [(String, (inout HDF5Node) -> Void)] = [
      (
        "/model/layer_1@activation: unknown activation \"swish\"",
        { $0.groups["model"]?.groups["layer_1"]?.attributes["activation"] = .string("swish") }
      ),
      (
        "/model/layer_0@kind: unknown layer kind \"conv3d\" (this build knows dense, conv2d, max_pool2d, avg_pool2d, global_avg_pool2d, global_max_pool2d, flatten, dropout, add, concatenate, activation, batch_norm)",
        { $0.groups["model"]?.groups["layer_0"]?.attributes["kind"] = .string("conv3d") }
      ),
      (
        "/optimizer@kind: unknown optimizer \"lion\"",
        { $0.groups["optimizer"]?.attributes["kind"] = .string("lion") }
      ),
      (
        "/data/features@scaling: unknown scaling \"robust\"",
        { $0.groups["data"]?.groups["features"]?.attributes["scaling"] = .string("robust") }
      ),
      (
        "/data@task: unknown task \"ranking\"", { $0.groups["data"]?.attributes["task"] = .string("ranking") }
      ),
      (
        "/model/layer_1@inputs: expected 4 (the previous layer's outputs [4]), found 5",
        { $0.groups["model"]?.groups["layer_1"]?.attributes["inputs"] = .integer(5) }
      ),
      (
        "/model/layer_0/weights: has shape [4, 3], expected [3, 4]",
        { tree in
          let values = tree.groups["model"]?.groups["layer_0"]?.datasets["weights"]?.values
          tree.groups["model"]?.groups["layer_0"]?.datasets["weights"] = values.map {
            HDF5Dataset(shape: [4, 3], values: $0)
          }
        }
      ),
      ("/state@epoch_samples: missing attribute", { $0.groups["state"]?.attributes["epoch_samples"] = nil }),
    ]
    for (expected, edit) in cases {
      let reason = try readError(edit)
      XCTAssertTrue(reason.hasPrefix(expected), "expected \(expected), got \(reason)")
    }
  }

  /// Counters in range and consistent with each other, histories, labels and bias flags (issue 23).
  func testCountersAndRelationsBetweenFieldsAreChecked() throws {
    func history(_ name: String, _ count: Int) -> (inout HDF5Node) -> Void {
      {
        $0.groups["history"]?.datasets[name] = HDF5Dataset(
          shape: [count], values: .float64(ArraySlice(repeating: 0.5, count: count)))
      }
    }
    let range = "expected an integer in 0...2⁵³−1 (9007199254740991)"
    let cases: [(String, (inout HDF5Node) -> Void)] = [
      ("/@step: \(range), found \(Int.max)", { $0.attributes["step"] = .integer(Int.max) }),
      ("/@epoch: \(range), found \(Int.max)", { $0.attributes["epoch"] = .integer(Int.max) }),
      (
        "/@batch_in_epoch: \(range), found \(1 << 62)",
        { $0.attributes["batch_in_epoch"] = .integer(1 << 62) }
      ),
      ("/@samples_seen: \(range), found -1", { $0.attributes["samples_seen"] = .integer(-1) }),
      ("/@step: \(range), found \(1 << 53)", { $0.attributes["step"] = .integer(1 << 53) }),
      (
        "/optimizer@step: \(range), found \(Int.min)",
        { $0.groups["optimizer"]?.attributes["step"] = .integer(Int.min) }
      ),
      (
        "/state@best_epoch: \(range), found \(1 << 62)",
        { $0.groups["state"]?.attributes["best_epoch"] = .integer(1 << 62) }
      ),
      (
        "/optimizer@step: expected 10 (one update per step, /@step), found 11",
        { $0.groups["optimizer"]?.attributes["step"] = .integer(11) }
      ),
      (
        "/@step: expected at least 11 (/@epoch 10 + /@batch_in_epoch 1: every epoch takes a step), found 10",
        { $0.attributes["epoch"] = .integer(10) }
      ),
      (
        "/@samples_seen: expected at least 10 (one row per step, /@step), found 9",
        { $0.attributes["samples_seen"] = .integer(9) }
      ),
      (
        "/state@epoch_samples: expected 1...123 (at least one row per batch of the epoch",
        { $0.groups["state"]?.attributes["epoch_samples"] = .integer(124) }
      ),
      (
        "/state@epoch_samples: expected 0 and /state@epoch_loss_sum 0 at an epoch's start (/@batch_in_epoch 0), found 12 and 1.5",
        { $0.attributes["batch_in_epoch"] = .integer(0) }
      ),
      ("/history/loss: expected 10 values (one per step, /@step), found 9", history("loss", 9)),
      ("/history/loss: expected 10 values (one per step, /@step), found 11", history("loss", 11)),
      ("/history/train_loss: expected 2 values (one per epoch, /@epoch), found 1", history("train_loss", 1)),
      (
        "/history/val_accuracy: expected 2 values (one per epoch, /@epoch), found 3",
        history("val_accuracy", 3)
      ),
      ("/history/val_loss: expected 2 values (one per epoch, /@epoch), found 1", history("val_loss", 1)),
      (
        "/state@best_epoch: expected an epoch in 1...2 (/@epoch), found 3",
        { $0.groups["state"]?.attributes["best_epoch"] = .integer(3) }
      ),
      (
        "/state@stale_epochs: expected at most 1 (epochs since /state@best_epoch 1), found 2",
        { $0.groups["state"]?.attributes["stale_epochs"] = .integer(2) }
      ),
      (
        "/data@labels: expected distinct labels, found \"x\" at indices 0 and 1",
        { $0.groups["data"]?.attributes["labels"] = .string("[\"x\",\"x\"]") }
      ),
      (
        "/data@labels: expected non-empty labels, found an empty label at index 0",
        { $0.groups["data"]?.attributes["labels"] = .string("[\"\"]") }
      ),
      (
        "/data@target_names: not a JSON array of strings",
        { $0.groups["data"]?.attributes["target_names"] = .string("price") }
      ),
      (
        "/model/layer_1@bias: expected 1 (/model/layer_1/biases holds the layer's biases), found 0",
        { $0.groups["model"]?.groups["layer_1"]?.attributes["bias"] = .integer(0) }
      ),
      (
        "/model/layer_1@bias: expected 0 (/@config gives layer_1 bias false), found 1",
        {
          $0.attributes["config"] = .string(
            #"{"model": {"layers": [{"units": 4}, {"type": "dense", "units": 2, "bias": false}]}}"#)
        }
      ),
      (
        "/model/layer_0@bias: expected 0 (/@config gives layer_0 bias false), found 1",
        {
          $0.attributes["config"] = .string(
            #"{"model": {"bias": false, "layers": [{"units": 4}, {"units": 2, "bias": true}]}}"#)
        }
      ),
      (
        "/@config: expected 2 dense and conv2d layers (as /model holds), found 1 in $.model.layers",
        { $0.attributes["config"] = .string(#"{"model": {"layers": [{"units": 2}, {"type": "dropout"}]}}"#) }
      ),
    ]
    for (expected, edit) in cases {
      let reason = try readError(edit)
      XCTAssertTrue(reason.hasPrefix(expected), "expected \(expected), got \(reason)")
    }
    // The sample itself is consistent, and so is a config that agrees with its layers.
    let dir = TemporaryDirectory()
    var tree = try Self.sample().encode()
    tree.attributes["config"] = .string(
      #"{"model": {"bias": false, "layers": [{"units": 4, "bias": true}, {"units": 2, "bias": true}]}}"#)
    Checkpoint.seal(&tree)
    try Self.write(tree, to: dir.file("agrees.h5"))
    XCTAssertEqual(try Checkpoint.read(from: dir.file("agrees.h5")).counters.step, 10)
  }

  /// A residual block's projection shortcut (Config+Residual.swift) is in the config only by rule:
  /// the bias check finds it by its place (an add's second input) and holds it to that rule.
  func testTheBiasCheckKnowsResidualBlocksAndTheirProjection() throws {
    func read(
      _ specs: [any LayerSpec], inputs: [[Int]], config: String
    ) throws -> Result<Checkpoint, Error> {
      let dir = TemporaryDirectory()
      var c = try Self.sample()
      c.architecture = try Architecture(input: [3], layers: specs, inputs: inputs)
      c.parameters = (0..<c.architecture.parameterCount).map { Float($0) * 0.01 }
      c.optimizer = OptimizerSnapshot(
        settings: OptimizerSettings(kind: .sgd, learningRate: 0.1), step: c.counters.step, slots: [])
      c.config = config
      try c.write(to: dir.file("r.h5"))
      return Result { try Checkpoint.read(from: dir.file("r.h5")) }
    }
    let block = #"{"model": {"layers": [{"units": 4}, {"type": "residual", "layers": [{"units": UNITS}]}]}}"#
    let projected: [[Int]] = [[-1], [0], [0], [1, 2]]
    func projection(bias: Bool) -> [any LayerSpec] {
      [
        Dense.Spec(units: 4, activation: .linear), Dense.Spec(units: 5, activation: .linear),
        Dense.Spec(units: 5, activation: .linear, bias: bias), Add.Spec(),
      ]
    }
    let five = block.replacingOccurrences(of: "UNITS", with: "5")
    XCTAssertNoThrow(try read(projection(bias: true), inputs: projected, config: five).get())
    XCTAssertThrowsError(try read(projection(bias: false), inputs: projected, config: five).get()) { error in
      XCTAssertTrue(
        "\(error)".contains("/model/layer_2@bias: expected 1 (/@config gives layer_2 bias true), found 0"),
        "\(error)")
    }
    // An identity shortcut stores no layer; the block's own layers are checked as any.
    let identity: [any LayerSpec] = [
      Dense.Spec(units: 4, activation: .linear), Dense.Spec(units: 4, activation: .linear, bias: false),
      Add.Spec(),
    ]
    let four = block.replacingOccurrences(of: "UNITS", with: "4")
    XCTAssertThrowsError(try read(identity, inputs: [[-1], [0], [1, 0]], config: four).get()) { error in
      XCTAssertTrue("\(error)".contains("/model/layer_1@bias: expected 1"), "\(error)")
    }
    let unbiased = four.replacingOccurrences(of: #"{"units": 4}]"#, with: #"{"units": 4, "bias": false}]"#)
    XCTAssertNoThrow(try read(identity, inputs: [[-1], [0], [1, 0]], config: unbiased).get())
  }

  func testRequiredFeaturesThisBuildDoesNotKnowAreRefusedByName() throws {
    let reason = try readError { $0.attributes["requires"] = .string("bf16_master_weights") }
    XCTAssertEqual(
      reason,
      "/@requires: the file requires \"bf16_master_weights\", which this build does not support; use a newer nnbatch"
    )
  }

  func testUnknownOptionalEntriesAreSkippedButCoveredByTheChecksum() throws {
    let dir = TemporaryDirectory()
    let original = try Self.sample()
    var tree = original.encode()
    // What a later version might add without a version bump.
    tree.groups["model"]?.groups["layer_0"]?.attributes["kernel_library"] = .string("onednn")
    tree.groups["model"]?.groups["layer_0"]?.datasets["weights_bf16"] = HDF5Dataset(
      shape: [2], values: .uint64([7, 8]))
    var provenance = HDF5Node()
    provenance.attributes["cpu_features"] = .string("avx512_bf16")
    provenance.datasets["timings"] = HDF5Dataset(shape: [3], values: .float64([1, 2, 3]))
    tree.groups["provenance"] = provenance
    var stale = tree
    Checkpoint.seal(&tree)
    try Self.write(tree, to: dir.file("extended.h5"))
    XCTAssertEqual(try Checkpoint.read(from: dir.file("extended.h5")), original)

    // The same extra entries with the checksum of the file without them: refused.
    stale.attributes["content_checksum"] = original.encode().attributes["content_checksum"]
    try Self.write(stale, to: dir.file("stale.h5"))
    XCTAssertThrowsError(try Checkpoint.read(from: dir.file("stale.h5"))) { error in
      XCTAssertTrue("\(error)".contains("content checksum mismatch"), "\(error)")
    }
    // And any change of an unknown entry's value.
    tree.groups["provenance"]?.attributes["cpu_features"] = .string("avx2")
    try Self.write(tree, to: dir.file("changed.h5"))
    XCTAssertThrowsError(try Checkpoint.read(from: dir.file("changed.h5"))) { error in
      XCTAssertTrue("\(error)".contains("content checksum mismatch"), "\(error)")
    }
  }

  func testANewerFormatIsNeverSkippedForAnOlderCheckpoint() throws {
    let dir = TemporaryDirectory()
    let store = CheckpointStore(directory: dir.path)
    try store.save(Self.sample(step: 10))
    // Step 20 written by a newer nnbatch: resuming from step 10 would later
    // retire it, so the store refuses instead of skipping it.
    var newer = try Self.sample(step: 20).encode()
    newer.attributes["format_version"] = .integer(3)
    Checkpoint.seal(&newer)
    try Self.write(newer, to: dir.file(CheckpointStore.fileName(step: 20)))
    XCTAssertThrowsError(try store.newestValid()) { error in
      let error = error as? CheckpointError
      XCTAssertEqual(error?.isNewerFormat, true)
      XCTAssertEqual(
        error?.reason, "format version 3 is newer than this build reads (1...2); use a newer nnbatch")
    }
    var requiring = try Self.sample(step: 20).encode()
    requiring.attributes["requires"] = .string("bf16")
    Checkpoint.seal(&requiring)
    try Self.write(requiring, to: dir.file(CheckpointStore.fileName(step: 20)))
    XCTAssertThrowsError(try store.newestValid()) { error in
      XCTAssertEqual((error as? CheckpointError)?.isNewerFormat, true, "\(error)")
    }
    // A damaged newest file is skipped as before.
    try truncate(dir.file(CheckpointStore.fileName(step: 20)), to: 100)
    XCTAssertEqual(try store.newestValid()?.checkpoint.counters.step, 10)
  }

  func testAllDamagedMeansAClearError() throws {
    let dir = TemporaryDirectory()
    let store = CheckpointStore(directory: dir.path)
    let only = try store.save(Self.sample(step: 10))
    try truncate(only, to: 100)
    XCTAssertThrowsError(try store.newestValid()) { error in
      XCTAssertTrue("\(error)".contains("no checkpoint verifies"), "\(error)")
      XCTAssertTrue("\(error)".contains("too short (100 bytes) for a checkpoint"), "\(error)")
    }
    XCTAssertNil(try CheckpointStore(directory: dir.file("empty")).newestValid())
  }

  func testFailedSaveRemovesTheTemporaryFileAndKeepsOldCheckpoints() throws {
    let dir = TemporaryDirectory()
    let store = CheckpointStore(directory: dir.path)
    try store.save(Self.sample(step: 10))
    // A folder where the destination file should be makes the rename fail.
    try FileManager.default.createDirectory(
      atPath: dir.file("step-000000020.h5/x"), withIntermediateDirectories: true)
    XCTAssertThrowsError(try store.save(Self.sample(step: 20))) { error in
      XCTAssertTrue(error is FileSystemError, "\(error)")
      XCTAssertTrue("\(error)".contains("rename"), "\(error)")
    }
    XCTAssertFalse(try FileSystem.list(dir.path).contains { $0.hasSuffix(".tmp") })
    XCTAssertEqual(try Checkpoint.read(from: dir.file("step-000000010.h5")).counters.step, 10)
  }
}
