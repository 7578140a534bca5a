import NeuralNet
import Parallel
import XCTest

/// The training gather applies `data.augment`: each row keyed by its position in the epoch, training contexts only.
final class AugmentedGatherTests: XCTestCase {
  private let augmentation = ImageAugmentation(
    channels: 1, height: 6, width: 6, flipProbability: 0.5, shiftRows: 2, shiftColumns: 2,
    brightness: 0.7...1.3, contrast: 0.8...1.2)

  /// 60 samples of 36 values (6×6 images), 3 classes.
  private func problem() -> Dataset {
    var g = SeededGenerator(seed: 4)
    let x = Matrix(rows: 60, columns: 36)
    let t = Matrix(rows: 60, columns: 1)
    for i in 0..<(60 * 36) { x.storage.pointer[i] = g.nextFloat() }
    for r in 0..<60 { t[r, 0] = Float(g.nextIndex(below: 3)) }
    return Dataset(inputs: x, targets: t)
  }

  private func rows(_ pointer: UnsafePointer<Float>, _ count: Int) -> [Float] {
    Array(UnsafeBufferPointer(start: pointer, count: count * 36))
  }

  func testTrainingRowsAreAugmentedByPositionAndInferenceRowsAreNot() throws {
    let data = problem()
    let architecture = try Architecture(input: [36], layers: [Dense.Spec(units: 3, activation: .softmax)])
    let workspace = Workspace(architecture: architecture, capacity: 8, targetColumns: 1)
    let order = [7, 3, 41, 12, 0, 59, 33, 8, 9, 10, 11, 12, 13, 14, 15, 16]
    // Rows 2..<7 of the slice order[4...] sit at epoch positions 6..<11 (the slice starts at 4).
    let indices = order[4...]
    for positions in [6..<11, 8..<16] {
      let context = PassContext.training(
        seed: 11, step: 3, firstPosition: positions.lowerBound, epoch: 2, augmentation: augmentation)
      let (input, targets) = ShardRows.gather(
        data, indices: indices, positions: positions, targetColumns: 1, into: workspace, context: context)
      var expected: [Float] = []
      for (r, p) in positions.enumerated() {
        var row = [Float](repeating: 0, count: 36)
        augmentation.apply(
          data.inputs.row(order[p]), to: &row, key: ImageAugmentation.key(seed: 11, epoch: 2, position: p))
        expected += row
        XCTAssertEqual(targets[r], data.targets[order[p], 0])
      }
      XCTAssertEqual(rows(input, positions.count), expected, "\(positions)")
      XCTAssertNotEqual(
        expected,
        positions.flatMap { Array(UnsafeBufferPointer(start: data.inputs.row(order[$0]), count: 36)) })
      // The same rows in inference: untouched (the contiguous ones in place), whatever the context holds.
      var inference = context
      inference.isTraining = false
      let plain = ShardRows.gather(
        data, indices: indices, positions: positions, targetColumns: 1, into: workspace, context: inference)
      XCTAssertEqual(
        rows(plain.input, positions.count),
        positions.flatMap { Array(UnsafeBufferPointer(start: data.inputs.row(order[$0]), count: 36)) })
      if positions == 8..<16 { XCTAssertEqual(plain.input, UnsafePointer(data.inputs.row(9)), "in place") }
    }
  }

  /// An epoch of augmented steps gives the same bits for any thread count, and not those of plain steps.
  func testAugmentedStepsAreBitIdenticalForAnyThreadCount() throws {
    let data = problem()
    func train(threads: Int, augmentation: ImageAugmentation?) throws -> [Float] {
      let architecture = try Architecture(
        input: [1, 6, 6],
        layers: [
          Conv2D.Spec(filters: 4, kernel: 3, activation: .relu), Flatten.Spec(),
          Dense.Spec(units: 3, activation: .softmax),
        ])
      let network = Network(architecture: architecture, loss: .crossEntropy)
      let parameters = FloatBuffer(count: architecture.parameterCount)
      var generator = SeededGenerator(seed: 5)
      Initializer.heUniform.initialize(parameters, for: architecture, using: &generator)
      let settings = OptimizerSettings(kind: .sgd, learningRate: 0.1)
      let engine = DataParallelEngine(
        network: network, plan: ShardPlan(batchSize: 16, shardSize: 4), threads: threads, targetColumns: 1,
        optimizer: settings)
      var order = Array(0..<data.count)
      for epoch in 0..<2 {
        generator.shuffle(&order)
        var start = 0
        var step = epoch * 4
        while start < data.count {
          let end = min(start + 16, data.count)
          let context = PassContext.training(
            seed: 7, step: step, firstPosition: start, epoch: epoch, augmentation: augmentation)
          let outcome = engine.step(
            parameters: parameters, data: data, indices: order[start..<end], learningRate: 0.1,
            context: context)
          XCTAssertTrue(outcome.isFinite)
          start = end
          step += 1
        }
      }
      return parameters.array
    }
    let one = try train(threads: 1, augmentation: augmentation)
    for threads in [2, 3, 8] {
      XCTAssertEqual(
        try train(threads: threads, augmentation: augmentation).map(\.bitPattern), one.map(\.bitPattern),
        "threads \(threads)")
    }
    XCTAssertNotEqual(
      try train(threads: 2, augmentation: nil), one, "augmentation changes what is trained on")
  }
}
