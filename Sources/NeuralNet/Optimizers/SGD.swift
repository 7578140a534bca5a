/// Stochastic gradient descent, optionally with momentum or Nesterov momentum (PyTorch's `torch.optim.SGD`).
///
///     g = ∇ + λp                          (weight_decay λ, L2)
///     v = μv + g                          (momentum μ > 0; state "velocity")
///     p = p − lr · (nesterov ? g + μv : v)    (μ = 0: p = p − lr · g)
public enum SGD: OptimizerRule {
  /// `sgd`.
  public static let name = "sgd"
  /// One line for docs.
  public static let summary = "stochastic gradient descent, optionally with (Nesterov) momentum"
  /// PyTorch has no default; 0.01 is nnbatch's.
  public static let defaultLearningRate = 0.01
  /// momentum, nesterov.
  public static let hyperParameters: [HyperParameterSpec] = [
    .number("momentum", default: 0, .unitOpen, "v = μv + g, step along v"),
    .flag("nesterov", default: false, "Nesterov momentum: step along g + μv (needs momentum > 0)"),
  ]

  /// Nesterov without momentum is refused, as PyTorch refuses it.
  public static func problems(_ s: OptimizerSettings) -> [(key: String, message: String)] {
    s.flag("nesterov") && s.number("momentum") == 0
      ? [("nesterov", "Nesterov momentum needs momentum > 0, found momentum 0")] : []
  }

  /// "velocity" with momentum, none without.
  public static func slotNames(_ s: OptimizerSettings) -> [String] {
    s.number("momentum") == 0 ? [] : ["velocity"]
  }

  /// values[0] = μ; flags[0] = Nesterov.
  public static func constants(_ s: OptimizerSettings, step: Int, learningRate: Double) -> StepConstants {
    var values = SIMD8<Float>.zero
    values[0] = Float(s.number("momentum"))
    return StepConstants(
      learningRate: Float(learningRate), values: values, flags: [s.flag("nesterov") ? 1 : 0, 0, 0, 0])
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
    guard let velocity = slots.first else {
      Lanes.forEach(range) { i, n in
        let p = Lanes.load(parameters, i, n)
        let g = Lanes.load(gradient, i, n) * scale + decay * p
        Lanes.store(p - lr * g, parameters, i, n)
      }
      return
    }
    let mu = V(repeating: c.values[0])
    let nesterov = c.flags[0] != 0
    Lanes.forEach(range) { i, n in
      let p = Lanes.load(parameters, i, n)
      let g = Lanes.load(gradient, i, n) * scale + decay * p
      let v = mu * Lanes.load(velocity, i, n) + g
      Lanes.store(v, velocity, i, n)
      Lanes.store(p - lr * (nesterov ? g + mu * v : v), parameters, i, n)
    }
  }
}

extension OptimizerKind {
  /// Stochastic gradient descent.
  public static let sgd = OptimizerKind(SGD.self)
}
