#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Adam (Kingma & Ba) with L2 weight decay added to the gradient (PyTorch's `torch.optim.Adam`).
///
///     g = ∇ + λp
///     m = β₁m + (1 − β₁)g,  v = β₂v + (1 − β₂)g²          (states "m", "v")
///     p = p − lr · (m / (1 − β₁ᵗ)) / (√(v / (1 − β₂ᵗ)) + ε)
///
/// ### See Also
/// `AdamW`, the same moments with decoupled decay.
public enum Adam: OptimizerRule {
  /// `adam`.
  public static let name = "adam"
  /// One line for docs.
  public static let summary = "Adam with L2 weight decay added to the gradient"
  /// PyTorch's default.
  public static let defaultLearningRate = 0.001
  /// beta1, beta2, epsilon.
  public static let hyperParameters = moments

  /// Adam's and AdamW's hyper-parameters.
  static let moments: [HyperParameterSpec] = [
    .number("beta1", default: 0.9, .unitOpen, "decay of the first moment"),
    .number("beta2", default: 0.999, .unitOpen, "decay of the second moment"),
    .number("epsilon", default: 1e-8, .positive, "added to the denominator"),
  ]

  /// "m" and "v".
  public static func slotNames(_ s: OptimizerSettings) -> [String] { ["m", "v"] }

  /// values: β₁, β₂, ε, 1/(1 − β₁ᵗ), 1/(1 − β₂ᵗ).
  public static func constants(_ s: OptimizerSettings, step: Int, learningRate: Double) -> StepConstants {
    let beta1 = s.number("beta1")
    let beta2 = s.number("beta2")
    var values = SIMD8<Float>.zero
    values[0] = Float(beta1)
    values[1] = Float(beta2)
    values[2] = Float(s.number("epsilon"))
    values[3] = Float(1 / (1 - pow(beta1, Double(step))))
    values[4] = Float(1 / (1 - pow(beta2, Double(step))))
    return StepConstants(learningRate: Float(learningRate), values: values)
  }

  /// The rule above, on 16-lane vectors.
  public static func update(
    parameters: UnsafeMutablePointer<Float>, gradient: UnsafePointer<Float>,
    slots: [UnsafeMutablePointer<Float>], range: Range<Int>, constants c: StepConstants
  ) {
    update(
      parameters: parameters, gradient: gradient, slots: slots, range: range, constants: c, decoupled: false)
  }

  /// Adam's update with the decay added to the gradient or, `decoupled`, applied to the weights (AdamW).
  @inline(__always)
  static func update(
    parameters: UnsafeMutablePointer<Float>, gradient: UnsafePointer<Float>,
    slots: [UnsafeMutablePointer<Float>], range: Range<Int>, constants c: StepConstants, decoupled: Bool
  ) {
    typealias V = Lanes.Vector
    let m = slots[0]
    let v = slots[1]
    let lr = V(repeating: c.learningRate)
    let scale = V(repeating: c.gradientScale)
    let decay = V(repeating: c.weightDecay)
    let b1 = V(repeating: c.values[0])
    let b2 = V(repeating: c.values[1])
    let eps = V(repeating: c.values[2])
    let correction1 = V(repeating: c.values[3])
    let correction2 = V(repeating: c.values[4])
    let one = V(repeating: 1)
    Lanes.forEach(range) { i, n in
      var p = Lanes.load(parameters, i, n)
      var g = Lanes.load(gradient, i, n) * scale
      if decoupled {
        p -= lr * decay * p
      } else {
        g += decay * p
      }
      let mi = b1 * Lanes.load(m, i, n) + (one - b1) * g
      let vi = b2 * Lanes.load(v, i, n) + (one - b2) * g * g
      Lanes.store(mi, m, i, n)
      Lanes.store(vi, v, i, n)
      let mHat = mi * correction1
      let vHat = vi * correction2
      Lanes.store(p - lr * mHat / (vHat.squareRoot() + eps), parameters, i, n)
    }
  }
}

extension OptimizerKind {
  /// Adam with L2 weight decay.
  public static let adam = OptimizerKind(Adam.self)
}
