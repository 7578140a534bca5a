import Checkpoints
import Foundation
import TestSupport
import XCTest

/// Residual blocks through the command line: the same bits as the graph written out, resume, inspect, errors.
final class ResidualCLITests: XCTestCase {
  /// A config of `layers` (JSON text) on 6×6 synthetic images, checkpoints in `dir/name`.
  private func config(
    _ dir: TemporaryDirectory, name: String, layers: String, every: String = "\"every_epochs\": 1"
  ) -> String {
    dir.write(
      "\(name).json",
      """
      { "name": "\(name)", "seed": 5,
        "data": { "source": "synthetic", "samples": 80, "features": 36, "classes": 3, "seed": 4,
                  "shape": [1, 6, 6], "validation_split": 0.2 },
        "model": { "layers": [\(layers)], "init": "he_uniform" },
        "loss": "cross_entropy", "optimizer": { "kind": "adam", "learning_rate": 0.01 },
        "training": { "epochs": 3, "batch_size": 16, "shard_size": 4 },
        "checkpoint": { "dir": "\(dir.file(name))", \(every), "keep": 20 } }
      """)
  }

  /// A stem, a ResNet basic block, a block widening with stride 2 (projection + batch_norm), pooling, softmax.
  private let blocks = """
    { "type": "conv2d", "name": "stem", "filters": 3, "kernel": 3, "padding": "same", "bias": false },
    { "type": "batch_norm", "activation": "relu" },
    { "type": "residual", "activation": "relu", "layers": [
        { "type": "conv2d", "filters": 3, "kernel": 3, "padding": "same", "bias": false },
        { "type": "batch_norm", "activation": "relu" },
        { "type": "conv2d", "filters": 3, "kernel": 3, "padding": "same", "bias": false },
        { "type": "batch_norm" } ] },
    { "type": "residual", "activation": "relu", "shortcut": "auto", "layers": [
        { "type": "conv2d", "filters": 4, "kernel": 3, "stride": 2, "padding": "same", "bias": false },
        { "type": "batch_norm", "activation": "relu" },
        { "type": "conv2d", "filters": 4, "kernel": 3, "padding": "same", "bias": false },
        { "type": "batch_norm" } ] },
    { "type": "global_avg_pool2d" },
    { "units": 3, "activation": "softmax" }
    """

  /// The same network written out layer by layer with names and inputs.
  private let graph = """
    { "type": "conv2d", "name": "stem", "filters": 3, "kernel": 3, "padding": "same", "bias": false },
    { "type": "batch_norm", "name": "stem_bn", "activation": "relu" },
    { "type": "conv2d", "filters": 3, "kernel": 3, "padding": "same", "bias": false },
    { "type": "batch_norm", "activation": "relu" },
    { "type": "conv2d", "filters": 3, "kernel": 3, "padding": "same", "bias": false },
    { "type": "batch_norm", "name": "a" },
    { "type": "add", "name": "b1", "inputs": ["a", "stem_bn"], "activation": "relu" },
    { "type": "conv2d", "filters": 4, "kernel": 3, "stride": 2, "padding": "same", "bias": false },
    { "type": "batch_norm", "activation": "relu" },
    { "type": "conv2d", "filters": 4, "kernel": 3, "padding": "same", "bias": false },
    { "type": "batch_norm", "name": "c" },
    { "type": "conv2d", "filters": 4, "kernel": 1, "stride": 2, "bias": false, "inputs": ["b1"] },
    { "type": "batch_norm", "name": "s" },
    { "type": "add", "inputs": ["c", "s"], "activation": "relu" },
    { "type": "global_avg_pool2d" },
    { "units": 3, "activation": "softmax" }
    """

  private func newest(_ folder: String) throws -> String {
    let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".h5") }
      .sorted()
    return "\(folder)/\(try XCTUnwrap(files.last))"
  }

  func testABlockTrainsTheBitsOfItsGraphWrittenOutAndResumes() throws {
    let dir = TemporaryDirectory()
    let short = try nnbatch([
      "--config", config(dir, name: "blocks", layers: blocks), "--threads", "2", "--quiet",
    ])
    XCTAssertEqual(short.status, 0, short.stderr)
    let long = try nnbatch([
      "--config", config(dir, name: "graph", layers: graph), "--threads", "3", "--quiet",
    ])
    XCTAssertEqual(long.status, 0, long.stderr)
    let a = try Checkpoint.read(from: try newest(dir.file("blocks")))
    let b = try Checkpoint.read(from: try newest(dir.file("graph")))
    XCTAssertEqual(a.architecture, b.architecture)
    XCTAssertEqual(a.parameters, b.parameters, "the block is its graph, bit for bit")
    XCTAssertEqual(a.architecture.layers.count, 16)
    // The checkpoint keeps the config as written.
    XCTAssertTrue(a.config.contains(#""type": "residual""#), a.config)

    // Checkpoints every 2 steps (4 per epoch): resume from step 6, inside epoch 2, at another thread count.
    let steps = config(dir, name: "r", layers: blocks, every: "\"every_steps\": 2")
    let first = try nnbatch(["--config", steps, "--epochs", "2", "--threads", "2", "--quiet"])
    XCTAssertEqual(first.status, 0, first.stderr)
    let middle = dir.file("r/step-000000006.h5")
    XCTAssertTrue(FileManager.default.fileExists(atPath: middle))
    let resumed = try nnbatch(["--config", steps, "--resume", middle, "--threads", "1", "--quiet"])
    XCTAssertEqual(resumed.status, 0, resumed.stderr)
    XCTAssertEqual(try Checkpoint.read(from: try newest(dir.file("r"))).parameters, a.parameters, "resumed")

    // inspect shows the blocks' names, and inputs by name.
    let inspect = try nnbatch(["inspect", try newest(dir.file("blocks"))])
    XCTAssertEqual(inspect.status, 0, inspect.stderr)
    let rows = inspect.stdout.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
    for row in [
      "layer name kind inputs output shape parameters settings",
      "layer_0 stem conv2d input [3, 6, 6] 27",
      "layer_2 block1.conv1 conv2d layer_1 [3, 6, 6] 81",
      "layer_6 block1 add block1.batch_norm2, layer_1 [3, 6, 6] 0 relu",
      "layer_11 block2.shortcut conv2d block1 [4, 3, 3] 12 1×1×3 → 4 stride 2×2 valid linear no bias",
      "layer_12 block2.shortcut_bn batch_norm block2.shortcut [4, 3, 3] 16",
      "layer_13 block2 add block2.batch_norm2, block2.shortcut_bn [4, 3, 3] 0 relu",
    ] {
      XCTAssertTrue(rows.contains { $0.hasPrefix(row) }, "\(row)\n\(inspect.stdout)")
    }
    let json = try nnbatch(["inspect", try newest(dir.file("blocks")), "--json"])
    let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
    let layers = try XCTUnwrap(object?["layers"] as? [[String: Any]])
    XCTAssertEqual(layers[11]["name"] as? String, "block2.shortcut")
    XCTAssertEqual(layers[11]["input_layers"] as? [String], ["layer_6"])
    XCTAssertNil(layers[1]["name"])
  }

  /// An error inside a block names its JSON path; nothing is written.
  func testErrorsInsideABlockExitTwoNamingThePath() throws {
    let dir = TemporaryDirectory()
    let cases: [(String, String)] = [
      (
        blocks.replacingOccurrences(
          of: #""filters": 4, "kernel": 3, "padding""#, with: #""filters": -4, "kernel": 3, "padding""#),
        "$.model.layers[3].layers[2].filters: expected an integer ≥ 1, found -4"
      ),
      (
        blocks.replacingOccurrences(of: #""shortcut": "auto""#, with: #""shortcut": "identity""#),
        #"$.model.layers[3].shortcut: the identity needs the block's layers to keep its input's shape [3, 6, 6], found [4, 3, 3]; expected "projection" or "auto""#
      ),
    ]
    for (i, (layers, message)) in cases.enumerated() {
      XCTAssertNotEqual(layers, blocks, "case \(i) changes the config")
      let run = try nnbatch(["--config", config(dir, name: "bad\(i)", layers: layers), "--quiet"])
      XCTAssertEqual(run.status, 2, "case \(i): \(run.stderr)")
      XCTAssertTrue(run.stderr.contains(message), "case \(i): \(run.stderr)")
      XCTAssertEqual(run.stderr.split(separator: "\n").count, 1, "case \(i) is one error: \(run.stderr)")
      XCTAssertFalse(FileManager.default.fileExists(atPath: dir.file("bad\(i)")), "case \(i) wrote nothing")
    }
  }
}
