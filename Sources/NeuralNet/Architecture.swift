/// Why layers cannot be built on an input shape.
public enum ArchitectureError: Error, Sendable, Hashable, CustomStringConvertible {
  /// The list of layers is empty.
  case noLayers
  /// The input shape holds no values (an axis of size < 1).
  case emptyInput(Shape)
  /// Layer `index` (of `kind`) cannot take inputs of shape `input`; it expected `expected`.
  case layer(index: Int, kind: String, input: Shape, expected: String)

  /// One line for error messages.
  public var description: String {
    switch self {
    case .noLayers:
      return "a network needs at least one layer, found none"
    case .emptyInput(let shape):
      return "the input shape \(shape) holds no values; expected every axis ≥ 1"
    case .layer(let index, let kind, let input, let expected):
      return "layer \(index) (\(kind)) cannot take input of shape \(input): expected \(expected)"
    }
  }
}

/// The built layers of a network and the layout of its flat parameters.
///
/// All parameters live in one buffer, layer by layer in each layer's tensor
/// order: layer 0's weights, its biases, layer 1's weights, ... Gradients
/// and optimizer state share this layout, so optimizers and the gradient
/// reducer are single loops over one range. The layout is decided here, once:
/// each layer is built with the offset where the previous one ended, and
/// anything that stores or reads parameters (checkpoints) takes the tensors
/// from `layers[l].parameters`.
public struct Architecture: Sendable, Hashable {
  /// Shape of one input sample.
  public let inputShape: Shape
  /// The layers, input side first, with shapes and parameter tensors.
  public let layers: [any Layer]
  /// Total number of parameters.
  public let parameterCount: Int
  /// Most floats per sample of the input or any layer's output (scratch sizing).
  public let maxWidth: Int
  /// Multiply-adds of one sample's forward pass, over all layers.
  public let multiplyAdds: Int
  /// Shape of one output sample (the last layer's).
  public let outputShape: Shape
  /// Floats per output sample (the number of network outputs).
  public let outputs: Int
  /// Whether some layer's training pass depends on the random key of its context (dropout).
  public let isStochastic: Bool
  /// For each layer, the layer whose buffer holds its output: itself, or
  /// for layers that share their input (`Flatten`) the nearest one below
  /// that does not; −1 for the network's input.
  let outputSource: [Int]

  /// Builds `specs` on samples of shape `input`, each layer on the previous one's output.
  public init(input: Shape, layers specs: [any LayerSpec]) throws(ArchitectureError) {
    guard !specs.isEmpty else { throw .noLayers }
    guard input.rank > 0, input.dimensions.allSatisfy({ $0 > 0 }) else { throw .emptyInput(input) }
    var layers: [any Layer] = []
    var sources: [Int] = []
    var shape = input
    var offset = 0
    for (index, spec) in specs.enumerated() {
      let layer: any Layer
      do {
        layer = try spec.build(input: shape, parameterOffset: offset)
      } catch {
        throw .layer(index: index, kind: spec.kind, input: shape, expected: error.expected)
      }
      if layer.sharesInput {
        precondition(
          layer.parameterCount == 0 && layer.activation == .linear
            && layer.outputShape.elements == shape.elements,
          "a layer that shares its input has no parameters, a linear activation and as many values")
        sources.append(sources.last ?? -1)
      } else {
        sources.append(index)
      }
      layers.append(layer)
      offset += layer.parameterCount
      shape = layer.outputShape
    }
    inputShape = input
    self.layers = layers
    parameterCount = offset
    maxWidth = layers.reduce(input.elements) { max($0, $1.outputShape.elements) }
    multiplyAdds = layers.reduce(0) { $0 + $1.multiplyAdds }
    outputShape = shape
    outputs = shape.elements
    isStochastic = layers.contains { $0.isStochastic }
    outputSource = sources
  }

  /// The specs the layers were built from.
  public var specs: [any LayerSpec] { layers.map { $0.spec } }

  /// Floats per input sample (the number of features for flat data).
  public var inputs: Int { inputShape.elements }

  /// Same input shape and the same layer specs.
  public static func == (lhs: Architecture, rhs: Architecture) -> Bool {
    lhs.inputShape == rhs.inputShape
      && lhs.layers.count == rhs.layers.count
      && zip(lhs.layers, rhs.layers).allSatisfy { $0.spec.isEqual(to: $1.spec) }
  }

  /// Hashes the input shape and the layer kinds.
  public func hash(into hasher: inout Hasher) {
    hasher.combine(inputShape)
    for layer in layers { hasher.combine(layer.kind) }
  }
}
