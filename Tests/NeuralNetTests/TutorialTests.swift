import Foundation
import NeuralNet
import XCTest

/// nnbatch against a line-by-line transcription of the tutorial (DESIGN.md §1).
final class TutorialTests: XCTestCase {
  /// The tutorial's network in Double with plain loops:
  /// layer1 = σ(x·W1), ŷ = σ(layer1·W2);
  /// dW2 = layer1ᵀ·(2(y−ŷ)·σ'(ŷ)), dW1 = xᵀ·((2(y−ŷ)·σ'(ŷ))·W2ᵀ·σ'(layer1)); W += dW.
  struct TutorialNetwork {
    var w1: [[Double]]  // [3][4]
    var w2: [[Double]]  // [4][1]
    let x: [[Double]] = [[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]]
    let y: [Double] = [0, 1, 1, 0]

    static func sigmoid(_ z: Double) -> Double { 1 / (1 + exp(-z)) }
    static func sigmoidDerivative(_ a: Double) -> Double { a * (1 - a) }

    func feedforward() -> (layer1: [[Double]], output: [Double]) {
      let layer1 = x.map { row in
        (0..<4).map { j in Self.sigmoid((0..<3).reduce(0) { $0 + row[$1] * w1[$1][j] }) }
      }
      let output = layer1.map { row in Self.sigmoid((0..<4).reduce(0) { $0 + row[$1] * w2[$1][0] }) }
      return (layer1, output)
    }

    mutating func backprop() {
      let (layer1, output) = feedforward()
      let delta2 = (0..<4).map { n in 2 * (y[n] - output[n]) * Self.sigmoidDerivative(output[n]) }
      var dW2 = [[Double]](repeating: [0], count: 4)
      for j in 0..<4 { dW2[j][0] = (0..<4).reduce(0) { $0 + layer1[$1][j] * delta2[$1] } }
      var delta1 = [[Double]](repeating: [Double](repeating: 0, count: 4), count: 4)
      for n in 0..<4 {
        for j in 0..<4 { delta1[n][j] = delta2[n] * w2[j][0] * Self.sigmoidDerivative(layer1[n][j]) }
      }
      var dW1 = [[Double]](repeating: [Double](repeating: 0, count: 4), count: 3)
      for i in 0..<3 {
        for j in 0..<4 { dW1[i][j] = (0..<4).reduce(0) { $0 + x[$1][i] * delta1[$1][j] } }
      }
      for i in 0..<3 { for j in 0..<4 { w1[i][j] += dW1[i][j] } }
      for j in 0..<4 { w2[j][0] += dW2[j][0] }
    }

    func loss() -> Double {
      zip(y, feedforward().output).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
    }
  }

  func testNNBatchReproducesTheTutorialsPredictions() throws {
    let architecture = try Architecture(
      input: [3],
      layers: [
        Dense.Spec(units: 4, activation: .sigmoid, bias: false),
        Dense.Spec(units: 1, activation: .sigmoid, bias: false),
      ])
    let network = Network(architecture: architecture, loss: .sse)
    let parameters = FloatBuffer(count: architecture.parameterCount)
    var generator = SeededGenerator(seed: 1)
    Initializer.uniform01.initialize(parameters, for: architecture, using: &generator)
    XCTAssertTrue(parameters.array.allSatisfy { $0 >= 0 && $0 < 1 }, "uniform01 draws from [0, 1)")

    // The tutorial starts from the same initial weights.
    let p = parameters.array.map(Double.init)
    var tutorial = TutorialNetwork(
      w1: (0..<3).map { i in (0..<4).map { j in p[i * 4 + j] } }, w2: (0..<4).map { j in [p[12 + j]] })

    let optimizer = OptimizerState(
      settings: OptimizerSettings(kind: .sgd, learningRate: 1), parameterCount: 16)
    let x: [Float] = [0, 0, 1, 0, 1, 1, 1, 0, 1, 1, 1, 1]
    let t: [Float] = [0, 1, 1, 0]
    let workspace = Workspace(architecture: architecture, capacity: 4, targetColumns: 1)
    let gradient = FloatBuffer(count: 16)
    var losses: [Double] = []
    for _ in 0..<1500 {
      losses.append(
        network.lossAndGradient(
          parameters: parameters.pointer, input: x, targets: t, targetColumns: 1, rows: 4,
          workspace: workspace, gradient: gradient.pointer))
      let c = optimizer.beginStep(learningRate: 1, gradientScale: 1)
      optimizer.update(
        parameters: parameters.pointer, gradient: gradient.pointer, range: 0..<16, coefficients: c)
      tutorial.backprop()
    }
    let ours = network.predict(parameters: parameters, inputs: Matrix(rows: 4, columns: 3, values: x))
    let theirs = tutorial.feedforward().output
    for n in 0..<4 {
      XCTAssertEqual(Double(ours[n, 0]), theirs[n], accuracy: 1e-4, "sample \(n)")
      XCTAssertEqual(Double(ours[n, 0]), Double(t[n]), accuracy: 0.1, "sample \(n) near its target")
    }
    XCTAssertLessThan(losses.last!, losses.first! / 10, "the loss falls")
    XCTAssertEqual(losses.last!, tutorial.loss(), accuracy: 1e-3)
  }
}
