import Foundation
import NeuralNet
import XCTest

/// `training.class_weight`: the weighted loss, its gradient and "balanced", against hand computations.
final class ClassWeightTests: XCTestCase {
  /// Σ w_y ℓ and its gradient w_y (y − onehot) on given softmax outputs, written out by hand.
  func testWeightedCrossEntropyMatchesAHandComputation() {
    let y: [Float] = [0.7, 0.2, 0.1, 0.1, 0.6, 0.3, 0.2, 0.2, 0.6]
    let t: [Float] = [0, 1, 2]
    let weights = ClassWeights([1, 2, 0.5])
    var g = [Float](repeating: 0, count: 9)
    let sum = y.withUnsafeBufferPointer { yp in
      t.withUnsafeBufferPointer { tp in
        g.withUnsafeMutableBufferPointer { gp in
          Loss.crossEntropy.sumAndGradient(
            output: yp.baseAddress!, targets: tp.baseAddress!, targetColumns: 1, rows: 3, outputs: 3,
            activation: .softmax, gradient: gp.baseAddress!, classWeights: weights)
        }
      }
    }
    // 1·(−ln 0.7) + 2·(−ln 0.6) + 0.5·(−ln 0.6), with −ln 0.7 = 0.35667494393873245, −ln 0.6 = 0.5108256237659907.
    let lnY0 = -log(Double(Float(0.7)))
    let lnY1 = -log(Double(Float(0.6)))
    XCTAssertEqual(sum, lnY0 + 2 * lnY1 + 0.5 * lnY1, accuracy: 1e-12)
    XCTAssertEqual(sum, 1.633739004, accuracy: 1e-7)
    let weightSum = t.withUnsafeBufferPointer {
      weights.sum(targets: $0.baseAddress!, targetColumns: 1, rows: 3, outputs: 3)
    }
    XCTAssertEqual(weightSum, 3.5)
    // PyTorch's CrossEntropyLoss(weight=[1, 2, 0.5]) on these rows: 1.633739004 / 3.5.
    XCTAssertEqual(sum / weightSum, 0.466782572, accuracy: 1e-7)
    let expected: [Float] = [-0.3, 0.2, 0.1, 0.2, -0.8, 0.6, 0.1, 0.1, -0.2]
    for (a, b) in zip(g, expected) { XCTAssertEqual(a, b, accuracy: 1e-6) }
  }

  /// One-hot rows and one sigmoid output pick their class the way accuracy does.
  func testARowsClassIsItsIndexItsOneHotColumnOrItsSigmoidSide() {
    let weights = ClassWeights([3, 5, 7])
    let oneHot: [Float] = [0, 0, 1, 0, 1, 0]
    XCTAssertEqual(
      oneHot.withUnsafeBufferPointer {
        weights.sum(targets: $0.baseAddress!, targetColumns: 3, rows: 2, outputs: 3)
      },
      12)
    let binary = ClassWeights([1, 4])
    let labels: [Float] = [0, 1, 1, 0, 1]
    XCTAssertEqual(
      labels.withUnsafeBufferPointer {
        binary.sum(targets: $0.baseAddress!, targetColumns: 1, rows: 5, outputs: 1)
      },
      14)
  }

  /// scikit-learn's compute_class_weight("balanced"): n / (classes · count).
  func testBalancedWeightsAreSamplesOverClassesTimesCount() throws {
    let weights = try ClassWeights.balanced(counts: [6, 2, 2]).get()
    XCTAssertEqual(weights.weights, [Float(10.0 / 18), Float(10.0 / 6), Float(10.0 / 6)])
    guard case .failure(let empty) = ClassWeights.balanced(counts: [3, 0]) else {
      return XCTFail("a class without samples")
    }
    XCTAssertEqual(empty.index, 1)
    let t: [Float] = [0, 0, 1, 2, 0, 0, 0, 0, 1, 2]
    XCTAssertEqual(
      t.withUnsafeBufferPointer {
        ClassWeights.counts(targets: $0.baseAddress!, targetColumns: 1, rows: 10, outputs: 3, classes: 3)
      }, [6, 2, 2])
  }

  /// The network's weighted gradient against central differences of a Double reference of Σ w_y ℓ.
  func testWeightedGradientMatchesFiniteDifferences() throws {
    for (loss, output, outputs) in [
      (Loss.crossEntropy, Activation.softmax, 3), (.binaryCrossEntropy, .sigmoid, 1),
    ] {
      let architecture = try Architecture(
        input: [4],
        layers: [Dense.Spec(units: 5, activation: .tanh), Dense.Spec(units: outputs, activation: output)])
      let weights = ClassWeights(outputs == 1 ? [0.25, 3] : [0.5, 2, 1.5])
      let network = Network(architecture: architecture, loss: loss, classWeights: weights)
      let parameters = FloatBuffer(count: architecture.parameterCount)
      var generator = SeededGenerator(seed: 3)
      Initializer.xavierUniform.initialize(parameters, for: architecture, using: &generator)
      let rows = 6
      let x = (0..<rows).map { _ in (0..<4).map { _ in Double(generator.nextFloat() * 2 - 1) } }
      let t = (0..<rows).map { r in [Double(r % (outputs == 1 ? 2 : outputs))] }
      let xFlat = x.flatMap { $0.map(Float.init) }
      let tFlat = t.flatMap { $0.map(Float.init) }
      let workspace = Workspace(architecture: architecture, capacity: rows, targetColumns: 1)
      let gradient = FloatBuffer(count: architecture.parameterCount)
      let sum = xFlat.withUnsafeBufferPointer { xp in
        tFlat.withUnsafeBufferPointer { tp in
          network.lossAndGradient(
            parameters: parameters.pointer, input: xp.baseAddress!, targets: tp.baseAddress!,
            targetColumns: 1,
            rows: rows, workspace: workspace, gradient: gradient.pointer)
        }
      }
      func reference(_ theta: [Double]) -> Double {
        var total = 0.0
        for (sample, target) in zip(x, t) {
          let single = GradientCheckTests.referenceLoss(
            theta, architecture: architecture, loss: loss, x: [sample], t: [target])
          total += Double(weights.weights[Int(target[0])]) * single
        }
        return total
      }
      var theta = parameters.array.map(Double.init)
      XCTAssertEqual(sum, reference(theta), accuracy: 1e-5)
      let h = 1e-6
      for p in 0..<theta.count {
        let saved = theta[p]
        theta[p] = saved + h
        let up = reference(theta)
        theta[p] = saved - h
        let down = reference(theta)
        theta[p] = saved
        let numeric = (up - down) / (2 * h)
        XCTAssertEqual(Double(gradient[p]), numeric, accuracy: 1e-4 * max(1, abs(numeric)), "\(loss) θ[\(p)]")
      }
    }
  }
}
