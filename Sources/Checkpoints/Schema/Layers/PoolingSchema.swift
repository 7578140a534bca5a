import HDF5Store
import NeuralNet

/// A pooling layer's group: `kind` ("max_pool2d" or "avg_pool2d"), `size_height`,
/// `size_width`, `stride_height`, `stride_width`; no datasets.
struct PoolingSchema<Spec: PoolingSpec>: LayerSchema {
  func encode(_ spec: Spec, layer: any Layer, into group: inout HDF5Node) {
    encodeWindow(size: spec.size, stride: spec.stride, into: &group)
  }

  func decode(_ group: NodeReader, input: Shape) throws -> Spec {
    let (size, stride) = try decodeWindow(group)
    return Spec(size: size, stride: stride)
  }

  func settings(_ spec: Spec) -> [LayerDescription.Setting] {
    windowSettings(size: spec.size, stride: spec.stride)
  }

  func summary(_ spec: Spec, layer: any Layer) -> String {
    windowSummary(size: spec.size, stride: spec.stride)
  }
}

private func encodeWindow(size: Size2D, stride: Size2D, into group: inout HDF5Node) {
  group.set("size_height", size.height)
  group.set("size_width", size.width)
  group.set("stride_height", stride.height)
  group.set("stride_width", stride.width)
}

private func decodeWindow(_ group: NodeReader) throws -> (Size2D, Size2D) {
  (
    Size2D(try group.int("size_height", min: 1), try group.int("size_width", min: 1)),
    Size2D(try group.int("stride_height", min: 1), try group.int("stride_width", min: 1))
  )
}

private func windowSettings(size: Size2D, stride: Size2D) -> [LayerDescription.Setting] {
  [.init(key: "size", value: .text(sizeText(size))), .init(key: "stride", value: .text(sizeText(stride)))]
}

private func windowSummary(size: Size2D, stride: Size2D) -> String {
  stride == size ? "\(size)" : "\(size) stride \(stride)"
}
