#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The shape of a learning-rate schedule after warm-up.
public enum ScheduleKind: String, Sendable, CaseIterable, Codable {
  /// The base rate throughout.
  case constant
  /// base · factor^⌊epoch / every_epochs⌋.
  case step
  /// base · gamma^epoch.
  case exponential
  /// From base down to `floor` along a half cosine over the post-warm-up steps.
  case cosine
}

/// A learning-rate schedule: a pure function of the step and epoch counters.
///
/// Because the rate is computed from counters that checkpoints save, a
/// resumed run continues the schedule exactly where it stopped.
public struct LearningRateSchedule: Sendable, Hashable {
  /// The schedule's shape.
  public var kind: ScheduleKind
  /// Linear warm-up over this many steps from base/warmup to base.
  public var warmupSteps: Int
  /// `step`: decay every this many epochs.
  public var everyEpochs: Int
  /// `step`: multiply by this factor at each decay.
  public var factor: Double
  /// `exponential`: per-epoch multiplier.
  public var gamma: Double
  /// `cosine`: the final learning rate.
  public var floor: Double
  /// `cosine`: the total number of steps of the run.
  public var totalSteps: Int

  /// A schedule; fields a kind does not use are ignored.
  public init(
    kind: ScheduleKind = .constant, warmupSteps: Int = 0, everyEpochs: Int = 1,
    factor: Double = 0.1, gamma: Double = 0.95, floor: Double = 0, totalSteps: Int = 1
  ) {
    self.kind = kind
    self.warmupSteps = warmupSteps
    self.everyEpochs = everyEpochs
    self.factor = factor
    self.gamma = gamma
    self.floor = floor
    self.totalSteps = totalSteps
  }

  /// The learning rate of the update at 0-based `step` within 0-based `epoch`.
  public func learningRate(base: Double, step: Int, epoch: Int) -> Double {
    if step < warmupSteps {
      return base * Double(step + 1) / Double(warmupSteps)
    }
    switch kind {
    case .constant:
      return base
    case .step:
      return base * pow(factor, Double(epoch / max(everyEpochs, 1)))
    case .exponential:
      return base * pow(gamma, Double(epoch))
    case .cosine:
      let span = max(totalSteps - warmupSteps, 1)
      let progress = min(Double(step - warmupSteps) / Double(span), 1)
      return floor + (base - floor) * (1 + cos(Double.pi * progress)) / 2
    }
  }
}
