import NeuralNet
import Parallel
import XCTest

/// The shard plan, the reducer and the determinism contract (DESIGN.md §4).
final class DataParallelEngineTests: XCTestCase {
  override func setUp() {
    BLASThreads.useSingleThread()
  }

  /// A classification problem big enough that steps take the parallel path.
  private func problem(samples: Int = 600, features: Int = 64, classes: Int = 5, seed: UInt64 = 11) -> Dataset
  {
    var g = SeededGenerator(seed: seed)
    let x = Matrix(rows: samples, columns: features)
    let t = Matrix(rows: samples, columns: 1)
    for i in 0..<(samples * features) { x.storage.pointer[i] = g.nextFloat() }
    for r in 0..<samples { t[r, 0] = Float(g.nextIndex(below: classes)) }
    return Dataset(inputs: x, targets: t)
  }

  private func architecture(features: Int = 64, classes: Int = 5) throws -> Architecture {
    try Architecture(
      input: [features],
      layers: [
        Dense.Spec(units: 128, activation: .relu), Dense.Spec(units: 96, activation: .tanh),
        Dense.Spec(units: classes, activation: .softmax),
      ])
  }

  /// Trains `epochs` epochs with shuffling and returns parameters, optimizer state and losses.
  private func train(
    threads: Int, batch: Int = 128, shard: Int = 32, epochs: Int = 2, settings: OptimizerSettings,
    data: Dataset, loss: Loss = .crossEntropy
  ) throws -> (FloatBuffer, OptimizerState, [Double]) {
    let arch = try architecture()
    let network = Network(architecture: arch, loss: loss)
    let parameters = FloatBuffer(count: arch.parameterCount)
    var generator = SeededGenerator(seed: 5)
    Initializer.heUniform.initialize(parameters, for: arch, using: &generator)
    let optimizer = OptimizerState(settings: settings, parameterCount: arch.parameterCount)
    let engine = DataParallelEngine(
      network: network, plan: ShardPlan(batchSize: batch, shardSize: shard), threads: threads,
      targetColumns: data.targetColumns)
    var losses: [Double] = []
    var order = Array(0..<data.count)
    for _ in 0..<epochs {
      generator.shuffle(&order)
      var start = 0
      while start < data.count {
        let end = min(start + batch, data.count)
        let outcome = engine.step(
          parameters: parameters, optimizer: optimizer, data: data, indices: order[start..<end],
          learningRate: settings.learningRate)
        XCTAssertTrue(outcome.isFinite)
        losses.append(outcome.loss)
        start = end
      }
    }
    return (parameters, optimizer, losses)
  }

  func testResultsAreBitIdenticalForAnyThreadCount() throws {
    let data = problem()
    for settings in [
      OptimizerSettings(kind: .sgd, learningRate: 0.05, momentum: 0.9, nesterov: true),
      OptimizerSettings(kind: .adamw, learningRate: 0.001, clipNorm: 0.5),
    ] {
      let (p1, o1, l1) = try train(threads: 1, settings: settings, data: data)
      XCTAssertLessThan(l1.last!, l1.first!, "the loss falls")
      for threads in [2, 3, 8, 64] {
        let (p, o, l) = try train(threads: threads, settings: settings, data: data)
        XCTAssertTrue(p.bitwiseEqual(p1), "parameters, threads \(threads), \(settings.kind)")
        for (a, b) in zip(o.slots, o1.slots) {
          XCTAssertTrue(a.bitwiseEqual(b), "optimizer state, threads \(threads)")
        }
        XCTAssertEqual(l.map(\.bitPattern), l1.map(\.bitPattern), "loss history, threads \(threads)")
      }
    }
  }

  func testReducedGradientEqualsFullBatchGradient() throws {
    let data = problem(samples: 200)
    let arch = try architecture()
    for loss in [Loss.crossEntropy, .sse] {
      let network = Network(architecture: arch, loss: loss)
      let parameters = FloatBuffer(count: arch.parameterCount)
      var generator = SeededGenerator(seed: 8)
      Initializer.xavierUniform.initialize(parameters, for: arch, using: &generator)
      let targets: Dataset
      if loss == .sse {
        // Squared error needs one target per output: one-hot rows.
        let t = Matrix(rows: data.count, columns: 5)
        for r in 0..<data.count { t[r, Int(data.targets[r, 0])] = 1 }
        targets = Dataset(inputs: data.inputs, targets: t)
      } else {
        targets = data
      }
      let rows = 200
      // One shard of the whole batch, straight from the network:
      let workspace = Workspace(architecture: arch, capacity: rows, targetColumns: targets.targetColumns)
      let full = FloatBuffer(count: arch.parameterCount)
      let lossSum = network.lossAndGradient(
        parameters: parameters.pointer, input: targets.inputs.storage.pointer,
        targets: targets.targets.storage.pointer, targetColumns: targets.targetColumns, rows: rows,
        workspace: workspace, gradient: full.pointer)
      // Seven shards of 32 (the last one short), reduced. lr 0 leaves parameters alone.
      let engine = DataParallelEngine(
        network: network, plan: ShardPlan(batchSize: rows, shardSize: 32), threads: 2,
        targetColumns: targets.targetColumns)
      let optimizer = OptimizerState(
        settings: OptimizerSettings(kind: .sgd, learningRate: 0), parameterCount: arch.parameterCount)
      let outcome = engine.step(
        parameters: parameters, optimizer: optimizer, data: targets, indices: Array(0..<rows)[...],
        learningRate: 0)
      let scale = loss.reduction == .mean ? 1 / Float(rows) : 1
      XCTAssertEqual(outcome.loss, lossSum * Double(scale), accuracy: 1e-6 * max(1, lossSum))
      var worst: Float = 0
      for i in 0..<arch.parameterCount {
        let expected = full[i] * scale
        worst = max(worst, abs(engine.gradient[i] - expected) / max(1e-3, abs(expected)))
      }
      XCTAssertLessThan(worst, 1e-3, "\(loss)")
    }
  }

  func testShortLastBatchAndPlan() throws {
    let plan = ShardPlan(batchSize: 100, shardSize: 32)
    XCTAssertEqual(plan.maxShards, 4)
    XCTAssertEqual(plan.shardCount(rows: 33), 2)
    XCTAssertEqual(plan.rows(ofShard: 3, inBatchOf: 100), 96..<100)
    // 600 samples in batches of 128: the last batch has 88 rows; all threads agree.
    let data = problem()
    let settings = OptimizerSettings(kind: .sgd, learningRate: 0.05)
    let (a, _, la) = try train(threads: 1, batch: 128, shard: 32, epochs: 1, settings: settings, data: data)
    let (b, _, lb) = try train(threads: 5, batch: 128, shard: 32, epochs: 1, settings: settings, data: data)
    XCTAssertEqual(la.count, 5)
    XCTAssertTrue(a.bitwiseEqual(b))
    XCTAssertEqual(la, lb)
  }

  func testNonFiniteLossLeavesParametersUntouched() throws {
    let data = problem(samples: 64)
    data.inputs[3, 2] = .nan
    let arch = try architecture()
    let network = Network(architecture: arch, loss: .crossEntropy)
    let parameters = FloatBuffer(count: arch.parameterCount)
    var generator = SeededGenerator(seed: 1)
    Initializer.heUniform.initialize(parameters, for: arch, using: &generator)
    let before = FloatBuffer(parameters.array)
    let engine = DataParallelEngine(
      network: network, plan: ShardPlan(batchSize: 64, shardSize: 16), threads: 2, targetColumns: 1)
    let outcome = engine.step(
      parameters: parameters,
      optimizer: OptimizerState(
        settings: OptimizerSettings(kind: .sgd, learningRate: 0.1), parameterCount: arch.parameterCount),
      data: data, indices: Array(0..<64)[...], learningRate: 0.1)
    XCTAssertFalse(outcome.isFinite)
    XCTAssertTrue(parameters.bitwiseEqual(before))
  }

  func testEvaluationIsDeterministicAcrossThreads() throws {
    let data = problem()
    let arch = try architecture()
    let network = Network(architecture: arch, loss: .crossEntropy)
    let parameters = FloatBuffer(count: arch.parameterCount)
    var generator = SeededGenerator(seed: 2)
    Initializer.heUniform.initialize(parameters, for: arch, using: &generator)
    let sums = [1, 2, 7].map { threads in
      DataParallelEngine(
        network: network, plan: ShardPlan(batchSize: 128, shardSize: 32), threads: threads, targetColumns: 1
      ).evaluate(parameters: parameters, data: data)
    }
    XCTAssertEqual(sums[0], sums[1])
    XCTAssertEqual(sums[0], sums[2])
    XCTAssertEqual(sums[0].samples, 600)
  }
}
