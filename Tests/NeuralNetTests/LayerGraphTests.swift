import Foundation
import NeuralNet
import XCTest

/// Layer graphs: shared inputs, `add` and `concatenate`, branch gradients that sum, and the graph rules.
final class LayerGraphTests: XCTestCase {
  /// The network's loss in Double, layer by layer over the graph, with the reference kernels.
  private static func referenceLoss(
    _ theta: [Double], network: Network, x: [Double], targets: [Double], rows: Int
  ) -> Double {
    let architecture = network.architecture
    var outputs: [[Double]] = []
    func value(_ producer: Int) -> [Double] { producer < 0 ? x : outputs[producer] }
    for (l, layer) in architecture.layers.enumerated() {
      let producers = architecture.layerInputs[l]
      switch layer {
      case let add as Add:
        var z = value(producers[0])
        for producer in producers.dropFirst() { z = zip(z, value(producer)).map { $0 + $1 } }
        outputs.append(GradientCheckTests.activate(z, add.activation))
      case let concatenate as Concatenate:
        var z: [Double] = []
        for r in 0..<rows {
          for (slot, producer) in producers.enumerated() {
            let width = concatenate.inputShapes[slot].elements
            z += value(producer)[(r * width)..<((r + 1) * width)]
          }
        }
        outputs.append(GradientCheckTests.activate(z, concatenate.activation))
      default:
        outputs.append(LayerReference.forward(layer, theta: theta, x: value(producers[0]), rows: rows))
      }
    }
    // Mean squared error per sample, summed over rows, as `Loss.mse` computes it.
    let last = outputs[outputs.count - 1]
    let width = architecture.outputs
    return zip(last, targets).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) / Double(width)
  }

  /// Analytic gradients of `network` on random rows against central differences of the Double reference.
  private func checkGradients(
    _ network: Network, rows: Int, seed: UInt64, file: StaticString = #filePath, line: UInt = #line
  ) {
    var g = SeededGenerator(seed: seed)
    let architecture = network.architecture
    let parameters = FloatBuffer(count: architecture.parameterCount)
    for i in 0..<parameters.count { parameters[i] = g.nextFloat() - 0.5 }
    let x = FloatBuffer((0..<(rows * architecture.inputs)).map { _ in g.nextFloat() * 2 - 1 })
    let t = FloatBuffer((0..<(rows * architecture.outputs)).map { _ in g.nextFloat() })
    let workspace = Workspace(architecture: architecture, capacity: rows, targetColumns: architecture.outputs)
    let gradient = FloatBuffer(count: architecture.parameterCount)
    let lossSum = network.lossAndGradient(
      parameters: parameters.pointer, input: x.pointer, targets: t.pointer,
      targetColumns: architecture.outputs,
      rows: rows, workspace: workspace, gradient: gradient.pointer)
    let theta = parameters.array.map(Double.init)
    let xd = x.array.map(Double.init)
    let td = t.array.map(Double.init)
    func loss(_ theta: [Double]) -> Double {
      Self.referenceLoss(theta, network: network, x: xd, targets: td, rows: rows)
    }
    XCTAssertEqual(lossSum, loss(theta), accuracy: 1e-4, "loss against the reference", file: file, line: line)
    // Prediction runs the graph forward on a workspace without gradient buffers: same outputs.
    let inputs = Matrix(rows: rows, columns: architecture.inputs)
    inputs.storage.pointer.update(from: x.pointer, count: x.count)
    let predicted = network.predict(parameters: parameters, inputs: inputs).storage.array.map(Double.init)
    let predictedLoss =
      zip(predicted, td).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) / Double(architecture.outputs)
    XCTAssertEqual(
      predictedLoss, lossSum, accuracy: 1e-5, "predict against the training pass", file: file, line: line)
    LayerReference.checkNetworkGradient(
      gradient, at: theta, loss: loss, what: "graph", file: file, line: line)
  }

  /// The network input feeds two layers, layer 0's output feeds a dense layer and the add: every branch's gradient counts.
  func testSharedInputAndAddMatchFiniteDifferences() throws {
    let architecture = try Architecture(
      input: [3],
      layers: [
        Dense.Spec(units: 4, activation: .tanh),  // 0 ← input
        Dense.Spec(units: 4, activation: .sigmoid),  // 1 ← 0
        Dense.Spec(units: 4, activation: .linear),  // 2 ← input (the shortcut)
        Add.Spec(activation: .tanh),  // 3 ← 1, 0, 2
        Dense.Spec(units: 2, activation: .linear),  // 4 ← 3
      ],
      inputs: [[-1], [0], [-1], [1, 0, 2], [3]])
    XCTAssertFalse(architecture.isChain)
    checkGradients(Network(architecture: architecture, loss: .mse), rows: 3, seed: 11)
  }

  /// Concatenate joins features; the same output named twice in one merge gets both gradients.
  func testConcatenateAndRepeatedInputMatchFiniteDifferences() throws {
    let architecture = try Architecture(
      input: [2],
      layers: [
        Dense.Spec(units: 3, activation: .tanh),  // 0
        Dense.Spec(units: 2, activation: .sigmoid),  // 1 ← 0
        Concatenate.Spec(),  // 2 ← 0, 1, 0: [8]
        Dense.Spec(units: 2, activation: .linear),  // 3
      ],
      inputs: [[-1], [0], [0, 1, 0], [2]])
    XCTAssertEqual(architecture.layers[2].outputShape, [8])
    checkGradients(Network(architecture: architecture, loss: .mse), rows: 2, seed: 5)
  }

  /// A residual block on images: two convolutions, an add with the shortcut, then a flatten and dense in a graph.
  func testConvolutionResidualBlockMatchesFiniteDifferences() throws {
    let conv = Conv2D.Spec(filters: 2, kernel: 3, padding: .same, activation: .tanh)
    let architecture = try Architecture(
      input: [1, 4, 4],
      layers: [
        conv,  // 0 ← input: [2, 4, 4]
        Conv2D.Spec(filters: 2, kernel: 3, padding: .same, activation: .linear),  // 1 ← 0
        Add.Spec(activation: .relu),  // 2 ← 1, 0 (identity shortcut)
        Flatten.Spec(),  // 3 ← 2
        Dense.Spec(units: 3, activation: .linear),  // 4 ← 3
      ],
      inputs: [[-1], [0], [1, 0], [2], [3]])
    checkGradients(Network(architecture: architecture, loss: .mse), rows: 2, seed: 3)
  }

  /// A chain written with explicit inputs is a chain: same layout, same bits as the list form.
  func testExplicitChainIsTheChain() throws {
    let specs: [any LayerSpec] = [
      Dense.Spec(units: 5, activation: .relu), Dense.Spec(units: 2, activation: .linear),
    ]
    let list = try Architecture(input: [4], layers: specs)
    let graph = try Architecture(input: [4], layers: specs, inputs: [[-1], [0]])
    XCTAssertTrue(graph.isChain)
    XCTAssertEqual(list, graph)
  }

  /// Concatenating images stacks channels; a mismatch elsewhere is refused with the shapes.
  func testConcatenateShapes() throws {
    let spec = Concatenate.Spec()
    XCTAssertEqual(try spec.build(inputs: [[8, 4, 4], [3, 4, 4]]).outputShape, [11, 4, 4])
    XCTAssertThrowsError(try spec.build(inputs: [[8, 4, 4], [3, 4, 5]]))
    XCTAssertThrowsError(try Add.Spec().build(inputs: [[4], [5]]))
    // Chained concatenates double a size each time: the sum is checked before it can overflow.
    XCTAssertThrowsError(try spec.build(inputs: [[1 << 39], [1 << 39], [1 << 39]]))
    XCTAssertThrowsError(try spec.build(inputs: [[Int.max / 2 + 1, 1, 1], [Int.max / 2 + 1, 1, 1]]))
  }

  /// Later inputs (cycles), wrong input counts, unused outputs and merge shape mismatches are refused.
  func testGraphRulesAreEnforced() {
    let dense = Dense.Spec(units: 3, activation: .relu)
    func refusal(_ specs: [any LayerSpec], _ inputs: [[Int]]) -> ArchitectureError? {
      do {
        _ = try Architecture(input: [2], layers: specs, inputs: inputs)
        return nil
      } catch {
        return error
      }
    }
    XCTAssertEqual(refusal([dense, dense], [[1], [0]]), .laterInput(index: 0, input: 1))
    XCTAssertEqual(refusal([dense, dense], [[-1], [1]]), .laterInput(index: 1, input: 1))
    XCTAssertEqual(
      refusal([dense, Add.Spec()], [[-1], [0]]),
      .inputCount(index: 1, kind: "add", found: 1, expected: "two or more"))
    XCTAssertEqual(
      refusal([dense, dense], [[-1], [-1, 0]]),
      .inputCount(index: 1, kind: "dense", found: 2, expected: "one"))
    XCTAssertEqual(refusal([dense, dense, dense], [[-1], [-1], [1]]), .unusedOutput(index: 0))
    XCTAssertEqual(
      refusal([dense, Add.Spec()], [[-1], [-1, 0]]),
      .merge(index: 1, kind: "add", inputs: [[2], [3]], expected: "inputs of one shape, found [2], [3]"))
  }
}
