import HDF5Store
import NeuralNet

// /model: the architecture and its parameters.
//
//     /model                 attrs: inputs, layers (count)
//     /model/layer_i         attrs: kind, then the kind's own (Layers/*.swift)
//     /model/layer_i/<name>  float32, one dataset per parameter tensor
//
// Optimizer slots use the same per-layer tensors under /optimizer/<slot>.

/// Layer counts past this are treated as damage, not as a model.
let maximumLayers = 10_000

extension Architecture {
  /// Every layer's parameter tensors, from the layout.
  var storedTensors: [[StoredTensor]] {
    zip(layers, layout).map { LayerSchemas.entry(for: $0).tensors($1) }
  }

  /// Groups `layer_i`, each holding its layer's slices of `flat` (parameters or an optimizer slot).
  func tensorGroups(_ flat: [Float]) -> [String: HDF5Node] {
    precondition(flat.count == parameterCount, "flat buffer does not match the architecture")
    var groups: [String: HDF5Node] = [:]
    for (index, tensors) in storedTensors.enumerated() {
      var group = HDF5Node()
      for tensor in tensors {
        group.put(tensor.name, flat[tensor.offset..<(tensor.offset + tensor.count)], shape: tensor.shape)
      }
      groups["layer_\(index)"] = group
    }
    return groups
  }

  /// The flat buffer held by `group`'s layer_i sub-groups (shapes checked against the layout).
  func readTensors(_ group: NodeReader) throws -> [Float] {
    var flat = [Float](repeating: 0, count: parameterCount)
    for (index, tensors) in storedTensors.enumerated() {
      let layer = try group.group("layer_\(index)")
      for tensor in tensors {
        let values = try layer.floats(tensor.name, shape: tensor.shape)
        flat.replaceSubrange(tensor.offset..<(tensor.offset + tensor.count), with: values)
      }
    }
    return flat
  }

  /// The /model group: the layers' descriptions and the parameters.
  func encodeModel(parameters: [Float]) -> HDF5Node {
    var model = HDF5Node()
    model.set("inputs", inputs)
    model.set("layers", layers.count)
    model.groups = tensorGroups(parameters)
    for (index, (layer, layout)) in zip(layers, layout).enumerated() {
      let entry = LayerSchemas.entry(for: layer)
      model.groups["layer_\(index)", default: HDF5Node()].set("kind", entry.kind)
      entry.encode(layer, layout: layout, into: &model.groups["layer_\(index)", default: HDF5Node()])
    }
    return model
  }

  /// The architecture and parameters of a /model group.
  static func decodeModel(_ model: NodeReader) throws -> (architecture: Architecture, parameters: [Float]) {
    let count = try model.int("layers", min: 1)
    guard count <= maximumLayers else {
      throw SchemaError("\(model.attributePath("layers")): implausible layer count \(count)")
    }
    let inputs = try model.int("inputs", min: 1)
    var layers: [LayerSpec] = []
    var bias: Bool?
    var width = inputs
    for index in 0..<count {
      let group = try model.group("layer_\(index)")
      let kind = try group.string("kind")
      guard let entry = LayerSchemas.entry(kind: kind) else {
        throw SchemaError(
          "\(group.attributePath("kind")): unknown layer kind \"\(kind)\" (this build knows \(LayerSchemas.kinds.joined(separator: ", ")))"
        )
      }
      let layer = try entry.decode(group, inputs: width)
      // Bias is one setting for the whole network in this build's Architecture.
      if let bias, bias != layer.bias {
        throw SchemaError(
          "\(group.attributePath("bias")): \(layer.bias ? 1 : 0) differs from layer_0's \(bias ? 1 : 0); this build needs one bias setting for all layers"
        )
      }
      bias = layer.bias
      layers.append(layer.spec)
      width = layer.outputs
    }
    let architecture = Architecture(inputs: inputs, layers: layers, bias: bias ?? true)
    return (architecture, try architecture.readTensors(model))
  }
}
