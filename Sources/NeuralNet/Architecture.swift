/// Why layers cannot be built on an input shape.
public enum ArchitectureError: Error, Sendable, Hashable, CustomStringConvertible {
  /// The list of layers is empty.
  case noLayers
  /// The input shape holds no values (an axis of size < 1).
  case emptyInput(Shape)
  /// Layer `index` (of `kind`) cannot take inputs of shape `input`; it expected `expected`.
  case layer(index: Int, kind: String, input: Shape, expected: String)
  /// Layer `index` takes the output of layer `input`, which is not an earlier layer.
  case laterInput(index: Int, input: Int)
  /// Layer `index` (of `kind`) has `found` inputs; it expected `expected` ("one", "two or more").
  case inputCount(index: Int, kind: String, found: Int, expected: String)
  /// Layer `index` (of `kind`) cannot merge inputs of shapes `inputs`; it expected `expected`.
  case merge(index: Int, kind: String, inputs: [Shape], expected: String)
  /// The output of layer `index` feeds no layer and is not the network's output (the last layer's).
  case unusedOutput(index: Int)

  /// One line for error messages.
  public var description: String {
    switch self {
    case .noLayers:
      return "a network needs at least one layer, found none"
    case .emptyInput(let shape):
      return "the input shape \(shape) holds no values; expected every axis ≥ 1"
    case .layer(let index, let kind, let input, let expected):
      return "layer \(index) (\(kind)) cannot take input of shape \(input): expected \(expected)"
    case .laterInput(let index, let input):
      return "layer \(index) takes the output of layer \(input): expected an earlier layer (no cycles)"
    case .inputCount(let index, let kind, let found, let expected):
      return "layer \(index) (\(kind)) has \(found) inputs: expected \(expected)"
    case .merge(let index, let kind, let inputs, let expected):
      let shapes = inputs.map(\.description).joined(separator: ", ")
      return "layer \(index) (\(kind)) cannot merge inputs of shapes \(shapes): expected \(expected)"
    case .unusedOutput(let index):
      return "the output of layer \(index) feeds no layer: expected every layer but the last to feed one"
    }
  }
}

/// The built layers of a network, how they connect, and the layout of its flat parameters.
///
/// All parameters live in one buffer, layer by layer in each layer's tensor
/// order: layer 0's weights, its biases, layer 1's weights, ... Gradients
/// and optimizer state share this layout, so optimizers and the gradient
/// reducer are single loops over one range. The layout is decided here, once:
/// each layer is built with the offset where the previous one ended, and
/// anything that stores or reads parameters (checkpoints) takes the tensors
/// from `layers[l].parameters`.
///
/// The layers form a directed acyclic graph in list order: layer l takes the
/// outputs of `layerInputs[l]` (earlier layers, or −1 for the network's input),
/// one output may feed several layers, and merge layers (`MergeLayer`) take
/// several. The last layer's output is the network's. A chain, where every
/// layer takes the one before it, is the common case and the fast path.
public struct Architecture: Sendable, Hashable {
  /// Shape of one input sample.
  public let inputShape: Shape
  /// The layers, input side first, with shapes and parameter tensors.
  public private(set) var layers: [any Layer]
  /// For each layer, the layers whose outputs it takes, in order; −1 stands for the network's input.
  public let layerInputs: [[Int]]
  /// Whether every layer takes the output of the one before it alone (no names, no merges).
  public let isChain: Bool
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
  /// Floats per sample of each layer's output, kept so that a pass never builds a shape.
  let outputWidths: [Int]
  /// Whether some layer's training pass depends on the random key of its context (dropout).
  public let isStochastic: Bool
  /// For each layer, the layer whose buffer holds its output: itself, or
  /// for layers that share their input (`Flatten`) their input's source;
  /// −1 for the network's input.
  let outputSource: [Int]
  /// For each layer and each of its inputs, whether its gradient is the first to reach that input
  /// in a backward pass (it overwrites; later ones add: branches sum).
  let firstContribution: [[Bool]]

  /// Builds `specs` on samples of shape `input` as a chain, each layer on the previous one's output.
  public init(input: Shape, layers specs: [any LayerSpec]) throws(ArchitectureError) {
    try self.init(input: input, layers: specs, inputs: specs.indices.map { [$0 - 1] })
  }

  /// Builds `specs` on samples of shape `input`, layer l on the outputs of `inputs[l]` (−1: the input).
  ///
  /// Each layer takes earlier layers only (so the list order is the order of
  /// a forward pass), a merge takes two or more, any other kind one; every
  /// output but the last feeds some layer.
  public init(input: Shape, layers specs: [any LayerSpec], inputs: [[Int]]) throws(ArchitectureError) {
    guard !specs.isEmpty else { throw .noLayers }
    guard input.rank > 0, input.dimensions.allSatisfy({ $0 > 0 }) else { throw .emptyInput(input) }
    precondition(inputs.count == specs.count, "one list of inputs per layer")
    var layers: [any Layer] = []
    var sources: [Int] = []
    var offset = 0
    var used = [Bool](repeating: false, count: specs.count)
    for (index, spec) in specs.enumerated() {
      for producer in inputs[index] {
        guard producer >= -1 && producer < index else { throw .laterInput(index: index, input: producer) }
        if producer >= 0 { used[producer] = true }
      }
      let shapes = inputs[index].map { $0 < 0 ? input : layers[$0].outputShape }
      let layer: any Layer
      if let merge = spec as? any MergeLayerSpec {
        guard shapes.count >= 2 else {
          throw .inputCount(index: index, kind: spec.kind, found: shapes.count, expected: "two or more")
        }
        do {
          layer = try merge.build(inputs: shapes)
        } catch {
          throw .merge(index: index, kind: spec.kind, inputs: shapes, expected: error.expected)
        }
      } else {
        guard shapes.count == 1 else {
          throw .inputCount(index: index, kind: spec.kind, found: shapes.count, expected: "one")
        }
        do {
          layer = try spec.build(input: shapes[0], parameterOffset: offset)
        } catch {
          throw .layer(index: index, kind: spec.kind, input: shapes[0], expected: error.expected)
        }
      }
      if layer.sharesInput {
        precondition(
          layer.parameterCount == 0 && layer.activation == .linear
            && layer.outputShape.elements == shapes[0].elements,
          "a layer that shares its input has no parameters, a linear activation and as many values")
        let producer = inputs[index][0]
        sources.append(producer < 0 ? -1 : sources[producer])
      } else {
        sources.append(index)
      }
      layers.append(layer)
      offset += layer.parameterCount
    }
    if let unused = used.dropLast().firstIndex(of: false) { throw .unusedOutput(index: unused) }
    inputShape = input
    self.layers = layers
    layerInputs = inputs
    isChain =
      layers.indices.allSatisfy { inputs[$0] == [$0 - 1] } && !layers.contains { $0 is any MergeLayer }
    parameterCount = offset
    maxWidth = layers.reduce(input.elements) { max($0, $1.outputShape.elements) }
    multiplyAdds = layers.reduce(0) { $0 + $1.multiplyAdds }
    outputShape = layers[layers.count - 1].outputShape
    outputs = outputShape.elements
    outputWidths = layers.map(\.outputShape.elements)
    isStochastic = layers.contains { $0.isStochastic }
    outputSource = sources
    // Backward runs from the last layer down, each layer's inputs in order:
    // the first gradient to reach an output in that order writes it.
    var reached = [Bool](repeating: false, count: layers.count)
    var first = inputs.map { [Bool](repeating: false, count: $0.count) }
    for index in layers.indices.reversed() {
      for (slot, producer) in inputs[index].enumerated() where producer >= 0 {
        first[index][slot] = !reached[producer]
        reached[producer] = true
      }
    }
    firstContribution = first
  }

  /// The kernel of each conv2d layer, in layer order (empty without conv2d layers).
  public var convolutionKernels: [ConvolutionKernel] {
    layers.compactMap { ($0 as? Conv2D)?.convolutionKernel }
  }

  /// The same network with its conv2d layers computed by `kernels`, one per conv2d layer in order.
  public func with(convolutionKernels kernels: [ConvolutionKernel]) -> Architecture {
    precondition(kernels.count == convolutionKernels.count, "one kernel per conv2d layer")
    var copy = self
    var next = kernels.makeIterator()
    copy.layers = layers.map { layer in
      guard let conv = layer as? Conv2D, let kernel = next.next() else { return layer }
      return conv.with(kernel: kernel)
    }
    return copy
  }

  /// The specs the layers were built from.
  public var specs: [any LayerSpec] { layers.map { $0.spec } }

  /// Floats per input sample (the number of features for flat data).
  public var inputs: Int { inputShape.elements }

  /// Same input shape, the same layer specs and the same connections.
  public static func == (lhs: Architecture, rhs: Architecture) -> Bool {
    lhs.inputShape == rhs.inputShape
      && lhs.layers.count == rhs.layers.count
      && lhs.layerInputs == rhs.layerInputs
      && zip(lhs.layers, rhs.layers).allSatisfy { $0.spec.isEqual(to: $1.spec) }
  }

  /// Hashes the input shape, the layer kinds and the connections.
  public func hash(into hasher: inout Hasher) {
    hasher.combine(inputShape)
    hasher.combine(layerInputs)
    for layer in layers { hasher.combine(layer.kind) }
  }
}
