import Checkpoints
import Foundation
import TestSupport
import XCTest

/// Layer graphs through the command line: a residual block trains, resumes and predicts; graph errors exit 2.
final class LayerGraphCLITests: XCTestCase {
  /// A config of `layers` (JSON text) on 6×6 synthetic images, checkpoints in `dir/name`.
  private func config(
    _ dir: TemporaryDirectory, name: String, layers: String, every: String = "\"every_epochs\": 1"
  )
    -> String
  {
    dir.write(
      "\(name).json",
      """
      { "name": "\(name)", "seed": 7,
        "data": { "source": "synthetic", "samples": 72, "features": 36, "classes": 3, "seed": 4,
                  "shape": [1, 6, 6], "validation_split": 0.25 },
        "model": { "layers": [\(layers)] },
        "loss": "cross_entropy", "optimizer": { "kind": "sgd", "learning_rate": 0.05, "momentum": 0.9 },
        "training": { "epochs": 3, "batch_size": 12, "shard_size": 4 },
        "checkpoint": { "dir": "\(dir.file(name))", \(every), "keep": 10 } }
      """)
  }

  /// A residual block: stem conv, two convs, the add with the stem's output (shared), then dense.
  private let residual = """
    { "type": "conv2d", "name": "stem", "filters": 2, "kernel": 3, "padding": "same", "activation": "relu" },
    { "type": "conv2d", "filters": 2, "kernel": 3, "padding": "same", "activation": "relu" },
    { "type": "conv2d", "name": "inner", "filters": 2, "kernel": 3, "padding": "same" },
    { "type": "add", "inputs": ["inner", "stem"], "activation": "relu" },
    { "units": 3, "activation": "softmax" }
    """

  private func newest(_ folder: String) throws -> String {
    let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".h5") }
      .sorted()
    return "\(folder)/\(try XCTUnwrap(files.last))"
  }

  func testResidualBlockTrainsTheSameForAnyThreadsAndAcrossResume() throws {
    let dir = TemporaryDirectory()
    var finals: [[Float]] = []
    for (name, threads) in [("t1", "1"), ("t3", "3"), ("t8", "8")] {
      let run = try nnbatch([
        "--config", config(dir, name: name, layers: residual), "--threads", threads, "--quiet",
      ])
      XCTAssertEqual(run.status, 0, run.stderr)
      finals.append(try Checkpoint.read(from: try newest(dir.file(name))).parameters)
    }
    XCTAssertEqual(finals[0], finals[1], "threads 1 and 3")
    XCTAssertEqual(finals[0], finals[2], "threads 1 and 8")

    // Checkpoints every 4 steps (5 per epoch): resume from step 8, inside epoch 2.
    let steps = config(dir, name: "r", layers: residual, every: "\"every_steps\": 4")
    let first = try nnbatch(["--config", steps, "--epochs", "2", "--threads", "2", "--quiet"])
    XCTAssertEqual(first.status, 0, first.stderr)
    let middle = dir.file("r/step-000000008.h5")
    XCTAssertTrue(FileManager.default.fileExists(atPath: middle))
    let resumed = try nnbatch(["--config", steps, "--resume", middle, "--threads", "1", "--quiet"])
    XCTAssertEqual(resumed.status, 0, resumed.stderr)
    XCTAssertEqual(
      try Checkpoint.read(from: try newest(dir.file("r"))).parameters, finals[0], "mid-epoch resume")

    let checkpoint = try newest(dir.file("t1"))
    let inspect = try nnbatch(["inspect", checkpoint])
    XCTAssertEqual(inspect.status, 0, inspect.stderr)
    // The config's names in a name column, and inputs by name where they have one.
    let rows = inspect.stdout.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
    XCTAssertTrue(rows.contains("layer name kind inputs output shape parameters settings"), inspect.stdout)
    XCTAssertTrue(rows.contains { $0.hasPrefix("layer_3 add inner, stem [2, 6, 6] 0 relu") }, inspect.stdout)
    XCTAssertTrue(rows.contains { $0.hasPrefix("layer_2 inner conv2d layer_1 [2, 6, 6]") }, inspect.stdout)
    if let h5dump = tool("h5dump") {
      let root = try runProcess(h5dump, ["-a", "/requires", checkpoint])
      XCTAssertTrue(root.stdout.contains("\"layer_graph\""), root.stdout)
      let inputs = try runProcess(h5dump, ["-a", "/model/layer_3/input_layers", checkpoint])
      XCTAssertTrue(inputs.stdout.contains("\"layer_2,layer_0\""), inputs.stdout)
    }
    // Graphs export (their outputs are checked against predict in ExportInteropTests).
    for format in ["onnx", "keras"] {
      let export = try nnbatch([
        "export", checkpoint, "--format", format, "--output", dir.file("m.\(format)"),
      ])
      XCTAssertEqual(export.status, 0, export.stderr)
      XCTAssertTrue(FileManager.default.fileExists(atPath: dir.file("m.\(format)")))
    }
    let evaluate = try nnbatch(["evaluate", "--checkpoint", checkpoint])
    XCTAssertEqual(evaluate.status, 0, evaluate.stderr)
  }

  /// Inputs that name the previous layer are the chain itself: same file contents as the list form, no graph.
  func testAChainWrittenWithInputsIsTheChain() throws {
    let dir = TemporaryDirectory()
    let list = try nnbatch([
      "--config",
      config(
        dir, name: "list",
        layers: #"{ "units": 5, "activation": "tanh" }, { "units": 3, "activation": "softmax" }"#),
      "--quiet",
    ])
    XCTAssertEqual(list.status, 0, list.stderr)
    let named = try nnbatch([
      "--config",
      config(
        dir, name: "named",
        layers:
          #"{ "units": 5, "activation": "tanh", "name": "h", "inputs": ["input"] }, { "units": 3, "activation": "softmax", "inputs": ["h"] }"#
      ),
      "--quiet",
    ])
    XCTAssertEqual(named.status, 0, named.stderr)
    let a = try Checkpoint.read(from: try newest(dir.file("list")))
    let b = try Checkpoint.read(from: try newest(dir.file("named")))
    XCTAssertEqual(a.parameters, b.parameters)
    XCTAssertTrue(b.architecture.isChain)
  }

  /// Resuming with the same layers wired otherwise is refused: it would be another model.
  func testResumeRefusesAGraphWiredOtherwise() throws {
    // a ← input, b ← input, c ← a, add(b, c); then rewired: c ← b, add(a, c). Same layers, another model.
    let layers = """
      { "units": 4, "name": "a", "activation": "tanh" },
      { "units": 4, "name": "b", "activation": "tanh", "inputs": ["input"] },
      { "units": 4, "name": "c", "activation": "tanh", "inputs": ["a"] },
      { "type": "add", "inputs": ["b", "c"] },
      { "units": 3, "activation": "softmax" }
      """
    let dir = TemporaryDirectory()
    let path = config(dir, name: "w", layers: layers)
    let first = try nnbatch(["--config", path, "--epochs", "1", "--quiet"])
    XCTAssertEqual(first.status, 0, first.stderr)
    let rewired = try String(contentsOfFile: path, encoding: .utf8)
      .replacingOccurrences(
        of: #""name": "c", "activation": "tanh", "inputs": ["a"]"#,
        with: #""name": "c", "activation": "tanh", "inputs": ["b"]"#
      )
      .replacingOccurrences(of: #""inputs": ["b", "c"]"#, with: #""inputs": ["a", "c"]"#)
    try rewired.write(toFile: path, atomically: true, encoding: .utf8)
    let resumed = try nnbatch(["--config", path, "--resume", "--quiet"])
    XCTAssertEqual(resumed.status, 2, resumed.stderr)
    XCTAssertTrue(resumed.stderr.contains("$.model.layers[2].inputs"), resumed.stderr)
    XCTAssertTrue(resumed.stderr.contains("$.model.layers[3].inputs"), resumed.stderr)
  }

  /// In a graph on images, a dense layer that reads the input directly gets its flatten too.
  func testADenseLayerReadingImageInputInAGraphGetsItsFlatten() throws {
    let dir = TemporaryDirectory()
    let layers = """
      { "type": "conv2d", "filters": 2, "kernel": 3, "padding": "same" }, { "units": 4, "name": "a" },
      { "units": 4, "name": "b", "inputs": ["input"] }, { "type": "add", "inputs": ["a", "b"], "activation": "relu" },
      { "units": 3, "activation": "softmax" }
      """
    let run = try nnbatch(["--config", config(dir, name: "f", layers: layers), "--epochs", "1", "--quiet"])
    XCTAssertEqual(run.status, 0, run.stderr)
    let kinds = try Checkpoint.read(from: try newest(dir.file("f"))).architecture.layers.map(\.kind)
    XCTAssertEqual(kinds, ["conv2d", "flatten", "dense", "flatten", "dense", "add", "dense"])
  }

  /// A cycle, an unknown name, a merge of one input and an unused output: one exit-2 line each, naming the path.
  func testGraphErrorsExitTwoNamingThePath() throws {
    let dir = TemporaryDirectory()
    let cases: [(String, String)] = [
      (
        #"{ "units": 4, "name": "a", "inputs": ["b"] }, { "units": 3, "activation": "softmax", "name": "b" }"#,
        #"$.model.layers[0].inputs[0]: "b" is layer 1, which comes after this one: expected an earlier layer (a layer graph has no cycles"#
      ),
      (
        #"{ "units": 4, "name": "a" }, { "units": 3, "activation": "softmax", "inputs": ["A"] }"#,
        #"$.model.layers[1].inputs[0]: unknown layer name "A"; expected "input" or the name of an earlier layer (a) (did you mean "a"?)"#
      ),
      (
        #"{ "units": 4, "name": "a" }, { "type": "add", "inputs": ["a"] }, { "units": 3, "activation": "softmax" }"#,
        "$.model.layers[1].inputs: the add layer takes two or more inputs, found 1"
      ),
      (
        #"{ "units": 4 }, { "units": 3, "activation": "softmax", "inputs": ["input"] }"#,
        "$.model.layers[0]: its output feeds no layer"
      ),
      (
        #"{ "type": "dens", "name": 5, "inputs": [] }, { "units": 3, "activation": "softmax" }"#,
        #"$.model.layers[0].type: unknown layer type "dens""#
      ),
    ]
    for (i, (layers, message)) in cases.enumerated() {
      let run = try nnbatch(["--config", config(dir, name: "bad\(i)", layers: layers), "--quiet"])
      XCTAssertEqual(run.status, 2, "case \(i): \(run.stderr)")
      XCTAssertTrue(run.stderr.contains(message), "case \(i): \(run.stderr)")
      XCTAssertEqual(run.stderr.split(separator: "\n").count, 1, "case \(i) is one error: \(run.stderr)")
      XCTAssertFalse(
        FileManager.default.fileExists(atPath: dir.file("bad\(i)")), "case \(i) made no checkpoint folder")
    }
  }
}

/// The `activation` layer kind: a dense layer without activation followed by one is the dense layer with it.
final class ActivationLayerCLITests: XCTestCase {
  func testASeparateActivationTrainsTheSameBitsAsTheFusedOneAndExports() throws {
    let dir = TemporaryDirectory()
    func run(_ name: String, _ layers: String) throws -> [Float] {
      let config = dir.write(
        "\(name).json",
        """
        { "name": "\(name)", "seed": 3,
          "data": { "source": "synthetic", "samples": 60, "features": 5, "classes": 3, "seed": 2 },
          "model": { "layers": [\(layers)] },
          "loss": "cross_entropy", "optimizer": { "kind": "adam", "learning_rate": 0.01 },
          "training": { "epochs": 3, "batch_size": 10 },
          "checkpoint": { "dir": "\(dir.file(name))" } }
        """)
      let result = try nnbatch(["--config", config, "--threads", "2", "--quiet"])
      XCTAssertEqual(result.status, 0, result.stderr)
      let files = try FileManager.default.contentsOfDirectory(atPath: dir.file(name)).filter {
        $0.hasSuffix(".h5")
      }
      return try Checkpoint.read(from: dir.file("\(name)/\(try XCTUnwrap(files.sorted().last))")).parameters
    }
    let fused = try run(
      "fused", #"{ "units": 6, "activation": "tanh" }, { "units": 3, "activation": "softmax" }"#)
    let separate = try run(
      "separate",
      #"{ "units": 6 }, { "type": "activation", "activation": "tanh" }, { "units": 3, "activation": "softmax" }"#
    )
    XCTAssertEqual(fused, separate)
    let folder = dir.file("separate")
    let export = try nnbatch(["export", folder, "--format", "onnx", "--output", dir.file("m.onnx")])
    XCTAssertEqual(export.status, 0, export.stderr)
  }
}
