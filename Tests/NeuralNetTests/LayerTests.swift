import Foundation
import NeuralNet
import XCTest

/// The layer seam: Dense through the `Layer` API, shapes and layout, errors, and a kind defined outside NeuralNet.
final class LayerTests: XCTestCase {
  // MARK: Dense through the Layer API

  /// Central differences of L = Σ c ⊙ f(X · W + b) in Double against Dense's backward.
  private func checkDense(activation: Activation, bias: Bool, seed: UInt64, line: UInt = #line) throws {
    var g = SeededGenerator(seed: seed)
    let inputs = 2 + g.nextIndex(below: 4)
    let units = 2 + g.nextIndex(below: 4)
    let rows = 1 + g.nextIndex(below: 4)
    let offset = 5  // the layer's tensors start inside a larger flat buffer
    let spec = Dense.Spec(units: units, activation: activation, bias: bias)
    let layer = try spec.build(input: [inputs], parameterOffset: offset)
    XCTAssertEqual(layer.kind, "dense")
    XCTAssertEqual(layer.inputShape, [inputs])
    XCTAssertEqual(layer.outputShape, [units])
    XCTAssertEqual(layer.multiplyAdds, inputs * units)
    XCTAssertEqual(layer.parameters.map(\.name), bias ? ["weights", "biases"] : ["weights"])
    XCTAssertEqual(layer.parameterCount, inputs * units + (bias ? units : 0))
    let total = offset + layer.parameterCount + 3
    let parameters = FloatBuffer(count: total)
    for i in 0..<total { parameters[i] = g.nextFloat() - 0.5 }
    let x = (0..<(rows * inputs)).map { _ in g.nextFloat() * 2 - 1 }
    let c = (0..<(rows * units)).map { _ in Double(g.nextFloat() * 2 - 1) }

    // Analytic: forward, dA = c, dZ = dA ⊙ f'(A) (the network's job), then the layer's backward.
    let output = FloatBuffer(count: rows * units)
    let dZ = FloatBuffer(c.map(Float.init))
    let gradient = FloatBuffer(count: total)
    for i in 0..<total { gradient[i] = 99 }  // outside the layer's ranges these must survive
    let dX = FloatBuffer(count: rows * inputs)
    let scratch = FloatBuffer(count: layer.scratchCount(rows: rows))
    x.withUnsafeBufferPointer { xp in
      guard let input = xp.baseAddress else { return }
      layer.forward(
        parameters: parameters.pointer, input: input, output: output.pointer, rows: rows,
        scratch: scratch.pointer, context: .inference)
      activation.backward(output: output.pointer, gradient: dZ.pointer, rows: rows, columns: units)
      layer.backward(
        parameters: parameters.pointer, input: input, output: output.pointer,
        outputGradient: dZ.pointer, rows: rows, gradient: gradient.pointer, inputGradient: dX.pointer,
        scratch: scratch.pointer, context: .inference)
    }

    // Reference in Double, reading the tensors by name, shape and offset.
    let tensors = Dictionary(uniqueKeysWithValues: layer.parameters.map { ($0.name, $0) })
    let weights = try XCTUnwrap(tensors["weights"])
    XCTAssertEqual(weights.shape, [inputs, units])
    XCTAssertEqual(weights.offset, offset)
    if bias {
      XCTAssertEqual(tensors["biases"]?.range, (offset + inputs * units)..<(offset + layer.parameterCount))
    }
    func loss(_ theta: [Double], _ x: [Double]) -> Double {
      var sum = 0.0
      for r in 0..<rows {
        var z = (0..<units).map { j in tensors["biases"].map { theta[$0.offset + j] } ?? 0 }
        for j in 0..<units {
          for i in 0..<inputs { z[j] += x[r * inputs + i] * theta[weights.offset + i * units + j] }
        }
        let a = GradientCheckTests.activate(z, activation)
        for j in 0..<units { sum += c[r * units + j] * a[j] }
      }
      return sum
    }
    var theta = parameters.array.map(Double.init)
    var xd = x.map(Double.init)
    XCTAssertEqual(
      output.array.enumerated().map { Double($1) * c[$0] }.reduce(0, +), loss(theta, xd), accuracy: 1e-4,
      "forward", line: line)
    let h = 1e-6
    func check(_ analytic: Float, _ numeric: Double, _ what: String) {
      let error = abs(numeric - Double(analytic)) / max(1e-2, abs(numeric) + abs(Double(analytic)))
      XCTAssertLessThan(error, 2e-3, "\(activation) bias=\(bias) \(what)", line: line)
    }
    for p in 0..<total {
      guard layer.parameters.contains(where: { $0.range.contains(p) }) else {
        XCTAssertEqual(gradient[p], 99, "parameter \(p) is not the layer's", line: line)
        continue
      }
      let saved = theta[p]
      theta[p] = saved + h
      let up = loss(theta, xd)
      theta[p] = saved - h
      let down = loss(theta, xd)
      theta[p] = saved
      check(gradient[p], (up - down) / (2 * h), "parameter \(p)")
    }
    for i in 0..<xd.count {
      let saved = xd[i]
      xd[i] = saved + h
      let up = loss(theta, xd)
      xd[i] = saved - h
      let down = loss(theta, xd)
      xd[i] = saved
      check(dX[i], (up - down) / (2 * h), "input \(i)")
    }
  }

  func testDenseGradientsThroughTheLayerAPIWithAndWithoutBias() throws {
    var seed: UInt64 = 3000
    for activation in Activation.allCases {
      for bias in [false, true] {
        seed += 1
        try checkDense(activation: activation, bias: bias, seed: seed)
      }
    }
  }

  // MARK: Architecture

  func testArchitectureLaysOutParametersLayerByLayer() throws {
    let architecture = try Architecture(
      input: [3],
      layers: [
        Dense.Spec(units: 4, activation: .relu),
        Dense.Spec(units: 5, activation: .tanh, bias: false),
        Dense.Spec(units: 2, activation: .softmax),
      ])
    XCTAssertEqual(architecture.layers.map(\.inputShape), [[3], [4], [5]])
    XCTAssertEqual(architecture.layers.map(\.outputShape), [[4], [5], [2]])
    let tensors = architecture.layers.flatMap(\.parameters)
    XCTAssertEqual(tensors.map(\.name), ["weights", "biases", "weights", "weights", "biases"])
    XCTAssertEqual(tensors.map(\.shape), [[3, 4], [4], [4, 5], [5, 2], [2]])
    XCTAssertEqual(tensors.map(\.offset), [0, 12, 16, 36, 46])
    XCTAssertEqual(architecture.parameterCount, 48)
    XCTAssertEqual(architecture.multiplyAdds, 12 + 20 + 10)
    XCTAssertEqual(architecture.maxWidth, 5)
    XCTAssertEqual(architecture.inputs, 3)
    XCTAssertEqual(architecture.outputs, 2)
    XCTAssertEqual(
      architecture.specs.map(\.description), ["dense 4 relu", "dense 5 tanh no bias", "dense 2 softmax"])
    XCTAssertEqual(
      architecture,
      try Architecture(
        input: [3],
        layers: [
          Dense.Spec(units: 4, activation: .relu), Dense.Spec(units: 5, activation: .tanh, bias: false),
          Dense.Spec(units: 2, activation: .softmax),
        ]))
    XCTAssertNotEqual(
      architecture, try Architecture(input: [3], layers: [Dense.Spec(units: 2, activation: .softmax)]))
  }

  func testArchitectureErrorsNameTheLayerItsInputAndWhatWasExpected() {
    XCTAssertThrowsError(
      try Architecture(
        input: [3, 4, 4], layers: [Dense.Spec(units: 2, activation: .relu)])
    ) { error in
      XCTAssertEqual(
        error as? ArchitectureError,
        .layer(
          index: 0, kind: "dense", input: [3, 4, 4],
          expected: "a flat input [features] with at least one feature"))
      XCTAssertEqual(
        "\(error)",
        "layer 0 (dense) cannot take input of shape [3, 4, 4]: expected a flat input [features] with at least one feature"
      )
    }
    XCTAssertThrowsError(
      try Architecture(
        input: [3],
        layers: [Dense.Spec(units: 2, activation: .relu), Dense.Spec(units: 0, activation: .linear)])
    ) { error in
      XCTAssertEqual(
        "\(error)", "layer 1 (dense) cannot take input of shape [2]: expected units ≥ 1, found 0")
    }
    XCTAssertThrowsError(try Architecture(input: [3], layers: [])) { error in
      XCTAssertEqual(error as? ArchitectureError, .noLayers)
    }
    XCTAssertThrowsError(try Architecture(input: [0], layers: [Dense.Spec(units: 1, activation: .linear)])) {
      error in
      XCTAssertEqual(error as? ArchitectureError, .emptyInput([0]))
    }
  }

  func testInitializationDrawsLayerByLayerWeightsRowMajorBiasesZero() throws {
    let architecture = try Architecture(
      input: [2],
      layers: [Dense.Spec(units: 3, activation: .tanh), Dense.Spec(units: 1, activation: .linear)])
    let parameters = FloatBuffer(count: architecture.parameterCount)
    for i in 0..<parameters.count { parameters[i] = 7 }
    var generator = SeededGenerator(seed: 42)
    Initializer.uniform01.initialize(parameters, for: architecture, using: &generator)
    var draws = SeededGenerator(seed: 42)
    let first = (0..<6).map { _ in draws.nextFloat() }
    let second = (0..<3).map { _ in draws.nextFloat() }
    XCTAssertEqual(parameters.array, first + [0, 0, 0] + second + [0])
    XCTAssertEqual(generator, draws, "nothing else is drawn")
  }

  // MARK: A kind defined outside NeuralNet

  /// A parameter-free layer that flattens [C, H, W] samples; the layout is already flat, so it copies.
  private struct Flatten: Layer {
    struct Spec: LayerSpec {
      static let kind = "flatten"
      var activation: Activation { .linear }
      var description: String { "flatten" }
      func build(input: Shape, parameterOffset: Int) throws(LayerShapeError) -> any Layer {
        guard input.rank > 1 else { throw LayerShapeError(expected: "an input of rank ≥ 2") }
        return Flatten(spec: self, inputShape: input)
      }
    }
    let spec: Spec
    let inputShape: Shape
    var outputShape: Shape { [inputShape.elements] }
    var parameters: [ParameterTensor] { [] }
    var activation: Activation { .linear }
    var multiplyAdds: Int { 0 }
    func scratchCount(rows: Int) -> Int { rows }  // unused; shows the workspace sizes it
    func initialize(
      _ parameters: UnsafeMutablePointer<Float>, with initializer: Initializer,
      using generator: inout SeededGenerator
    ) {}
    func forward(
      parameters: UnsafePointer<Float>, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
      rows: Int, scratch: UnsafeMutablePointer<Float>, context: PassContext
    ) {
      output.update(from: input, count: rows * inputShape.elements)
    }
    func backward(
      parameters: UnsafePointer<Float>, input: UnsafePointer<Float>, output: UnsafePointer<Float>,
      outputGradient: UnsafePointer<Float>, rows: Int, gradient: UnsafeMutablePointer<Float>,
      inputGradient: UnsafeMutablePointer<Float>?, scratch: UnsafeMutablePointer<Float>,
      context: PassContext
    ) {
      inputGradient?.update(from: outputGradient, count: rows * inputShape.elements)
    }
  }

  func testANewKindPlugsInWithoutRegistration() throws {
    let specs: [any LayerSpec] = [Flatten.Spec(), Dense.Spec(units: 3, activation: .softmax)]
    let architecture = try Architecture(input: [2, 2, 3], layers: specs)
    XCTAssertEqual(architecture.layers.map(\.kind), ["flatten", "dense"])
    XCTAssertEqual(architecture.layers.map(\.outputShape), [[12], [3]])
    XCTAssertEqual(architecture.parameterCount, 12 * 3 + 3)
    let workspace = Workspace(architecture: architecture, capacity: 4, targetColumns: 1)
    XCTAssertEqual(workspace.scratch.map(\.count), [4, 0])
    XCTAssertThrowsError(try Architecture(input: [5], layers: specs)) { error in
      XCTAssertEqual(
        "\(error)", "layer 0 (flatten) cannot take input of shape [5]: expected an input of rank ≥ 2")
    }

    // The same numbers as the flat network: flatten changes the shape, not a bit of the result.
    let flat = try Architecture(input: [12], layers: [Dense.Spec(units: 3, activation: .softmax)])
    let parameters = FloatBuffer(count: architecture.parameterCount)
    var generator = SeededGenerator(seed: 9)
    Initializer.xavierUniform.initialize(parameters, for: architecture, using: &generator)
    let x = (0..<(4 * 12)).map { _ in generator.nextFloat() }
    let t: [Float] = [0, 2, 1, 2]
    var results: [[Float]] = []
    for arch in [architecture, flat] {
      let gradient = FloatBuffer(count: arch.parameterCount)
      let loss = Network(architecture: arch, loss: .crossEntropy).lossAndGradient(
        parameters: parameters.pointer, input: x, targets: t, targetColumns: 1, rows: 4,
        workspace: Workspace(architecture: arch, capacity: 4, targetColumns: 1), gradient: gradient.pointer)
      results.append([Float(loss)] + gradient.array)
    }
    XCTAssertEqual(results[0].map(\.bitPattern), results[1].map(\.bitPattern))
  }
}
