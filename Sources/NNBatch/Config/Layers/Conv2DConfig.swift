import NNBatchCore
import NeuralNet

/// `{"type": "conv2d", "filters": F, "kernel": K, "stride": S, "padding": P, "activation": NAME, "bias": BOOL}`.
///
/// `kernel` and `stride` are an integer (a square) or [height, width];
/// `stride` defaults to 1, `padding` to `valid` (or `same`), `activation` to
/// linear and `bias` to `model.bias`. Whether the kernel fits the image is
/// checked when the network is built on the data's shape.
package enum Conv2DConfig: LayerConfig {
  package static let type = Conv2D.Spec.kind
  package static let shapeRole = LayerShapeRole.spatial

  package static func decode(_ keys: ObjectReader, defaults: LayerDefaults) -> (any LayerSpec)? {
    let filters = keys.int("filters", min: 1, max: 1 << 16)
    if !keys.has("filters") { keys.missing("filters", "a positive integer") }
    let kernel = keys.heightAndWidth("kernel")
    if !keys.has("kernel") { keys.missing("kernel", "an integer ≥ 1 or [height, width]") }
    let stride = keys.heightAndWidth("stride") ?? (1, 1)
    let padding = keys.choice("padding", Padding.self, what: "padding") ?? .valid
    let activation = keys.choice("activation", Activation.self, what: "activation") ?? .linear
    let bias = keys.bool("bias") ?? defaults.bias
    if activation == .softmax {
      keys.report("activation", "softmax is for the last (dense) layer; a conv2d layer takes relu, tanh, ...")
    }
    guard let filters, let kernel else { return nil }
    return Conv2D.Spec(
      filters: filters, kernel: Size2D(kernel.height, kernel.width),
      stride: Size2D(stride.height, stride.width),
      padding: padding, activation: activation, bias: bias)
  }
}
