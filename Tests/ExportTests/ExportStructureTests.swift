import Checkpoints
import Foundation
import NNBatch
import NNBatchCore
import NeuralNet
import SwiftProtobuf
import TestSupport
import XCTest

@testable import Export

/// The ONNX graph's structure read back through SwiftProtobuf, the Keras archive's layout,
/// the refusals, and the command line; no Python needed.
final class ExportStructureTests: XCTestCase {
  private func decode(_ path: String) throws -> Onnx_ModelProto {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    return try Onnx_ModelProto(serializedBytes: data)
  }

  private func attribute(_ node: Onnx_NodeProto, _ name: String) -> Onnx_AttributeProto? {
    node.attribute.first { $0.name == name }
  }

  /// A tabular model's ONNX graph takes the raw row (a float input of the numeric columns, a string
  /// input per categorical column), declares ai.onnx.ml next to the default opset and starts with
  /// Imputer, OneHotEncoder and the indicator nodes; the Keras archive takes codes and lists them.
  func testTabularExportsTakeRawColumnsAndDescribeThem() throws {
    let dir = TemporaryDirectory("nnbatch-export")
    let model = try ExportFixtures.tabular(in: dir)[0]  // a, color, b, size, c
    let output = dir.file("tabular.onnx")
    let result = try nnbatch(["export", model.checkpoint, "--format", "onnx", "-o", output])
    XCTAssertEqual(result.status, 0, result.stderr)
    let onnx = try decode(output)
    XCTAssertEqual(onnx.opsetImport.map(\.domain), ["", "ai.onnx.ml"])
    XCTAssertEqual(onnx.opsetImport.map(\.version), [17, 3])
    let graph = onnx.graph
    XCTAssertEqual(graph.input.map(\.name), ["input", "color", "size"])
    XCTAssertEqual(graph.input[0].type.tensorType.shape.dim.last?.dimValue, 3)
    XCTAssertEqual(
      graph.input[1].type.tensorType.elemType, Int32(Onnx_TensorProto.DataType.string.rawValue))
    let ops = graph.node.map(\.opType)
    XCTAssertEqual(
      Array(ops.prefix(10)),
      [
        "Imputer", "OneHotEncoder", "Flatten", "MatMul", "OneHotEncoder", "Flatten", "IsNaN", "Gather",
        "Cast",
        "Concat",
      ])
    XCTAssertEqual(ops[10], "Gather")
    XCTAssertEqual(ops[11], "Sub")  // the input scaling follows
    let imputer = try XCTUnwrap(graph.node.first { $0.opType == "Imputer" })
    XCTAssertEqual(imputer.domain, "ai.onnx.ml")
    // a: mean; b: median; c refuses (NaN stays NaN).
    let fills = try XCTUnwrap(attribute(imputer, "imputed_value_floats")).floats
    XCTAssertEqual(fills.count, 3)
    XCTAssertFalse(fills[0].isNaN || fills[1].isNaN)
    XCTAssertTrue(fills[2].isNaN)
    let hot = try XCTUnwrap(graph.node.first { $0.opType == "OneHotEncoder" })
    XCTAssertEqual(hot.input, ["color"])
    XCTAssertEqual(attribute(hot, "zeros")?.i, 1)
    let categories = try XCTUnwrap(attribute(hot, "cats_strings")).strings.map {
      String(decoding: $0, as: UTF8.self)
    }
    XCTAssertEqual(Array(categories.prefix(4)), ["Blue", "green", "red", "vert clair"])
    XCTAssertTrue(
      categories.contains("NA") && categories.contains(""), "the missing markers fold into the fill")
    let metadata = Dictionary(uniqueKeysWithValues: onnx.metadataProps.map { ($0.key, $0.value) })
    XCTAssertTrue(
      metadata["columns"]?.contains(#""kind": "categorical", "name": "size", "input": "size""#) ?? false,
      metadata["columns"] ?? "no columns")

    let keras = dir.file("tabular.keras")
    let exported = try nnbatch(["export", model.checkpoint, "--format", "keras", "-o", keras])
    XCTAssertEqual(exported.status, 0, exported.stderr)
    let plan = try ExportPlan(try SavedModel.load(model.checkpoint), format: .keras)
    XCTAssertEqual(KerasExport.inputs(plan).map(\.name), ["input", "color", "size"])
    XCTAssertEqual(KerasExport.inputs(plan).map(\.dtype), ["float32", "int32", "int32"])
    let config = KerasExport.config(plan, layers: try KerasExport.layers(plan, path: model.checkpoint)).text
    XCTAssertTrue(config.contains(#""class_name": "CategoryEncoding""#), config)
    // 4 colors and the unseen slot.
    XCTAssertTrue(config.contains(#""num_tokens": 5, "output_mode": "one_hot""#), config)
    XCTAssertTrue(config.contains(#""module": "keras.src.ops.numpy", "class_name": "Where""#), config)
    let meta = try XCTUnwrap(plan.tabular).metadata(codes: true).text
    XCTAssertTrue(
      meta.contains(
        #""name": "size", "input": "size", "categories": ["L", "M", "S", "XL"], "fill": null, "unseen_code": 4, "missing_code": 5"#
      ), meta)
  }

  func testCNNGraphHasOneNodePerStepAndTheCheckpointsParameters() throws {
    let dir = TemporaryDirectory("nnbatch-export")
    let cnn = try ExportFixtures.cnn(in: dir)
    let output = dir.file("cnn.onnx")
    let result = try nnbatch(["export", cnn.checkpoint, "--format", "onnx", "-o", output])
    XCTAssertEqual(result.status, 0, result.stderr)
    let model = try decode(output)

    // Round trip: the decoded message serializes to the same bytes.
    let again: Data = try model.serializedBytes()
    XCTAssertEqual(again, try Data(contentsOf: URL(fileURLWithPath: output)))

    XCTAssertEqual(model.irVersion, 8)
    XCTAssertEqual(model.opsetImport.map(\.version), [17])
    XCTAssertEqual(model.producerName, "nnbatch")
    XCTAssertEqual(model.producerVersion, nnbatchVersion)
    let metadata = Dictionary(uniqueKeysWithValues: model.metadataProps.map { ($0.key, $0.value) })
    XCTAssertEqual(metadata["nnbatch_version"], nnbatchVersion)
    XCTAssertEqual(metadata["task"], "classification")
    XCTAssertEqual(metadata["labels"], #"["0", "1", "2"]"#)

    let graph = model.graph
    XCTAssertEqual(graph.input.map(\.name), ["input"])
    let inputDims = graph.input[0].type.tensorType.shape.dim
    XCTAssertEqual(inputDims.first?.dimParam, "N")
    XCTAssertEqual(inputDims.dropFirst().map(\.dimValue), [2, 6, 7])
    XCTAssertEqual(graph.output.map(\.name), ["output", "label"])
    XCTAssertEqual(graph.output[0].type.tensorType.shape.dim.last?.dimValue, 3)
    XCTAssertEqual(
      graph.output[1].type.tensorType.elemType, Int32(Onnx_TensorProto.DataType.string.rawValue))
    // Dropout has no node; linear has none; the label comes from ArgMax and Gather.
    XCTAssertEqual(
      graph.node.map(\.opType),
      [
        "Sub", "Mul", "Conv", "LeakyRelu", "AveragePool", "Conv", "Tanh", "MaxPool", "Flatten", "Gemm",
        "Sigmoid", "Gemm", "Relu", "Gemm", "Softmax", "Identity", "ArgMax", "Gather", "Identity",
      ])
    let nodes = graph.node
    XCTAssertEqual(
      attribute(nodes[3], "alpha")?.f, 0.01, "leaky_relu's slope is nnbatch's 0.01, not Keras's 0.2")
    // 6×7 input, 3×3 kernel, stride 2, same: 0 rows above and 1 below, 1 column each side.
    XCTAssertEqual(attribute(nodes[2], "pads")?.ints, [0, 1, 1, 1])
    XCTAssertEqual(attribute(nodes[2], "strides")?.ints, [2, 2])
    XCTAssertEqual(nodes[2].input.count, 3, "conv with bias")
    XCTAssertEqual(nodes[5].input.count, 2, "conv without bias")
    XCTAssertEqual(attribute(nodes[5], "kernel_shape")?.ints, [2, 1])
    XCTAssertEqual(attribute(nodes[7], "kernel_shape")?.ints, [1, 2])
    XCTAssertEqual(attribute(nodes[4], "count_include_pad")?.i, 0)

    // Every parameter tensor is the checkpoint's, in nnbatch's own (OIHW, [in, out]) layout.
    let saved = try SavedModel.load(cnn.checkpoint)
    let parameters = saved.parameters.array
    let initializers = Dictionary(uniqueKeysWithValues: graph.initializer.map { ($0.name, $0) })
    for (index, layer) in saved.network.architecture.layers.enumerated() {
      for tensor in layer.parameters {
        let name = "layer\(index)_\(tensor.name)"
        guard let stored = initializers[name] else {
          XCTFail("no initializer \(name) in \(initializers.keys.sorted())")
          continue
        }
        XCTAssertEqual(stored.dims, tensor.shape.dimensions.map { Int64($0) }, name)
        XCTAssertEqual(stored.floatData, Array(parameters[tensor.range]), name)
      }
    }
    XCTAssertEqual(initializers["input_shift"]?.floatData, saved.scaler.shift)
    XCTAssertEqual(initializers["input_factor"]?.floatData, saved.scaler.factor)
    XCTAssertEqual(initializers["input_factor"]?.dims, [2, 6, 7])
  }

  /// A graph: ONNX nodes read the values of the layers they take; Keras layers carry their
  /// inbound values, and the weights go in Keras's map_graph order.
  func testGraphExportWiresEachLayerToItsInputs() throws {
    let dir = TemporaryDirectory("nnbatch-export")
    let config = dir.write(
      "g.json",
      """
      { "name": "g", "seed": 5,
        "data": { "source": "synthetic", "samples": 32, "features": 5, "classes": 3, "seed": 9 },
        "model": { "layers": [
          { "units": 6, "name": "h", "activation": "tanh" },
          { "units": 6, "name": "g", "inputs": ["input"] },
          { "type": "add", "name": "s", "inputs": ["g", "h", "g"] },
          { "type": "concatenate", "inputs": ["s", "input"] },
          { "units": 3, "activation": "softmax" } ] },
        "loss": "cross_entropy", "optimizer": { "kind": "sgd" },
        "training": { "epochs": 1, "batch_size": 16 }, "checkpoint": { "dir": "g" } }
      """)
    let checkpoint = try ExportFixtures.train(config, epochs: 1, in: dir, name: "g")
    let output = dir.file("g.onnx")
    let result = try nnbatch(["export", checkpoint, "--format", "onnx", "-o", output])
    XCTAssertEqual(result.status, 0, result.stderr)
    let nodes = try decode(output).graph.node
    func node(_ name: String) throws -> Onnx_NodeProto {
      try XCTUnwrap(nodes.first { $0.name == name }, name)
    }
    XCTAssertEqual(try node("layer0_dense").input.first, "input")
    XCTAssertEqual(try node("layer1_dense").input.first, "input", "g reads the input, not h")
    XCTAssertEqual(try node("layer2_add").input, ["layer1_dense", "layer0_tanh"])
    XCTAssertEqual(try node("layer2_add_2").input, ["layer2_add", "layer1_dense"], "((g + h) + g)")
    let concat = try node("layer3_concatenate")
    XCTAssertEqual(concat.input, ["layer2_add_2", "input"])
    XCTAssertEqual(attribute(concat, "axis")?.i, 1)
    XCTAssertEqual(try node("layer4_dense").input.first, "layer3_concatenate")

    let plan = try ExportPlan(try SavedModel.load(checkpoint), format: .keras)
    let layers = try KerasExport.layers(plan, path: checkpoint)
    XCTAssertEqual(
      layers.map(\.name),
      ["layer0_dense", "layer1_dense", "layer2_add", "layer3_concatenate", "layer4_dense"])
    XCTAssertEqual(layers[1].inbound.map(\.name), ["input"])
    XCTAssertEqual(layers[2].inbound.map(\.name), ["layer1_dense", "layer0_dense", "layer1_dense"])
    XCTAssertEqual(layers[3].inbound.map(\.shape), [[6], [5]])
    // Keras 3.15.1 lists this model so (checked): by depth from the input (g and h are both 3 from the output), ties by the first
    // reach of a walk from the output, inputs in order: concatenate → add → g (first input) → h.
    XCTAssertEqual(KerasExport.functionalOrder(layers), [-1, 1, 0, 2, 3, 4])
    let text = KerasExport.config(plan, layers: layers).text
    XCTAssertTrue(text.contains(#""class_name": "Functional""#), text)
    XCTAssertTrue(text.contains(#""keras_history": ["layer1_dense", 0, 0]"#), text)
  }

  func testKerasArchiveIsStoredZipWithKerasNamesAndWeightLayout() throws {
    let dir = TemporaryDirectory("nnbatch-export")
    let cnn = try ExportFixtures.cnn(in: dir)
    let plan = try ExportPlan(try SavedModel.load(cnn.checkpoint), format: .keras)
    let layers = try KerasExport.layers(plan, path: cnn.checkpoint)
    XCTAssertEqual(
      layers.map(\.className),
      [
        "Rescaling", "Rescaling", "Conv2D", "LeakyReLU", "AveragePooling2D", "Conv2D", "MaxPooling2D",
        "Flatten",
        "Dropout", "Dense", "Dense", "Dense",
      ])
    // The input scaling is x · 1 + (−shift), then · factor + 0: predict's float32 operations.
    XCTAssertEqual(layers[0].name, "input_shift")
    XCTAssertEqual(layers[1].name, "input_scaling")
    // The first conv's kernel, OIHW [3, 2, 3, 3] in the checkpoint, is HWIO [3, 3, 2, 3] for Keras.
    XCTAssertEqual(layers[2].variables[0].shape, [3, 3, 2, 3])
    var kernels: [[Float]] = []
    for step in plan.steps {
      if case .conv2d(0, let kernel, _, _, _, _, _) = step { kernels.append(kernel) }
    }
    let kernel = try XCTUnwrap(kernels.first)
    // W[f=2][c=1][i=0][j=1] sits at [i=0][j=1][c=1][f=2] after the transpose.
    let hwioIndex = ((0 * 3 + 1) * 2 + 1) * 3 + 2  // [i=0][j=1][c=1][f=2] of [3, 3, 2, 3]
    let oihwIndex = ((2 * 2 + 1) * 3 + 0) * 3 + 1  // [f=2][c=1][i=0][j=1] of [3, 2, 3, 3]
    XCTAssertEqual(layers[2].variables[0].values[hwioIndex], kernel[oihwIndex])
    XCTAssertEqual(KerasExport.snakeCase("LeakyReLU"), "leaky_re_lu")
    XCTAssertEqual(KerasExport.snakeCase("MaxPooling2D"), "max_pooling2d")
    XCTAssertEqual(KerasExport.snakeCase("Conv2D"), "conv2d")

    let bytes = try KerasExport.encode(plan, path: cnn.checkpoint)
    // Local file headers of stored (method 0) entries, in Keras's order.
    XCTAssertEqual(Array(bytes.prefix(4)), [0x50, 0x4b, 0x03, 0x04])
    let text = String(decoding: bytes, as: UTF8.self)
    for name in ["metadata.json", "config.json", "model.weights.h5"] {
      XCTAssertTrue(text.contains(name), name)
    }
    XCTAssertEqual(Array(bytes.suffix(22).prefix(4)), [0x50, 0x4b, 0x05, 0x06], "end of central directory")
    XCTAssertTrue(text.contains(#""negative_slope": 0.01"#))
    XCTAssertTrue(text.contains(#""data_format": "channels_first""#))
  }

  func testExportsRefuseWhatTheFormatCannotExpressWithExit2() throws {
    // Every exported number must be finite in float32: each tensor is checked once, in the plan.
    let dense = try Architecture(input: [2], layers: [Dense.Spec(units: 2, activation: .linear)])
    let good = [Float](repeating: 0.5, count: dense.parameterCount)
    let scaled = AffineScaler(kind: .standardize, shift: [1, 2], factor: [0.5, 0.25])
    func refusal(
      parameters: [Float] = good, scaler: AffineScaler = scaled, targets: AffineScaler = .identity,
      format: ExportFormat
    ) -> String? {
      do {
        let plan = try ExportPlan(
          architecture: dense, parameters: parameters, scaler: scaler, targetScaler: targets,
          isClassifier: false, labels: [], name: "m", path: "m.h5", format: format)
        _ = try ModelExport.encode(plan, format: format, path: "m.h5")
        return nil
      } catch {
        XCTAssertEqual(error.kind, .usage, "\(error)")
        return "\(error)"
      }
    }
    for format in ExportFormat.allCases {
      XCTAssertNil(refusal(format: format))
      var nan = good
      nan[3] = .nan
      XCTAssertEqual(
        refusal(parameters: nan, format: format),
        "m.h5: layer_0/weights, element 3: expected a number finite as a 32-bit float, found nan; the \(format.rawValue) export cannot store it"
      )
      var infiniteBias = good
      infiniteBias[5] = -.infinity
      XCTAssertEqual(
        refusal(parameters: infiniteBias, format: format),
        "m.h5: layer_0/biases, element 1: expected a number finite as a 32-bit float, found -inf; the \(format.rawValue) export cannot store it"
      )
      let infiniteFactor = AffineScaler(kind: .minmax, shift: [0, 0], factor: [1, .infinity])
      XCTAssertEqual(
        refusal(scaler: infiniteFactor, format: format),
        "m.h5: the input scaling's factor, feature 1: expected a number finite as a 32-bit float, found inf; the \(format.rawValue) export cannot store it"
      )
      // A factor of 0 is exported (x − shift, times 0); undoing one would divide by 0.
      XCTAssertNil(
        refusal(scaler: AffineScaler(kind: .minmax, shift: [0, 0], factor: [0, 1]), format: format))
      let zeroTargets = AffineScaler(kind: .standardize, shift: [3, 4], factor: [2, 0])
      XCTAssertEqual(
        refusal(targets: zeroTargets, format: format),
        "m.h5: the target scaling's factor, output 1: expected a nonzero factor to divide by, found 0; the \(format.rawValue) export cannot express this model"
      )
    }
    // Keras multiplies by 1 / factor, which overflows float32 for a subnormal factor; ONNX divides.
    let subnormal = AffineScaler(kind: .standardize, shift: [0, 0], factor: [1e-39, 1])
    XCTAssertEqual(
      refusal(targets: subnormal, format: .keras),
      "m.h5: the target scaling's 1 / factor (keras multiplies by it), output 0: expected a number finite as a 32-bit float, found inf; the keras export cannot store it"
    )
    XCTAssertNil(refusal(targets: subnormal, format: .onnx))

    // The command line refuses with exit 2 and writes nothing.
    let dir = TemporaryDirectory("nnbatch-export")
    let xor = try ExportFixtures.train("configs/xor.json", epochs: 10, in: dir, name: "xor")
    var checkpoint = try Checkpoint.read(from: xor)
    checkpoint.parameters[0] = .nan
    let crafted = dir.file("nan-weights.h5")
    try checkpoint.write(to: crafted)
    for format in ExportFormat.allCases {
      let output = dir.file("nan.\(format.rawValue)")
      let result = try nnbatch(["export", crafted, "--format", format.rawValue, "-o", output])
      XCTAssertEqual(result.status, 2, result.stderr)
      XCTAssertTrue(
        result.stderr.contains("layer_0/weights, element 0: expected a number finite"), result.stderr)
      XCTAssertFalse(FileManager.default.fileExists(atPath: output))
    }

    // A layer kind that no exporter knows is refused by both, naming the layer and the format.
    let architecture = try Architecture(
      input: [3], layers: [Dense.Spec(units: 2, activation: .relu), Doubling.Spec()])
    for format in ExportFormat.allCases {
      XCTAssertThrowsError(
        try ExportPlan(
          architecture: architecture, parameters: [Float](repeating: 0, count: architecture.parameterCount),
          scaler: .identity, targetScaler: .identity, isClassifier: false, labels: [], name: "m",
          path: "m.h5",
          format: format)
      ) { error in
        let text = "\(error)"
        XCTAssertEqual((error as? NNBatchError)?.kind, .usage)
        XCTAssertTrue(text.contains("layer 1 (doubling)"), text)
        XCTAssertTrue(text.contains("the \(format.rawValue) export does not know this layer kind"), text)
      }
    }
  }

  func testCommandLineDefaultsOutputBesideCheckpointAndRejectsBadUse() throws {
    let dir = TemporaryDirectory("nnbatch-export")
    let checkpoint = try ExportFixtures.train("configs/xor.json", epochs: 10, in: dir, name: "xor")
    let result = try nnbatch(["export", checkpoint, "--format", "keras"])
    XCTAssertEqual(result.status, 0, result.stderr)
    let expected = String(checkpoint.dropLast(3)) + ".keras"
    XCTAssertEqual(result.stdout, "wrote \(expected)\n")
    XCTAssertTrue(FileManager.default.fileExists(atPath: expected))
    XCTAssertEqual(ModelExport.defaultOutput(for: "a/b.c/model.h5", format: .onnx), "a/b.c/model.onnx")
    XCTAssertEqual(ModelExport.defaultOutput(for: "model", format: .onnx), "model.onnx")

    let badFormat = try nnbatch(["export", checkpoint, "--format", "tflite"])
    XCTAssertEqual(badFormat.status, 2)
    XCTAssertTrue(badFormat.stderr.contains("onnx"), badFormat.stderr)
    let noFormat = try nnbatch(["export", checkpoint])
    XCTAssertEqual(noFormat.status, 2)
    let before = try Data(contentsOf: URL(fileURLWithPath: checkpoint))
    let overwrite = try nnbatch(["export", checkpoint, "--format", "onnx", "-o", checkpoint])
    XCTAssertEqual(overwrite.status, 2)
    XCTAssertTrue(overwrite.stderr.contains("other than the checkpoint itself"), overwrite.stderr)
    XCTAssertEqual(
      try Data(contentsOf: URL(fileURLWithPath: checkpoint)), before, "the checkpoint is untouched")
    let missing = try nnbatch(["export", dir.file("nope.h5"), "--format", "onnx"])
    XCTAssertEqual(missing.status, 2)
    XCTAssertTrue(missing.stderr.contains("nope.h5"), missing.stderr)
  }
}

/// A layer kind the exporters do not know: doubles its input.
private struct Doubling: Layer {
  struct Spec: LayerSpec {
    static let kind = "doubling"
    var activation: Activation { .linear }
    var description: String { "doubling" }
    func build(input: Shape, parameterOffset: Int) throws(LayerShapeError) -> any Layer {
      Doubling(spec: self, inputShape: input)
    }
  }

  let spec: Spec
  let inputShape: Shape
  var outputShape: Shape { inputShape }
  var parameters: [ParameterTensor] { [] }
  var activation: Activation { .linear }
  var multiplyAdds: Int { inputShape.elements }

  func initialize(
    _ parameters: UnsafeMutablePointer<Float>, with initializer: Initializer,
    using generator: inout SeededGenerator
  ) {}

  func forward(
    parameters: UnsafePointer<Float>, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
    rows: Int, scratch: UnsafeMutablePointer<Float>, context: PassContext
  ) {
    for i in 0..<(rows * inputShape.elements) { output[i] = 2 * input[i] }
  }

  func backward(
    parameters: UnsafePointer<Float>, input: UnsafePointer<Float>, output: UnsafePointer<Float>,
    outputGradient: UnsafePointer<Float>, rows: Int, gradient: UnsafeMutablePointer<Float>,
    inputGradient: UnsafeMutablePointer<Float>?, scratch: UnsafeMutablePointer<Float>, context: PassContext
  ) {
    guard let inputGradient else { return }
    for i in 0..<(rows * inputShape.elements) { inputGradient[i] = 2 * outputGradient[i] }
  }
}
