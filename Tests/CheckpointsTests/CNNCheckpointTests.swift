import Checkpoints
import Foundation
import HDF5Store
import NeuralNet
import TestSupport
import XCTest

/// The convolutional layer kinds in checkpoints: settings as attributes, the kernel as [F, C, kh, kw].
final class CNNCheckpointTests: XCTestCase {
  /// A network with every kind: conv (stride, same padding, no bias), both poolings, dropout, flatten, dense.
  static func cnn(scale: Float = 1) throws -> Checkpoint {
    let specs: [any LayerSpec] = [
      Conv2D.Spec(filters: 3, kernel: Size2D(3, 2), stride: Size2D(1, 2), padding: .same, activation: .relu),
      MaxPool2D.Spec(size: 2),
      Conv2D.Spec(filters: 4, kernel: 2, activation: .tanh, bias: false),
      AvgPool2D.Spec(size: Size2D(1, 2), stride: 1),
      Dropout.Spec(rate: 0.25),
      Flatten.Spec(),
      Dense.Spec(units: 3, activation: .softmax),
    ]
    let architecture = try Architecture(input: [2, 7, 13], layers: specs)
    let parameters = (0..<architecture.parameterCount).map { Float($0) * 0.125 * scale - 4 }
    var checkpoint = try CheckpointTests.sample()
    checkpoint.architecture = architecture
    checkpoint.parameters = parameters
    checkpoint.optimizer = OptimizerSnapshot(
      settings: OptimizerSettings(kind: .sgd, learningRate: 0.1, ["momentum": 0.9]),
      step: checkpoint.counters.step,
      slots: [parameters.map { $0 * 2 }])
    checkpoint.data.features = .identity
    return checkpoint
  }

  func testEveryKindRoundTripsAndTheKernelIsFiltersChannelsKhKw() throws {
    let dir = TemporaryDirectory()
    let original = try Self.cnn()
    let path = try CheckpointStore(directory: dir.file("run")).save(original)
    let file = try CheckpointFile.read(path)
    XCTAssertEqual(file.checkpoint, original)
    XCTAssertEqual(file.formatVersion, 2, "new layer kinds do not bump the format version")
    let layers = file.checkpoint.architecture.layers
    XCTAssertEqual(
      layers.map(\.kind), ["conv2d", "max_pool2d", "conv2d", "avg_pool2d", "dropout", "flatten", "dense"])
    XCTAssertEqual(layers[0].outputShape, [3, 7, 7])
    XCTAssertEqual(layers[0].parameters.map(\.shape), [[3, 2, 3, 2], [3]])
    XCTAssertEqual(layers[2].parameters.map(\.shape), [[4, 3, 2, 2]])

    let h5dump = try XCTUnwrap(tool("h5dump"))
    let kernel = try runProcess(h5dump, ["-d", "/model/layer_0/kernel", path])
    XCTAssertEqual(kernel.status, 0, kernel.stderr)
    XCTAssertTrue(kernel.stdout.contains("( 3, 2, 3, 2 )"), kernel.stdout)
    XCTAssertEqual(h5dumpValues(kernel.stdout).map { Float($0) }, Array(original.parameters[0..<36]))
    let velocity = try runProcess(h5dump, ["-d", "/optimizer/velocity/layer_2/kernel", path])
    XCTAssertTrue(velocity.stdout.contains("( 4, 3, 2, 2 )"), velocity.stdout)
    let attributes = try runProcess(h5dump, ["-A", "-g", "/model/layer_0", path])
    for expected in [
      "\"conv2d\"", "\"filters,channels,kh,kw\"", "\"same\"", "kernel_height", "stride_width", "channels",
    ] {
      XCTAssertTrue(attributes.stdout.contains(expected), "lacks \(expected):\n\(attributes.stdout)")
    }
  }

  func testReadersRefuseAnotherKernelOrderAndUnknownKinds() throws {
    let dir = TemporaryDirectory()
    var tree = try Self.cnn().encode()
    tree.groups["model"]?.groups["layer_0"]?.attributes["kernel_axes"] = .string("kh,kw,channels,filters")
    Checkpoint.seal(&tree)
    try CheckpointTests.write(tree, to: dir.file("axes.h5"))
    XCTAssertThrowsError(try Checkpoint.read(from: dir.file("axes.h5"))) { error in
      XCTAssertTrue(
        "\(error)".contains(
          "/model/layer_0@kernel_axes: expected \"filters,channels,kh,kw\", found \"kh,kw,channels,filters\""),
        "\(error)")
    }
    var rate = try Self.cnn().encode()
    rate.groups["model"]?.groups["layer_4"]?.attributes["rate"] = .real(1)
    Checkpoint.seal(&rate)
    try CheckpointTests.write(rate, to: dir.file("rate.h5"))
    XCTAssertThrowsError(try Checkpoint.read(from: dir.file("rate.h5"))) { error in
      XCTAssertTrue(
        "\(error)".contains("/model/layer_4@rate: expected a number in [0, 1), found 1.0"), "\(error)")
    }
  }

  func testDescriptionsInConfigTerms() throws {
    let layers = try Self.cnn().architecture.layerDescriptions
    XCTAssertEqual(
      layers[0].settings.map { "\($0.key)=\($0.value)" },
      ["filters=3", "kernel=[3, 2]", "stride=[1, 2]", "padding=same", "activation=relu", "bias=true"])
    XCTAssertEqual(layers[0].summary, "3×2×2 → 3 stride 1×2 same  relu")
    XCTAssertEqual(layers[1].settings.map { "\($0.key)=\($0.value)" }, ["size=2", "stride=2"])
    XCTAssertEqual(layers[1].summary, "2×2")
    XCTAssertEqual(layers[3].summary, "1×2 stride 1×1")
    XCTAssertEqual(layers[4].settings.map { "\($0.key)=\($0.value)" }, ["rate=0.25"])
    XCTAssertEqual(layers[5].settings, [])
  }
}
