// Dense (fully connected) layer: A = f(X · W + b).
//
// Notation: B rows, I inputs, U units.
//   X [B, I]  input          W [I, U]  weights, row i = weights from input i
//   Z [B, U] = X · W + b     b [U]     biases (optional)
//   A [B, U] = f(Z)
// Backward, from dZ [B, U] (the gradient before f):
//   dW = Xᵀ · dZ   [I, U]   (gemm TN)
//   db = Σ_rows dZ [U]
//   dX = dZ · Wᵀ   [B, I]   (gemm NT)

/// A fully connected layer: `units` outputs, each a weighted sum of every input plus a bias.
///
/// Input: flat samples [I] (I features); an image [C, H, W] goes through a
/// `Flatten` first, since a dense layer refuses inputs of rank > 1.
/// Parameters, in storage order: `weights` [inputs, units] (row i holds the
/// weights from input i), then `biases` [units] when `bias` is set.
///
/// ### See Also
/// - ``Conv2D``
/// - ``Flatten``
/// - ``Dropout``
public struct Dense: Layer {
  /// A dense layer's settings, as written in a config: `{"units": 4, "activation": "sigmoid"}`.
  public struct Spec: LayerSpec {
    /// The kind's name in configs and checkpoints.
    public static let kind = "dense"

    /// Number of outputs.
    public var units: Int
    /// The non-linearity applied to the outputs.
    public var activation: Activation
    /// Whether the layer adds a bias vector (the tutorial's network has none).
    public var bias: Bool

    /// A layer of `units` outputs followed by `activation`, with biases if `bias`.
    public init(units: Int, activation: Activation, bias: Bool = true) {
      self.units = units
      self.activation = activation
      self.bias = bias
    }

    /// The settings in a line: `dense 4 sigmoid`, with `no bias` when it has none.
    public var description: String {
      "\(Self.kind) \(units) \(activation.rawValue)\(bias ? "" : " no bias")"
    }

    /// The layer on flat samples of `input` shape ([features]).
    public func build(input: Shape, parameterOffset: Int) throws(LayerShapeError) -> any Layer {
      guard input.rank == 1, input.elements > 0 else {
        throw LayerShapeError(expected: "a flat input [features] with at least one feature")
      }
      guard units > 0 else {
        throw LayerShapeError(expected: "units ≥ 1, found \(units)")
      }
      // A checkpoint's units are checked here too: inputs × units must not trap.
      let (weights, overflow) = input.elements.multipliedReportingOverflow(by: units)
      guard !overflow, weights <= 1 << 40 else {
        throw LayerShapeError(
          expected: "at most 2⁴⁰ weights (inputs × units), found \(input.elements) × \(units)")
      }
      return Dense(spec: self, inputs: input.elements, parameterOffset: parameterOffset)
    }
  }

  /// The settings.
  public let spec: Spec
  /// Inputs per sample (rows of W).
  public let inputs: Int
  /// W [inputs, units], row-major.
  public let weights: ParameterTensor
  /// b [units], when the layer has biases.
  public let biases: ParameterTensor?
  /// [inputs].
  public let inputShape: Shape
  /// [units].
  public let outputShape: Shape
  /// `weights`, then `biases` if any.
  public let parameters: [ParameterTensor]

  /// A dense layer on `inputs` features whose weights start at `parameterOffset`.
  public init(spec: Spec, inputs: Int, parameterOffset: Int) {
    precondition(inputs > 0 && spec.units > 0, "a dense layer needs inputs and units")
    self.spec = spec
    self.inputs = inputs
    weights = ParameterTensor(name: "weights", shape: [inputs, spec.units], offset: parameterOffset)
    biases =
      spec.bias
      ? ParameterTensor(name: "biases", shape: [spec.units], offset: parameterOffset + inputs * spec.units)
      : nil
    inputShape = [inputs]
    outputShape = [spec.units]
    parameters = [weights] + (biases.map { [$0] } ?? [])
  }

  /// Number of outputs.
  public var units: Int { spec.units }
  /// The activation after X · W + b.
  public var activation: Activation { spec.activation }
  /// One per weight.
  public var multiplyAdds: Int { inputs * spec.units }

  /// Weights from `initializer` (fan-in inputs, fan-out units), row by row; biases zero.
  public func initialize(
    _ parameters: UnsafeMutablePointer<Float>, with initializer: Initializer,
    using generator: inout SeededGenerator
  ) {
    initializer.fill(
      parameters + weights.offset, count: weights.count, fanIn: inputs, fanOut: spec.units,
      using: &generator)
    if let biases { (parameters + biases.offset).update(repeating: 0, count: biases.count) }
  }

  /// Z = X · W, + b on every row, then A = f(Z) in place.
  public func forward(
    parameters: UnsafePointer<Float>, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
    rows: Int, scratch: UnsafeMutablePointer<Float>, context: PassContext
  ) {
    let units = spec.units
    gemm(
      .none, .none, m: rows, n: units, k: inputs, alpha: 1, a: input, lda: inputs,
      b: parameters + weights.offset, ldb: units, beta: 0, c: output, ldc: units)
    if let biases {
      let b = parameters + biases.offset
      for r in 0..<rows {
        let row = output + r * units
        for j in 0..<units { row[j] += b[j] }
      }
    }
    spec.activation.forward(output, rows: rows, columns: units)
  }

  /// dW = Xᵀ · dZ, db = column sums of dZ, and dX = dZ · Wᵀ when asked.
  public func backward(
    parameters: UnsafePointer<Float>, input: UnsafePointer<Float>, output: UnsafePointer<Float>,
    outputGradient dZ: UnsafePointer<Float>, rows: Int, gradient: UnsafeMutablePointer<Float>,
    inputGradient: UnsafeMutablePointer<Float>?, scratch: UnsafeMutablePointer<Float>,
    context: PassContext
  ) {
    let units = spec.units
    gemm(
      .transposed, .none, m: inputs, n: units, k: rows, alpha: 1, a: input, lda: inputs,
      b: dZ, ldb: units, beta: 0, c: gradient + weights.offset, ldc: units)
    if let biases {
      let db = gradient + biases.offset
      db.update(repeating: 0, count: units)
      for r in 0..<rows {
        let row = dZ + r * units
        for j in 0..<units { db[j] += row[j] }
      }
    }
    if let inputGradient {
      gemm(
        .none, .transposed, m: rows, n: inputs, k: units, alpha: 1, a: dZ, lda: units,
        b: parameters + weights.offset, ldb: units, beta: 0, c: inputGradient, ldc: inputs)
    }
  }
}
