// A toy layer with non-trainable state, for the tests of layer state
// (engines, optimizer, checkpoints, inspect): what batch normalization's
// running statistics will rely on, without its arithmetic.
import NeuralNet

/// Identity forward; its state `mean` [features] is a running mean of its inputs with momentum.
///
/// Training backward writes Σ_rows x (in row order) at the state's range of
/// the gradient buffer and passes dX = dZ on; `updateState` then sets
/// mean += momentum · (Σ / rows − mean) for the batch's merged sum.
public struct RunningMean: Layer {
  /// `{"type": "running_mean", "momentum": m}`.
  public struct Spec: LayerSpec {
    /// The kind's name.
    public static let kind = "running_mean"
    /// Weight of the newest batch's mean.
    public var momentum: Float

    /// A running mean with `momentum`.
    public init(momentum: Float = 0.25) {
      self.momentum = momentum
    }

    /// No activation.
    public var activation: Activation { .linear }

    /// `running_mean(m)`.
    public var description: String { "\(Self.kind)(\(momentum))" }

    /// The layer on flat inputs of `input` shape.
    public func build(input: Shape, parameterOffset: Int) throws(LayerShapeError) -> any Layer {
      guard input.rank == 1 else { throw LayerShapeError(expected: "a flat input [features]") }
      return RunningMean(spec: self, inputShape: input, offset: parameterOffset)
    }
  }

  /// The settings.
  public let spec: Spec
  /// [features].
  public let inputShape: Shape
  /// Where the state starts in the flat buffer.
  public let offset: Int

  /// Same as the input.
  public var outputShape: Shape { inputShape }
  /// The state tensor `mean` [features].
  public var parameters: [ParameterTensor] {
    [ParameterTensor(name: "mean", shape: inputShape, offset: offset, role: .state)]
  }
  /// Linear.
  public var activation: Activation { .linear }
  /// One add per value.
  public var multiplyAdds: Int { inputShape.elements }

  /// A fixed start (0.5), so a test can tell initialisation from zero.
  public func initialize(
    _ parameters: UnsafeMutablePointer<Float>, with initializer: Initializer,
    using generator: inout SeededGenerator
  ) {
    (parameters + offset).update(repeating: 0.5, count: inputShape.elements)
  }

  /// A = X.
  public func forward(
    parameters: UnsafePointer<Float>, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
    rows: Int, scratch: UnsafeMutablePointer<Float>, context: PassContext
  ) {
    output.update(from: input, count: rows * inputShape.elements)
  }

  /// dX = dZ; the state's statistic Σ_rows x, rows in order.
  public func backward(
    parameters: UnsafePointer<Float>, input: UnsafePointer<Float>, output: UnsafePointer<Float>,
    outputGradient: UnsafePointer<Float>, rows: Int, gradient: UnsafeMutablePointer<Float>,
    inputGradient: UnsafeMutablePointer<Float>?, scratch: UnsafeMutablePointer<Float>,
    context: PassContext
  ) {
    let features = inputShape.elements
    inputGradient?.update(from: outputGradient, count: rows * features)
    Self.rowSums(input, rows: rows, features: features, into: gradient + offset)
  }

  /// sums[j] = Σ_r x[r, j], r in order, in Float: the statistic a shard writes.
  public static func rowSums(
    _ x: UnsafePointer<Float>, rows: Int, features: Int, into sums: UnsafeMutablePointer<Float>
  ) {
    for j in 0..<features {
      var sum: Float = 0
      for r in 0..<rows { sum += x[r * features + j] }
      sums[j] = sum
    }
  }

  /// mean += momentum · (Σ / rows − mean), element by element.
  public func updateState(
    _ tensor: ParameterTensor, elements: Range<Int>, state: UnsafeMutablePointer<Float>,
    statistics: UnsafePointer<Float>, batch: StateBatch
  ) {
    precondition(tensor.name == "mean" && elements.upperBound <= tensor.count, "not this layer's state")
    for k in 0..<elements.count {
      state[k] = Self.merged(state[k], sum: statistics[k], rows: batch.rows, momentum: spec.momentum)
    }
  }

  /// The rule for one element, for tests' hand computations.
  public static func merged(_ mean: Float, sum: Float, rows: Int, momentum: Float) -> Float {
    mean + momentum * (sum / Float(rows) - mean)
  }
}

extension RunningMean.Spec {
  /// The toy kind's declaration: `momentum` (stored as float64), for the tests that register it.
  public static let declaration = LayerKind(
    Self.self,
    settings: [LayerSetting("momentum", .real(.unitOpen), doc: "Weight of the newest batch's mean.")],
    shape: .flat,
    summary: { spec, _ in "momentum \(spec.momentum)" },
    make: { Self(momentum: Float($0.real("momentum"))) },
    values: { [.real(Double($0.momentum))] })
}
