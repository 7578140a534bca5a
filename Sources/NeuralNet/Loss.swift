#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How a loss turns per-sample losses into the batch loss.
public enum Reduction: Sendable {
  /// Sum over the samples (the tutorial's sum of squares).
  case sum
  /// Mean over the samples.
  case mean
}

/// A training loss.
///
/// Notation: Y[B, O] network outputs, T[B, C] targets, B rows, O outputs;
/// C = O, or C = 1 for class-index targets of `cross_entropy`.
///
/// Every loss is first a per-sample loss ℓ(y, t); shards compute Σ ℓ over
/// their rows and the gradient of that sum, and the reducer applies the
/// batch reduction (÷ B for `.mean`) once, after adding the shards in a
/// fixed order. That is what makes the result independent of the threads.
public enum Loss: String, Sendable, CaseIterable, Codable {
  /// ℓ = Σ_o (y_o − t_o)², summed over samples: the tutorial's loss.
  case sse
  /// ℓ = (1/O) Σ_o (y_o − t_o)², averaged over samples.
  case mse
  /// ℓ = −(1/O) Σ_o [t_o log y_o + (1 − t_o) log(1 − y_o)]; sigmoid outputs.
  case binaryCrossEntropy = "binary_cross_entropy"
  /// ℓ = −Σ_o t_o log y_o (one-hot) or −log y_c (class index); softmax outputs.
  case crossEntropy = "cross_entropy"

  /// How per-sample losses combine into the batch loss.
  public var reduction: Reduction { self == .sse ? .sum : .mean }

  /// Smallest probability fed to a logarithm: keeps the loss finite.
  static let probabilityFloor: Double = 1e-12

  /// Whether this loss can follow an output layer with `activation`.
  public func fits(outputActivation activation: Activation) -> Bool {
    switch self {
    case .sse, .mse: return true
    case .binaryCrossEntropy: return activation == .sigmoid
    case .crossEntropy: return activation == .softmax
    }
  }

  /// The output activations this loss accepts, for error messages.
  public var requiredActivation: Activation? {
    switch self {
    case .sse, .mse: return nil
    case .binaryCrossEntropy: return .sigmoid
    case .crossEntropy: return .softmax
    }
  }

  /// Whether targets with `targetColumns` columns fit `outputs` outputs.
  public func accepts(targetColumns: Int, outputs: Int) -> Bool {
    targetColumns == outputs || (self == .crossEntropy && targetColumns == 1 && outputs > 1)
  }

  /// Σ over rows of ℓ; the per-sample sum, before the batch reduction.
  public func sum(
    output: UnsafePointer<Float>, targets: UnsafePointer<Float>, targetColumns: Int,
    rows: Int, outputs: Int
  ) -> Double {
    var total = 0.0
    for r in 0..<rows {
      let y = output + r * outputs
      let t = targets + r * targetColumns
      total += sampleLoss(y: y, t: t, targetColumns: targetColumns, outputs: outputs)
    }
    return total
  }

  /// Σ over rows of ℓ, and dZ = ∂(Σ ℓ)/∂Z of the output layer into `gradient`.
  ///
  /// Cross-entropies are fused with their activation (dZ = y − t for
  /// softmax, (y − t)/O for sigmoid), which is exact and stable even when a
  /// probability underflows; the squared errors go through `activation`'s
  /// backward. With `classWeights`, row i's loss and its gradient are
  /// multiplied by its class's weight (Σ w ℓ and its gradient; the reducer
  /// divides by Σ w).
  public func sumAndGradient(
    output: UnsafePointer<Float>, targets: UnsafePointer<Float>, targetColumns: Int,
    rows: Int, outputs: Int, activation: Activation,
    gradient: UnsafeMutablePointer<Float>, classWeights: ClassWeights? = nil
  ) -> Double {
    var total = 0.0
    let inverseOutputs = 1 / Float(outputs)
    for r in 0..<rows {
      let y = output + r * outputs
      let t = targets + r * targetColumns
      let g = gradient + r * outputs
      let rowLoss = sampleLoss(y: y, t: t, targetColumns: targetColumns, outputs: outputs)
      switch self {
      case .sse:
        for o in 0..<outputs { g[o] = 2 * (y[o] - t[o]) }
      case .mse:
        for o in 0..<outputs { g[o] = 2 * (y[o] - t[o]) * inverseOutputs }
      case .binaryCrossEntropy:
        for o in 0..<outputs { g[o] = (y[o] - t[o]) * inverseOutputs }
      case .crossEntropy:
        if targetColumns == 1 {
          for o in 0..<outputs { g[o] = y[o] }
          g[Loss.classIndex(t[0], outputs: outputs)] -= 1
        } else {
          // Σ_o t_o may differ from 1 (soft labels): dZ = y·Σt − t.
          var mass: Float = 0
          for o in 0..<outputs { mass += t[o] }
          for o in 0..<outputs { g[o] = y[o] * mass - t[o] }
        }
      }
      if let classWeights {
        // Activations' backward is linear in dA, so weighting before it weights dZ.
        let w = classWeights.weight(ofRow: t, targetColumns: targetColumns, outputs: outputs)
        for o in 0..<outputs { g[o] *= w }
        total += Double(w) * rowLoss
      } else {
        total += rowLoss
      }
    }
    switch self {
    case .sse, .mse:
      activation.backward(output: output, gradient: gradient, rows: rows, columns: outputs)
    case .binaryCrossEntropy, .crossEntropy:
      break
    }
    return total
  }

  /// The class index stored in a target; data loading guarantees the range,
  /// and this check keeps a bad index from writing out of bounds.
  @inline(__always)
  static func classIndex(_ value: Float, outputs: Int) -> Int {
    let index = Int(value)
    precondition(index >= 0 && index < outputs, "class index \(value) out of range 0..<\(outputs)")
    return index
  }

  @inline(__always)
  private func sampleLoss(
    y: UnsafePointer<Float>, t: UnsafePointer<Float>, targetColumns: Int, outputs: Int
  ) -> Double {
    var loss = 0.0
    switch self {
    case .sse, .mse:
      for o in 0..<outputs {
        let d = Double(y[o]) - Double(t[o])
        loss += d * d
      }
      if self == .mse { loss /= Double(outputs) }
    case .binaryCrossEntropy:
      for o in 0..<outputs {
        let p = Double(y[o])
        let target = Double(t[o])
        loss -=
          target * log(max(p, Loss.probabilityFloor))
          + (1 - target) * log(max(1 - p, Loss.probabilityFloor))
      }
      loss /= Double(outputs)
    case .crossEntropy:
      if targetColumns == 1 {
        let c = Loss.classIndex(t[0], outputs: outputs)
        loss = -log(max(Double(y[c]), Loss.probabilityFloor))
      } else {
        for o in 0..<outputs where t[o] != 0 {
          loss -= Double(t[o]) * log(max(Double(y[o]), Loss.probabilityFloor))
        }
      }
    }
    return loss
  }
}
