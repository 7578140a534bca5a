// Global max pooling, channels first: each channel's maximum over the whole image.
//
// Notation (one sample; B rows in a batch):
//   C channels, H × W input height × width, P = H·W values per channel (a plane)
//   X [B, C, H, W]  input     A [B, C]  output, flat (no parameters, linear activation)
// Forward:  A[n][c] = max_{h,w} X[n][c][h][w]; the index in the plane of its first
//           occurrence in row-major order (exact as a Float below 2^24) goes to
//           scratch [B, C], so backward needs no second search
// Backward: dX = 0, then dX[n][c][argmax] = dA[n][c]   (ties: the first in row-major order,
//           as MaxPool2D and PyTorch give it)
// The output is flat, so a dense layer reads it directly: no flatten is implied after it
// (`ShapeRule.imageToFlat`), and a spatial layer after it is refused.

/// Global max pooling: the largest value of each channel over its whole H × W plane.
///
/// Input: one sample is an image [C, H, W] row-major (C channels of H rows
/// by W columns); output [C], flat: value c is the maximum of channel c's
/// H·W values. No parameters and no settings. When a channel holds its
/// maximum more than once, the gradient goes to the first of them in
/// row-major order (the top row first, left to right), as ``MaxPool2D``
/// does. As Keras's `GlobalMaxPooling2D` and PyTorch's `AdaptiveMaxPool2d(1)`
/// followed by a flatten; a dense layer may follow it directly, a spatial
/// layer (`conv2d`, pooling) may not.
///
/// ### See Also
/// - ``GlobalAvgPool2D``
/// - ``MaxPool2D``
/// - ``Dense``
public struct GlobalMaxPool2D: GlobalPoolingLayer {
  /// Global max pooling has no settings: `{"type": "global_max_pool2d"}`.
  public struct Spec: GlobalPoolingSpec {
    /// The kind's name in configs and checkpoints.
    public static let kind = "global_max_pool2d"

    /// A global max pooling layer.
    public init() {}

    /// The layer on images of `input` shape [C, H, W], each channel at least one value.
    public func build(input: Shape, parameterOffset: Int) throws(LayerShapeError) -> any Layer {
      let image = try ImageShape(global: input, kind: Self.kind)
      // Each argmax is kept as a Float index into its H × W plane: exact below 2^24.
      guard image.plane < 1 << 24 else {
        throw LayerShapeError(expected: "planes of fewer than 2^24 values for max pooling, found \(input)")
      }
      return GlobalMaxPool2D(spec: self, image: image)
    }
  }

  /// The settings (none).
  public let spec: Spec
  let image: ImageShape

  /// [C, H, W].
  public var inputShape: Shape { [image.channels, image.height, image.width] }

  /// The argmax of every output: [rows, C].
  public func scratchCount(rows: Int) -> Int { rows * image.channels }

  /// A[n][c] = the plane's maximum; the index of its first occurrence goes to scratch.
  public func forward(
    parameters: UnsafePointer<Float>, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
    rows: Int, scratch: UnsafeMutablePointer<Float>, context: PassContext
  ) {
    let plane = image.plane
    for p in 0..<(rows * image.channels) {
      let values = input + p * plane
      // Selects rather than branches, as PoolGeometry.argmax: which element wins is data.
      var best = 0
      var maximum = values[0]
      for i in 1..<plane {  // plane ≥ 1: `build` refuses empty images
        let value = values[i]
        let larger = value > maximum
        maximum = larger ? value : maximum
        best = larger ? i : best
      }
      output[p] = maximum
      scratch[p] = Float(best)
    }
  }

  /// dX = 0, then each plane's dA at its first maximum, as the forward recorded it.
  public func backward(
    parameters: UnsafePointer<Float>, input: UnsafePointer<Float>, output: UnsafePointer<Float>,
    outputGradient dA: UnsafePointer<Float>, rows: Int, gradient: UnsafeMutablePointer<Float>,
    inputGradient: UnsafeMutablePointer<Float>?, scratch: UnsafeMutablePointer<Float>,
    context: PassContext
  ) {
    guard let inputGradient else { return }
    let plane = image.plane
    inputGradient.update(repeating: 0, count: rows * image.channels * plane)
    for p in 0..<(rows * image.channels) {
      inputGradient[p * plane + Int(scratch[p])] = dA[p]
    }
  }
}

extension GlobalMaxPool2D.Spec {
  /// The global max pooling kind: `{"type": "global_max_pool2d"}`, no settings; its
  /// output is flat, so a dense layer after it gets no implied flatten.
  public static let declaration = globalPoolingDeclaration
}
