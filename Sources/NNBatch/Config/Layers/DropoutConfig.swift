import NNBatchCore
import NeuralNet

/// `{"type": "dropout", "rate": R}`: zeroes a fraction R in [0, 1) of the units in training.
///
/// The kept units are scaled by 1/(1 − R) (inverted dropout), so evaluation
/// and prediction use the layer as the identity.
package enum DropoutConfig: LayerConfig {
  package static let type = Dropout.Spec.kind
  package static let shapeRole = LayerShapeRole.keepsShape

  package static func decode(_ keys: ObjectReader, defaults: LayerDefaults) -> (any LayerSpec)? {
    let rate = keys.double("rate", min: 0, max: 1, exclusiveMax: true)
    if !keys.has("rate") { keys.missing("rate", "a number in [0, 1)") }
    guard let rate else { return nil }
    return Dropout.Spec(rate: rate)
  }
}
