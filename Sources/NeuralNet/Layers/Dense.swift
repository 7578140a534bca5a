import NNBatchCore

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
// In a mixed-precision pass the three products read bf16 copies instead:
// X16 [B, I] made in forward and kept for backward, W16 from the engine's
// bf16 mirror of the parameters, dZ16 [B, U] made once for dW and dX.
// All three products have I·U·B multiply-adds, so one layer is either
// entirely above the small-product limit or entirely below it (then f32).

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
      guard checkedProduct([input.elements, units], atMost: 1 << 40) != nil else {
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
    if let kernels = mixedPrecision(context, rows: rows), let w16 = kernels.bf16Parameters {
      let x16 = kernels.bf16Buffer(slot: 2 * context.layer, count: rows * inputs)  // [B, I]
      BFloat16.convert(input, count: rows * inputs, into: x16)
      kernels.bf16GEMM(
        .none, .none, m: rows, n: units, k: inputs, a: x16, lda: inputs, b: w16 + weights.offset, ldb: units,
        beta: 0, c: output, ldc: units)
    } else {
      let (w, ldw) = f32Weights(parameters, context)
      gemm(
        .none, .none, m: rows, n: units, k: inputs, alpha: 1, a: input, lda: inputs,
        b: w, ldb: ldw, beta: 0, c: output, ldc: units, kernels: context.kernels)
    }
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
    var dZ16: UnsafeMutablePointer<UInt16>?  // [B, U], mixed precision only
    if let kernels = mixedPrecision(context, rows: rows) {
      // X16 is still in its buffer from this pass's forward on these rows.
      let x16 = kernels.bf16Buffer(slot: 2 * context.layer, count: rows * inputs)
      let g16 = kernels.bf16Buffer(slot: 2 * context.layer + 1, count: rows * units)
      BFloat16.convert(dZ, count: rows * units, into: g16)
      kernels.bf16GEMM(
        .transposed, .none, m: inputs, n: units, k: rows, a: x16, lda: inputs, b: g16, ldb: units, beta: 0,
        c: gradient + weights.offset, ldc: units)
      dZ16 = g16
    } else {
      gemm(
        .transposed, .none, m: inputs, n: units, k: rows, alpha: 1, a: input, lda: inputs,
        b: dZ, ldb: units, beta: 0, c: gradient + weights.offset, ldc: units, kernels: context.kernels)
    }
    if let biases {
      let db = gradient + biases.offset
      db.update(repeating: 0, count: units)
      for r in 0..<rows {
        let row = dZ + r * units
        for j in 0..<units { db[j] += row[j] }
      }
    }
    if let inputGradient {
      if let dZ16, let w16 = context.kernels?.bf16Parameters {
        context.kernels?.bf16GEMM(
          .none, .transposed, m: rows, n: inputs, k: units, a: dZ16, lda: units, b: w16 + weights.offset,
          ldb: units, beta: 0, c: inputGradient, ldc: inputs)
      } else {
        let (w, ldw) = f32Weights(parameters, context)
        gemm(
          .none, .transposed, m: rows, n: inputs, k: units, alpha: 1, a: dZ, lda: units,
          b: w, ldb: ldw, beta: 0, c: inputGradient, ldc: inputs, kernels: context.kernels)
      }
    }
  }

  /// W [I, U] for an f32 product and its row stride: the engine's padded copy when there is one.
  private func f32Weights(_ parameters: UnsafePointer<Float>, _ context: PassContext) -> (
    UnsafePointer<Float>, Int
  ) {
    if let padded = context.kernels?.paddedWeights?.weights(atOffset: weights.offset) { return padded }
    return (parameters + weights.offset, spec.units)
  }

  /// The worker's kernels when this pass runs its products in bf16: a
  /// mixed-precision pass, and products above the small-product limit.
  private func mixedPrecision(_ context: PassContext, rows: Int) -> MatmulKernels? {
    guard let kernels = context.kernels, kernels.isMixedPrecision,
      rows * inputs * spec.units > smallProductLimit
    else { return nil }
    return kernels
  }
}

extension Dense.Spec {
  /// The dense kind: `{"type": "dense", "units": N, "activation": NAME, "bias": BOOL}` (`type` may be left out).
  public static let declaration = LayerKind(
    Self.self,
    settings: [
      LayerSetting("units", .integer(1...(1 << 20)), doc: "Number of outputs."),
      .choice(
        "activation", Activation.self, default: .linear, doc: "The non-linearity applied to the outputs."),
      LayerSetting(
        "bias", .flag(tensor: "biases"), default: .model("bias"), doc: "Whether the layer adds a bias vector."
      ),
    ],
    shape: .flat,
    stored: [
      .setting("activation"),
      .input(
        "inputs", min: .min, value: { $0.elements },
        mismatch: { stored, input in
          input.rank == 1 && stored == input.elements
            ? nil : "\(input.elements) (the previous layer's outputs \(input))"
        }),
      .setting("units"), .setting("bias"),
    ],
    rule: { values in
      guard case .integer(let units)? = values["units"],
        values["activation"] == .choice(Activation.softmax.rawValue),
        units < 2
      else { return nil }
      return ("units", "a softmax layer needs at least 2 units, found \(units)")
    },
    summary: { spec, input in
      "[\(input.elements), \(spec.units)]  \(spec.activation.rawValue)\(spec.bias ? "" : "  no bias")"
    },
    make: {
      Self(
        units: $0.integer("units"), activation: $0.choice("activation", Activation.self),
        bias: $0.flag("bias"))
    },
    values: { [.integer($0.units), .choice($0.activation.rawValue), .flag($0.bias)] })
}
