import HDF5Store
import NeuralNet

/// A dense layer's group: `kind` = "dense", `activation`, `inputs`, `units`,
/// `bias` (0 or 1); datasets `weights` float32 [inputs, units] (row i =
/// weights from input i) and, with bias, `biases` float32 [units].
struct DenseSchema: LayerSchema {
  func encode(_ spec: Dense.Spec, layer: any Layer, into group: inout HDF5Node) {
    group.set("activation", spec.activation.rawValue)
    group.set("inputs", layer.inputShape.elements)
    group.set("units", spec.units)
    group.set("bias", spec.bias)
  }

  func decode(_ group: NodeReader, input: Shape) throws -> Dense.Spec {
    try Self.spec(group, input: input, bias: group.biasFlag())
  }

  /// The dense layer of `group` (version 1 has no `kind` or `bias` attributes: its bias is the model's).
  static func spec(_ group: NodeReader, input: Shape, bias: Bool) throws -> Dense.Spec {
    let activation = try group.choice("activation", Activation.self, what: "activation")
    let inputs = try group.int("inputs")
    guard input.rank == 1, inputs == input.elements else {
      throw SchemaError(
        "\(group.attributePath("inputs")): expected \(input.elements) (the previous layer's outputs \(input)), found \(inputs)"
      )
    }
    return Dense.Spec(units: try group.int("units", min: 1), activation: activation, bias: bias)
  }

  func settings(_ spec: Dense.Spec) -> [LayerDescription.Setting] {
    [
      .init(key: "units", value: .integer(spec.units)),
      .init(key: "activation", value: .text(spec.activation.rawValue)),
      .init(key: "bias", value: .flag(spec.bias)),
    ]
  }

  func summary(_ spec: Dense.Spec, layer: any Layer) -> String {
    "[\(layer.inputShape.elements), \(spec.units)]  \(spec.activation.rawValue)\(spec.bias ? "" : "  no bias")"
  }
}
