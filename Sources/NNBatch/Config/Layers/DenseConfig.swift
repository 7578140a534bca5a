import NNBatchCore
import NeuralNet

/// `{"type": "dense", "units": N, "activation": NAME, "bias": BOOL}`: a fully connected layer.
///
/// `type` may be left out (dense is the default); `activation` defaults to
/// linear and `bias` to `model.bias`.
package enum DenseConfig: LayerConfig {
  package static let type = Dense.Spec.kind
  package static let shapeRole = LayerShapeRole.flat

  package static func decode(_ keys: ObjectReader, defaults: LayerDefaults) -> (any LayerSpec)? {
    let units = keys.int("units", min: 1, max: 1 << 20)
    if !keys.has("units") { keys.missing("units", "a positive integer") }
    let activation = keys.choice("activation", Activation.self, what: "activation") ?? .linear
    let bias = keys.bool("bias") ?? defaults.bias
    guard let units else { return nil }
    if activation == .softmax && units < 2 {
      keys.report("units", "a softmax layer needs at least 2 units, found \(units)")
    }
    return Dense.Spec(units: units, activation: activation, bias: bias)
  }
}
