import Foundation
import NNBatch
import TestSupport
import XCTest

/// The exports run in their real consumers (onnxruntime, Keras 3 on jax and on numpy) and match `nnbatch predict`.
///
/// Tolerance (in Tests/Interop/check_export.py): |a − b| ≤ 1e-5·|b| + 1e-6 for every output.
final class ExportInteropTests: XCTestCase {
  func testOnnxruntimeAndKerasMatchPredictOnFlowersHousingXorBinaryAndCNNs() throws {
    let python = try ExportFixtures.python()
    let dir = TemporaryDirectory("nnbatch-export")
    var models: [TrainedModel] = []
    let flowers = try ExportFixtures.train("configs/flowers.json", epochs: 3, in: dir, name: "flowers")
    models.append(
      TrainedModel(
        name: "flowers", checkpoint: flowers,
        inputs: try ExportFixtures.features(
          ofRepositoryCSV: "configs/data/flowers.csv", rows: 150, in: dir, name: "flowers"), shape: [4]))
    let housing = try ExportFixtures.train("configs/housing.json", epochs: 3, in: dir, name: "housing")
    models.append(
      TrainedModel(
        name: "housing", checkpoint: housing,
        inputs: try ExportFixtures.features(
          ofRepositoryCSV: "configs/data/housing.csv", rows: 150, in: dir, name: "housing"), shape: [6]))
    let xor = try ExportFixtures.train("configs/xor.json", epochs: 300, in: dir, name: "xor")
    models.append(
      TrainedModel(
        name: "xor", checkpoint: xor,
        inputs: dir.write("xor-inputs.csv", "0,0,1\n0,1,1\n1,0,1\n1,1,1\n0.5,0.25,-2\n"), shape: [3]))
    models.append(try ExportFixtures.binary(in: dir))
    // Activation layers: one after a layer's own activation, one after a linear layer, a leaky one.
    models.append(
      try ExportFixtures.binary(
        in: dir, name: "activations",
        layers: """
          { "units": 4, "activation": "tanh" }, { "type": "activation", "activation": "relu" },
          { "units": 3 }, { "type": "activation", "activation": "leaky_relu" },
          { "units": 1, "activation": "sigmoid" }
          """))
    models.append(try ExportFixtures.cnn(in: dir))
    // Global pooling: ONNX GlobalAveragePool / GlobalMaxPool (then Flatten), Keras Global*Pooling2D.
    models.append(try ExportFixtures.globalPooling("global_avg_pool2d", in: dir))
    models.append(try ExportFixtures.globalPooling("global_max_pool2d", in: dir))
    // The example CNN as initialised (--epochs 0): its real architecture at full size, untrained.
    let digits = try ExportFixtures.train("configs/images-cnn.json", epochs: 0, in: dir, name: "images-cnn")
    models.append(
      TrainedModel(
        name: "images-cnn", checkpoint: digits,
        inputs: ExportFixtures.randomRows(8, 256, low: 0, high: 1, seed: 5, in: dir, name: "digits.csv"),
        shape: [1, 16, 16]))

    try check(models, python: python, in: dir)
  }

  /// batch_norm exports in its inference form (the running averages): after a conv (per channel,
  /// axis 1 of NCHW) with its own activation, and on a dense layer's units.
  func testBatchNormMatchesPredictInOnnxruntimeAndKeras() throws {
    let python = try ExportFixtures.python()
    let dir = TemporaryDirectory("nnbatch-export")
    let config = dir.write(
      "bn-cnn.json",
      """
      { "name": "bn-cnn", "seed": 5,
        "data": { "source": "synthetic", "samples": 96, "features": 72, "classes": 3, "seed": 9,
                  "shape": [2, 6, 6] },
        "model": { "layers": [
          { "type": "conv2d", "filters": 3, "kernel": 3, "padding": "same", "bias": false },
          { "type": "batch_norm", "activation": "relu", "momentum": 0.3, "epsilon": 0.001 },
          { "type": "max_pool2d", "size": 2 },
          { "units": 5 }, { "type": "batch_norm", "activation": "tanh" },
          { "units": 3, "activation": "softmax" } ], "init": "he_uniform" },
        "loss": "cross_entropy", "optimizer": { "kind": "adam", "learning_rate": 0.01 },
        "training": { "epochs": 3, "batch_size": 16, "shard_size": 8 },
        "checkpoint": { "dir": "bn-cnn", "every_epochs": 3, "keep": 1 } }
      """)
    let checkpoint = try ExportFixtures.train(config, epochs: 3, in: dir, name: "bn-cnn")
    let inputs = ExportFixtures.randomRows(30, 72, low: -3, high: 3, seed: 11, in: dir, name: "bn-inputs.csv")
    let binary = try ExportFixtures.binary(
      in: dir, name: "bn-binary",
      layers:
        #"{ "units": 4 }, { "type": "batch_norm", "activation": "leaky_relu" }, { "units": 1, "activation": "sigmoid" }"#
    )
    try check(
      [TrainedModel(name: "bn-cnn", checkpoint: checkpoint, inputs: inputs, shape: [2, 6, 6]), binary],
      python: python, in: dir)
  }

  /// Layer graphs: a residual CNN with batch_norm (identity and stride-2 projection shortcuts, a
  /// separate activation layer), a concatenate of convolution branches, and a dense graph with a
  /// three-way add, a concatenate of flat branches and a dense residual block.
  func testLayerGraphsMatchPredictInOnnxruntimeAndKeras() throws {
    let python = try ExportFixtures.python()
    let dir = TemporaryDirectory("nnbatch-export")
    func model(_ name: String, _ layers: String, features: Int, shape: [Int]) throws -> TrainedModel {
      let shapeText = shape.map(String.init).joined(separator: ", ")
      let config = dir.write(
        "\(name).json",
        """
        { "name": "\(name)", "seed": 5,
          "data": { "source": "synthetic", "samples": 96, "features": \(features), "classes": 3, "seed": 9,
                    "shape": [\(shapeText)] },
          "model": { "layers": [\(layers)], "init": "he_uniform" },
          "loss": "cross_entropy", "optimizer": { "kind": "adam", "learning_rate": 0.01 },
          "training": { "epochs": 3, "batch_size": 16, "shard_size": 8 },
          "checkpoint": { "dir": "\(name)", "every_epochs": 3, "keep": 1 } }
        """)
      let checkpoint = try ExportFixtures.train(config, epochs: 3, in: dir, name: name)
      let inputs = ExportFixtures.randomRows(
        30, features, low: -3, high: 3, seed: 11, in: dir, name: "\(name)-inputs.csv")
      return TrainedModel(name: name, checkpoint: checkpoint, inputs: inputs, shape: shape)
    }
    let residual = try model(
      "residual-cnn",
      """
      { "type": "conv2d", "filters": 3, "kernel": 3, "padding": "same", "bias": false },
      { "type": "batch_norm", "activation": "relu", "momentum": 0.3 },
      { "type": "residual", "layers": [
          { "type": "conv2d", "filters": 3, "kernel": 3, "padding": "same", "bias": false },
          { "type": "batch_norm", "activation": "relu" },
          { "type": "conv2d", "filters": 3, "kernel": 3, "padding": "same", "bias": false },
          { "type": "batch_norm" } ] },
      { "type": "activation", "activation": "relu" },
      { "type": "residual", "activation": "leaky_relu", "layers": [
          { "type": "conv2d", "filters": 4, "kernel": 3, "stride": 2, "padding": "same", "bias": false },
          { "type": "batch_norm", "activation": "relu" },
          { "type": "conv2d", "filters": 4, "kernel": 3, "padding": "same", "bias": false },
          { "type": "batch_norm" } ] },
      { "type": "global_avg_pool2d" },
      { "units": 3, "activation": "softmax" }
      """, features: 72, shape: [2, 6, 6])
    let concatenate = try model(
      "concat-cnn",
      """
      { "type": "conv2d", "name": "a", "filters": 2, "kernel": 3, "padding": "same", "activation": "tanh" },
      { "type": "conv2d", "name": "b", "filters": 3, "kernel": 1, "inputs": ["input"] },
      { "type": "max_pool2d", "name": "c", "size": 1, "inputs": ["input"] },
      { "type": "concatenate", "inputs": ["a", "b", "c"], "activation": "relu" },
      { "type": "global_max_pool2d" },
      { "units": 3, "activation": "softmax" }
      """, features: 72, shape: [2, 6, 6])
    let dense = try model(
      "dense-graph",
      """
      { "units": 6, "name": "h", "activation": "tanh" },
      { "units": 6, "name": "g", "inputs": ["input"], "activation": "sigmoid" },
      { "units": 6, "name": "k", "inputs": ["h"] },
      { "type": "add", "name": "s", "inputs": ["h", "g", "k"] },
      { "type": "concatenate", "name": "j", "inputs": ["s", "input", "g"] },
      { "type": "residual", "activation": "tanh", "layers": [ { "units": 5 }, { "type": "batch_norm" } ] },
      { "units": 3, "activation": "softmax" }
      """, features: 5, shape: [5])
    try check([residual, concatenate, dense], python: python, in: dir)
  }

  /// Keras used to store variance = 1 / factor², infinite in float32 for a feature of order 1e20
  /// (a label flipped) and for a factor of 0 (config.json held `inf`, which load_model cannot parse).
  func testKerasAndOnnxMatchPredictOnHugeConstantTinyAndZeroScaledFeatures() throws {
    let python = try ExportFixtures.python()
    let dir = TemporaryDirectory("nnbatch-export")
    let extreme = try ExportFixtures.extremeScales(in: dir)
    let saved = try SavedModel.load(extreme.checkpoint)
    XCTAssertLessThan(saved.scaler.factor[0], 1e-20, "the huge feature's factor")
    XCTAssertEqual(saved.scaler.factor[1], 1, "the constant feature is shifted only")
    XCTAssertEqual(Float(1 / (Double(saved.scaler.factor[0]) * Double(saved.scaler.factor[0]))), .infinity)
    let zero = try ExportFixtures.zeroFactor(extreme, feature: 2, in: dir)
    XCTAssertEqual(try SavedModel.load(zero.checkpoint).scaler.factor[2], 0)
    try check([extreme, zero, try ExportFixtures.tinySpread(in: dir)], python: python, in: dir)
  }

  /// Tabular models on raw rows (text categories, empty cells, missing markers): ONNX takes the
  /// numeric columns as floats and each categorical column as text (Imputer, OneHotEncoder), Keras
  /// takes codes (CategoryEncoding); rows with unseen categories and missing values match predict.
  func testTabularCategoriesAndMissingValuesMatchPredictInOnnxruntimeAndKeras() throws {
    let python = try ExportFixtures.python()
    let dir = TemporaryDirectory("nnbatch-export")
    let models = try ExportFixtures.tabular(in: dir)
    let first = try nnbatch(["predict", "--checkpoint", models[0].checkpoint, "--input", models[0].inputs])
    XCTAssertEqual(first.status, 0, first.stderr)
    for column in ["color", "size"] {
      XCTAssertTrue(
        first.stderr.contains("1 value of column \(column) was not seen in training: encoded as all zeros"),
        first.stderr)
    }
    // evaluate reads the same raw rows, text categories and gaps included, with their labels.
    let evaluated = try nnbatch([
      "evaluate", "--checkpoint", models[0].checkpoint, "--data", dir.file("\(models[0].name).csv"),
    ])
    XCTAssertEqual(evaluated.status, 0, evaluated.stderr)
    for field in ["accuracy", "precision", "recall", "f1", "roc auc"] {
      XCTAssertTrue(evaluated.stdout.contains(field), "\(field) missing from: \(evaluated.stdout)")
    }
    try check(models, python: python, in: dir)
  }

  /// Predicts with each model, exports it to ONNX and Keras, and checks the exports in
  /// onnxruntime and Keras (jax, then numpy) against `predict`.
  private func check(_ models: [TrainedModel], python: String, in dir: TemporaryDirectory) throws {
    var cases: [String] = []
    for model in models {
      let expected = dir.file("\(model.name)-predict.csv")
      let predicted = try nnbatch([
        "predict", "--checkpoint", model.checkpoint, "--input", model.inputs, "-o", expected,
      ])
      XCTAssertEqual(predicted.status, 0, "\(model.name): \(predicted.stderr)")
      var files: [String: String] = [:]
      for format in ["onnx", "keras"] {
        let output = dir.file("\(model.name).\(format)")
        let exported = try nnbatch(["export", model.checkpoint, "--format", format, "-o", output])
        XCTAssertEqual(exported.status, 0, "\(model.name) \(format): \(exported.stderr)")
        XCTAssertEqual(exported.stdout, "wrote \(output)\n")
        files[format] = output
      }
      let shape = model.shape.map(String.init).joined(separator: ", ")
      cases.append(
        """
        {"name": "\(model.name)", "inputs": "\(model.inputs)", "expected": "\(expected)", "shape": [\(shape)],
         "onnx": "\(files["onnx"] ?? "")", "keras": "\(files["keras"] ?? "")", "tabular": \(model.tabular)}
        """)
    }
    let manifest = dir.write("cases.json", "[" + cases.joined(separator: ",\n") + "]\n")
    var environment = ProcessInfo.processInfo.environment
    environment["KERAS_BACKEND"] = "jax"
    environment["JAX_PLATFORMS"] = "cpu"
    let result = try runProcess(
      python, ["\(repositoryRoot)/Tests/Interop/check_export.py", manifest], environment: environment)
    XCTAssertEqual(result.status, 0, "\(result.stdout)\n\(result.stderr)")
    XCTAssertTrue(
      result.stdout.contains("export check passed: \(models.count) cases"), result.stdout + result.stderr)
    for name in models.map(\.name) {
      XCTAssertTrue(result.stdout.contains("\(name): onnxruntime"), "\(name) not run in onnxruntime")
      XCTAssertTrue(result.stdout.contains("\(name): keras"), "\(name) not run in keras")
    }
    print(result.stdout)

    // Keras's numpy backend too (it still imports jax, which the environment has).
    environment["KERAS_BACKEND"] = "numpy"
    let numpy = try runProcess(
      python, ["\(repositoryRoot)/Tests/Interop/check_export.py", manifest, "--keras-only"],
      environment: environment)
    XCTAssertEqual(numpy.status, 0, "\(numpy.stdout)\n\(numpy.stderr)")
    XCTAssertFalse(numpy.stdout.contains("onnxruntime"), numpy.stdout)
    for name in models.map(\.name) {
      XCTAssertTrue(
        numpy.stdout.contains("\(name): keras 3.15.1 (numpy)"), "\(name) not run on numpy: \(numpy.stdout)")
    }
    print(numpy.stdout)
  }
}
