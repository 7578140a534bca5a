/// An optimizer's state: its settings, step count and per-parameter buffers.
///
/// `update(range:)` is element-wise, so any split of the parameters into
/// ranges gives the same bits; workers update disjoint ranges in parallel.
public final class OptimizerState: @unchecked Sendable {
  /// Hyper-parameters.
  public let settings: OptimizerSettings
  /// Number of updates applied so far (Adam's t).
  public private(set) var step: Int
  /// State buffers in the parameter layout (`settings.slotNames` order).
  public let slots: [FloatBuffer]
  private let rule: any OptimizerRule.Type
  private let slotPointers: [UnsafeMutablePointer<Float>]

  /// Fresh state (buffers at the rule's initial values, step 0) for `parameterCount` parameters.
  public init(settings: OptimizerSettings, parameterCount: Int) {
    self.settings = settings
    step = 0
    rule = settings.kind.rule
    slots = (0..<settings.slotCount).map { slot in
      let buffer = FloatBuffer(count: parameterCount)
      let initial = settings.kind.rule.initialValue(settings, slot: slot)
      if initial != 0 { buffer.pointer.update(repeating: initial, count: parameterCount) }
      return buffer
    }
    slotPointers = slots.map(\.pointer)
  }

  /// State restored from a checkpoint; buffer sizes must match the layout.
  public init(settings: OptimizerSettings, step: Int, slots: [FloatBuffer]) {
    precondition(slots.count == settings.slotCount, "optimizer slot count mismatch")
    self.settings = settings
    self.step = step
    self.slots = slots
    rule = settings.kind.rule
    slotPointers = slots.map(\.pointer)
  }

  /// Advances the step count and returns the step's constants.
  public func beginStep(learningRate: Double, gradientScale: Float) -> StepConstants {
    step += 1
    var constants = rule.constants(settings, step: step, learningRate: learningRate)
    constants.gradientScale = gradientScale
    constants.weightDecay = Float(settings.weightDecay)
    return constants
  }

  /// Applies one update to `parameters[range]` from `gradient[range]` (reduced, before clipping).
  public func update(
    parameters: UnsafeMutablePointer<Float>, gradient: UnsafePointer<Float>,
    range: Range<Int>, coefficients c: StepConstants
  ) {
    rule.update(parameters: parameters, gradient: gradient, slots: slotPointers, range: range, constants: c)
  }
}
