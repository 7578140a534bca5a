import Foundation
import NNBatch
import NNBatchCore
import NeuralNet
import TestSupport
import XCTest

/// The convolutional layer kinds in configs: their keys, the implied flatten, and shape errors before training.
final class ConvConfigTests: XCTestCase {
  private func parse(
    _ dir: TemporaryDirectory, layers: String, shape: String = "[1, 8, 8]", bias: String = ""
  )
    throws -> Config
  {
    let text = """
      { "seed": 1,
        "data": { "source": "synthetic", "samples": 16, "features": 64, "classes": 3, "shape": \(shape) },
        "model": { "layers": \(layers) \(bias) },
        "loss": "cross_entropy", "optimizer": { "kind": "sgd", "learning_rate": 0.1 },
        "training": { "epochs": 1, "batch_size": 4 } }
      """
    return try Config.parse(text: text, file: dir.write("c.json", text))
  }

  /// The one-line usage error of building `layers` on `input`, or of parsing them.
  private func buildError(_ layers: String, input: Shape = [1, 8, 8], shape: String = "[1, 8, 8]") -> String {
    let dir = TemporaryDirectory()
    do {
      let config = try parse(dir, layers: layers, shape: shape)
      _ = try config.architecture(input: config.networkInput(sample: input))
    } catch let error as NNBatchError {
      XCTAssertEqual(error.kind, .usage)
      XCTAssertEqual(error.lines.count, 1, "\(error)")
      return error.description.replacingOccurrences(of: dir.file("c.json") + ": ", with: "")
    } catch {
      XCTFail("\(error)")
      return ""
    }
    XCTFail("\(layers) was accepted")
    return ""
  }

  func testConvPoolingFlattenAndDropoutKeys() throws {
    let dir = TemporaryDirectory()
    let config = try parse(
      dir,
      layers: """
        [ { "type": "conv2d", "filters": 4, "kernel": [3, 2], "stride": 2, "padding": "same",
            "activation": "relu", "bias": false },
          { "type": "conv2d", "filters": 2, "kernel": 1 },
          { "type": "max_pool2d", "size": 2, "stride": [1, 2] },
          { "type": "avg_pool2d", "size": [1, 2] },
          { "type": "flatten" },
          { "type": "dropout", "rate": 0.5 },
          { "units": 3, "activation": "softmax" } ]
        """)
    let specs = config.layers
    XCTAssertEqual(specs.count, 7, "an explicit flatten implies no other")
    XCTAssertEqual(
      specs[0] as? Conv2D.Spec,
      Conv2D.Spec(
        filters: 4, kernel: Size2D(3, 2), stride: 2, padding: .same, activation: .relu, bias: false))
    XCTAssertEqual(
      specs[1] as? Conv2D.Spec,
      Conv2D.Spec(filters: 2, kernel: 1, stride: 1, padding: .valid, activation: .linear, bias: true))
    XCTAssertEqual(specs[2] as? MaxPool2D.Spec, MaxPool2D.Spec(size: 2, stride: Size2D(1, 2)))
    XCTAssertEqual(specs[3] as? AvgPool2D.Spec, AvgPool2D.Spec(size: Size2D(1, 2), stride: Size2D(1, 2)))
    XCTAssertEqual(specs[4] as? Flatten.Spec, Flatten.Spec())
    XCTAssertEqual(specs[5] as? Dropout.Spec, Dropout.Spec(rate: 0.5))
    let architecture = try config.architecture(input: [1, 8, 8])
    XCTAssertEqual(
      architecture.layers.map(\.outputShape), [[4, 4, 4], [2, 4, 4], [2, 3, 2], [2, 3, 1], [6], [6], [3]])
  }

  func testAFlattenIsImpliedBeforeTheFirstDenseLayerAfterASpatialOne() throws {
    let dir = TemporaryDirectory()
    let config = try parse(
      dir,
      layers: """
        [ { "type": "conv2d", "filters": 2, "kernel": 3, "activation": "relu" },
          { "type": "max_pool2d", "size": 2 },
          { "type": "dropout", "rate": 0.1 },
          { "units": 5, "activation": "relu" },
          { "units": 3, "activation": "softmax" } ]
        """)
    XCTAssertEqual(
      config.layers.map(\.kind), ["conv2d", "max_pool2d", "dropout", "flatten", "dense", "dense"])
    XCTAssertEqual(
      config.layerPaths,
      [
        "$.model.layers[0]", "$.model.layers[1]", "$.model.layers[2]",
        "$.model.layers[3] (the flatten implied before it)", "$.model.layers[3]", "$.model.layers[4]",
      ])
    let architecture = try config.architecture(input: config.networkInput(sample: [1, 8, 8]))
    XCTAssertEqual(architecture.inputShape, [1, 8, 8])
    XCTAssertEqual(architecture.layers[3].outputShape, [18])
    // Dense first: flat input and no flatten layer, as before convolutions.
    let mlp = try parse(dir, layers: #"[ { "units": 3, "activation": "softmax" } ]"#)
    XCTAssertEqual(mlp.layers.map(\.kind), ["dense"])
    XCTAssertEqual(mlp.networkInput(sample: [1, 8, 8]), [64])
  }

  func testGlobalPoolingGivesFlatOutputsSoNoFlattenIsImpliedAfterIt() throws {
    let dir = TemporaryDirectory()
    for pool in ["global_avg_pool2d", "global_max_pool2d"] {
      let config = try parse(
        dir,
        layers: """
          [ { "type": "conv2d", "filters": 4, "kernel": 3, "activation": "relu" },
            { "type": "\(pool)" },
            { "type": "dropout", "rate": 0.1 },
            { "units": 5, "activation": "relu" },
            { "units": 3, "activation": "softmax" } ]
          """)
      XCTAssertEqual(config.layers.map(\.kind), ["conv2d", pool, "dropout", "dense", "dense"], "no flatten")
      XCTAssertEqual(config.layerPaths, (0..<5).map { "$.model.layers[\($0)]" })
      let architecture = try config.architecture(input: config.networkInput(sample: [1, 8, 8]))
      XCTAssertEqual(architecture.inputShape, [1, 8, 8])
      XCTAssertEqual(architecture.layers.map(\.outputShape), [[4, 6, 6], [4], [4], [5], [3]])
      // First layer: the images stay images.
      let first = try parse(
        dir, layers: #"[ { "type": "\#(pool)" }, { "units": 3, "activation": "softmax" } ]"#)
      XCTAssertEqual(first.layers.map(\.kind), [pool, "dense"])
      XCTAssertEqual(first.networkInput(sample: [1, 8, 8]), [1, 8, 8])

      // A spatial layer after it is refused, naming the layer, the flat shape and why.
      XCTAssertEqual(
        buildError(
          """
          [ { "type": "conv2d", "filters": 4, "kernel": 3 }, { "type": "\(pool)" },
            { "type": "conv2d", "filters": 2, "kernel": 1 }, { "units": 3, "activation": "softmax" } ]
          """),
        "$.model.layers[2]: conv2d layer cannot take input of shape [4]: expected an image [channels, height, width] (rank 3), found rank 1; a spatial layer like conv2d cannot follow a flatten, dense or global pooling layer"
      )
      // On flat data the message says how to give the shape, as for conv2d.
      let flat = buildError(
        #"[ { "type": "\#(pool)" }, { "units": 3, "activation": "softmax" } ]"#, input: [64])
      XCTAssertEqual(
        flat,
        "$.model.layers[0]: \(pool) layer cannot take input of shape [64]: expected an image [channels, height, width] (rank 3), found rank 1; a spatial layer like \(pool) cannot follow a flatten, dense or global pooling layer (flat data: give one sample's shape as data.shape, such as [1, 8, 8])"
      )
      // Settings: none; an unknown key is reported like any other.
      XCTAssertThrowsError(
        try parse(
          dir, layers: #"[ { "type": "\#(pool)", "size": 2 }, { "units": 3, "activation": "softmax" } ]"#)
      ) { error in
        XCTAssertTrue("\(error)".contains("$.model.layers[0].size"), "\(error)")
      }
    }
  }

  func testLayerKeyErrorsNameTheirPath() throws {
    let dir = TemporaryDirectory()
    let cases: [(String, String)] = [
      (#"{ "type": "conv2d", "kernel": 3 }"#, "$.model.layers[0].filters: missing required key"),
      (#"{ "type": "conv2d", "filters": 2 }"#, "$.model.layers[0].kernel: missing required key"),
      (
        #"{ "type": "conv2d", "filters": 2, "kernel": [3] }"#,
        "$.model.layers[0].kernel: expected an integer ≥ 1 or [height, width]"
      ),
      (
        #"{ "type": "conv2d", "filters": 2, "kernel": 0 }"#,
        "$.model.layers[0].kernel: expected an integer ≥ 1 or [height, width]"
      ),
      (
        #"{ "type": "conv2d", "filters": 2, "kernel": 3, "padding": "full" }"#,
        "$.model.layers[0].padding: unknown padding \"full\""
      ),
      (
        #"{ "type": "conv2d", "filters": 2, "kernel": 3, "units": 4 }"#,
        "$.model.layers[0].units: unknown key"
      ),
      (#"{ "type": "max_pool2d" }"#, "$.model.layers[0].size: missing required key"),
      (
        #"{ "type": "max_pool2d", "size": 2, "stride": "2" }"#,
        "$.model.layers[0].stride: expected an integer ≥ 1 or [height, width], found a string"
      ),
      (#"{ "type": "dropout", "rate": 1 }"#, "$.model.layers[0].rate: expected a number < 1.0, found 1"),
      (
        #"{ "type": "dropout", "rate": -0.1 }"#, "$.model.layers[0].rate: expected a number ≥ 0.0, found -0.1"
      ),
      (
        #"{ "type": "conv3d" }"#,
        "$.model.layers[0].type: unknown layer type \"conv3d\"; expected one of dense, conv2d, max_pool2d, avg_pool2d, global_avg_pool2d, global_max_pool2d, flatten, dropout, add, concatenate, activation, batch_norm, residual (did you mean \"conv2d\"?)"
      ),
    ]
    for (layer, message) in cases {
      XCTAssertThrowsError(
        try parse(dir, layers: "[ \(layer), { \"units\": 3, \"activation\": \"softmax\" } ]"), layer
      ) { error in
        XCTAssertTrue("\(error)".contains(message), "\(layer):\n\(error)")
      }
    }
  }

  func testSizesWhoseProductsOverflowAreRefusedNotTrapped() throws {
    // A huge data.shape: its product is checked where it is read.
    XCTAssertTrue(
      buildError(#"[ { "units": 3, "activation": "softmax" } ]"#, shape: "[16000000, 16000000, 16000000]")
        .contains("$.data.shape: expected at most 2^28 values per sample"))
    // A conv whose kernel × filters × image products would overflow: refused while building.
    let conv = buildError(
      #"[ { "type": "conv2d", "filters": 65536, "kernel": 65536, "padding": "same" }, { "units": 3, "activation": "softmax" } ]"#,
      input: [65536, 1, 1], shape: "[65536, 1, 1]")
    XCTAssertTrue(conv.contains("$.model.layers[0]") && conv.contains("sizes whose products fit"), conv)
    // A dropout rate just below 1 that rounds to 1 as a Float would drop everything.
    XCTAssertTrue(
      buildError(#"[ { "type": "dropout", "rate": 0.999999999 }, { "units": 3, "activation": "softmax" } ]"#)
        .contains("a dropout rate in [0, 1), found 0.999999999"))
    // Epochs are bounded: history is kept per epoch.
    let dir = TemporaryDirectory()
    let text = """
      { "data": { "source": "inline", "inputs": [[0], [1]], "targets": [0, 1] },
        "model": { "layers": [ { "units": 2, "activation": "softmax" } ] },
        "loss": "cross_entropy", "optimizer": { "kind": "sgd", "learning_rate": 0.1 },
        "training": { "epochs": 1e15 } }
      """
    XCTAssertThrowsError(try Config.parse(text: text, file: dir.write("e.json", text))) { error in
      XCTAssertTrue("\(error)".contains("$.training.epochs"), "\(error)")
    }
  }

  func testShapeErrorsBeforeTrainingNameTheLayerItsInputAndWhatWasExpected() {
    let softmax = #"{ "units": 3, "activation": "softmax" }"#
    // A kernel larger than its input.
    XCTAssertEqual(
      buildError(#"[ { "type": "conv2d", "filters": 2, "kernel": 9 }, \#(softmax) ]"#),
      "$.model.layers[0]: conv2d layer cannot take input of shape [1, 8, 8]: expected a kernel no larger than the input's 8×8 (valid padding), found 9×9"
    )
    // A pool that does not fit, after a layer that shrank the image.
    let pool = buildError(
      #"[ { "type": "conv2d", "filters": 2, "kernel": 7 }, { "type": "max_pool2d", "size": 3 }, \#(softmax) ]"#
    )
    XCTAssertTrue(
      pool.hasPrefix("$.model.layers[1]: max_pool2d layer cannot take input of shape [2, 2, 2]: expected"),
      pool)
    // A spatial layer after a flatten.
    let afterFlatten = buildError(
      #"[ { "type": "flatten" }, { "type": "conv2d", "filters": 2, "kernel": 3 }, \#(softmax) ]"#)
    XCTAssertTrue(
      afterFlatten.hasPrefix("$.model.layers[1]: conv2d layer cannot take input of shape [64]: expected"),
      afterFlatten)
    // Convolutions on flat data: the message says how to give the shape.
    let flat = buildError(#"[ { "type": "conv2d", "filters": 2, "kernel": 3 }, \#(softmax) ]"#, input: [64])
    XCTAssertTrue(
      flat.hasPrefix("$.model.layers[0]: conv2d layer cannot take input of shape [64]: expected"), flat)
    XCTAssertTrue(
      flat.hasSuffix("(flat data: give one sample's shape as data.shape, such as [1, 8, 8])"), flat)
  }
}

/// The committed example configs with convolutions parse and build on their data's shape.
final class ExampleConfigTests: XCTestCase {
  func testLeNetAndTheImageConfigsBuild() throws {
    let lenet = try Config.load(path: "\(repositoryRoot)/configs/lenet.json")
    XCTAssertEqual(lenet.dataShape, [1, 28, 28])
    let architecture = try lenet.architecture(input: lenet.networkInput(sample: [1, 28, 28]))
    XCTAssertEqual(
      architecture.layers.map(\.kind),
      ["conv2d", "max_pool2d", "conv2d", "max_pool2d", "flatten", "dense", "dense"])
    XCTAssertEqual(
      architecture.layers.map(\.outputShape),
      [[32, 24, 24], [32, 12, 12], [64, 8, 8], [64, 4, 4], [1024], [128], [10]])
    // PyTorch's count for the same network.
    XCTAssertEqual(architecture.parameterCount, 184_586)

    let cnn = try Config.load(path: "\(repositoryRoot)/configs/images-cnn.json")
    XCTAssertEqual(try cnn.architecture(input: cnn.networkInput(sample: [1, 16, 16])).outputs, 10)
    let mlp = try Config.load(path: "\(repositoryRoot)/configs/images-mlp.json")
    XCTAssertEqual(mlp.networkInput(sample: [1, 16, 16]), [256])
  }
}
