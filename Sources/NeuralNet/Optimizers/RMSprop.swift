/// RMSprop (Hinton), as PyTorch's `torch.optim.RMSprop` defines it, with its options and defaults.
///
///     g = ∇ + λp                                  (weight_decay λ, L2)
///     s = αs + (1 − α)g²                          (state "square_avg")
///     centered: a = αa + (1 − α)g, d = √(s − a²) + ε   (state "grad_avg")
///     else:     d = √s + ε
///     momentum μ > 0: b = μb + g/d, p = p − lr·b  (state "momentum_buffer")
///     else:           p = p − lr·g/d
public enum RMSprop: OptimizerRule {
  /// `rmsprop`.
  public static let name = "rmsprop"
  /// One line for docs.
  public static let summary = "RMSprop: steps scaled by a running root mean square of the gradient"
  /// PyTorch's default.
  public static let defaultLearningRate = 0.01
  /// alpha, epsilon, momentum, centered.
  public static let hyperParameters: [HyperParameterSpec] = [
    .number("alpha", default: 0.99, .unitOpen, "decay of the running mean of g²"),
    .number("epsilon", default: 1e-8, .positive, "added to the root mean square (PyTorch's eps)"),
    .number("momentum", default: 0, .unitOpen, "momentum of the scaled step"),
    .flag("centered", default: false, "divide by the gradient's running variance instead of its mean square"),
  ]

  /// "square_avg", then "grad_avg" when centered, then "momentum_buffer" with momentum.
  public static func slotNames(_ s: OptimizerSettings) -> [String] {
    ["square_avg"] + (s.flag("centered") ? ["grad_avg"] : [])
      + (s.number("momentum") > 0 ? ["momentum_buffer"] : [])
  }

  /// values: α, ε, μ; flags: centered, momentum.
  public static func constants(_ s: OptimizerSettings, step: Int, learningRate: Double) -> StepConstants {
    var values = SIMD8<Float>.zero
    values[0] = Float(s.number("alpha"))
    values[1] = Float(s.number("epsilon"))
    values[2] = Float(s.number("momentum"))
    return StepConstants(
      learningRate: Float(learningRate), values: values,
      flags: [s.flag("centered") ? 1 : 0, s.number("momentum") > 0 ? 1 : 0, 0, 0])
  }

  /// The rule above, on 16-lane vectors.
  public static func update(
    parameters: UnsafeMutablePointer<Float>, gradient: UnsafePointer<Float>,
    slots: [UnsafeMutablePointer<Float>], range: Range<Int>, constants c: StepConstants
  ) {
    typealias V = Lanes.Vector
    let lr = V(repeating: c.learningRate)
    let scale = V(repeating: c.gradientScale)
    let decay = V(repeating: c.weightDecay)
    let alpha = V(repeating: c.values[0])
    let eps = V(repeating: c.values[1])
    let mu = V(repeating: c.values[2])
    let one = V(repeating: 1)
    let centered = c.flags[0] != 0
    let square = slots[0]
    let average = centered ? slots[1] : nil
    let buffer = c.flags[1] != 0 ? slots[centered ? 2 : 1] : nil
    Lanes.forEach(range) { i, n in
      let p = Lanes.load(parameters, i, n)
      let g = Lanes.load(gradient, i, n) * scale + decay * p
      let s = alpha * Lanes.load(square, i, n) + (one - alpha) * g * g
      Lanes.store(s, square, i, n)
      var d: V
      if let average {
        let a = alpha * Lanes.load(average, i, n) + (one - alpha) * g
        Lanes.store(a, average, i, n)
        d = (s - a * a).squareRoot() + eps
      } else {
        d = s.squareRoot() + eps
      }
      if let buffer {
        let b = mu * Lanes.load(buffer, i, n) + g / d
        Lanes.store(b, buffer, i, n)
        Lanes.store(p - lr * b, parameters, i, n)
      } else {
        Lanes.store(p - lr * (g / d), parameters, i, n)
      }
    }
  }
}

extension OptimizerKind {
  /// RMSprop.
  public static let rmsprop = OptimizerKind(RMSprop.self)
}
