import NeuralNet
import TestSupport
import XCTest

@testable import Parallel

/// Non-trainable layer state through the engine: shard-order merge, the optimizer kept off it, the norm without it.
final class LayerStateTests: XCTestCase {
  /// `samples` rows of `features` uniform values in [0, `scale`) and class targets.
  private func problem(samples: Int, features: Int, classes: Int = 3, scale: Float = 1, seed: UInt64 = 7)
    -> Dataset
  {
    var g = SeededGenerator(seed: seed)
    let x = Matrix(rows: samples, columns: features)
    let t = Matrix(rows: samples, columns: 1)
    for i in 0..<(samples * features) { x.storage.pointer[i] = g.nextFloat() * scale }
    for r in 0..<samples { t[r, 0] = Float(g.nextIndex(below: classes)) }
    return Dataset(inputs: x, targets: t)
  }

  /// 20,003 parameters; the state `mean` [1000] at 16,000 ..< 17,000 straddles the chunk boundary at 16,384.
  private func straddling() throws -> Architecture {
    try Architecture(
      input: [15],
      layers: [
        Dense.Spec(units: 1000, activation: .relu), RunningMean.Spec(momentum: 0.25),
        Dense.Spec(units: 3, activation: .softmax),
      ])
  }

  /// The running mean first, on the data itself, then a dense softmax: state 0 ..< 4.
  private func small() throws -> Architecture {
    try Architecture(
      input: [4], layers: [RunningMean.Spec(momentum: 0.125), Dense.Spec(units: 3, activation: .softmax)])
  }

  private func engine(
    _ architecture: Architecture, batch: Int, shard: Int, threads: Int, settings: OptimizerSettings
  ) -> DataParallelEngine {
    DataParallelEngine(
      network: Network(architecture: architecture, loss: .crossEntropy),
      plan: ShardPlan(batchSize: batch, shardSize: shard), threads: threads, targetColumns: 1,
      optimizer: settings)
  }

  private func initialParameters(_ architecture: Architecture) -> FloatBuffer {
    let parameters = FloatBuffer(count: architecture.parameterCount)
    var generator = SeededGenerator(seed: 3)
    Initializer.heUniform.initialize(parameters, for: architecture, using: &generator)
    return parameters
  }

  private static let settings = [
    OptimizerSettings(kind: .sgd, learningRate: 0.05, weightDecay: 0.1, ["momentum": 0.9, "nesterov": true]),
    OptimizerSettings(kind: .adam, learningRate: 0.01, weightDecay: 0.1, clipNorm: 0.5),
  ]

  func testLayoutOfAnArchitectureWithState() throws {
    let architecture = try straddling()
    XCTAssertTrue(architecture.hasState)
    XCTAssertEqual(architecture.parameterCount, 20_003)
    XCTAssertEqual(architecture.trainableRanges, [0..<16_000, 17_000..<20_003])
    XCTAssertEqual(architecture.trainableParameterCount, 19_003)
    XCTAssertEqual(architecture.stateTensors.map(\.layer), [1])
    XCTAssertEqual(architecture.stateTensors.map(\.tensor.range), [16_000..<17_000])
    let roles = try XCTUnwrap(
      ChunkRoles(architecture: architecture, chunks: ChunkPlan(parameterCount: 20_003)))
    XCTAssertEqual(roles.pieces(ofChunk: 0).count, 2, "trainable 0..<16000, then state 16000..<16384")
    XCTAssertEqual(roles.pieces(ofChunk: 1).count, 2, "state 16384..<17000, then trainable")
    // Without state: one trainable range, and no roles (the engines' whole-chunk loops).
    let plain = try Architecture(input: [15], layers: [Dense.Spec(units: 3, activation: .softmax)])
    XCTAssertFalse(plain.hasState)
    XCTAssertEqual(plain.trainableRanges, [0..<48])
    XCTAssertNil(ChunkRoles(architecture: plain, chunks: ChunkPlan(parameterCount: 48)))
  }

  func testStateIsBitIdenticalForAnyThreadCount() throws {
    let architecture = try straddling()
    let data = problem(samples: 300, features: 15)
    let state = architecture.stateTensors[0].tensor.range
    for settings in Self.settings {
      var reference: (FloatBuffer, OptimizerState)?
      for threads in [1, 2, 3, 8] {
        let engine = engine(architecture, batch: 128, shard: 32, threads: threads, settings: settings)
        let parameters = initialParameters(architecture)
        var order = Array(0..<data.count)
        var generator = SeededGenerator(seed: 9)
        for _ in 0..<2 {
          generator.shuffle(&order)
          var start = 0
          while start < data.count {
            let end = min(start + 128, data.count)
            XCTAssertTrue(
              engine.step(
                parameters: parameters, data: data, indices: order[start..<end],
                learningRate: settings.learningRate
              ).isFinite)
            start = end
          }
        }
        let optimizer = try XCTUnwrap(engine.optimizerState())
        for slot in optimizer.slots {
          XCTAssertTrue(slot.array[state].allSatisfy { $0 == 0 }, "optimizer slots of state stay zero")
        }
        XCTAssertFalse(parameters.array[state].allSatisfy { $0 == 0.5 }, "the state moved from its start")
        guard let first = reference else {
          reference = (parameters, optimizer)
          continue
        }
        XCTAssertTrue(
          parameters.bitwiseEqual(first.0), "parameters and state, \(threads) threads, \(settings.kind)")
        for (a, b) in zip(optimizer.slots, first.1.slots) {
          XCTAssertTrue(a.bitwiseEqual(b), "optimizer state, \(threads) threads, \(settings.kind)")
        }
      }
    }
  }

  func testOptimizerLeavesStateToTheLayersRuleMergedInShardOrder() throws {
    let architecture = try small()
    let data = problem(samples: 30, features: 4)
    let state = 0..<4
    for settings in Self.settings + [OptimizerSettings(kind: .adamw, learningRate: 0.01, weightDecay: 0.5)] {
      // Batches of 10 rows in shards of 4, 4 and 2: the mean loss scales gradients by 1/10, never the state.
      let engine = engine(architecture, batch: 10, shard: 4, threads: 2, settings: settings)
      let parameters = initialParameters(architecture)
      XCTAssertEqual(parameters.array[state], [0.5, 0.5, 0.5, 0.5], "the layer's own initial state")
      for step in 0..<3 {
        let rows = Array((step * 10..<(step * 10 + 10)).reversed())
        let indices = rows[...]
        var expected = parameters.array
        let trainableBefore = Array(expected[4...])
        // By hand: each shard's Σ x in row order, the shards added in order, then the layer's rule.
        var sums = [Float](repeating: 0, count: 4)
        for shard in [0..<4, 4..<8, 8..<10] {
          let x = rows[shard].flatMap { r in (0..<4).map { data.inputs[r, $0] } }
          var shardSums = [Float](repeating: 0, count: 4)
          RunningMean.rowSums(x, rows: shard.count, features: 4, into: &shardSums)
          if shard.lowerBound == 0 { sums = shardSums } else { for j in 0..<4 { sums[j] += shardSums[j] } }
        }
        for j in state {
          expected[j] = RunningMean.merged(expected[j], sum: sums[j], rows: 10, momentum: 0.125)
        }
        let outcome = engine.step(
          parameters: parameters, data: data, indices: indices, learningRate: settings.learningRate)
        XCTAssertTrue(outcome.isFinite)
        XCTAssertEqual(
          engine.gradient.array[state].map(\.bitPattern), sums.map(\.bitPattern), "unscaled sums")
        XCTAssertEqual(
          parameters.array[state].map(\.bitPattern), expected[state].map(\.bitPattern),
          "state after step \(step), \(settings.kind)")
        XCTAssertNotEqual(
          Array(parameters.array[4...]), trainableBefore, "the optimizer trained the dense layer")
      }
      let optimizer = try XCTUnwrap(engine.optimizerState())
      XCTAssertEqual(optimizer.step, 3)
      for slot in optimizer.slots {
        XCTAssertEqual(slot.array[state], [0, 0, 0, 0], "\(settings.kind): slots of state untouched")
        XCTAssertTrue(slot.array[4...].contains { $0 != 0 }, "\(settings.kind): slots of weights moved")
      }
    }
  }

  func testGradientNormAndClippingIgnoreState() throws {
    let architecture = try small()
    // Inputs up to 100 in batches of 40: the state's sums (about 2,000) would dwarf the gradient's norm.
    let data = problem(samples: 40, features: 4, scale: 100)
    let settings = OptimizerSettings(kind: .sgd, learningRate: 0.5, clipNorm: 1e-3)
    let engine = engine(architecture, batch: 40, shard: 16, threads: 1, settings: settings)
    let parameters = initialParameters(architecture)
    let before = parameters.array
    let batch = engine.compute(parameters: parameters, data: data, indices: Array(0..<40)[...])
    let reduced = engine.reduce(batch)
    let gradient = engine.gradient.array.map(Double.init)
    let trainable = gradient[4...].reduce(0) { $0 + $1 * $1 }.squareRoot()
    let all = gradient.reduce(0) { $0 + $1 * $1 }.squareRoot()
    XCTAssertTrue(reduced.isFinite)
    XCTAssertEqual(reduced.norm, trainable, accuracy: 1e-6 * trainable)
    XCTAssertGreaterThan(all, 5 * trainable, "the test would notice a norm that counted the state")
    XCTAssertGreaterThan(reduced.norm, 1e-3, "clipping applies")

    engine.apply(reduced, parameters: parameters, learningRate: 0.5)
    let factor = 1e-3 / trainable
    for i in 4..<architecture.parameterCount {
      let expected = Double(before[i]) - 0.5 * gradient[i] * factor
      XCTAssertEqual(Double(parameters.array[i]), expected, accuracy: 1e-6, "parameter \(i)")
    }
  }

  func testChunkRolesFlagANonFiniteStatisticWithoutCountingFiniteOnes() throws {
    let architecture = try small()
    let roles = try XCTUnwrap(ChunkRoles(architecture: architecture, chunks: ChunkPlan(parameterCount: 19)))
    let buffer = FloatBuffer([Float](repeating: 1e30, count: 4) + [Float](repeating: 1, count: 15))
    var base = buffer.pointer
    XCTAssertEqual(roles.reduce(chunk: 0, sources: &base, shards: 1, base: 0, scale: 2), 60, "15 · 2²")
    XCTAssertEqual(buffer.array[0..<4], [1e30, 1e30, 1e30, 1e30], "state sums are not scaled")
    for bad in [Float.nan, .infinity] {
      buffer.pointer[2] = bad
      XCTAssertFalse(roles.reduce(chunk: 0, sources: &base, shards: 1, base: 0, scale: 1).isFinite, "\(bad)")
    }
  }

  func testStateSplitAcrossRankRangesUpdatesAsOneRange() throws {
    // The MPI engine hands each rank whole chunks, so a state tensor may be cut
    // between ranks; each rank applies with pointers and slots from its range's start.
    let architecture = try straddling()
    let chunks = ChunkPlan(parameterCount: architecture.parameterCount)
    let roles = try XCTUnwrap(ChunkRoles(architecture: architecture, chunks: chunks))
    var g = SeededGenerator(seed: 1)
    let gradient = FloatBuffer((0..<architecture.parameterCount).map { _ in g.nextFloat() - 0.5 })
    let settings = Self.settings[1]
    let batch = StateBatch(rows: 64, shards: 2)
    let whole = initialParameters(architecture)
    let split = initialParameters(architecture)
    let optimizer = OptimizerState(settings: settings, parameterCount: architecture.parameterCount)
    let constants = optimizer.beginStep(learningRate: 0.01, gradientScale: 1)
    for chunk in 0..<chunks.count {
      roles.apply(
        chunk: chunk, parameters: whole.pointer, gradient: gradient.pointer, base: 0, optimizer: optimizer,
        coefficients: constants, batch: batch)
      let range = chunks.range(ofChunk: chunk)
      let local = OptimizerState(settings: settings, parameterCount: range.count)
      XCTAssertEqual(
        local.beginStep(learningRate: 0.01, gradientScale: 1).learningRate, constants.learningRate)
      roles.apply(
        chunk: chunk, parameters: split.pointer + range.lowerBound,
        gradient: gradient.pointer + range.lowerBound,
        base: range.lowerBound, optimizer: local, coefficients: constants, batch: batch)
      for (a, b) in zip(local.slots, optimizer.slots) {
        XCTAssertEqual(a.array.map(\.bitPattern), b.array[range].map(\.bitPattern), "slots of chunk \(chunk)")
      }
    }
    XCTAssertTrue(split.bitwiseEqual(whole))
    XCTAssertFalse(whole.array[16_000..<17_000].allSatisfy { $0 == 0.5 }, "the state was merged")
  }
}
