// Activation as a layer of its own: A = f(X), Keras's `Activation` layer.
//
// Notation: B rows, E elements per sample (any shape).
//   X [B, E]   Z = X   A [B, E] = f(Z)
// Backward, from dZ (the network has applied f' already): dX = dZ.

/// A non-linearity on its own, for a layer written without one or after a merge: `{"type": "activation", "activation": "relu"}`.
public struct ActivationLayer: ParameterFreeLayer {
  /// The settings: which activation.
  public struct Spec: ActivationSettingSpec {
    /// The kind's name in configs and checkpoints.
    public static let kind = "activation"

    /// The non-linearity.
    public var activation: Activation

    /// The layer A = `activation`(X).
    public init(activation: Activation) {
      self.activation = activation
    }

    /// The layer on samples of any shape.
    public func build(input: Shape, parameterOffset: Int) throws(LayerShapeError) -> any Layer {
      guard input.elements > 0 else { throw LayerShapeError(expected: "an input with at least one value") }
      return ActivationLayer(spec: self, inputShape: input)
    }
  }

  /// The settings.
  public let spec: Spec
  /// Any shape.
  public let inputShape: Shape

  /// The input's shape.
  public var outputShape: Shape { inputShape }
  /// The spec's activation.
  public var activation: Activation { spec.activation }
  /// None.
  public var multiplyAdds: Int { 0 }

  /// A = f(X).
  public func forward(
    parameters: UnsafePointer<Float>, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
    rows: Int, scratch: UnsafeMutablePointer<Float>, context: PassContext
  ) {
    output.update(from: input, count: rows * inputShape.elements)
    activation.forward(output, rows: rows, columns: inputShape.elements)
  }

  /// dX = dZ.
  public func backward(
    parameters: UnsafePointer<Float>, input: UnsafePointer<Float>, output: UnsafePointer<Float>,
    outputGradient: UnsafePointer<Float>, rows: Int, gradient: UnsafeMutablePointer<Float>,
    inputGradient: UnsafeMutablePointer<Float>?, scratch: UnsafeMutablePointer<Float>, context: PassContext
  ) {
    inputGradient?.update(from: outputGradient, count: rows * inputShape.elements)
  }
}

extension ActivationLayer.Spec {
  /// The activation kind: `{"type": "activation", "activation": NAME}`; stored as `activation`.
  public static let declaration = activationKind(doc: "The non-linearity applied.")
}
