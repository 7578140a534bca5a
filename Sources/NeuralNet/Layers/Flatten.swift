// Flatten: a sample of any shape read as one flat row, without moving a value.
//
// Notation: B rows. X [B, D1, D2, ...] → A [B, D1·D2·...]. Every buffer is
// already row-major with one row per sample, so the bytes of X are the
// bytes of A: the network passes X's buffer on as A (`sharesInput`) and
// backward passes dA on as dX, with no copy either way.

/// Reads each sample as a flat vector: [C, H, W] becomes [C·H·W] in row-major order (c, then h, then w).
///
/// Input: one sample of any shape, e.g. an image [C, H, W] (C channels of H
/// rows by W columns); output [C·H·W], element ((c·H + h)·W + w). No
/// parameters and no settings. A dense layer takes only flat inputs, so a
/// flatten goes between the last spatial layer and the first dense one; the
/// architecture inserts none itself (a config reader may). A spatial layer
/// (`conv2d`, pooling) after a flatten is refused: it needs [C, H, W].
///
/// ### See Also
/// - ``Conv2D``
/// - ``MaxPool2D``
/// - ``Dense``
public struct Flatten: ParameterFreeLayer {
  /// Flatten has no settings: `{"type": "flatten"}`.
  public struct Spec: LayerSpec {
    /// The kind's name in configs and checkpoints.
    public static let kind = "flatten"

    /// A flatten layer.
    public init() {}

    /// Flatten has no activation.
    public var activation: Activation { .linear }

    /// `flatten`.
    public var description: String { Self.kind }

    /// The layer on samples of `input` shape (any rank; a flat input stays as it is).
    public func build(input: Shape, parameterOffset: Int) throws(LayerShapeError) -> any Layer {
      guard input.rank >= 1, input.elements > 0 else {
        throw LayerShapeError(expected: "an input with at least one value")
      }
      return Flatten(spec: self, inputShape: input)
    }
  }

  /// The settings (none).
  public let spec: Spec
  /// Any shape.
  public let inputShape: Shape

  /// [input.elements].
  public var outputShape: Shape { [inputShape.elements] }
  /// Linear.
  public var activation: Activation { .linear }
  /// None.
  public var multiplyAdds: Int { 0 }
  /// The output is the input's buffer: `Network` neither copies nor calls forward or backward.
  public var sharesInput: Bool { true }

  /// A = X, copied, for callers that run a layer on its own (the network does not call it).
  public func forward(
    parameters: UnsafePointer<Float>, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
    rows: Int, scratch: UnsafeMutablePointer<Float>, context: PassContext
  ) {
    output.update(from: input, count: rows * inputShape.elements)
  }

  /// dX = dA, copied, for callers that run a layer on its own.
  public func backward(
    parameters: UnsafePointer<Float>, input: UnsafePointer<Float>, output: UnsafePointer<Float>,
    outputGradient: UnsafePointer<Float>, rows: Int, gradient: UnsafeMutablePointer<Float>,
    inputGradient: UnsafeMutablePointer<Float>?, scratch: UnsafeMutablePointer<Float>,
    context: PassContext
  ) {
    inputGradient?.update(from: outputGradient, count: rows * inputShape.elements)
  }
}

extension Flatten.Spec {
  /// The flatten kind: `{"type": "flatten"}`, no settings; implied by a config before
  /// the first flat-input layer after a spatial one.
  public static let declaration = LayerKind(
    Self.self, settings: [], shape: .flattens, summary: { _, _ in "" }, make: { _ in Self() },
    values: { _ in [] })
}
