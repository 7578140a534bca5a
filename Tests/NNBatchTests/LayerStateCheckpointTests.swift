import HDF5Store
import NeuralNet
import Parallel
import TestSupport
import XCTest

@testable import Checkpoints
@testable import NNBatch

/// Layer state in checkpoints: saved and read bitwise, required by name, resumed bitwise, shown by inspect.
final class LayerStateCheckpointTests: XCTestCase {
  override func setUp() {
    LayerKinds.register(RunningMean.Spec.declaration)
  }

  override func tearDown() {
    LayerKinds.unregister(name: RunningMean.Spec.kind)
  }

  /// 3 → dense 8 relu → running mean (state 40 ..< 48) → dense 2 softmax: 58 parameters.
  private func architecture() throws -> Architecture {
    try Architecture(
      input: [3],
      layers: [
        Dense.Spec(units: 8, activation: .relu), RunningMean.Spec(momentum: 0.25),
        Dense.Spec(units: 2, activation: .softmax),
      ])
  }

  private func data() -> Dataset {
    var g = SeededGenerator(seed: 4)
    let x = Matrix(rows: 48, columns: 3)
    let t = Matrix(rows: 48, columns: 1)
    for i in 0..<(48 * 3) { x.storage.pointer[i] = g.nextFloat() * 4 - 1 }
    for r in 0..<48 { t[r, 0] = Float(g.nextIndex(below: 2)) }
    return Dataset(inputs: x, targets: t)
  }

  private let settings = OptimizerSettings(kind: .adam, learningRate: 0.01, weightDecay: 0.05)

  private func engine() throws -> DataParallelEngine {
    DataParallelEngine(
      network: Network(architecture: try architecture(), loss: .crossEntropy),
      plan: ShardPlan(batchSize: 12, shardSize: 5), threads: 2, targetColumns: 1, optimizer: settings)
  }

  /// Steps `steps` of batches 12 rows long, from batch `first` on.
  private func train(_ engine: DataParallelEngine, _ parameters: FloatBuffer, batches: Range<Int>) {
    let data = data()
    for b in batches {
      let start = (b * 12) % 48
      XCTAssertTrue(
        engine.step(
          parameters: parameters, data: data, indices: Array(start..<(start + 12))[...], learningRate: 0.01
        ).isFinite)
    }
  }

  private func checkpoint(
    _ architecture: Architecture, parameters: [Float], optimizer: OptimizerState, step: Int
  ) throws -> Checkpoint {
    Checkpoint(
      nnbatchVersion: "test", created: "2026-01-01T00:00:00Z", config: "{\"name\": \"state\"}",
      counters: RunCounters(
        step: step, epoch: 0, batchInEpoch: step, samplesSeen: 12 * step, epochLossSum: 1,
        epochSamples: 12 * step,
        best: nil),
      architecture: architecture, parameters: parameters,
      optimizer: OptimizerSnapshot(
        settings: optimizer.settings, step: optimizer.step, slots: optimizer.slots.map(\.array)),
      generator: SeededGenerator(seed: 1), epochGenerator: SeededGenerator(seed: 2),
      lossHistory: (0..<step).map { Double($0) }, epochHistory: EpochHistory(series: [:]),
      data: DataFacts(task: .classification, labels: ["a", "b"], features: .identity, targets: .identity))
  }

  /// A checkpoint after `steps` steps of training, and its file.
  private func saved(steps: Int, in dir: TemporaryDirectory) throws -> (Checkpoint, String) {
    let engine = try engine()
    let architecture = engine.network.architecture
    let parameters = FloatBuffer(count: architecture.parameterCount)
    var generator = SeededGenerator(seed: 8)
    Initializer.heUniform.initialize(parameters, for: architecture, using: &generator)
    train(engine, parameters, batches: 0..<steps)
    let original = try checkpoint(
      architecture, parameters: parameters.array, optimizer: try XCTUnwrap(engine.optimizerState()),
      step: steps)
    let path = dir.file("state.h5")
    try original.write(to: path)
    return (original, path)
  }

  func testStateIsSavedAndReadBitwiseAndRequiredByName() throws {
    let dir = TemporaryDirectory()
    let (original, path) = try saved(steps: 3, in: dir)
    let state = original.parameters[32..<40]
    XCTAssertFalse(state.allSatisfy { $0 == 0.5 }, "the state moved during training")

    let tree = original.encode()
    XCTAssertEqual(tree.attributes["requires"], .string("layer_state"))
    XCTAssertEqual(tree.groups["model"]?.groups["layer_1"]?.attributes["state"], .string("mean"))
    XCTAssertNil(tree.groups["model"]?.groups["layer_0"]?.attributes["state"], "no state, no attribute")
    XCTAssertTrue(Checkpoint.understoodRequirements.contains("layer_state"))

    let read = try Checkpoint.read(from: path)
    XCTAssertEqual(read.parameters.map(\.bitPattern), original.parameters.map(\.bitPattern))
    XCTAssertEqual(read.optimizer, original.optimizer)
    XCTAssertEqual(try Checkpoint.read(from: path).bitwiseDifferences(from: original), [])

    // h5dump sees the state as a float32 dataset of the layer.
    let h5dump = try XCTUnwrap(tool("h5dump"))
    let dump = try runProcess(h5dump, ["-m", "%.9g", "-d", "/model/layer_1/mean", path])
    XCTAssertEqual(dump.status, 0, dump.stderr)
    XCTAssertEqual(h5dumpValues(dump.stdout).map { Float($0) }, Array(state))
  }

  func testAFileThatHidesItsStateIsRefused() throws {
    let dir = TemporaryDirectory()
    let (original, _) = try saved(steps: 1, in: dir)
    func reason(_ edit: (inout HDF5Node) -> Void) throws -> String {
      var tree = original.encode()
      edit(&tree)
      Checkpoint.seal(&tree)
      try FileSystem.writeOutput(dir.file("edited.h5"), bytes: Checkpoint.fileImage(tree, name: "edited.h5"))
      do {
        _ = try Checkpoint.read(from: dir.file("edited.h5"))
      } catch {
        return error.reason
      }
      XCTFail("an edited file was accepted")
      return ""
    }
    // An older build lists no "layer_state" in what it understands: it refuses the file by this name.
    XCTAssertEqual(
      try reason { $0.attributes["requires"] = .string("") },
      "/@requires: expected \"layer_state\" (the model has layer state), found \"\"")
    XCTAssertEqual(
      try reason { $0.groups["model"]?.groups["layer_1"]?.attributes["state"] = nil },
      "/model/layer_1@state: expected \"mean\" (the running_mean layer's state tensors), found \"\"")
    XCTAssertEqual(
      try reason { $0.groups["model"]?.groups["layer_0"]?.attributes["state"] = .string("weights") },
      "/model/layer_0@state: expected \"\" (the dense layer's state tensors), found \"weights\"")
  }

  func testResumeFromACheckpointContinuesBitwise() throws {
    let dir = TemporaryDirectory()
    let (_, path) = try saved(steps: 3, in: dir)
    // Straight through: 6 steps.
    let straight = try engine()
    let architecture = straight.network.architecture
    let expected = FloatBuffer(count: architecture.parameterCount)
    var generator = SeededGenerator(seed: 8)
    Initializer.heUniform.initialize(expected, for: architecture, using: &generator)
    train(straight, expected, batches: 0..<6)
    // Resumed: the file's parameters, state and optimizer, then steps 4 to 6.
    let file = try Checkpoint.read(from: path)
    let resumed = try engine()
    resumed.restoreOptimizer(
      OptimizerState(
        settings: file.optimizer.settings, step: file.optimizer.step,
        slots: file.optimizer.slots.map { FloatBuffer($0) }))
    let parameters = FloatBuffer(file.parameters)
    train(resumed, parameters, batches: 3..<6)
    XCTAssertTrue(parameters.bitwiseEqual(expected), "parameters and state")
    let a = try XCTUnwrap(resumed.optimizerState())
    let b = try XCTUnwrap(straight.optimizerState())
    XCTAssertEqual(a.step, b.step)
    for (x, y) in zip(a.slots, b.slots) {
      XCTAssertTrue(x.bitwiseEqual(y), "optimizer slots")
      XCTAssertEqual(x.array[32..<40], [0, 0, 0, 0, 0, 0, 0, 0], "slots of state untouched")
    }
  }

  func testInspectCountsTrainableAndNonTrainableParameters() throws {
    let table = Inspect.summaryTable(try architecture())
    XCTAssertEqual(table.last?.hasPrefix("  total "), true, table.joined(separator: "\n"))
    XCTAssertEqual(
      table.last?.hasSuffix(" 58  50 trainable, 8 non-trainable (layer state)"), true,
      table.joined(separator: "\n"))
    XCTAssertTrue(
      table.contains { $0.hasPrefix("  layer_1  running_mean  [8]") && $0.contains(" 8  momentum 0.25") })
    let plain = try Architecture(input: [3], layers: [Dense.Spec(units: 2, activation: .softmax)])
    XCTAssertEqual(Inspect.summaryTable(plain).last?.hasSuffix("all trainable"), true)
    XCTAssertEqual(Inspect.trainableCounts(plain).count, 0, "no new JSON keys without state")
    let counts = Inspect.trainableCounts(try architecture())
    XCTAssertEqual(counts["trainable_parameters"] as? Int, 50)
    XCTAssertEqual(counts["non_trainable_parameters"] as? Int, 8)
  }
}
