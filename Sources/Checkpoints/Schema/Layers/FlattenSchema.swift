import HDF5Store
import NeuralNet

/// A flatten layer's group: `kind` = "flatten" and nothing else ([C, H, W] → [C·H·W], row-major).
struct FlattenSchema: LayerSchema {
  func encode(_ spec: Flatten.Spec, layer: any Layer, into group: inout HDF5Node) {}

  func decode(_ group: NodeReader, input: Shape) throws -> Flatten.Spec { Flatten.Spec() }

  func settings(_ spec: Flatten.Spec) -> [LayerDescription.Setting] { [] }

  func summary(_ spec: Flatten.Spec, layer: any Layer) -> String { "" }
}
