import NNBatchCore
import NeuralNet

/// `{"type": "max_pool2d", "size": S, "stride": S}`: the largest value of each window.
///
/// `size` and `stride` are an integer (a square) or [height, width];
/// `stride` defaults to `size` (windows side by side). Valid padding only.
package enum MaxPool2DConfig: LayerConfig {
  package static let type = MaxPool2D.Spec.kind
  package static let shapeRole = LayerShapeRole.spatial

  package static func decode(_ keys: ObjectReader, defaults: LayerDefaults) -> (any LayerSpec)? {
    guard let (size, stride) = decodeWindow(keys) else { return nil }
    return MaxPool2D.Spec(size: size, stride: stride)
  }
}

/// `{"type": "avg_pool2d", "size": S, "stride": S}`: the mean of each window.
///
/// Keys as `max_pool2d`.
package enum AvgPool2DConfig: LayerConfig {
  package static let type = AvgPool2D.Spec.kind
  package static let shapeRole = LayerShapeRole.spatial

  package static func decode(_ keys: ObjectReader, defaults: LayerDefaults) -> (any LayerSpec)? {
    guard let (size, stride) = decodeWindow(keys) else { return nil }
    return AvgPool2D.Spec(size: size, stride: stride)
  }
}

/// A pooling layer's `size` (required) and `stride` (default: `size`).
private func decodeWindow(_ keys: ObjectReader) -> (size: Size2D, stride: Size2D)? {
  let size = keys.heightAndWidth("size")
  if !keys.has("size") { keys.missing("size", "an integer ≥ 1 or [height, width]") }
  let stride = keys.heightAndWidth("stride")
  guard let size else { return nil }
  let window = Size2D(size.height, size.width)
  return (window, stride.map { Size2D($0.height, $0.width) } ?? window)
}
