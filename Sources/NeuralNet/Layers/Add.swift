// Add: the element-wise sum of two or more inputs of one shape (a residual block's join).
//
// Notation: B rows, E elements per sample (every input's shape).
//   X_s [B, E]   the inputs     Z [B, E] = Σ_s X_s     A = f(Z)
// Backward: dX_s = dZ for every s.

/// The element-wise sum of its inputs, which all have the same shape, then an optional activation.
///
/// `{"type": "add", "inputs": ["block", "shortcut"], "activation": "relu"}`.
public struct Add: MergeLayer {
  /// An add layer's settings: its activation (linear by default).
  public struct Spec: MergeLayerSpec, ActivationSettingSpec {
    /// The kind's name in configs and checkpoints.
    public static let kind = "add"

    /// The non-linearity applied to the sum.
    public var activation: Activation

    /// A sum followed by `activation`.
    public init(activation: Activation = .linear) {
      self.activation = activation
    }

    /// The layer on inputs that all have one shape.
    public func build(inputs: [Shape]) throws(LayerShapeError) -> any MergeLayer {
      guard inputs.allSatisfy({ $0 == inputs[0] }) else {
        throw LayerShapeError(
          expected: "inputs of one shape, found \(inputs.map(\.description).joined(separator: ", "))")
      }
      return Add(spec: self, inputShapes: inputs)
    }
  }

  /// The settings.
  public let spec: Spec
  /// Every input's shape (all equal).
  public let inputShapes: [Shape]

  /// The inputs' shape.
  public var outputShape: Shape { inputShapes[0] }
  /// The spec's activation.
  public var activation: Activation { spec.activation }

  /// Z = X_0 (slot 0), Z += X_s (later slots).
  public func merge(slot: Int, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, rows: Int) {
    copyOrAdd(input, into: output, count: rows * outputShape.elements, accumulate: slot > 0)
  }

  /// dX_s = dZ.
  public func split(
    slot: Int, outputGradient: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>,
    rows: Int, accumulate: Bool
  ) {
    copyOrAdd(outputGradient, into: inputGradient, count: rows * outputShape.elements, accumulate: accumulate)
  }
}

extension Add.Spec {
  /// The add kind: `{"type": "add", "inputs": [A, B, ...], "activation": NAME}`; stored as `activation`.
  public static let declaration = activationKind(doc: "The non-linearity applied to the sum.")
}
