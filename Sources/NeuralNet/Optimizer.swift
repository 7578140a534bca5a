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

  /// The factor that brings a gradient of L2 norm `norm` down to `clipNorm` (1 when within it or unset).
  public func clipFactor(gradientNorm norm: Double) -> Float {
    guard let clipNorm, norm > clipNorm else { return 1 }
    return Float(clipNorm / norm)
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
  /// Factor applied to the reduced gradient: the clip factor (1 without clipping).
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

  /// Applies one update to `parameters[range]` from `gradient[range]` (reduced, before clipping).
  ///
  /// Each rule is written once, on 16-lane vectors; the range's tail goes
  /// through the same code with unused lanes zero. Lanes never interact, so
  /// every element gets the same bits whichever lane or range it falls in.
  public func update(
    parameters: UnsafeMutablePointer<Float>, gradient: UnsafePointer<Float>,
    range: Range<Int>, coefficients c: UpdateCoefficients
  ) {
    typealias V = SIMD16<Float>
    let lr = V(repeating: c.learningRate)
    let scale = V(repeating: c.gradientScale)
    let decay = V(repeating: Float(settings.weightDecay))
    switch settings.kind {
    case .sgd where slots.isEmpty:
      forEachVector(range) { i, n in
        let p = Lanes.load(parameters, i, n)
        let g = Lanes.load(gradient, i, n) * scale + decay * p
        Lanes.store(p - lr * g, parameters, i, n)
      }
    case .sgd:
      // PyTorch's rule: v = μv + g; step along g + μv (Nesterov) or v.
      let mu = V(repeating: Float(settings.momentum))
      let velocity = slots[0].pointer
      let nesterov = settings.nesterov
      forEachVector(range) { i, n in
        let p = Lanes.load(parameters, i, n)
        let g = Lanes.load(gradient, i, n) * scale + decay * p
        let v = mu * Lanes.load(velocity, i, n) + g
        Lanes.store(v, velocity, i, n)
        Lanes.store(p - lr * (nesterov ? g + mu * v : v), parameters, i, n)
      }
    case .adam, .adamw:
      let m = slots[0].pointer
      let v = slots[1].pointer
      let b1 = V(repeating: Float(settings.beta1))
      let b2 = V(repeating: Float(settings.beta2))
      let eps = V(repeating: Float(settings.epsilon))
      let one = V(repeating: 1)
      let correction1 = V(repeating: c.correction1)
      let correction2 = V(repeating: c.correction2)
      let decoupled = settings.kind == .adamw
      forEachVector(range) { i, n in
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

  /// Calls `body(start, lanes)` for consecutive blocks of up to 16 indices of `range`.
  @inline(__always)
  private func forEachVector(_ range: Range<Int>, _ body: (Int, Int) -> Void) {
    var i = range.lowerBound
    while i < range.upperBound {
      let n = min(16, range.upperBound - i)
      body(i, n)
      i += n
    }
  }
}

/// Loads and stores of `n` ≤ 16 floats as one 16-lane vector (missing lanes zero).
enum Lanes {
  @inline(__always)
  static func load(_ base: UnsafePointer<Float>, _ i: Int, _ n: Int) -> SIMD16<Float> {
    if n == 16 { return UnsafeRawPointer(base + i).loadUnaligned(as: SIMD16<Float>.self) }
    var v = SIMD16<Float>()
    for k in 0..<n { v[k] = base[i + k] }
    return v
  }

  @inline(__always)
  static func load(_ base: UnsafeMutablePointer<Float>, _ i: Int, _ n: Int) -> SIMD16<Float> {
    load(UnsafePointer(base), i, n)
  }

  @inline(__always)
  static func store(_ v: SIMD16<Float>, _ base: UnsafeMutablePointer<Float>, _ i: Int, _ n: Int) {
    if n == 16 {
      UnsafeMutableRawPointer(base + i).storeBytes(of: v, as: SIMD16<Float>.self)
      return
    }
    for k in 0..<n { base[i + k] = v[k] }
  }
}
