import HDF5Store
import NNBatchCore
import NeuralNet

// /model: the architecture and its parameters.
//
//     /model                 attrs: layers (count); dataset input_shape int64 [rank]
//     /model/layer_i         attrs: kind, then the kind's own (Layers/*.swift); in a layer
//                            graph also input_layers = the groups it reads, such as "layer_0,input"
//     /model/layer_i/<name>  float32, one dataset per parameter tensor of the layer
//     /model/layer_i@state   only for a layer with state: its state tensors' names,
//                            comma-separated (the root `requires` then lists "layer_state")
//
// Optimizer slots use the same per-layer tensors under /optimizer/<slot>.
// Names, shapes and offsets of the tensors come from the built layers
// (`Layer.parameters`): the layout is the Architecture's, never recomputed here.

/// Layer counts past this are treated as damage, not as a model.
let maximumLayers = 10_000

/// The root `requires` feature of a model that is a layer graph (its layers carry `inputs`).
let layerGraphRequirement = "layer_graph"

extension Architecture {
  /// The root `requires` features this model needs a reader to understand.
  var graphRequirements: [String] { isChain ? [] : [layerGraphRequirement] }

  /// The `input_layers` attribute of layer `index`: the groups it reads, "input" for the network's input.
  func inputsText(ofLayer index: Int) -> String {
    layerInputs[index].map { $0 < 0 ? "input" : "layer_\($0)" }.joined(separator: ",")
  }
}

extension Architecture {
  /// Groups `layer_i`, each holding its layer's tensors as slices of `flat` (parameters or a slot).
  func tensorGroups(_ flat: [Float]) -> [String: HDF5Node] {
    precondition(flat.count == parameterCount, "flat buffer does not match the architecture")
    var groups: [String: HDF5Node] = [:]
    for (index, layer) in layers.enumerated() {
      var group = HDF5Node()
      for tensor in layer.parameters {
        group.put(tensor.name, flat[tensor.range], shape: tensor.shape.dimensions)
      }
      groups["layer_\(index)"] = group
    }
    return groups
  }

  /// The flat buffer held by `group`'s `layer_i` sub-groups (shapes checked against the layers).
  func readTensors(_ group: NodeReader) throws -> [Float] {
    var flat = [Float](repeating: 0, count: parameterCount)
    for (index, layer) in layers.enumerated() {
      let stored = try group.group("layer_\(index)")
      for tensor in layer.parameters {
        flat.replaceSubrange(
          tensor.range, with: try stored.floats(tensor.name, shape: tensor.shape.dimensions))
      }
    }
    return flat
  }

  /// The /model group: input shape, the layers' descriptions and the parameters.
  func encodeModel(parameters: [Float]) -> HDF5Node {
    var model = HDF5Node()
    model.set("layers", layers.count)
    model.put("input_shape", inputShape.dimensions.map(Int64.init))
    model.groups = tensorGroups(parameters)
    for (index, layer) in layers.enumerated() {
      LayerSchemas.encode(layer, into: &model.groups["layer_\(index)", default: HDF5Node()])
      let state = Self.stateNames(layer)
      if !state.isEmpty { model.groups["layer_\(index)"]?.set("state", state) }
      if !isChain {
        model.groups["layer_\(index)", default: HDF5Node()].set("input_layers", inputsText(ofLayer: index))
      }
    }
    return model
  }

  /// `layer`'s state tensors' names, comma-separated ("" without state): the `state` attribute.
  static func stateNames(_ layer: any Layer) -> String {
    layer.parameters.filter(\.isState).map(\.name).joined(separator: ",")
  }

  /// Refuses a `layer_i@state` that differs from the state tensors its layer declares.
  ///
  /// The attribute says which datasets hold state: a file whose layers would
  /// read it otherwise was written by another definition of the kind.
  func checkStateNames(_ model: NodeReader) throws {
    for (index, layer) in layers.enumerated() {
      let group = try model.group("layer_\(index)")
      let expected = Self.stateNames(layer)
      let found = group.has("state") ? try group.string("state") : ""
      guard found == expected else {
        throw SchemaError(
          "\(group.attributePath("state")): expected \"\(expected)\" (the \(layer.kind) layer's state tensors), found \"\(found)\""
        )
      }
    }
  }

  /// The architecture and parameters of a /model group.
  static func decodeModel(_ model: NodeReader) throws -> (architecture: Architecture, parameters: [Float]) {
    let count = try layerCount(model)
    let dimensions = try model.integers("input_shape")
    // Checked before Shape multiplies them: a hostile file's dimensions could overflow.
    let sizes = dimensions.compactMap { (1...(1 << 31)).contains($0) ? Int($0) : nil }
    guard sizes.count == dimensions.count, checkedProduct(sizes, atMost: 1 << 40) != nil else {
      throw SchemaError(
        "\(model.childPath("input_shape")): expected 1 to 255 dimensions in 1...2³¹ of at most 2⁴⁰ values, found \(dimensions)"
      )
    }
    guard (1...255).contains(dimensions.count) else {
      throw SchemaError(
        "\(model.childPath("input_shape")): expected 1 to 255 dimensions in 1...2³¹ of at most 2⁴⁰ values, found \(dimensions)"
      )
    }
    let input = Shape(dimensions.map { Int($0) })
    var specs: [any LayerSpec] = []
    var inputs: [[Int]] = []
    var shapes: [Shape] = []  // each layer's output
    for index in 0..<count {
      let group = try model.group("layer_\(index)")
      let producers = try group.layerInputs(index: index)
      inputs.append(producers)
      let inputShapes = producers.map { $0 < 0 ? input : shapes[$0] }
      let spec = try LayerSchemas.decode(group, input: inputShapes[0])
      let kind = spec.kind
      specs.append(spec)
      // The next layers' input shapes.
      do {
        if let merge = spec as? any MergeLayerSpec {
          shapes.append(try merge.build(inputs: inputShapes).outputShape)
        } else {
          shapes.append(try spec.build(input: inputShapes[0], parameterOffset: 0).outputShape)
        }
      } catch {
        throw SchemaError(
          "\(group.path): layer \(index) (\(kind)) cannot take input of shape \(inputShapes.map(\.description).joined(separator: ", ")): expected \(error.expected)"
        )
      }
    }
    let architecture = try build(input: input, specs, inputs: inputs, model)
    try architecture.checkStateNames(model)
    return (architecture, try architecture.readTensors(model))
  }

  /// `/model@layers`, checked for plausibility.
  static func layerCount(_ model: NodeReader) throws -> Int {
    let count = try model.int("layers", min: 1)
    guard count <= maximumLayers else {
      throw SchemaError("\(model.attributePath("layers")): implausible layer count \(count)")
    }
    return count
  }

  /// The architecture of `specs` on `input`; a misfit names the layer's group.
  static func build(
    input: Shape, _ specs: [any LayerSpec], inputs: [[Int]]? = nil, _ model: NodeReader
  ) throws -> Architecture {
    do {
      return try Architecture(input: input, layers: specs, inputs: inputs ?? specs.indices.map { [$0 - 1] })
    } catch {
      var path = model.path
      if case .layer(let index, _, _, _) = error { path = model.childPath("layer_\(index)") }
      throw SchemaError("\(path): \(error)")
    }
  }
}

extension NodeReader {
  /// Layer `index`'s `input_layers` attribute as layer indices (−1: the input); the layer before it when absent.
  ///
  /// Only earlier layers may be named: a file naming itself or a later layer
  /// (a cycle) or anything else is refused, naming the attribute.
  func layerInputs(index: Int) throws -> [Int] {
    guard hasAttribute("input_layers") else { return [index - 1] }
    let text = try string("input_layers")
    var producers: [Int] = []
    for name in text.split(separator: ",", omittingEmptySubsequences: false) {
      if name == "input" {
        producers.append(-1)
      } else if name.hasPrefix("layer_"), let producer = Int(name.dropFirst(6)),
        (0..<index).contains(producer),
        name == "layer_\(producer)"
      {
        producers.append(producer)
      } else {
        throw SchemaError(
          "\(attributePath("input_layers")): expected \"input\" or earlier layers layer_0 ... layer_\(index - 1), comma-separated, found \"\(text)\""
        )
      }
    }
    return producers
  }
}
