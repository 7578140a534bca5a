/// One dense layer: `units` outputs with an activation.
public struct LayerSpec: Sendable, Hashable, Codable {
  /// Number of outputs of the layer.
  public var units: Int
  /// The non-linearity applied to the layer's outputs.
  public var activation: Activation

  /// A layer of `units` outputs followed by `activation`.
  public init(units: Int, activation: Activation) {
    self.units = units
    self.activation = activation
  }
}

/// Where one layer's parameters live in the flat parameter buffer.
public struct LayerLayout: Sendable, Hashable {
  /// Inputs to the layer (rows of its weight matrix).
  public let inputs: Int
  /// Outputs of the layer (columns of its weight matrix).
  public let units: Int
  /// Offset of W[inputs, units], row-major (row i = weights from input i).
  public let weightOffset: Int
  /// Offset of b[units], or nil when the network has no biases.
  public let biasOffset: Int?
  /// The layer's activation.
  public let activation: Activation

  /// Number of weights, inputs × units.
  public var weightCount: Int { inputs * units }
}

/// The shape of a dense network, and the layout of its flat parameters.
///
/// All parameters live in one buffer: layer 0's weights, its biases, layer
/// 1's weights, ... Gradients and optimizer state share this layout, so
/// optimizers and the gradient reducer are single loops over one range.
public struct Architecture: Sendable, Hashable {
  /// Number of input features.
  public let inputs: Int
  /// The layers, input side first.
  public let layers: [LayerSpec]
  /// Whether layers add a bias vector (the tutorial's network has none).
  public let bias: Bool
  /// Per-layer parameter offsets.
  public let layout: [LayerLayout]
  /// Total number of parameters (weights and biases).
  public let parameterCount: Int

  /// A network of `layers` on `inputs` features.
  public init(inputs: Int, layers: [LayerSpec], bias: Bool) {
    precondition(inputs > 0, "a network needs at least one input")
    precondition(!layers.isEmpty, "a network needs at least one layer")
    precondition(layers.allSatisfy { $0.units > 0 }, "every layer needs at least one unit")
    self.inputs = inputs
    self.layers = layers
    self.bias = bias
    var offset = 0
    var fanIn = inputs
    var layout: [LayerLayout] = []
    for layer in layers {
      let weightOffset = offset
      offset += fanIn * layer.units
      var biasOffset: Int?
      if bias {
        biasOffset = offset
        offset += layer.units
      }
      layout.append(
        LayerLayout(
          inputs: fanIn, units: layer.units, weightOffset: weightOffset,
          biasOffset: biasOffset, activation: layer.activation))
      fanIn = layer.units
    }
    self.layout = layout
    parameterCount = offset
  }

  /// Number of network outputs (units of the last layer).
  public var outputs: Int { layers[layers.count - 1].units }

  /// The widest layer (or the input), for sizing scratch buffers.
  public var maxWidth: Int { max(inputs, layers.map(\.units).max() ?? 0) }

  /// Multiply-adds of one sample's forward pass (one per weight).
  public var weightCount: Int { layout.reduce(0) { $0 + $1.weightCount } }
}
