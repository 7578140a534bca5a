import Foundation
import NeuralNet
import XCTest

/// Dropout: inverted scaling in training only, masks as a pure function of (seed, step, position, layer, unit).
final class DropoutTests: XCTestCase {
  private func dropout(_ rate: Double, input: Shape = [3, 2, 2]) throws -> Dropout {
    try XCTUnwrap(try Dropout.Spec(rate: rate).build(input: input, parameterOffset: 0) as? Dropout)
  }

  /// Runs the layer forward on `x` and returns the output.
  private func run(_ layer: Dropout, _ x: [Float], rows: Int, context: PassContext) -> [Float] {
    let input = FloatBuffer(x)
    let output = FloatBuffer(count: x.count)
    let none = FloatBuffer(count: 1)
    layer.forward(
      parameters: none.pointer, input: input.pointer, output: output.pointer, rows: rows,
      scratch: none.pointer,
      context: context)
    return output.array
  }

  func testRatesOutsideZeroToOneAreRefused() throws {
    for rate in [1.0, -0.1, 1.5, .nan] {
      XCTAssertThrowsError(try Architecture(input: [4], layers: [Dropout.Spec(rate: rate)])) { error in
        XCTAssertEqual(
          "\(error)",
          "layer 0 (dropout) cannot take input of shape [4]: expected a dropout rate in [0, 1), found \(rate)"
        )
      }
    }
    let layer = try dropout(0.25)
    XCTAssertEqual(layer.outputShape, [3, 2, 2])
    XCTAssertEqual(layer.parameterCount, 0)
    XCTAssertTrue(layer.isStochastic)
    XCTAssertFalse(try dropout(0).isStochastic)
    XCTAssertEqual(Dropout.Spec(rate: 0.5).description, "dropout 0.5")
  }

  func testInferenceIsTheIdentity() throws {
    var g = SeededGenerator(seed: 3)
    let layer = try dropout(0.5)
    let x = (0..<24).map { _ in g.nextFloat() - 0.5 }
    XCTAssertEqual(run(layer, x, rows: 2, context: .inference).map(\.bitPattern), x.map(\.bitPattern))
    // Rate 0 drops nothing even in training.
    XCTAssertEqual(
      run(try dropout(0), x, rows: 2, context: .training(seed: 1, step: 2)).map(\.bitPattern),
      x.map(\.bitPattern))

    // A network's predictions are those of the same network without the dropout layer.
    let with = try Architecture(
      input: [6],
      layers: [
        Dense.Spec(units: 5, activation: .relu), Dropout.Spec(rate: 0.5),
        Dense.Spec(units: 3, activation: .softmax),
      ])
    let without = try Architecture(
      input: [6],
      layers: [Dense.Spec(units: 5, activation: .relu), Dense.Spec(units: 3, activation: .softmax)])
    XCTAssertTrue(with.isStochastic)
    XCTAssertFalse(without.isStochastic)
    XCTAssertEqual(with.parameterCount, without.parameterCount)
    let parameters = FloatBuffer(count: with.parameterCount)
    Initializer.xavierUniform.initialize(parameters, for: with, using: &g)
    let inputs = Matrix(rows: 4, columns: 6)
    for i in 0..<24 { inputs.storage.pointer[i] = g.nextFloat() }
    let a = Network(architecture: with, loss: .crossEntropy).predict(parameters: parameters, inputs: inputs)
    let b = Network(architecture: without, loss: .crossEntropy).predict(
      parameters: parameters, inputs: inputs)
    XCTAssertTrue(a.storage.bitwiseEqual(b.storage))
  }

  func testTrainingKeepsOneMinusRateScaledAndTheRestZero() throws {
    let rate = 0.3
    let layer = try dropout(rate, input: [1000])
    let rows = 20
    let x = [Float](repeating: 1.5, count: rows * 1000)
    let context = PassContext.training(seed: 7, step: 3, firstPosition: 40)
    let output = run(layer, x, rows: rows, context: context.forLayer(2))
    let scale = Float(1 / (1 - rate))
    XCTAssertEqual(layer.scale, scale)
    XCTAssertTrue(output.allSatisfy { $0 == 0 || $0 == 1.5 * scale }, "kept values are x · 1/(1 − rate)")
    let kept = Double(output.filter { $0 != 0 }.count) / Double(output.count)
    XCTAssertEqual(kept, 1 - rate, accuracy: 0.015)
    for (i, value) in output.enumerated() {
      XCTAssertEqual(
        value != 0, layer.keeps(row: i / 1000, unit: i % 1000, context: context.forLayer(2)), "unit \(i)")
    }
  }

  func testMasksAreAFunctionOfSeedStepPositionLayerAndUnitOnly() throws {
    let layer = try dropout(0.5, input: [64])
    let x = [Float](repeating: 1, count: 6 * 64)
    let base = PassContext.training(seed: 11, step: 5, firstPosition: 100).forLayer(3)
    let all = run(layer, x, rows: 6, context: base)
    XCTAssertEqual(run(layer, x, rows: 6, context: base), all, "the same key, the same mask")
    // Rows 2..<6 run on their own (another shard) with the context advanced: the same masks.
    XCTAssertEqual(run(layer, Array(x[128...]), rows: 4, context: base.advanced(by: 2)), Array(all[128...]))
    // Each of the five numbers changes the mask.
    var changed = base
    changed.seed += 1
    XCTAssertNotEqual(run(layer, x, rows: 6, context: changed), all, "seed")
    changed = base
    changed.step += 1
    XCTAssertNotEqual(run(layer, x, rows: 6, context: changed), all, "step")
    XCTAssertNotEqual(run(layer, x, rows: 6, context: base.advanced(by: 1)), all, "position")
    XCTAssertNotEqual(run(layer, x, rows: 6, context: base.forLayer(4)), all, "layer")
    XCTAssertNotEqual(Array(all[0..<32]), Array(all[32..<64]), "unit")
    // A row's mask differs from the next row's: keyed by position, not repeated.
    XCTAssertNotEqual(Array(all[0..<64]), Array(all[64..<128]))
  }

  func testGradientWithAFixedMask() throws {
    var seed: UInt64 = 4200
    for (rate, input) in [(0.5, [3, 2, 3] as Shape), (0.2, [7]), (0.0, [4])] {
      let layer = try dropout(rate, input: input)
      for context in [PassContext.training(seed: 9, step: 4, firstPosition: 17).forLayer(1), .inference] {
        seed += 1
        let dX = LayerReference.checkGradients(
          layer, rows: 3, seed: seed, context: context, what: "dropout \(rate) \(context.isTraining)")
        if context.isTraining && rate > 0 {
          XCTAssertTrue(dX.contains(0), "dropped units pass no gradient")
        }
      }
    }
  }

  /// Dropout between dense layers through `Network.lossAndGradient` in training, against the reference.
  func testDropoutInANetworkEndToEnd() throws {
    let architecture = try Architecture(
      input: [2, 3, 3],
      layers: [
        Conv2D.Spec(filters: 2, kernel: 2, activation: .tanh), Dropout.Spec(rate: 0.4), Flatten.Spec(),
        Dense.Spec(units: 3, activation: .softmax),
      ])
    let network = Network(architecture: architecture, loss: .crossEntropy)
    var g = SeededGenerator(seed: 77)
    let parameters = FloatBuffer(count: architecture.parameterCount)
    Initializer.xavierUniform.initialize(parameters, for: architecture, using: &g)
    let rows = 4
    let x = (0..<(rows * 18)).map { _ in g.nextFloat() * 2 - 1 }
    let t = (0..<rows).map { _ in Float(g.nextIndex(below: 3)) }
    let context = PassContext.training(seed: 5, step: 12, firstPosition: 8)
    let gradient = FloatBuffer(count: architecture.parameterCount)
    let lossSum = network.lossAndGradient(
      parameters: parameters.pointer, input: x, targets: t, targetColumns: 1, rows: rows,
      workspace: Workspace(architecture: architecture, capacity: rows, targetColumns: 1),
      gradient: gradient.pointer,
      context: context)
    func referenceLoss(_ theta: [Double]) -> Double {
      var a = x.map(Double.init)
      for (l, layer) in architecture.layers.enumerated() {
        a = LayerReference.forward(layer, theta: theta, x: a, rows: rows, context: context.forLayer(l))
      }
      return (0..<rows).map { -log(a[$0 * 3 + Int(t[$0])]) }.reduce(0, +)
    }
    var theta = parameters.array.map(Double.init)
    XCTAssertEqual(lossSum, referenceLoss(theta), accuracy: 1e-4)
    let h = 1e-6
    for p in 0..<theta.count {
      let saved = theta[p]
      theta[p] = saved + h
      let up = referenceLoss(theta)
      theta[p] = saved - h
      let down = referenceLoss(theta)
      theta[p] = saved
      let numeric = (up - down) / (2 * h)
      let error = abs(numeric - Double(gradient[p])) / max(1e-2, abs(numeric) + abs(Double(gradient[p])))
      XCTAssertLessThan(error, 2e-3, "parameter \(p): analytic \(gradient[p]), numeric \(numeric)")
    }
  }
}
