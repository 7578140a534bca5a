import Foundation
import NeuralNet
import XCTest

/// Batch normalization: gradients in training, the running averages in inference, the shards' merge.
final class BatchNormTests: XCTestCase {
  private func layer(_ spec: BatchNorm.Spec, _ input: Shape, offset: Int = 5) throws -> BatchNorm {
    try XCTUnwrap(try spec.build(input: input, parameterOffset: offset) as? BatchNorm)
  }

  /// Training: the pass's own statistics, central differences against the Double reference, and the
  /// shard's statistics (Σ x, Σ (x − μ)²) written at the state ranges, for conv and flat inputs.
  func testTrainingGradientsAndStatisticsForConvAndFlatInputs() throws {
    let cases: [(Shape, Int, Activation)] = [
      ([2, 3, 3], 3, .tanh), ([5], 4, .linear), ([3, 1, 2], 2, .sigmoid),
    ]
    for (seed, (input, rows, activation)) in cases.enumerated() {
      let norm = try layer(BatchNorm.Spec(activation: activation), input)
      let context = PassContext.training(seed: 1, step: 0)
      LayerReference.checkGradients(
        norm, rows: rows, seed: UInt64(seed + 11), context: context,
        statistics: { gradient, x in
          let c = input.dimensions[0]
          let s = input.elements / c
          for channel in 0..<c {
            let values = (0..<rows).flatMap { r in (0..<s).map { Double(x[(r * c + channel) * s + $0]) } }
            let mean = values.reduce(0, +) / Double(values.count)
            let squares = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +)
            XCTAssertEqual(
              Double(gradient[norm.runningMean.offset + channel]), mean * Double(values.count),
              accuracy: 1e-5,
              "Σ x of channel \(channel) on \(input)")
            XCTAssertEqual(
              Double(gradient[norm.runningVar.offset + channel]), squares, accuracy: 1e-5,
              "Σ (x − μ)² of channel \(channel) on \(input)")
          }
        }, what: "batch_norm \(activation) on \(input) in training")
    }
  }

  /// Inference: y = f(γ (x − running_mean) / √(running_var + ε) + β), the formula transcribed; its gradients too.
  func testInferenceUsesTheRunningAveragesAsTheFormulaSays() throws {
    for input: Shape in [[2, 2, 3], [4]] {
      let spec = BatchNorm.Spec(momentum: 0.3, epsilon: 1e-3, activation: .relu)
      let norm = try layer(spec, input)
      let c = norm.channels
      let s = input.elements / c
      // The gradient check's layout: 5 floats before the layer, 3 after.
      let parameters = FloatBuffer(count: 5 + norm.parameterCount + 3)
      var g = SeededGenerator(seed: 7)
      for k in 0..<c {
        parameters[norm.gamma.offset + k] = g.nextFloat() * 2 - 1
        parameters[norm.beta.offset + k] = g.nextFloat() - 0.5
        parameters[norm.runningMean.offset + k] = g.nextFloat() - 0.5
        parameters[norm.runningVar.offset + k] = g.nextFloat() + 0.25
      }
      let rows = 3
      let x = FloatBuffer((0..<(rows * input.elements)).map { _ in g.nextFloat() * 4 - 2 })
      let y = FloatBuffer(count: rows * input.elements)
      let scratch = FloatBuffer(count: norm.scratchCount(rows: rows))
      norm.forward(
        parameters: parameters.pointer, input: x.pointer, output: y.pointer, rows: rows,
        scratch: scratch.pointer, context: .inference)
      for r in 0..<rows {
        for k in 0..<c {
          for p in 0..<s {
            let i = (r * c + k) * s + p
            let gamma = Double(parameters[norm.gamma.offset + k])
            let beta = Double(parameters[norm.beta.offset + k])
            let mean = Double(parameters[norm.runningMean.offset + k])
            let variance = Double(parameters[norm.runningVar.offset + k])
            let expected = max(0, gamma * (Double(x[i]) - mean) / (variance + 1e-3).squareRoot() + beta)
            XCTAssertEqual(Double(y[i]), expected, accuracy: 1e-6, "row \(r) channel \(k) position \(p)")
          }
        }
      }
      // A dropout-style training key changes nothing in inference; the gradient check uses the running values.
      LayerReference.checkGradients(
        norm, rows: rows, seed: 3, parameters: parameters.array, what: "batch_norm on \(input) in inference")
    }
  }

  /// The running averages from shards' sums: Σ x / N and Σ_s Σ (x − μ_s)² / (N − shards), with momentum on the new value.
  func testUpdateStateMergesShardsIntoPooledStatistics() throws {
    let input: Shape = [2, 2, 2]
    let spec = BatchNorm.Spec(momentum: 0.1)
    let norm = try layer(spec, input, offset: 0)
    let (c, s) = (2, 4)
    let parameters = FloatBuffer(count: norm.parameterCount)
    var g = SeededGenerator(seed: 5)
    norm.initialize(parameters.pointer, with: .heUniform, using: &g)
    let shards = [3, 2]
    let rows = shards.reduce(0, +)
    let x = (0..<(rows * input.elements)).map { _ in g.nextFloat() * 3 - 1 }
    let sums = FloatBuffer(count: norm.parameterCount)
    var first = 0
    for shardRows in shards {
      let gradient = FloatBuffer(count: norm.parameterCount)
      let scratch = FloatBuffer(count: norm.scratchCount(rows: shardRows))
      let out = FloatBuffer(count: shardRows * input.elements)
      let part = FloatBuffer(Array(x[(first * input.elements)..<((first + shardRows) * input.elements)]))
      let context = PassContext.training(seed: 1, step: 0)
      norm.forward(
        parameters: parameters.pointer, input: part.pointer, output: out.pointer, rows: shardRows,
        scratch: scratch.pointer, context: context)
      norm.backward(
        parameters: parameters.pointer, input: part.pointer, output: out.pointer, outputGradient: out.pointer,
        rows: shardRows, gradient: gradient.pointer, inputGradient: nil, scratch: scratch.pointer,
        context: context)
      for i in 0..<norm.parameterCount { sums[i] += gradient[i] }
      first += shardRows
    }
    for tensor in norm.parameters where tensor.isState {
      norm.updateState(
        tensor, elements: 0..<tensor.count, state: parameters.pointer + tensor.offset,
        statistics: sums.pointer + tensor.offset, batch: StateBatch(rows: rows, shards: shards.count))
    }
    for k in 0..<c {
      var all: [Double] = []
      var pooled = 0.0
      var start = 0
      for shardRows in shards {
        let values = (start..<(start + shardRows)).flatMap { r in
          (0..<s).map { Double(x[(r * c + k) * s + $0]) }
        }
        let mean = values.reduce(0, +) / Double(values.count)
        pooled += values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +)
        all += values
        start += shardRows
      }
      let mean = all.reduce(0, +) / Double(all.count)
      let variance = pooled / Double(all.count - shards.count)
      XCTAssertEqual(Double(parameters[norm.runningMean.offset + k]), 0.9 * 0 + 0.1 * mean, accuracy: 1e-6)
      XCTAssertEqual(Double(parameters[norm.runningVar.offset + k]), 0.9 * 1 + 0.1 * variance, accuracy: 1e-6)
      XCTAssertEqual(parameters[norm.gamma.offset + k], 1, "γ starts at 1")
      XCTAssertEqual(parameters[norm.beta.offset + k], 0, "β starts at 0")
    }
    XCTAssertEqual(norm.parameters.map(\.name), ["gamma", "beta", "running_mean", "running_var"])
    XCTAssertEqual(norm.parameters.map(\.isState), [false, false, true, true])
  }

  /// Shapes and settings a batch normalization refuses.
  func testRefusesOtherRanksAndUnusableSettings() {
    XCTAssertThrowsError(try BatchNorm.Spec().build(input: [2, 3], parameterOffset: 0))
    XCTAssertThrowsError(try BatchNorm.Spec(epsilon: 1e-60).build(input: [3], parameterOffset: 0))
    XCTAssertThrowsError(try BatchNorm.Spec(momentum: 1.5).build(input: [3], parameterOffset: 0))
    XCTAssertNoThrow(try BatchNorm.Spec(momentum: 1).build(input: [3], parameterOffset: 0))
  }
}
