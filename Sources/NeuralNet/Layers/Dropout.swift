// Dropout: in training, each value is kept with probability 1 − rate and scaled by 1/(1 − rate), else zeroed.
//
// Notation: B rows, U values per sample (any shape, flattened), q = rate.
//   X [B, U] → A [B, U]
//   training:  A[r][u] = X[r][u] · m[r][u] · s,  s = 1/(1 − q) rounded to Float once
//              m[r][u] = 1 if uniform(key(seed, step, position of row r, layer), u) ≥ q, else 0
//   inference: A = X
// Backward: dX = dA · m · s (training), dA (inference). The mask is computed
// again from the same key rather than stored: the hash costs a few
// multiplies per value and keeps the layer free of scratch.

/// Inverted dropout: zeroes each value with probability `rate` in training and scales the rest by 1/(1 − rate).
///
/// Input: one sample of any shape ([C, H, W] images or [features]), U values
/// in all; the output has the same shape. No parameters.
///
/// Settings: `rate` q in [0, 1), the probability that a value is dropped.
/// Only training passes drop (`PassContext.isTraining`); prediction,
/// evaluation and validation pass values through unchanged, so expected
/// activations match between the two. Masks come from a counter-based
/// generator: value u of a row keeps iff the 24-bit uniform of the hash of
/// (seed, step, the row's position in the epoch, the layer's index, u) is at
/// least q. Nothing is drawn from a stream, so masks do not depend on
/// threads, shards, processes or resuming.
///
/// ### See Also
/// - ``Dense``
/// - ``Conv2D``
/// - ``PassContext``
public struct Dropout: ParameterFreeLayer {
  /// Dropout's settings: `{"type": "dropout", "rate": 0.5}`.
  public struct Spec: LayerSpec {
    /// The kind's name in configs and checkpoints.
    public static let kind = "dropout"
    /// Probability q in [0, 1) that a value is dropped in training.
    public var rate: Double

    /// Dropout of `rate`.
    public init(rate: Double) {
      self.rate = rate
    }

    /// Dropout has no activation.
    public var activation: Activation { .linear }

    /// `dropout 0.5`.
    public var description: String { "\(Self.kind) \(rate)" }

    /// The layer on samples of `input` shape (any).
    public func build(input: Shape, parameterOffset: Int) throws(LayerShapeError) -> any Layer {
      // Masks compare against the rate as a Float: one that rounds to 1 would drop everything.
      guard rate >= 0, rate < 1, Float(rate) < 1 else {
        throw LayerShapeError(expected: "a dropout rate in [0, 1), found \(rate)")
      }
      guard input.rank >= 1, input.elements > 0 else {
        throw LayerShapeError(expected: "an input with at least one value")
      }
      return Dropout(spec: self, inputShape: input)
    }
  }

  /// The settings.
  public let spec: Spec
  /// Any shape.
  public let inputShape: Shape
  /// Kept values are multiplied by this: 1/(1 − rate), rounded to Float.
  public let scale: Float
  /// Values below it are dropped: `rate` as a Float.
  let threshold: Float

  init(spec: Spec, inputShape: Shape) {
    self.spec = spec
    self.inputShape = inputShape
    scale = Float(1 / (1 - spec.rate))
    threshold = Float(spec.rate)
  }

  /// The input's shape.
  public var outputShape: Shape { inputShape }
  /// Linear.
  public var activation: Activation { .linear }
  /// One multiply per value.
  public var multiplyAdds: Int { inputShape.elements }
  /// Training masks depend on the context's key (unless nothing is ever dropped).
  public var isStochastic: Bool { spec.rate > 0 }

  /// Training: A = X · m · s; inference (or rate 0): A = X.
  public func forward(
    parameters: UnsafePointer<Float>, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
    rows: Int, scratch: UnsafeMutablePointer<Float>, context: PassContext
  ) {
    masked(input, into: output, rows: rows, context: context)
  }

  /// Training: dX = dA · m · s with the forward's mask; inference: dX = dA.
  public func backward(
    parameters: UnsafePointer<Float>, input: UnsafePointer<Float>, output: UnsafePointer<Float>,
    outputGradient: UnsafePointer<Float>, rows: Int, gradient: UnsafeMutablePointer<Float>,
    inputGradient: UnsafeMutablePointer<Float>?, scratch: UnsafeMutablePointer<Float>,
    context: PassContext
  ) {
    guard let inputGradient else { return }
    masked(outputGradient, into: inputGradient, rows: rows, context: context)
  }

  /// target = source · m · s in training, a copy otherwise: the same map forward and backward.
  private func masked(
    _ source: UnsafePointer<Float>, into target: UnsafeMutablePointer<Float>, rows: Int, context: PassContext
  ) {
    let units = inputShape.elements
    guard context.isTraining, isStochastic else {
      target.update(from: source, count: rows * units)
      return
    }
    let scale = self.scale
    let threshold = threshold
    for r in 0..<rows {
      let key = context.randomKey(row: r)
      let x = source + r * units
      let a = target + r * units
      for u in 0..<units {
        a[u] = PassContext.uniform(key: key, unit: u) >= threshold ? x[u] * scale : 0
      }
    }
  }

  /// Whether value `unit` of row `row` is kept in a training pass with `context` (for tests and tools).
  public func keeps(row: Int, unit: Int, context: PassContext) -> Bool {
    !context.isTraining || !isStochastic
      || PassContext.uniform(key: context.randomKey(row: row), unit: unit) >= threshold
  }
}

extension Dropout.Spec {
  /// The dropout kind: `{"type": "dropout", "rate": R}`; stored as `rate` (float64).
  public static let declaration = LayerKind(
    Self.self,
    settings: [
      LayerSetting(
        "rate", .real(.unitOpen), doc: "Probability that a value is dropped in training.")
    ],
    shape: .keepsShape,
    summary: { spec, _ in "rate \(spec.rate)  (training only)" },
    make: { Self(rate: $0.real("rate")) },
    values: { [.real($0.rate)] })
}
