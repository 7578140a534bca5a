// What the two global pooling kinds share: a settings-free spec and a [C, H, W] → [C] shape.
// Each kind keeps only its reduction (forward and backward side by side in its own file).

/// The settings of a global pooling kind: none, no activation, described by its kind alone.
public protocol GlobalPoolingSpec: LayerSpec {
  /// The spec (global pooling has no settings).
  init()
}

extension GlobalPoolingSpec {
  /// Global pooling has no activation.
  public var activation: Activation { .linear }

  /// The kind's name, such as `global_avg_pool2d`.
  public var description: String { Self.kind }

  /// The kind's declaration: no settings, and a flat output, so a dense layer after it gets
  /// no implied flatten and a spatial layer after it is refused.
  static var globalPoolingDeclaration: LayerKind {
    LayerKind(
      Self.self, settings: [], shape: .imageToFlat, summary: { _, _ in "" }, make: { _ in Self() },
      values: { _ in [] })
  }
}

/// A layer that reduces each channel's H × W plane to one value: [C, H, W] → [C], flat.
public protocol GlobalPoolingLayer: ParameterFreeLayer {}

extension GlobalPoolingLayer {
  /// [C]: one value per channel.
  public var outputShape: Shape { [inputShape.dimensions[0]] }
  /// Linear: the reduced value itself.
  public var activation: Activation { .linear }
  /// One add or comparison per input value, counted as a multiply-add.
  public var multiplyAdds: Int { inputShape.elements }
}
