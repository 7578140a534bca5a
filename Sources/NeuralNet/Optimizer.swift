#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The optimizer families nnbatch implements.
public enum OptimizerKind: String, Sendable, CaseIterable, Codable {
  /// Stochastic gradient descent, optionally with (Nesterov) momentum.
  case sgd
  /// Adam (Kingma & Ba) with L2 weight decay added to the gradient.
  case adam
  /// Adam with decoupled weight decay (Loshchilov & Hutter).
  case adamw
}

/// An optimizer's hyper-parameters.
public struct OptimizerSettings: Sendable, Hashable {
  /// Which update rule.
  public var kind: OptimizerKind
  /// Base learning rate (a schedule may scale it per step).
  public var learningRate: Double
  /// SGD momentum μ (0 = plain SGD).
  public var momentum: Double
  /// SGD: use Nesterov momentum.
  public var nesterov: Bool
  /// Adam β₁.
  public var beta1: Double
  /// Adam β₂.
  public var beta2: Double
  /// Adam ε.
  public var epsilon: Double
  /// Weight decay λ: L2 (added to the gradient) for sgd/adam, decoupled for adamw.
  public var weightDecay: Double
  /// Clip the gradient to this global L2 norm, if set.
  public var clipNorm: Double?

  /// Settings with PyTorch's defaults for everything not given.
  public init(
    kind: OptimizerKind, learningRate: Double, momentum: Double = 0, nesterov: Bool = false,
    beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8,
    weightDecay: Double? = nil, clipNorm: Double? = nil
  ) {
    self.kind = kind
    self.learningRate = learningRate
    self.momentum = momentum
    self.nesterov = nesterov
    self.beta1 = beta1
    self.beta2 = beta2
    self.epsilon = epsilon
    self.weightDecay = weightDecay ?? (kind == .adamw ? 0.01 : 0)
    self.clipNorm = clipNorm
  }

  /// Number of per-parameter state buffers the rule keeps.
  public var slotCount: Int {
    switch kind {
    case .sgd: return momentum == 0 ? 0 : 1
    case .adam, .adamw: return 2
    }
  }

  /// Names of the state buffers, as stored in checkpoints.
  public var slotNames: [String] {
    switch kind {
    case .sgd: return momentum == 0 ? [] : ["velocity"]
    case .adam, .adamw: return ["m", "v"]
    }
  }
}

/// Per-step constants of an update, computed once per step on the calling thread.
public struct UpdateCoefficients: Sendable {
  /// Learning rate for this step (after the schedule).
  public var learningRate: Float
  /// Factor applied to the raw gradient (batch reduction × clipping).
  public var gradientScale: Float
  /// Adam: 1 / (1 − β₁ᵗ).
  var correction1: Float = 1
  /// Adam: 1 / (1 − β₂ᵗ).
  var correction2: Float = 1
}

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

  /// Fresh state (zero buffers, step 0) for `parameterCount` parameters.
  public init(settings: OptimizerSettings, parameterCount: Int) {
    self.settings = settings
    step = 0
    slots = (0..<settings.slotCount).map { _ in FloatBuffer(count: parameterCount) }
  }

  /// State restored from a checkpoint; buffer sizes must match the layout.
  public init(settings: OptimizerSettings, step: Int, slots: [FloatBuffer]) {
    precondition(slots.count == settings.slotCount, "optimizer slot count mismatch")
    self.settings = settings
    self.step = step
    self.slots = slots
  }

  /// Advances the step count and returns the step's coefficients.
  public func beginStep(learningRate: Double, gradientScale: Float) -> UpdateCoefficients {
    step += 1
    var coefficients = UpdateCoefficients(
      learningRate: Float(learningRate), gradientScale: gradientScale)
    if settings.kind != .sgd {
      coefficients.correction1 = Float(1 / (1 - pow(settings.beta1, Double(step))))
      coefficients.correction2 = Float(1 / (1 - pow(settings.beta2, Double(step))))
    }
    return coefficients
  }

  /// Applies one update to `parameters[range]` from `gradient[range]` (raw, unscaled).
  public func update(
    parameters: UnsafeMutablePointer<Float>, gradient: UnsafePointer<Float>,
    range: Range<Int>, coefficients c: UpdateCoefficients
  ) {
    let lr = c.learningRate
    let scale = c.gradientScale
    let decay = Float(settings.weightDecay)
    switch settings.kind {
    case .sgd:
      if slots.isEmpty {
        for i in range {
          let g = gradient[i] * scale + decay * parameters[i]
          parameters[i] -= lr * g
        }
      } else {
        // PyTorch's rule: v = μv + g; step along g + μv (Nesterov) or v.
        let mu = Float(settings.momentum)
        let velocity = slots[0].pointer
        if settings.nesterov {
          for i in range {
            let g = gradient[i] * scale + decay * parameters[i]
            let v = mu * velocity[i] + g
            velocity[i] = v
            parameters[i] -= lr * (g + mu * v)
          }
        } else {
          for i in range {
            let g = gradient[i] * scale + decay * parameters[i]
            let v = mu * velocity[i] + g
            velocity[i] = v
            parameters[i] -= lr * v
          }
        }
      }
    case .adam, .adamw:
      let m = slots[0].pointer
      let v = slots[1].pointer
      let b1 = Float(settings.beta1)
      let b2 = Float(settings.beta2)
      let eps = Float(settings.epsilon)
      let decoupled = settings.kind == .adamw
      for i in range {
        var g = gradient[i] * scale
        if decoupled {
          parameters[i] -= lr * decay * parameters[i]
        } else {
          g += decay * parameters[i]
        }
        let mi = b1 * m[i] + (1 - b1) * g
        let vi = b2 * v[i] + (1 - b2) * g * g
        m[i] = mi
        v[i] = vi
        let mHat = mi * c.correction1
        let vHat = vi * c.correction2
        parameters[i] -= lr * mHat / (vHat.squareRoot() + eps)
      }
    }
  }
}
