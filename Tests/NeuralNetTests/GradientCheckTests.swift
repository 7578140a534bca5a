import Foundation
import NeuralNet
import XCTest

/// Analytic gradients against central differences of an independent Double reference.
///
/// The reference below re-implements the forward pass and the losses with
/// plain loops in Double, so a wrong derivative in the Float network cannot
/// hide behind rounding: differences are taken with h = 1e-6 in Double.
final class GradientCheckTests: XCTestCase {
  // MARK: Double reference

  static func activate(_ z: [Double], _ activation: Activation) -> [Double] {
    switch activation {
    case .sigmoid: return z.map { 1 / (1 + exp(-$0)) }
    case .tanh: return z.map { Foundation.tanh($0) }
    case .relu: return z.map { max($0, 0) }
    case .leakyRelu: return z.map { $0 > 0 ? $0 : Double(Activation.leakySlope) * $0 }
    case .linear: return z
    case .softmax:
      let m = z.max() ?? 0
      let e = z.map { exp($0 - m) }
      let s = e.reduce(0, +)
      return e.map { $0 / s }
    }
  }

  static func referenceLoss(
    _ theta: [Double], architecture: Architecture, loss: Loss, x: [[Double]], t: [[Double]],
    outputOverride: Activation? = nil
  ) -> Double {
    var total = 0.0
    for (sample, target) in zip(x, t) {
      var a = sample
      for (l, layer) in architecture.layers.enumerated() {
        // The reference reads the tensors by name: weights [inputs, units], biases [units].
        let tensors = Dictionary(uniqueKeysWithValues: layer.parameters.map { ($0.name, $0) })
        guard let weights = tensors["weights"] else { return .nan }
        let inputs = weights.shape.dimensions[0]
        let units = weights.shape.dimensions[1]
        var z = [Double](repeating: 0, count: units)
        for j in 0..<units {
          var sum = tensors["biases"].map { theta[$0.offset + j] } ?? 0
          for i in 0..<inputs { sum += a[i] * theta[weights.offset + i * units + j] }
          z[j] = sum
        }
        let isLast = l == architecture.layers.count - 1
        a = activate(z, isLast ? (outputOverride ?? layer.activation) : layer.activation)
      }
      let o = Double(a.count)
      switch loss {
      case .sse: total += zip(a, target).map { ($0 - $1) * ($0 - $1) }.reduce(0, +)
      case .mse: total += zip(a, target).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) / o
      case .binaryCrossEntropy:
        total -= zip(a, target).map { $1 * log($0) + (1 - $1) * log(1 - $0) }.reduce(0, +) / o
      case .crossEntropy:
        if target.count == 1 {
          total -= log(a[Int(target[0])])
        } else {
          total -= zip(a, target).map { $1 * log($0) }.reduce(0, +)
        }
      }
    }
    return total
  }

  // MARK: Checks

  private func check(
    hidden: Activation, output: Activation, loss: Loss, bias: Bool, classIndex: Bool = false,
    seed: UInt64, referenceOutput: Activation? = nil, expectFailure: Bool = false,
    file: StaticString = #filePath, line: UInt = #line
  ) {
    var generator = SeededGenerator(seed: seed)
    let inputs = 2 + generator.nextIndex(below: 4)
    let hiddenUnits = 2 + generator.nextIndex(below: 5)
    let outputs =
      output == .softmax || loss == .crossEntropy
      ? 2 + generator.nextIndex(below: 3) : 1 + generator.nextIndex(below: 3)
    let rows = 1 + generator.nextIndex(below: 5)
    let architecture: Architecture
    do {
      architecture = try Architecture(
        input: [inputs],
        layers: [
          Dense.Spec(units: hiddenUnits, activation: hidden, bias: bias),
          Dense.Spec(units: hiddenUnits + 1, activation: hidden, bias: bias),
          Dense.Spec(units: outputs, activation: output, bias: bias),
        ])
    } catch {
      XCTFail("\(error)", file: file, line: line)
      return
    }
    let network = Network(architecture: architecture, loss: loss)
    let parameters = FloatBuffer(count: architecture.parameterCount)
    Initializer.xavierUniform.initialize(parameters, for: architecture, using: &generator)
    // Non-zero biases so their gradients are exercised away from zero.
    for layer in architecture.layers {
      for tensor in layer.parameters where tensor.name == "biases" {
        for p in tensor.range { parameters[p] = generator.nextFloat() - 0.5 }
      }
    }
    let x = (0..<rows).map { _ in (0..<inputs).map { _ in Double(generator.nextFloat() * 2 - 1) } }
    var t: [[Double]]
    switch loss {
    case .crossEntropy where classIndex:
      t = (0..<rows).map { _ in [Double(generator.nextIndex(below: outputs))] }
    case .crossEntropy:
      t = (0..<rows).map { _ in
        var row = [Double](repeating: 0, count: outputs)
        row[generator.nextIndex(below: outputs)] = 1
        return row
      }
    case .binaryCrossEntropy:
      t = (0..<rows).map { _ in (0..<outputs).map { _ in Double(generator.nextIndex(below: 2)) } }
    default:
      t = (0..<rows).map { _ in (0..<outputs).map { _ in Double(generator.nextFloat()) } }
    }
    let xFlat = x.flatMap { $0.map(Float.init) }
    let tFlat = t.flatMap { $0.map(Float.init) }
    let workspace = Workspace(architecture: architecture, capacity: rows, targetColumns: t[0].count)
    let gradient = FloatBuffer(count: architecture.parameterCount)
    let lossSum = xFlat.withUnsafeBufferPointer { xp in
      tFlat.withUnsafeBufferPointer { tp in
        network.lossAndGradient(
          parameters: parameters.pointer, input: xp.baseAddress!, targets: tp.baseAddress!,
          targetColumns: t[0].count, rows: rows, workspace: workspace, gradient: gradient.pointer)
      }
    }
    var theta = parameters.array.map(Double.init)
    let reference = Self.referenceLoss(
      theta, architecture: architecture, loss: loss, x: x, t: t, outputOverride: referenceOutput)
    if !expectFailure {
      XCTAssertEqual(
        lossSum, reference, accuracy: 1e-4 * max(1, abs(reference)), "loss value", file: file, line: line)
    }
    let h = 1e-6
    var worst = 0.0
    for p in 0..<theta.count {
      let saved = theta[p]
      theta[p] = saved + h
      let up = Self.referenceLoss(
        theta, architecture: architecture, loss: loss, x: x, t: t, outputOverride: referenceOutput)
      theta[p] = saved - h
      let down = Self.referenceLoss(
        theta, architecture: architecture, loss: loss, x: x, t: t, outputOverride: referenceOutput)
      theta[p] = saved
      let numeric = (up - down) / (2 * h)
      let analytic = Double(gradient[p])
      let error = abs(numeric - analytic) / max(1e-2, abs(numeric) + abs(analytic))
      worst = max(worst, error)
      if expectFailure { continue }
      XCTAssertLessThan(
        error, 2e-3,
        "\(hidden)/\(output)/\(loss) bias=\(bias) parameter \(p): analytic \(analytic), numeric \(numeric)",
        file: file, line: line)
      if error >= 2e-3 { return }
    }
    if expectFailure {
      XCTAssertGreaterThan(worst, 2e-3, "the check must reject a wrong derivative", file: file, line: line)
    }
  }

  func testEveryHiddenActivationWithSquaredErrors() {
    var seed: UInt64 = 100
    for hidden in Activation.allCases where hidden != .softmax {
      for output in Activation.allCases {
        for loss in [Loss.sse, .mse] {
          for bias in [false, true] {
            seed += 1
            check(hidden: hidden, output: output, loss: loss, bias: bias, seed: seed)
          }
        }
      }
    }
  }

  func testBinaryCrossEntropyWithSigmoid() {
    var seed: UInt64 = 500
    for hidden in Activation.allCases where hidden != .softmax {
      for bias in [false, true] {
        seed += 1
        check(hidden: hidden, output: .sigmoid, loss: .binaryCrossEntropy, bias: bias, seed: seed)
      }
    }
  }

  func testCrossEntropyWithSoftmaxOneHotAndClassIndex() {
    var seed: UInt64 = 900
    for hidden in Activation.allCases where hidden != .softmax {
      for bias in [false, true] {
        for classIndex in [false, true] {
          seed += 1
          check(
            hidden: hidden, output: .softmax, loss: .crossEntropy, bias: bias, classIndex: classIndex,
            seed: seed)
        }
      }
    }
  }

  func testCheckerRejectsAWrongDerivative() {
    // Guard against a check that cannot fail: analytic gradients of a tanh
    // output checked against a sigmoid reference must be rejected.
    check(
      hidden: .sigmoid, output: .tanh, loss: .mse, bias: true, seed: 77, referenceOutput: .sigmoid,
      expectFailure: true)
    check(
      hidden: .relu, output: .linear, loss: .sse, bias: false, seed: 78, referenceOutput: .leakyRelu,
      expectFailure: true)
  }

  func testCrossEntropyStaysFiniteForExtremeLogits() throws {
    let architecture = try Architecture(
      input: [1], layers: [Dense.Spec(units: 3, activation: .softmax, bias: false)])
    let network = Network(architecture: architecture, loss: .crossEntropy)
    let parameters = FloatBuffer([1000, -1000, 0])
    let workspace = Workspace(architecture: architecture, capacity: 1, targetColumns: 1)
    let gradient = FloatBuffer(count: 3)
    let x: [Float] = [1]
    let t: [Float] = [1]  // the class with probability ~e^-2000
    let loss = network.lossAndGradient(
      parameters: parameters.pointer, input: x, targets: t, targetColumns: 1, rows: 1,
      workspace: workspace, gradient: gradient.pointer)
    XCTAssertTrue(loss.isFinite)
    XCTAssertGreaterThan(loss, 20)
    XCTAssertEqual(gradient.array, [1, -1, 0])
  }
}
