/// Adam with decoupled weight decay (Loshchilov & Hutter; PyTorch's `torch.optim.AdamW`).
///
///     p = p − lr·λ·p, then Adam's step on the undecayed gradient
///
/// ### See Also
/// `Adam`, whose moments and constants it shares.
public enum AdamW: OptimizerRule {
  /// `adamw`.
  public static let name = "adamw"
  /// One line for docs.
  public static let summary = "Adam with decoupled weight decay"
  /// PyTorch's default.
  public static let defaultLearningRate = 0.001
  /// PyTorch's default decay.
  public static let defaultWeightDecay = 0.01
  /// beta1, beta2, epsilon, as Adam.
  public static let hyperParameters = Adam.moments

  /// "m" and "v".
  public static func slotNames(_ s: OptimizerSettings) -> [String] { Adam.slotNames(s) }

  /// As Adam.
  public static func constants(_ s: OptimizerSettings, step: Int, learningRate: Double) -> StepConstants {
    Adam.constants(s, step: step, learningRate: learningRate)
  }

  /// Adam's loop with the decay applied to the weights.
  public static func update(
    parameters: UnsafeMutablePointer<Float>, gradient: UnsafePointer<Float>,
    slots: [UnsafeMutablePointer<Float>], range: Range<Int>, constants c: StepConstants
  ) {
    Adam.update(
      parameters: parameters, gradient: gradient, slots: slots, range: range, constants: c, decoupled: true)
  }
}

extension OptimizerKind {
  /// Adam with decoupled weight decay.
  public static let adamw = OptimizerKind(AdamW.self)
}
