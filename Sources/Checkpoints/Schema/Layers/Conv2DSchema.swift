import HDF5Store
import NeuralNet

/// A convolution's group: `kind` = "conv2d", `activation`, `channels` (of its input), `filters`,
/// `kernel_height`, `kernel_width`, `stride_height`, `stride_width`, `padding` ("valid" or
/// "same"), `bias` (0 or 1), `kernel_axes` = "filters,channels,kh,kw"; datasets `kernel`
/// float32 [filters, channels, kh, kw] and, with bias, `biases` float32 [filters].
///
/// The kernel's axis order is PyTorch's and ONNX's (OIHW), the layer's own
/// storage order (each filter's receptive field contiguous, the im2col GEMM's
/// left operand as stored); `kernel_axes` says so in the file, and a reader
/// refuses any other order rather than guess.
struct Conv2DSchema: LayerSchema {
  /// The one axis order this version writes and reads.
  static let kernelAxes = "filters,channels,kh,kw"

  func encode(_ spec: Conv2D.Spec, layer: any Layer, into group: inout HDF5Node) {
    group.set("activation", spec.activation.rawValue)
    group.set("channels", layer.inputShape.dimensions.first ?? 0)
    group.set("filters", spec.filters)
    group.set("kernel_height", spec.kernel.height)
    group.set("kernel_width", spec.kernel.width)
    group.set("stride_height", spec.stride.height)
    group.set("stride_width", spec.stride.width)
    group.set("padding", spec.padding.rawValue)
    group.set("bias", spec.bias)
    group.set("kernel_axes", Self.kernelAxes)
  }

  func decode(_ group: NodeReader, input: Shape) throws -> Conv2D.Spec {
    let axes = try group.string("kernel_axes")
    guard axes == Self.kernelAxes else {
      throw SchemaError(
        "\(group.attributePath("kernel_axes")): expected \"\(Self.kernelAxes)\", found \"\(axes)\"")
    }
    let channels = try group.int("channels", min: 1)
    guard input.rank == 3, input.dimensions[0] == channels else {
      throw SchemaError(
        "\(group.attributePath("channels")): expected \(input.rank == 3 ? String(input.dimensions[0]) : "an image input") (the previous layer's output \(input)), found \(channels)"
      )
    }
    return Conv2D.Spec(
      filters: try group.int("filters", min: 1),
      kernel: Size2D(try group.int("kernel_height", min: 1), try group.int("kernel_width", min: 1)),
      stride: Size2D(try group.int("stride_height", min: 1), try group.int("stride_width", min: 1)),
      padding: try group.choice("padding", Padding.self, what: "padding"),
      activation: try group.choice("activation", Activation.self, what: "activation"),
      bias: try group.biasFlag())
  }

  func settings(_ spec: Conv2D.Spec) -> [LayerDescription.Setting] {
    [
      .init(key: "filters", value: .integer(spec.filters)),
      .init(key: "kernel", value: .text(sizeText(spec.kernel))),
      .init(key: "stride", value: .text(sizeText(spec.stride))),
      .init(key: "padding", value: .text(spec.padding.rawValue)),
      .init(key: "activation", value: .text(spec.activation.rawValue)),
      .init(key: "bias", value: .flag(spec.bias)),
    ]
  }

  func summary(_ spec: Conv2D.Spec, layer: any Layer) -> String {
    let channels = layer.inputShape.dimensions.first ?? 0
    let stride = spec.stride == 1 ? "" : " stride \(spec.stride)"
    return
      "\(spec.kernel)×\(channels) → \(spec.filters)\(stride) \(spec.padding.rawValue)  \(spec.activation.rawValue)\(spec.bias ? "" : "  no bias")"
  }
}

/// A size as the config writes it: `5` for a square, `[3, 5]` otherwise.
func sizeText(_ size: Size2D) -> String {
  size.height == size.width ? String(size.height) : "[\(size.height), \(size.width)]"
}
