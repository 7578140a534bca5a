// Global average pooling, channels first: each channel's mean over the whole image.
//
// Notation (one sample; B rows in a batch):
//   C channels, H × W input height × width, P = H·W values per channel (a plane)
//   X [B, C, H, W]  input     A [B, C]  output, flat (no parameters, linear activation)
// Forward:  A[n][c] = (Σ_{h,w} X[n][c][h][w]) / P, the sum in 8 fixed lanes (`ShortVectors.sum`),
//           so its bits depend only on the values, never on threads or shards
// Backward: dX[n][c][h][w] = dA[n][c] / P   (every element of the plane gets the same share)
// The output is flat, so a dense layer reads it directly: no flatten is implied after it
// (`ShapeRule.imageToFlat`), and a spatial layer after it is refused.

/// Global average pooling: the mean of each channel over its whole H × W plane.
///
/// Input: one sample is an image [C, H, W] row-major (C channels of H rows
/// by W columns); output [C], flat: value c is the mean of channel c's H·W
/// values. No parameters and no settings. As Keras's `GlobalAveragePooling2D`
/// and PyTorch's `AdaptiveAvgPool2d(1)` followed by a flatten; a dense layer
/// may follow it directly, a spatial layer (`conv2d`, pooling) may not.
///
/// ### See Also
/// - ``GlobalMaxPool2D``
/// - ``AvgPool2D``
/// - ``Dense``
public struct GlobalAvgPool2D: GlobalPoolingLayer {
  /// Global average pooling has no settings: `{"type": "global_avg_pool2d"}`.
  public struct Spec: GlobalPoolingSpec {
    /// The kind's name in configs and checkpoints.
    public static let kind = "global_avg_pool2d"

    /// A global average pooling layer.
    public init() {}

    /// The layer on images of `input` shape [C, H, W], each channel at least one value.
    public func build(input: Shape, parameterOffset: Int) throws(LayerShapeError) -> any Layer {
      GlobalAvgPool2D(spec: self, image: try ImageShape(global: input, kind: Self.kind))
    }
  }

  /// The settings (none).
  public let spec: Spec
  let image: ImageShape

  /// [C, H, W].
  public var inputShape: Shape { [image.channels, image.height, image.width] }

  /// A[n][c] = (Σ plane) / (H·W).
  public func forward(
    parameters: UnsafePointer<Float>, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
    rows: Int, scratch: UnsafeMutablePointer<Float>, context: PassContext
  ) {
    let plane = image.plane
    let count = Float(plane)
    for p in 0..<(rows * image.channels) {
      output[p] = ShortVectors.sum(input + p * plane, count: plane) / count
    }
  }

  /// dX = dA / (H·W) at every element of each plane.
  public func backward(
    parameters: UnsafePointer<Float>, input: UnsafePointer<Float>, output: UnsafePointer<Float>,
    outputGradient dA: UnsafePointer<Float>, rows: Int, gradient: UnsafeMutablePointer<Float>,
    inputGradient: UnsafeMutablePointer<Float>?, scratch: UnsafeMutablePointer<Float>,
    context: PassContext
  ) {
    guard let inputGradient else { return }
    let plane = image.plane
    let count = Float(plane)
    for p in 0..<(rows * image.channels) {
      (inputGradient + p * plane).update(repeating: dA[p] / count, count: plane)
    }
  }
}

extension GlobalAvgPool2D.Spec {
  /// The global average pooling kind: `{"type": "global_avg_pool2d"}`, no settings; its
  /// output is flat, so a dense layer after it gets no implied flatten.
  public static let declaration = globalPoolingDeclaration
}
