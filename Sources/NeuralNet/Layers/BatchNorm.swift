// Batch normalization, PyTorch's conventions (BatchNorm1d on [F], BatchNorm2d on [C, H, W]).
//
// Notation: B rows of a pass, C channels (the units of a flat input [F]),
// S = H·W positions per channel (1 for a flat input), n = B·S values per channel.
//   X [B, C, S] → A [B, C, S],   Z = γ ⊙ X̂ + β,   A = f(Z)
//   training:  μ_c = Σ x / n,  σ²_c = Σ (x − μ_c)² / n  (biased, over the pass's rows only)
//   inference: μ_c = running_mean[c],  σ²_c = running_var[c]
//   X̂ = (X − μ) · r,  r = 1 / √(σ² + ε)
// Backward, from dZ (the gradient before f):
//   dγ = Σ dZ ⊙ X̂,  dβ = Σ dZ
//   training:  dX = γ · r · (dZ − dβ / n − X̂ · dγ / n)
//   inference: dX = γ · r · dZ
//
// Shards and the running averages. A training pass is one shard: it is
// normalised with that shard's own statistics (the shard size is part of the
// config, like the per-process batch of PyTorch's DistributedDataParallel),
// so no value depends on threads, ranks or resuming. A training backward
// writes, per channel c, at the state tensors' ranges of the gradient buffer:
//   running_mean ← Σ x            (= n_s · μ_s, the shard's sum)
//   running_var  ← Σ (x − μ_s)²   (the shard's sum of squared deviations)
// The reducer adds these in shard order without scaling them (ChunkRoles:
// state is summed with scale 1, never by the loss's 1/B). `updateState` then
// has, for a batch of N = rows · S values in `shards` shards:
//   batch mean  = Σ_s Σ x / N                                  (the batch's mean)
//   batch var   = Σ_s Σ (x − μ_s)² / (N − shards)              (unbiased pooled variance)
//   running     = (1 − m) · running + m · batch                 (PyTorch's momentum m)
// With one shard this is exactly PyTorch's update (unbiased variance of the
// batch). A shard with one value per channel has no variance; configs where
// a shard can be that small are refused before training (NNBatch's config
// check), as PyTorch refuses a training batch of one.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Batch normalization: per channel of [C, H, W] samples or per unit of flat [F] samples, then an activation.
///
/// Parameters, in storage order: `gamma` [C] (scale, init 1), `beta` [C]
/// (shift, init 0), then the non-trainable state `running_mean` [C] (init 0)
/// and `running_var` [C] (init 1, the unbiased variance as PyTorch stores
/// it). Training passes normalise with the pass's (a shard's) own batch
/// statistics; inference (predict, evaluate, validation) with the running
/// averages, which each training step updates with momentum `momentum`.
///
/// ### See Also
/// - ``Conv2D``
/// - ``Dense``
public struct BatchNorm: Layer {
  /// The settings: `{"type": "batch_norm", "momentum": 0.1, "epsilon": 1e-5, "activation": "relu"}`.
  public struct Spec: LayerSpec {
    /// The kind's name in configs and checkpoints.
    public static let kind = "batch_norm"
    /// Weight m of the newest batch in the running averages: running = (1 − m)·running + m·batch.
    public var momentum: Double
    /// ε added to the variance before the square root.
    public var epsilon: Double
    /// The non-linearity after the normalization.
    public var activation: Activation

    /// A batch normalization with PyTorch's defaults unless given.
    public init(momentum: Double = 0.1, epsilon: Double = 1e-5, activation: Activation = .linear) {
      self.momentum = momentum
      self.epsilon = epsilon
      self.activation = activation
    }

    /// `batch_norm`, with its activation when it has one.
    public var description: String {
      activation == .linear ? Self.kind : "\(Self.kind) \(activation.rawValue)"
    }

    /// The layer on [C, H, W] or [F] samples.
    public func build(input: Shape, parameterOffset: Int) throws(LayerShapeError) -> any Layer {
      guard input.rank == 1 || input.rank == 3, input.elements > 0 else {
        throw LayerShapeError(expected: "an input [features] or [channels, height, width]")
      }
      guard momentum >= 0, momentum <= 1 else {
        throw LayerShapeError(expected: "a momentum in [0, 1], found \(momentum)")
      }
      // The arithmetic runs in Float: an ε that rounds to 0 could divide by zero.
      guard epsilon > 0, Float(epsilon) > 0, Float(epsilon).isFinite else {
        throw LayerShapeError(expected: "an epsilon > 0 that a 32-bit float holds, found \(epsilon)")
      }
      return BatchNorm(spec: self, inputShape: input, offset: parameterOffset)
    }
  }

  /// The settings.
  public let spec: Spec
  /// [C, H, W] or [F].
  public let inputShape: Shape
  /// C: channels, or the units of a flat input.
  public let channels: Int
  /// S = H·W values per channel and row (1 for a flat input).
  public let positions: Int
  /// γ [C].
  public let gamma: ParameterTensor
  /// β [C].
  public let beta: ParameterTensor
  /// Running mean [C] (state).
  public let runningMean: ParameterTensor
  /// Running unbiased variance [C] (state).
  public let runningVar: ParameterTensor

  init(spec: Spec, inputShape: Shape, offset: Int) {
    self.spec = spec
    self.inputShape = inputShape
    channels = inputShape.dimensions[0]
    positions = inputShape.elements / inputShape.dimensions[0]
    let c = channels
    gamma = ParameterTensor(name: "gamma", shape: [c], offset: offset)
    beta = ParameterTensor(name: "beta", shape: [c], offset: offset + c)
    runningMean = ParameterTensor(name: "running_mean", shape: [c], offset: offset + 2 * c, role: .state)
    runningVar = ParameterTensor(name: "running_var", shape: [c], offset: offset + 3 * c, role: .state)
  }

  /// The input's shape.
  public var outputShape: Shape { inputShape }
  /// `gamma`, `beta`, `running_mean`, `running_var`.
  public var parameters: [ParameterTensor] { [gamma, beta, runningMean, runningVar] }
  /// The spec's activation.
  public var activation: Activation { spec.activation }
  /// About four operations per value (statistics, then the affine map).
  public var multiplyAdds: Int { 4 * inputShape.elements }

  /// Per channel: μ, r = 1/√(σ² + ε), Σ x and Σ (x − μ)² of the last forward.
  public func scratchCount(rows: Int) -> Int { 4 * channels }

  /// γ = 1, β = 0, running mean 0, running variance 1; nothing drawn.
  public func initialize(
    _ parameters: UnsafeMutablePointer<Float>, with initializer: Initializer,
    using generator: inout SeededGenerator
  ) {
    (parameters + gamma.offset).update(repeating: 1, count: channels)
    (parameters + beta.offset).update(repeating: 0, count: channels)
    (parameters + runningMean.offset).update(repeating: 0, count: channels)
    (parameters + runningVar.offset).update(repeating: 1, count: channels)
  }

  /// Z = γ · (X − μ) · r + β with the pass's statistics (training) or the running ones, then A = f(Z).
  public func forward(
    parameters: UnsafePointer<Float>, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
    rows: Int, scratch: UnsafeMutablePointer<Float>, context: PassContext
  ) {
    let (c, s) = (channels, positions)
    let mean = scratch
    let rate = scratch + c
    let sums = scratch + 2 * c
    let squares = scratch + 3 * c
    let epsilon = Double(Float(spec.epsilon))
    for channel in 0..<c {
      if context.isTraining {
        // Each [S] block is summed in Float lanes, the blocks in Double (see `laneSum`).
        var sum = 0.0
        for r in 0..<rows { sum += Double(Self.laneSum(input + (r * c + channel) * s, count: s)) }
        let mu = sum / Double(rows * s)
        var deviations = 0.0
        for r in 0..<rows {
          deviations += Double(
            Self.laneSquaredDeviations(input + (r * c + channel) * s, count: s, from: Float(mu)))
        }
        mean[channel] = Float(mu)
        rate[channel] = Float(1 / (deviations / Double(rows * s) + epsilon).squareRoot())
        sums[channel] = Float(sum)
        squares[channel] = Float(deviations)
      } else {
        mean[channel] = parameters[runningMean.offset + channel]
        let variance = Double(parameters[runningVar.offset + channel])
        rate[channel] = Float(1 / (variance + epsilon).squareRoot())
        sums[channel] = 0
        squares[channel] = 0
      }
    }
    let g = parameters + gamma.offset
    let b = parameters + beta.offset
    for r in 0..<rows {
      for channel in 0..<c {
        let x = input + (r * c + channel) * s
        let z = output + (r * c + channel) * s
        let (mu, scale, shift) = (mean[channel], g[channel] * rate[channel], b[channel])
        for p in 0..<s { z[p] = (x[p] - mu) * scale + shift }
      }
    }
    spec.activation.forward(output, rows: rows, columns: inputShape.elements)
  }

  /// dγ, dβ and dX from dZ; in training also the shard's statistics at the state's ranges.
  public func backward(
    parameters: UnsafePointer<Float>, input: UnsafePointer<Float>, output: UnsafePointer<Float>,
    outputGradient dZ: UnsafePointer<Float>, rows: Int, gradient: UnsafeMutablePointer<Float>,
    inputGradient: UnsafeMutablePointer<Float>?, scratch: UnsafeMutablePointer<Float>,
    context: PassContext
  ) {
    let (c, s) = (channels, positions)
    let n = Double(rows * s)
    let mean = scratch
    let rate = scratch + c
    for channel in 0..<c {
      let (mu, r) = (mean[channel], rate[channel])
      var sumDZ = 0.0
      var sumDZX = 0.0
      for row in 0..<rows {
        let offset = (row * c + channel) * s
        let (d, dx) = Self.laneGradientSums(dZ + offset, input + offset, count: s, mean: mu, rate: r)
        sumDZ += Double(d)
        sumDZX += Double(dx)
      }
      gradient[gamma.offset + channel] = Float(sumDZX)
      gradient[beta.offset + channel] = Float(sumDZ)
      gradient[runningMean.offset + channel] = context.isTraining ? scratch[2 * c + channel] : 0
      gradient[runningVar.offset + channel] = context.isTraining ? scratch[3 * c + channel] : 0
      guard let inputGradient else { continue }
      let scale = parameters[gamma.offset + channel] * r
      if context.isTraining {
        let meanDZ = Float(sumDZ / n)
        let meanDZX = Float(sumDZX / n)
        for row in 0..<rows {
          let x = input + (row * c + channel) * s
          let d = dZ + (row * c + channel) * s
          let dx = inputGradient + (row * c + channel) * s
          for p in 0..<s { dx[p] = scale * (d[p] - meanDZ - (x[p] - mu) * r * meanDZX) }
        }
      } else {
        for row in 0..<rows {
          let d = dZ + (row * c + channel) * s
          let dx = inputGradient + (row * c + channel) * s
          for p in 0..<s { dx[p] = scale * d[p] }
        }
      }
    }
  }

  // Sums over one [S] block (one row's channel) run in 16 Float lanes (multiply then add:
  // the baseline x86-64 build has no FMA instruction), so they
  // vectorize; the blocks' sums are added in Double. The order is fixed by S
  // alone, so the bits do not depend on threads or shards.

  /// Σ x over `count` floats.
  static func laneSum(_ x: UnsafePointer<Float>, count: Int) -> Float {
    var lanes = SIMD16<Float>.zero
    var i = 0
    while i + 16 <= count {
      lanes += UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self)
      i += 16
    }
    var total = lanes.sum()
    while i < count {
      total += x[i]
      i += 1
    }
    return total
  }

  /// Σ (x − μ)² over `count` floats.
  static func laneSquaredDeviations(_ x: UnsafePointer<Float>, count: Int, from mu: Float) -> Float {
    var lanes = SIMD16<Float>.zero
    let center = SIMD16<Float>(repeating: mu)
    var i = 0
    while i + 16 <= count {
      let d = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self) - center
      lanes += d * d
      i += 16
    }
    var total = lanes.sum()
    while i < count {
      let d = x[i] - mu
      total += d * d
      i += 1
    }
    return total
  }

  /// (Σ dZ, Σ dZ · X̂) over `count` floats, X̂ = (x − μ) · r.
  static func laneGradientSums(
    _ dZ: UnsafePointer<Float>, _ x: UnsafePointer<Float>, count: Int, mean mu: Float, rate r: Float
  ) -> (Float, Float) {
    var sums = SIMD16<Float>.zero
    var products = SIMD16<Float>.zero
    let center = SIMD16<Float>(repeating: mu)
    let rate = SIMD16<Float>(repeating: r)
    var i = 0
    while i + 16 <= count {
      let d = UnsafeRawPointer(dZ + i).loadUnaligned(as: SIMD16<Float>.self)
      let normalized = (UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self) - center) * rate
      sums += d
      products += d * normalized
      i += 16
    }
    var (sum, product) = (sums.sum(), products.sum())
    while i < count {
      sum += dZ[i]
      product += dZ[i] * ((x[i] - mu) * r)
      i += 1
    }
    return (sum, product)
  }

  /// running = (1 − m) · running + m · batch, the batch's value from the shards' merged sums (see the header).
  public func updateState(
    _ tensor: ParameterTensor, elements: Range<Int>, state: UnsafeMutablePointer<Float>,
    statistics: UnsafePointer<Float>, batch: StateBatch
  ) {
    precondition(elements.upperBound <= tensor.count, "not this layer's state")
    let values = batch.rows * positions
    let divisor: Int
    switch tensor.name {
    case runningMean.name: divisor = values
    case runningVar.name: divisor = values - batch.shards
    default: preconditionFailure("\(tensor.name) is not a state tensor of batch_norm")
    }
    // A batch whose every shard holds one value per channel has no variance (configs refuse it).
    guard divisor > 0 else { return }
    for k in 0..<elements.count {
      state[k] = Self.merged(state[k], sum: statistics[k], divisor: divisor, momentum: spec.momentum)
    }
  }

  /// (1 − m) · running + m · sum / divisor, in Double, rounded once: one element's update.
  public static func merged(_ running: Float, sum: Float, divisor: Int, momentum: Double) -> Float {
    Float((1 - momentum) * Double(running) + momentum * (Double(sum) / Double(divisor)))
  }
}

extension BatchNorm.Spec {
  /// The batch_norm kind: `momentum`, `epsilon` (float64) and `activation`, stored as such.
  public static let declaration = LayerKind(
    Self.self,
    settings: [
      LayerSetting(
        "momentum", .real(.init(min: 0, max: 1)), default: .value(.real(0.1)),
        doc: "Weight of the newest batch in the running mean and variance (PyTorch's momentum)."),
      LayerSetting(
        "epsilon", .real(.positive), default: .value(.real(1e-5)),
        doc: "Added to the variance before its square root."),
      .choice(
        "activation", Activation.self, default: .linear, doc: "The non-linearity after the normalization."),
    ],
    shape: .keepsShape,
    summary: { spec, input in
      let what = input.rank == 3 ? "per channel" : "per unit"
      return "\(what), momentum \(spec.momentum), epsilon \(spec.epsilon)"
        + (spec.activation == .linear ? "" : "  \(spec.activation.rawValue)")
    },
    make: {
      Self(
        momentum: $0.real("momentum"), epsilon: $0.real("epsilon"),
        activation: $0.choice("activation", Activation.self))
    },
    values: { [.real($0.momentum), .real($0.epsilon), .choice($0.activation.rawValue)] })
}
