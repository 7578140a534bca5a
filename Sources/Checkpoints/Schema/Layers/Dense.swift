import HDF5Store
import NeuralNet

/// A dense layer's group: attributes `kind` = "dense", `activation`, `inputs`,
/// `units`, `bias` (0 or 1); datasets `weights` float32 [inputs, units]
/// (row i = weights from input i) and, with bias, `biases` float32 [units].
struct DenseSchema: LayerSchema {
  var kind: String { "dense" }

  func stores(_ layer: LayerSpec) -> Bool { true }

  func encode(_ layer: LayerSpec, layout: LayerLayout, into group: inout HDF5Node) {
    group.set("activation", layer.activation.rawValue)
    group.set("inputs", layout.inputs)
    group.set("units", layout.units)
    group.set("bias", layout.biasOffset != nil)
  }

  func decode(_ group: NodeReader, inputs: Int) throws -> DecodedLayer {
    let spec = try Self.spec(group, inputs: inputs)
    return DecodedLayer(spec: spec, bias: try group.flag("bias"), outputs: spec.units)
  }

  /// The `activation`, `inputs` and `units` of a dense layer's group (version 1 has no `kind` or `bias`).
  static func spec(_ group: NodeReader, inputs: Int) throws -> LayerSpec {
    let activation = try group.choice("activation", Activation.self, what: "activation")
    let stored = try group.int("inputs")
    guard stored == inputs else {
      throw SchemaError(
        "\(group.attributePath("inputs")): expected \(inputs) (the previous layer's outputs), found \(stored)"
      )
    }
    let units = try group.int("units", min: 1)
    return LayerSpec(units: units, activation: activation)
  }

  func tensors(_ layout: LayerLayout) -> [StoredTensor] {
    var tensors = [
      StoredTensor(name: "weights", shape: [layout.inputs, layout.units], offset: layout.weightOffset)
    ]
    if let biases = layout.biasOffset {
      tensors.append(StoredTensor(name: "biases", shape: [layout.units], offset: biases))
    }
    return tensors
  }

  func describe(_ layer: LayerSpec, layout: LayerLayout?) -> LayerDescription {
    let shape = layout.map { "[\($0.inputs), \($0.units)]  " } ?? ""
    return LayerDescription(
      kind: kind,
      settings: [
        .init(key: "units", value: .integer(layer.units)),
        .init(key: "activation", value: .text(layer.activation.rawValue)),
      ],
      summary: shape + layer.activation.rawValue)
  }
}
