/// Adagrad (Duchi et al.), as PyTorch's `torch.optim.Adagrad` defines it, with its options and defaults.
///
///     g = ∇ + λp                          (weight_decay λ, L2)
///     lr_t = lr / (1 + (t − 1)·lr_decay)
///     s = s + g²                          (state "sum", starting at initial_accumulator_value)
///     p = p − lr_t · g / (√s + ε)
public enum Adagrad: OptimizerRule {
  /// `adagrad`.
  public static let name = "adagrad"
  /// One line for docs.
  public static let summary = "Adagrad: steps scaled by the root of each parameter's summed squared gradients"
  /// PyTorch's default.
  public static let defaultLearningRate = 0.01
  /// lr_decay, initial_accumulator_value, epsilon.
  public static let hyperParameters: [HyperParameterSpec] = [
    .number(
      "lr_decay", default: 0, .nonNegative, "learning rate divided by 1 + (t − 1)·lr_decay at update t"),
    .number("initial_accumulator_value", default: 0, .nonNegative, "where the sum of squares starts"),
    .number("epsilon", default: 1e-10, .positive, "added to the root of the sum (PyTorch's eps)"),
  ]

  /// "sum".
  public static func slotNames(_ s: OptimizerSettings) -> [String] { ["sum"] }

  /// The sum starts at `initial_accumulator_value`.
  public static func initialValue(_ s: OptimizerSettings, slot: Int) -> Float {
    Float(s.number("initial_accumulator_value"))
  }

  /// The decayed learning rate of update `step`; values[0] = ε.
  public static func constants(_ s: OptimizerSettings, step: Int, learningRate: Double) -> StepConstants {
    var values = SIMD8<Float>.zero
    values[0] = Float(s.number("epsilon"))
    let decayed = learningRate / (1 + Double(step - 1) * s.number("lr_decay"))
    return StepConstants(learningRate: Float(decayed), values: values)
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
    let eps = V(repeating: c.values[0])
    let sum = slots[0]
    Lanes.forEach(range) { i, n in
      let p = Lanes.load(parameters, i, n)
      let g = Lanes.load(gradient, i, n) * scale + decay * p
      let s = Lanes.load(sum, i, n) + g * g
      Lanes.store(s, sum, i, n)
      Lanes.store(p - lr * (g / (s.squareRoot() + eps)), parameters, i, n)
    }
  }
}

extension OptimizerKind {
  /// Adagrad.
  public static let adagrad = OptimizerKind(Adagrad.self)
}
