import XCTest

import enum NNBatch.ShortcutKind
import enum NeuralNet.LayerKinds

@testable import NNBatchKit

/// The typed layers cover every kind the layer descriptor lists, and the config's residual shorthand.
final class LayerCoverageTests: XCTestCase {
  /// One typed factory per kind of `LayerKinds.all`: a kind added there without one fails here.
  func testEveryDeclaredKindHasATypedFactory() throws {
    let typed: [Layer] = [
      .dense(2), .conv2d(filters: 1, kernel: 1), .maxPool2d(size: 2), .avgPool2d(size: 2), .globalAvgPool2d,
      .globalMaxPool2d, .flatten, .dropout(0.1), .add(), .concatenate(), .activation(.relu), .batchNorm(),
    ]
    var kinds: [String] = []
    for layer in typed {
      guard case .object(let pairs) = layer.json, case .string(let kind)? = pairs.first?.1 else {
        return XCTFail("\(layer.json.text)")
      }
      kinds.append(kind)
    }
    XCTAssertEqual(Set(kinds), Set(LayerKinds.names))
    XCTAssertEqual(kinds.count, LayerKinds.names.count)
    XCTAssertEqual(
      Layer.batchNorm(momentum: 0.2, activation: .relu).json.text,
      #"{"type": "batch_norm", "momentum": 0.2, "epsilon": 1e-05, "activation": "relu"}"#)
    XCTAssertEqual(Set(Shortcut.allCases.map(\.rawValue)), Set(ShortcutKind.allCases.map(\.rawValue)))
  }

  func testResidualBlocksNamesAndInputsWriteTheConfigsShorthand() {
    let block = Layer.residual(
      [.conv2d(filters: 4, kernel: 3, padding: .same), .batchNorm(activation: .relu)], activation: .relu
    ).named("stage1")
    XCTAssertEqual(
      block.json.text,
      #"{"type": "residual", "layers": [{"type": "conv2d", "filters": 4, "kernel": 3, "stride": 1, "padding": "same", "activation": "linear"}, {"type": "batch_norm", "momentum": 0.1, "epsilon": 1e-05, "activation": "relu"}], "activation": "relu", "shortcut": "auto", "name": "stage1"}"#
    )
    XCTAssertEqual(
      Layer.add().reading("stem", "input").json.text,
      #"{"type": "add", "activation": "linear", "inputs": ["stem", "input"]}"#)
  }

  /// A small residual CNN on in-memory 8×8 images, written with typed values only, trains.
  func testATypedResidualCNNTrains() throws {
    let (inputs, targets) = InMemoryDataTests.images(count: 64)
    var data = TrainingData.inline(inputs: inputs, targets: targets)
    data.shape = [1, 8, 8]
    let model = Model(
      layers: [
        .conv2d(filters: 4, kernel: 3, padding: .same, activation: .relu).named("stem"),
        .residual([.conv2d(filters: 4, kernel: 3, padding: .same), .batchNorm(activation: .relu)]),
        .conv2d(filters: 4, kernel: 1).named("side").reading("stem"),
        .concatenate(activation: .relu).reading("block1", "side"),
        .globalAvgPool2d, .dense(2, activation: .softmax),
      ], initializer: .heUniform)
    let config = try TrainingConfig(
      name: "cnn", data: data, model: model, loss: .crossEntropy, optimizer: .adam(learningRate: 0.01),
      epochs: 2, batchSize: 16)
    let trained = try config.train(threads: 2)
    XCTAssertEqual(trained.epoch, 2)
    XCTAssertEqual(trained.inputCount, 64)
  }

  func testAnImageFolderSourceIsTyped() throws {
    let data = TrainingData.images(path: "digits", height: 28, width: 28, channels: 1)
    XCTAssertEqual(
      data.json.text, #"{"source": "images", "path": "digits", "channels": 1, "image_size": [28, 28]}"#)
    var csv = TrainingData.csv(path: "t.csv", target: "y")
    csv.categorical = ["colour"]
    csv.extra = ["missing": #""median""#]
    XCTAssertEqual(
      csv.json.text,
      #"{"source": "csv", "path": "t.csv", "header": true, "targets": "y", "categorical": ["colour"], "missing": "median"}"#
    )
  }
}
