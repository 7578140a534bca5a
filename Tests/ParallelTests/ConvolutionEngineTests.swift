import NeuralNet
import Parallel
import XCTest

/// A small CNN with dropout through the engine: the determinism contract and masks keyed by epoch position.
final class ConvolutionEngineTests: XCTestCase {
  /// 1×16×16 images in 3 classes.
  private func images(samples: Int = 192, seed: UInt64 = 13) -> Dataset {
    var g = SeededGenerator(seed: seed)
    let x = Matrix(rows: samples, columns: 256)
    let t = Matrix(rows: samples, columns: 1)
    for r in 0..<samples {
      let label = g.nextIndex(below: 3)
      t[r, 0] = Float(label)
      for i in 0..<256 {
        // A class-dependent stripe plus noise, so that training has something to learn.
        let stripe = (i / 16) % 3 == label ? 1 : 0
        x.storage.pointer[r * 256 + i] = Float(stripe) + g.nextFloat() * 0.5
      }
    }
    return Dataset(inputs: x, targets: t)
  }

  private func architecture(dropout: Double = 0.25) throws -> Architecture {
    try Architecture(
      input: [1, 16, 16],
      layers: [
        Conv2D.Spec(filters: 8, kernel: 3, padding: .same, activation: .relu), MaxPool2D.Spec(size: 2),
        Conv2D.Spec(filters: 16, kernel: 3, activation: .relu), Dropout.Spec(rate: dropout),
        Flatten.Spec(), Dense.Spec(units: 8, activation: .relu), Dropout.Spec(rate: dropout),
        Dense.Spec(units: 3, activation: .softmax),
      ])
  }

  /// Trains `epochs` shuffled epochs, each step with its training context; returns parameters and losses.
  private func train(
    threads: Int, shard: Int = 8, epochs: Int = 2, data: Dataset, precision: Precision = .f32
  ) throws -> (
    FloatBuffer, [Double]
  ) {
    let arch = try architecture()
    let parameters = FloatBuffer(count: arch.parameterCount)
    var generator = SeededGenerator(seed: 5)
    Initializer.heUniform.initialize(parameters, for: arch, using: &generator)
    let settings = OptimizerSettings(kind: .sgd, learningRate: 0.05, ["momentum": 0.9])
    let engine = DataParallelEngine(
      network: Network(architecture: arch, loss: .crossEntropy),
      plan: ShardPlan(batchSize: 64, shardSize: shard),
      threads: threads, targetColumns: 1, optimizer: settings, precision: precision)
    // Big enough that steps take the parallel path.
    XCTAssertGreaterThan(64 * arch.multiplyAdds, DataParallelEngine.parallelWorkThreshold)
    var losses: [Double] = []
    var order = Array(0..<data.count)
    var step = 0
    for _ in 0..<epochs {
      generator.shuffle(&order)
      var start = 0
      while start < data.count {
        let end = min(start + 64, data.count)
        let outcome = engine.step(
          parameters: parameters, data: data, indices: order[start..<end],
          learningRate: settings.learningRate, context: .training(seed: 99, step: step, firstPosition: start))
        XCTAssertTrue(outcome.isFinite)
        losses.append(outcome.loss)
        step += 1
        start = end
      }
    }
    return (parameters, losses)
  }

  func testCNNWithDropoutIsBitIdenticalForAnyThreadCount() throws {
    let data = images()
    let (p1, l1) = try train(threads: 1, data: data)
    XCTAssertEqual(l1.count, 6)
    XCTAssertLessThan(l1[3...].reduce(0, +), l1[..<3].reduce(0, +), "the loss falls")
    for threads in [2, 3, 8] {
      let (p, l) = try train(threads: threads, data: data)
      XCTAssertTrue(p.bitwiseEqual(p1), "parameters, threads \(threads)")
      XCTAssertEqual(l.map(\.bitPattern), l1.map(\.bitPattern), "loss history, threads \(threads)")
    }
  }

  /// In bf16 the convolutions' im2col products take bf16 operands too, with the same bits for any thread count.
  func testCNNInBF16IsBitIdenticalForAnyThreadCount() throws {
    let data = images()
    let (p1, l1) = try train(threads: 1, data: data, precision: .bf16)
    let (p3, l3) = try train(threads: 3, data: data, precision: .bf16)
    XCTAssertTrue(p3.bitwiseEqual(p1))
    XCTAssertEqual(l3.map(\.bitPattern), l1.map(\.bitPattern))
    let (f32, lf) = try train(threads: 1, data: data)
    XCTAssertFalse(f32.bitwiseEqual(p1), "bf16 operands change the bits")
    XCTAssertEqual(l1.last!, lf.last!, accuracy: 0.05 * lf.last!)
  }

  func testDropoutMasksDoNotDependOnTheShardPlan() throws {
    // One batch as 1, 4 and 8 shards: the same masks, so the same gradient up to summation order.
    let data = images(samples: 32)
    let arch = try architecture(dropout: 0.5)
    let network = Network(architecture: arch, loss: .crossEntropy)
    let parameters = FloatBuffer(count: arch.parameterCount)
    var generator = SeededGenerator(seed: 6)
    Initializer.heUniform.initialize(parameters, for: arch, using: &generator)
    let indices = Array((0..<32).reversed())[...]
    let context = PassContext.training(seed: 3, step: 7, firstPosition: 64)

    // The reference: the whole batch straight through the network, rows gathered in batch order.
    let gathered = Matrix(rows: 32, columns: 256)
    let targets = Matrix(rows: 32, columns: 1)
    for (r, index) in indices.enumerated() {
      gathered.row(r).update(from: data.inputs.row(index), count: 256)
      targets[r, 0] = data.targets[index, 0]
    }
    let full = FloatBuffer(count: arch.parameterCount)
    let lossSum = network.lossAndGradient(
      parameters: parameters.pointer, input: gathered.storage.pointer, targets: targets.storage.pointer,
      targetColumns: 1, rows: 32, workspace: Workspace(architecture: arch, capacity: 32, targetColumns: 1),
      gradient: full.pointer, context: context)
    for shard in [32, 8, 4] {
      let engine = DataParallelEngine(
        network: network, plan: ShardPlan(batchSize: 32, shardSize: shard), threads: 2, targetColumns: 1)
      let batch = engine.compute(parameters: parameters, data: data, indices: indices, context: context)
      XCTAssertEqual(batch.loss, lossSum / 32, accuracy: 1e-6, "shard size \(shard)")
      _ = engine.reduce(batch)
      var worst: Float = 0
      for i in 0..<arch.parameterCount {
        let expected = full[i] / 32
        worst = max(worst, abs(engine.gradient[i] - expected) / max(1e-3, abs(expected)))
      }
      XCTAssertLessThan(worst, 1e-3, "shard size \(shard)")
    }
    // Another step draws other masks: the loss changes.
    let engine = DataParallelEngine(
      network: network, plan: ShardPlan(batchSize: 32, shardSize: 8), threads: 1, targetColumns: 1)
    var next = context
    next.step += 1
    let other = engine.compute(parameters: parameters, data: data, indices: indices, context: next)
    XCTAssertNotEqual(other.loss, lossSum / 32)
  }

  func testEvaluationIgnoresDropout() throws {
    let data = images(samples: 40)
    let arch = try architecture(dropout: 0.5)
    let plain = try Architecture(
      input: [1, 16, 16],
      layers: arch.specs.filter { !($0 is Dropout.Spec) })
    let parameters = FloatBuffer(count: arch.parameterCount)
    var generator = SeededGenerator(seed: 8)
    Initializer.heUniform.initialize(parameters, for: arch, using: &generator)
    var sums: [MetricSums] = []
    for a in [arch, plain] {
      let engine = DataParallelEngine(
        network: Network(architecture: a, loss: .crossEntropy), plan: ShardPlan(batchSize: 16, shardSize: 8),
        threads: 2, targetColumns: 1)
      sums.append(engine.evaluate(parameters: parameters, data: data))
    }
    XCTAssertEqual(sums[0], sums[1])
  }
}
