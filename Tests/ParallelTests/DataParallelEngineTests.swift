import NeuralNet
import Parallel
import XCTest

/// The shard plan, the reducer and the determinism contract (DESIGN.md §4).
final class DataParallelEngineTests: XCTestCase {
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
    data: Dataset, loss: Loss = .crossEntropy, precision: Precision = .f32
  ) throws -> (FloatBuffer, OptimizerState, [Double]) {
    let arch = try architecture()
    let network = Network(architecture: arch, loss: loss)
    let parameters = FloatBuffer(count: arch.parameterCount)
    var generator = SeededGenerator(seed: 5)
    Initializer.heUniform.initialize(parameters, for: arch, using: &generator)
    let engine = DataParallelEngine(
      network: network, plan: ShardPlan(batchSize: batch, shardSize: shard), threads: threads,
      targetColumns: data.targetColumns, optimizer: settings, precision: precision)
    let optimizer = try XCTUnwrap(engine.optimizerState())
    var losses: [Double] = []
    var order = Array(0..<data.count)
    for _ in 0..<epochs {
      generator.shuffle(&order)
      var start = 0
      while start < data.count {
        let end = min(start + batch, data.count)
        let outcome = engine.step(
          parameters: parameters, data: data, indices: order[start..<end],
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
      OptimizerSettings(kind: .sgd, learningRate: 0.05, ["momentum": 0.9, "nesterov": true]),
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

  /// bf16 mixed precision keeps the contract: the same bits for any thread count.
  func testBF16ResultsAreBitIdenticalForAnyThreadCountAndCloseToF32() throws {
    let data = problem()
    let settings = OptimizerSettings(kind: .adam, learningRate: 0.002)
    let (p1, o1, l1) = try train(threads: 1, settings: settings, data: data, precision: .bf16)
    for threads in [3, 8] {
      let (p, o, l) = try train(threads: threads, settings: settings, data: data, precision: .bf16)
      XCTAssertTrue(p.bitwiseEqual(p1), "parameters, threads \(threads)")
      for (a, b) in zip(o.slots, o1.slots) {
        XCTAssertTrue(a.bitwiseEqual(b), "optimizer state, threads \(threads)")
      }
      XCTAssertEqual(l.map(\.bitPattern), l1.map(\.bitPattern), "loss history, threads \(threads)")
    }
    // bf16 products really ran (other bits than f32), and train about as well.
    let (f32, _, lf) = try train(threads: 1, settings: settings, data: data)
    XCTAssertFalse(f32.bitwiseEqual(p1))
    XCTAssertLessThan(l1.last!, l1.first!, "the loss falls")
    XCTAssertEqual(l1.last!, lf.last!, accuracy: 0.02 * lf.last!)
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
        targetColumns: targets.targetColumns, optimizer: OptimizerSettings(kind: .sgd, learningRate: 0))
      let outcome = engine.step(
        parameters: parameters, data: targets, indices: Array(0..<rows)[...],
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
      network: network, plan: ShardPlan(batchSize: 64, shardSize: 16), threads: 2, targetColumns: 1,
      optimizer: OptimizerSettings(kind: .sgd, learningRate: 0.1))
    let outcome = engine.step(
      parameters: parameters, data: data, indices: Array(0..<64)[...], learningRate: 0.1)
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
  /// A network of four reducer chunks, so chunks are spread unevenly over three workers.
  private func wideArchitecture() throws -> Architecture {
    try Architecture(
      input: [64],
      layers: [
        Dense.Spec(units: 256, activation: .relu), Dense.Spec(units: 128, activation: .tanh),
        Dense.Spec(units: 5, activation: .softmax),
      ])
  }

  func testPhasesCalledOneByOneGiveTheBitsOfStep() throws {
    let data = problem()
    let arch = try wideArchitecture()
    XCTAssertEqual(ChunkPlan(parameterCount: arch.parameterCount).count, 4)
    for settings in [
      OptimizerSettings(kind: .sgd, learningRate: 0.05, ["momentum": 0.9]),
      OptimizerSettings(kind: .adamw, learningRate: 0.001, clipNorm: 0.5),
    ] {
      var runs: [(FloatBuffer, OptimizerState, [UInt64])] = []
      for (threads, phased) in [(1, false), (1, true), (3, false), (3, true)] {
        let network = Network(architecture: arch, loss: .crossEntropy)
        let parameters = FloatBuffer(count: arch.parameterCount)
        var generator = SeededGenerator(seed: 21)
        Initializer.heUniform.initialize(parameters, for: arch, using: &generator)
        let engine: any TrainingEngine = DataParallelEngine(
          network: network, plan: ShardPlan(batchSize: 128, shardSize: 32), threads: threads,
          targetColumns: 1, optimizer: settings)
        let optimizer = try XCTUnwrap(engine.optimizerState())
        var bits: [UInt64] = []
        var start = 0
        while start < data.count {
          let indices = Array(0..<data.count)[start..<min(start + 128, data.count)]
          if phased {
            let batch = engine.compute(parameters: parameters, data: data, indices: indices)
            XCTAssertTrue(batch.loss.isFinite)
            let gradient = engine.reduce(batch)
            XCTAssertTrue(gradient.isFinite)
            engine.apply(gradient, parameters: parameters, learningRate: 0.001)
            bits += [batch.loss.bitPattern, gradient.norm.bitPattern]
          } else {
            let outcome = engine.step(
              parameters: parameters, data: data, indices: indices,
              learningRate: 0.001)
            XCTAssertTrue(outcome.isFinite)
            bits += [outcome.loss.bitPattern, outcome.gradientNorm.bitPattern]
          }
          start += 128
        }
        runs.append((parameters, optimizer, bits))
      }
      let (p0, o0, b0) = runs[0]
      XCTAssertEqual(o0.step, 5)
      for (i, (p, o, b)) in runs.enumerated().dropFirst() {
        XCTAssertTrue(p.bitwiseEqual(p0), "parameters, run \(i), \(settings.kind)")
        XCTAssertEqual(o.step, o0.step)
        for (a, c) in zip(o.slots, o0.slots) { XCTAssertTrue(a.bitwiseEqual(c), "slots, run \(i)") }
        XCTAssertEqual(b, b0, "losses and norms, run \(i)")
      }
    }
  }

  func testFiniteLossWithAnInfiniteGradientEntryChangesNothing() throws {
    // One softmax layer on 20,000 features: 40,000 weights in three chunks.
    // The last feature is 3e38 with zero weights, so the outputs and the
    // loss stay finite, but its weight gradients add up past Float's range:
    // the infinite entries sit in the last chunk, after two finite ones.
    let features = 20_000
    let arch = try Architecture(
      input: [features], layers: [Dense.Spec(units: 2, activation: .softmax, bias: false)])
    let chunks = ChunkPlan(parameterCount: arch.parameterCount)
    XCTAssertEqual(chunks.count, 3)
    let x = Matrix(rows: 4, columns: features)
    for r in 0..<4 {
      for i in 0..<(features - 1) { x[r, i] = 1 }
      x[r, features - 1] = 3e38
    }
    let data = Dataset(inputs: x, targets: Matrix(rows: 4, columns: 1))  // every row class 0
    let network = Network(architecture: arch, loss: .crossEntropy)
    for settings in [
      OptimizerSettings(kind: .sgd, learningRate: 0.1, ["momentum": 0.9]),
      OptimizerSettings(kind: .adam, learningRate: 0.01),
      OptimizerSettings(kind: .sgd, learningRate: 0.1, clipNorm: 1),
    ] {
      for threads in [1, 2] {
        let parameters = FloatBuffer(count: arch.parameterCount)
        var generator = SeededGenerator(seed: 4)
        for i in 0..<(parameters.count - 2) { parameters[i] = (generator.nextFloat() - 0.5) * 1e-3 }
        let before = FloatBuffer(parameters.array)
        let engine: any TrainingEngine = DataParallelEngine(
          network: network, plan: ShardPlan(batchSize: 4, shardSize: 2), threads: threads,
          targetColumns: 1, optimizer: settings)
        let optimizer = try XCTUnwrap(engine.optimizerState())
        let outcome = engine.step(
          parameters: parameters, data: data, indices: Array(0..<4)[...],
          learningRate: 0.1)
        XCTAssertTrue(outcome.loss.isFinite, "the loss is finite: \(outcome.loss)")
        XCTAssertFalse(outcome.isFinite)
        XCTAssertFalse(outcome.gradientNorm.isFinite)
        XCTAssertTrue(parameters.bitwiseEqual(before), "parameters, \(settings.kind), threads \(threads)")
        XCTAssertEqual(optimizer.step, 0, "the optimizer's step count")
        for slot in optimizer.slots { XCTAssertTrue(slot.array.allSatisfy { $0 == 0 }, "optimizer slots") }
        // The early chunks did have finite, non-zero gradients that an update would have applied.
        let reduced = (engine as? DataParallelEngine)?.gradient
        XCTAssertTrue(reduced?.array[chunks.range(ofChunk: 0)].allSatisfy { $0.isFinite && $0 != 0 } ?? false)
        XCTAssertTrue(reduced?.array[chunks.range(ofChunk: 2)].contains { $0.isInfinite } ?? false)
      }
    }
  }
}

/// The engine's padded copy of wide dense weights (f32 on AVX2): same bits as the per-call copies, kept fresh by apply.
final class PaddedWeightsTests: XCTestCase {
  private func wideArchitecture() throws -> Architecture {
    try Architecture(
      input: [12],
      layers: [
        Dense.Spec(units: 256, activation: .relu), Dense.Spec(units: 256, activation: .tanh),
        Dense.Spec(units: 3, activation: .softmax),
      ])
  }

  /// Refreshing in uneven ranges (rows cut anywhere) gives the parameters back, row by row.
  func testRefreshByRangesCopiesEveryWeight() throws {
    let arch = try wideArchitecture()
    guard let padded = PaddedWeights.make(for: arch) else {
      throw XCTSkip("this CPU's kernels need no padded rows")
    }
    let parameters = FloatBuffer(count: arch.parameterCount)
    for i in 0..<parameters.count { parameters[i] = Float(i % 9973) - 17 }
    var start = 0
    while start < parameters.count {
      let end = min(start + 1_001, parameters.count)
      padded.refresh(from: parameters.pointer, range: start..<end)
      start = end
    }
    var checked = 0
    for case let dense as Dense in arch.layers where dense.units % 256 == 0 {
      let (w, stride) = try XCTUnwrap(padded.weights(atOffset: dense.weights.offset))
      XCTAssertGreaterThan(stride, dense.units)
      for r in 0..<dense.inputs {
        for j in 0..<dense.units
        where w[r * stride + j] != parameters[dense.weights.offset + r * dense.units + j] {
          return XCTFail("row \(r) column \(j) of the weights at \(dense.weights.offset) differs")
        }
      }
      checked += 1
    }
    XCTAssertEqual(checked, 2)
    XCTAssertNil(padded.weights(atOffset: 1), "only weight tensors are mirrored")
  }

  /// Training with the engine's padded copy gives the bits of training with per-call copies, for 1 and 2 threads.
  func testPaddedWeightsGiveTheBitsOfPerCallCopies() throws {
    let arch = try wideArchitecture()
    var g = SeededGenerator(seed: 3)
    let samples = 96
    let x = Matrix(rows: samples, columns: 12)
    let t = Matrix(rows: samples, columns: 1)
    for i in 0..<(samples * 12) { x.storage.pointer[i] = g.nextFloat() }
    for r in 0..<samples { t[r, 0] = Float(g.nextIndex(below: 3)) }
    let data = Dataset(inputs: x, targets: t)
    func train(threads: Int, padsWeights: Bool) -> ([Float], [Double]) {
      let network = Network(architecture: arch, loss: .crossEntropy)
      let parameters = FloatBuffer(count: arch.parameterCount)
      var generator = SeededGenerator(seed: 5)
      Initializer.heUniform.initialize(parameters, for: arch, using: &generator)
      let engine = DataParallelEngine(
        network: network, plan: ShardPlan(batchSize: 32, shardSize: 16), threads: threads,
        targetColumns: 1, optimizer: OptimizerSettings(kind: .sgd, learningRate: 0.05, ["momentum": 0.9]),
        precision: .f32, padsWeights: padsWeights)
      XCTAssertEqual(engine.usesPaddedWeights, padsWeights && PaddedWeights.make(for: arch) != nil)
      var losses: [Double] = []
      for epoch in 0..<2 {
        for start in stride(from: 0, to: samples, by: 32) {
          let order = (0..<samples).map { ($0 * 7 + epoch) % samples }
          losses.append(
            engine.step(
              parameters: parameters, data: data, indices: order[start..<(start + 32)],
              learningRate: 0.05
            ).loss)
        }
      }
      return ((0..<parameters.count).map { parameters[$0] }, losses)
    }
    let (reference, referenceLosses) = train(threads: 1, padsWeights: false)
    for threads in [1, 2] {
      let (p, losses) = train(threads: threads, padsWeights: true)
      XCTAssertEqual(losses, referenceLosses, "threads \(threads)")
      XCTAssertTrue(p == reference, "threads \(threads): parameters differ")
    }
    // The weights moved, so a stale padded copy would have shown in the losses above.
    let initial = FloatBuffer(count: arch.parameterCount)
    var generator = SeededGenerator(seed: 5)
    Initializer.heUniform.initialize(initial, for: arch, using: &generator)
    let moved = (0..<initial.count).map { abs(reference[$0] - initial[$0]) }.max() ?? 0
    XCTAssertGreaterThan(moved, 1e-3)
  }
}

/// Class weights in the engine: the batch's weight sum divides, and threads never change a bit.
final class ClassWeightEngineTests: XCTestCase {
  func testWeightedStepsAreBitIdenticalForAnyThreadCountAndDivideByTheWeightSum() throws {
    var g = SeededGenerator(seed: 4)
    let samples = 300
    let x = Matrix(rows: samples, columns: 16)
    let t = Matrix(rows: samples, columns: 1)
    for i in 0..<(samples * 16) { x.storage.pointer[i] = g.nextFloat() }
    for r in 0..<samples { t[r, 0] = Float(r % 7 == 0 ? 1 : r % 3 == 0 ? 2 : 0) }
    let data = Dataset(inputs: x, targets: t)
    let arch = try Architecture(
      input: [16],
      layers: [Dense.Spec(units: 64, activation: .relu), Dense.Spec(units: 3, activation: .softmax)])
    let weights = ClassWeights([0.4, 3, 1.25])
    let network = Network(architecture: arch, loss: .crossEntropy, classWeights: weights)
    func run(threads: Int) -> (FloatBuffer, [Double]) {
      let parameters = FloatBuffer(count: arch.parameterCount)
      var generator = SeededGenerator(seed: 9)
      Initializer.heUniform.initialize(parameters, for: arch, using: &generator)
      let settings = OptimizerSettings(kind: .adam, learningRate: 0.01)
      let engine = DataParallelEngine(
        network: network, plan: ShardPlan(batchSize: 100, shardSize: 16), threads: threads,
        targetColumns: 1, optimizer: settings)
      var losses: [Double] = []
      for _ in 0..<3 {
        var start = 0
        while start < samples {
          let outcome = engine.step(
            parameters: parameters, data: data,
            indices: Array(0..<samples)[start..<min(start + 100, samples)],
            learningRate: 0.01)
          losses.append(outcome.loss)
          start += 100
        }
      }
      return (parameters, losses)
    }
    let (p1, l1) = run(threads: 1)
    let (p3, l3) = run(threads: 3)
    XCTAssertTrue(p3.bitwiseEqual(p1))
    XCTAssertEqual(l3.map(\.bitPattern), l1.map(\.bitPattern))
    XCTAssertLessThan(l1.last!, l1.first!)

    // One step's loss and gradient: Σ w ℓ / Σ w of the whole batch, from one unsharded pass.
    let parameters = FloatBuffer(count: arch.parameterCount)
    var generator = SeededGenerator(seed: 9)
    Initializer.heUniform.initialize(parameters, for: arch, using: &generator)
    let rows = 100
    let workspace = Workspace(architecture: arch, capacity: rows, targetColumns: 1)
    let full = FloatBuffer(count: arch.parameterCount)
    let weighted = network.lossAndGradient(
      parameters: parameters.pointer, input: x.storage.pointer, targets: t.storage.pointer, targetColumns: 1,
      rows: rows, workspace: workspace, gradient: full.pointer)
    let weightSum = weights.sum(targets: t.storage.pointer, targetColumns: 1, rows: rows, outputs: 3)
    let engine = DataParallelEngine(
      network: network, plan: ShardPlan(batchSize: rows, shardSize: 16), threads: 2, targetColumns: 1,
      optimizer: OptimizerSettings(kind: .sgd, learningRate: 0))
    let outcome = engine.step(
      parameters: parameters, data: data, indices: Array(0..<rows)[...], learningRate: 0)
    XCTAssertEqual(outcome.loss, weighted / weightSum, accuracy: 1e-7)
    for i in 0..<arch.parameterCount {
      let expected = full[i] / Float(weightSum)
      XCTAssertEqual(engine.gradient[i], expected, accuracy: 1e-5 * max(1, abs(expected)))
    }
  }
}
