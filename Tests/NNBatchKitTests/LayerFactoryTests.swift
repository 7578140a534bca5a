import XCTest

@testable import NNBatchKit

/// The layer factories write through the kinds' declarations (issue 19, item 1) the config
/// objects they wrote by hand before, so a typed model means what it meant.
final class LayerFactoryTests: XCTestCase {
  func testFactoriesWriteTheConfigObjectsTheyAlwaysWrote() {
    let expected: [(Layer, String)] = [
      (.dense(4), #"{"type": "dense", "units": 4, "activation": "linear"}"#),
      (
        .dense(3, activation: .softmax, bias: false),
        #"{"type": "dense", "units": 3, "activation": "softmax", "bias": false}"#
      ),
      (
        .dense(2, activation: .leakyRelu, bias: true),
        #"{"type": "dense", "units": 2, "activation": "leaky_relu", "bias": true}"#
      ),
      (
        .conv2d(filters: 8, kernel: 5),
        #"{"type": "conv2d", "filters": 8, "kernel": 5, "stride": 1, "padding": "valid", "activation": "linear"}"#
      ),
      (
        .conv2d(filters: 2, kernel: 3, stride: 2, padding: .same, activation: .relu),
        #"{"type": "conv2d", "filters": 2, "kernel": 3, "stride": 2, "padding": "same", "activation": "relu"}"#
      ),
      (.maxPool2d(size: 2), #"{"type": "max_pool2d", "size": 2, "stride": 2}"#),
      (.avgPool2d(size: 3, stride: 1), #"{"type": "avg_pool2d", "size": 3, "stride": 1}"#),
      (.globalAvgPool2d, #"{"type": "global_avg_pool2d"}"#),
      (.globalMaxPool2d, #"{"type": "global_max_pool2d"}"#),
      (.flatten, #"{"type": "flatten"}"#),
      (.dropout(0.25), #"{"type": "dropout", "rate": 0.25}"#),
      (.dropout(0), #"{"type": "dropout", "rate": 0}"#),
    ]
    for (layer, text) in expected {
      XCTAssertEqual(layer.json.text, text)
    }
  }

  func testAnyKindByNameAndKeys() {
    let layer = Layer(
      kind: "conv2d", ["filters": 4, "kernel": .size(height: 3, width: 5), "padding": "same"])
    XCTAssertEqual(layer.json.text, #"{"type": "conv2d", "filters": 4, "kernel": [3, 5], "padding": "same"}"#)
    XCTAssertEqual(Layer(kind: "dropout", ["rate": 0.5]).json.text, #"{"type": "dropout", "rate": 0.5}"#)
  }

  func testEveryActivationIsNeuralNetsOfTheSameName() {
    for activation in Activation.allCases {
      XCTAssertEqual(activation.layerActivation.rawValue, activation.rawValue)
    }
  }
}
