import NNBatchCore
import NeuralNet

/// `{"type": "flatten"}`: [C, H, W] samples become [C·H·W] (row-major), for the dense layers after it.
///
/// Optional: one is implied before the first dense layer after a spatial one
/// (`LayerConfigs.withImpliedFlatten`).
package enum FlattenConfig: LayerConfig {
  package static let type = Flatten.Spec.kind
  package static let shapeRole = LayerShapeRole.flattens

  package static func decode(_ keys: ObjectReader, defaults: LayerDefaults) -> (any LayerSpec)? {
    Flatten.Spec()
  }
}
