import Foundation
import NeuralNet
import XCTest

/// Global average and max pooling: forward and gradients against the Double references, ties, refusals, a network.
final class GlobalPoolingTests: XCTestCase {
  private let kinds: [any LayerSpec] = [GlobalAvgPool2D.Spec(), GlobalMaxPool2D.Spec()]

  func testForwardAndGradientsMatchTheReferencesOnOddShapes() throws {
    var seed: UInt64 = 7100
    for input: Shape in [[2, 6, 6], [3, 7, 5], [1, 1, 1], [4, 1, 9], [2, 13, 3]] {
      for spec in kinds {
        seed += 1
        let layer = try spec.build(input: input, parameterOffset: 3)
        XCTAssertEqual(layer.inputShape, input)
        XCTAssertEqual(layer.outputShape, [input.dimensions[0]], "\(spec): flat [C]")
        XCTAssertEqual(layer.parameterCount, 0)
        XCTAssertEqual(layer.multiplyAdds, input.elements)
        XCTAssertEqual(layer.activation, .linear)
        XCTAssertFalse(layer.sharesInput)
        LayerReference.checkGradients(layer, rows: 3, seed: seed, what: "\(spec) on \(input)")
      }
    }
    XCTAssertEqual(GlobalAvgPool2D.Spec().description, "global_avg_pool2d")
    XCTAssertEqual(GlobalMaxPool2D.Spec().description, "global_max_pool2d")
    XCTAssertEqual(
      try GlobalMaxPool2D.Spec().build(input: [3, 4, 5], parameterOffset: 0).scratchCount(rows: 2), 6)
    XCTAssertEqual(
      try GlobalAvgPool2D.Spec().build(input: [3, 4, 5], parameterOffset: 0).scratchCount(rows: 2), 0)
  }

  func testAverageIsTheMeanAndSpreadsTheGradientEvenly() throws {
    let layer = try GlobalAvgPool2D.Spec().build(input: [2, 2, 3], parameterOffset: 0)
    // Channel 0: 1...6 (mean 3.5); channel 1: three −1s and three 0s (mean −0.5).
    let x = FloatBuffer([1, 2, 3, 4, 5, 6, -1, -1, -1, 0, 0, 0])
    let output = FloatBuffer(count: 2)
    let none = FloatBuffer(count: 1)
    layer.forward(
      parameters: none.pointer, input: x.pointer, output: output.pointer, rows: 1, scratch: none.pointer,
      context: .inference)
    XCTAssertEqual(output.array, [3.5, -0.5])
    let dA = FloatBuffer([6, -12])
    let dX = FloatBuffer(count: 12)
    for i in 0..<12 { dX[i] = 99 }
    layer.backward(
      parameters: none.pointer, input: x.pointer, output: output.pointer, outputGradient: dA.pointer, rows: 1,
      gradient: none.pointer, inputGradient: dX.pointer, scratch: none.pointer, context: .inference)
    XCTAssertEqual(dX.array, [1, 1, 1, 1, 1, 1, -2, -2, -2, -2, -2, -2])
  }

  func testMaxTiesGiveTheGradientToTheFirstMaximumInRowMajorOrder() throws {
    let layer = try GlobalMaxPool2D.Spec().build(input: [3, 2, 3], parameterOffset: 0)
    // Channel 0: 5 at (0, 1), (1, 0) and (1, 2); channel 1: all equal; channel 2: the maximum last.
    let x = FloatBuffer([1, 5, 2, 5, 0, 5, 7, 7, 7, 7, 7, 7, -3, -2, -4, -5, -6, -1])
    let output = FloatBuffer(count: 3)
    let none = FloatBuffer(count: 1)
    let scratch = FloatBuffer(count: layer.scratchCount(rows: 1))
    layer.forward(
      parameters: none.pointer, input: x.pointer, output: output.pointer, rows: 1, scratch: scratch.pointer,
      context: .inference)
    XCTAssertEqual(output.array, [5, 7, -1])
    let dA = FloatBuffer([10, 20, 30])
    let dX = FloatBuffer(count: 18)
    for i in 0..<18 { dX[i] = 99 }
    layer.backward(
      parameters: none.pointer, input: x.pointer, output: output.pointer, outputGradient: dA.pointer, rows: 1,
      gradient: none.pointer, inputGradient: dX.pointer, scratch: scratch.pointer, context: .inference)
    XCTAssertEqual(dX.array, [0, 10, 0, 0, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 30])
  }

  func testRefusalsNameTheShapeAndASpatialLayerAfterGlobalPoolingIsRefused() throws {
    func message(_ input: Shape, _ layers: [any LayerSpec]) -> String {
      do {
        _ = try Architecture(input: input, layers: layers)
        return "built"
      } catch {
        return "\(error)"
      }
    }
    XCTAssertEqual(
      message([16], [GlobalAvgPool2D.Spec()]),
      "layer 0 (global_avg_pool2d) cannot take input of shape [16]: expected an image [channels, height, width] (rank 3), found rank 1; a spatial layer like global_avg_pool2d cannot follow a flatten, dense or global pooling layer"
    )
    // Architecture refuses an empty shape first; a spec built on its own refuses it too.
    for spec in kinds {
      XCTAssertThrowsError(try spec.build(input: [2, 0, 3], parameterOffset: 0)) { error in
        XCTAssertEqual(
          (error as? LayerShapeError)?.expected,
          "an image with at least one channel, row and column, found [2, 0, 3]")
      }
    }
    XCTAssertEqual(
      message([1, 4096, 4096], [GlobalMaxPool2D.Spec()]),
      "layer 0 (global_max_pool2d) cannot take input of shape [1, 4096, 4096]: expected planes of fewer than 2^24 values for max pooling, found [1, 4096, 4096]"
    )
    for pool in kinds {
      XCTAssertEqual(
        message(
          [1, 6, 6],
          [
            Conv2D.Spec(filters: 4, kernel: 3, activation: .relu), pool,
            Conv2D.Spec(filters: 2, kernel: 1, activation: .relu),
          ]),
        "layer 2 (conv2d) cannot take input of shape [4]: expected an image [channels, height, width] (rank 3), found rank 1; a spatial layer like conv2d cannot follow a flatten, dense or global pooling layer"
      )
      // A dense layer reads the pooled [C] directly: no flatten between.
      let architecture = try Architecture(
        input: [1, 6, 6],
        layers: [
          Conv2D.Spec(filters: 4, kernel: 3, activation: .relu), pool,
          Dense.Spec(units: 2, activation: .softmax),
        ])
      XCTAssertEqual(architecture.layers.map(\.outputShape), [[4, 4, 4], [4], [2]])
    }
  }

  /// conv → global pooling → dense softmax through `Network.lossAndGradient`, against the Double references.
  func testConvGlobalPoolingDenseEndToEnd() throws {
    for (pool, seed) in zip(kinds, [UInt64(41), 42]) {
      let architecture = try Architecture(
        input: [2, 5, 6],
        layers: [
          Conv2D.Spec(filters: 3, kernel: 3, padding: .same, activation: .tanh), pool,
          Dense.Spec(units: 3, activation: .softmax),
        ])
      let network = Network(architecture: architecture, loss: .crossEntropy)
      var g = SeededGenerator(seed: seed)
      let parameters = FloatBuffer(count: architecture.parameterCount)
      Initializer.xavierUniform.initialize(parameters, for: architecture, using: &g)
      let rows = 4
      let x = (0..<(rows * 60)).map { _ in g.nextFloat() * 2 - 1 }
      let t = (0..<rows).map { _ in Float(g.nextIndex(below: 3)) }
      let gradient = FloatBuffer(count: architecture.parameterCount)
      let workspace = Workspace(architecture: architecture, capacity: rows, targetColumns: 1)
      let lossSum = network.lossAndGradient(
        parameters: parameters.pointer, input: x, targets: t, targetColumns: 1, rows: rows,
        workspace: workspace, gradient: gradient.pointer)
      func referenceLoss(_ theta: [Double]) -> Double {
        LayerReference.crossEntropyLoss(architecture, theta: theta, x: x, t: t, rows: rows)
      }
      let theta = parameters.array.map(Double.init)
      XCTAssertEqual(lossSum, referenceLoss(theta), accuracy: 1e-4, "loss, \(pool)")
      LayerReference.checkNetworkGradient(gradient, at: theta, loss: referenceLoss, what: "\(pool)")
    }
  }
}
