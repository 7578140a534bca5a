import HDF5Store
import NeuralNet

/// A dropout layer's group: `kind` = "dropout", `rate` (float64 in [0, 1)); no datasets.
struct DropoutSchema: LayerSchema {
  func encode(_ spec: Dropout.Spec, layer: any Layer, into group: inout HDF5Node) {
    group.set("rate", spec.rate)
  }

  func decode(_ group: NodeReader, input: Shape) throws -> Dropout.Spec {
    let rate = try group.double("rate")
    guard rate >= 0 && rate < 1 else {
      throw SchemaError("\(group.attributePath("rate")): expected a number in [0, 1), found \(rate)")
    }
    return Dropout.Spec(rate: rate)
  }

  func settings(_ spec: Dropout.Spec) -> [LayerDescription.Setting] {
    [.init(key: "rate", value: .text(String(spec.rate)))]
  }

  func summary(_ spec: Dropout.Spec, layer: any Layer) -> String { "rate \(spec.rate)  (training only)" }
}
