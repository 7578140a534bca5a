import Checkpoints
import Foundation
import HDF5Store
import TestSupport
import XCTest

/// Crafted counters and contradicting fields in checkpoints, through every command that reads one (issue 23).
final class CheckpointCountersTests: XCTestCase {
  /// A run of 2 epochs of 4 batches (16 samples, batches of 4), saved after each epoch.
  private func trainedRun(_ dir: TemporaryDirectory) throws -> (config: String, checkpoints: String) {
    let config = dir.write(
      "ctr.json",
      """
      { "name": "ctr", "seed": 1,
        "data": { "source": "synthetic", "samples": 16, "features": 3, "classes": 2, "seed": 2 },
        "model": { "layers": [ { "units": 4, "activation": "relu" }, { "units": 2, "activation": "softmax" } ] },
        "loss": "cross_entropy",
        "optimizer": { "kind": "sgd", "learning_rate": 0.1 },
        "training": { "epochs": 2, "batch_size": 4 },
        "checkpoint": { "dir": "\(dir.file("ck"))", "every_epochs": 1, "keep": 5 } }
      """)
    let result = try nnbatch(["--config", config, "--quiet"])
    XCTAssertEqual(result.status, 0, result.stderr)
    return (config, dir.file("ck"))
  }

  /// Writes the tree of `source` after `edit` as a sealed checkpoint at `path` (content checksum renewed).
  private func craft(_ source: String, to path: String, _ edit: (inout HDF5Node) -> Void) throws {
    var tree = try Checkpoint.read(from: source).encode()
    edit(&tree)
    Checkpoint.seal(&tree)
    _ = try FileSystem.writeOutput(path, bytes: Checkpoint.fileImage(tree, name: path))
  }

  func testHugeCountersAreRefusedByEveryCommandWithExit2() throws {
    let dir = TemporaryDirectory()
    let run = try trainedRun(dir)
    let source = "\(run.checkpoints)/step-000000008.h5"
    let input = dir.write("in.csv", "0.1,0.2,0.3\n")
    let range = "expected an integer in 0...2⁵³−1 (9007199254740991)"
    for (name, value) in [("step", Int.max), ("epoch", Int.max), ("batch_in_epoch", 1 << 62)] {
      let path = dir.file("\(name).h5")
      try craft(source, to: path) { $0.attributes[name] = .integer(value) }
      let reason = "\(path): /@\(name): \(range), found \(value)"
      for command in [
        ["inspect", path], ["inspect", path, "--json"], ["predict", "--checkpoint", path, "--input", input],
        ["evaluate", "--checkpoint", path], ["export", path, "--format", "onnx", "-o", dir.file("m.onnx")],
        ["--config", run.config, "--resume", path, "--checkpoint-dir", dir.file("resumed")],
        ["--config", run.config, "--init-from", path, "--checkpoint-dir", dir.file("warm")],
      ] {
        let result = try nnbatch(command)
        XCTAssertEqual(result.status, 2, "\(command): \(result.stderr)")
        XCTAssertTrue(result.stderr.contains(reason), "\(command): \(result.stderr)")
        XCTAssertFalse(result.stderr.contains("Fatal error"), result.stderr)
      }
      XCTAssertFalse(FileSystem.exists(dir.file("m.onnx")))
    }
  }

  func testResumeFromAFolderSkipsAFileWithCraftedCountersAsDamaged() throws {
    let dir = TemporaryDirectory()
    let run = try trainedRun(dir)
    let newest = "\(run.checkpoints)/step-000000008.h5"
    try craft(newest, to: newest) { $0.attributes["epoch"] = .integer(Int.max) }
    let result = try nnbatch(["--config", run.config, "--epochs", "3", "--resume"])
    XCTAssertEqual(result.status, 0, result.stderr)
    XCTAssertTrue(
      result.stderr.contains("warning: skipped \(newest): /@epoch: expected an integer in 0...2⁵³−1"),
      result.stderr)
    XCTAssertTrue(result.stdout.contains("resumed from \(run.checkpoints)/step-000000004.h5"), result.stdout)
    XCTAssertEqual(try Checkpoint.read(from: "\(run.checkpoints)/step-000000012.h5").counters.epoch, 3)
  }

  func testABatchPastTheEpochsEndIsRefusedOnResume() throws {
    let dir = TemporaryDirectory()
    let run = try trainedRun(dir)
    // Consistent in itself (so it loads): epoch 1 done, then 100 batches of 4 rows.
    let path = dir.file("batch100.h5")
    try craft("\(run.checkpoints)/step-000000004.h5", to: path) { tree in
      tree.attributes["batch_in_epoch"] = .integer(100)
      tree.attributes["step"] = .integer(104)
      tree.attributes["samples_seen"] = .integer(416)
      tree.groups["optimizer"]?.attributes["step"] = .integer(104)
      tree.groups["state"]?.attributes["epoch_samples"] = .integer(400)
      tree.groups["state"]?.attributes["epoch_loss_sum"] = .real(100)
      tree.groups["history"]?.datasets["loss"] = HDF5Dataset(
        shape: [104], values: .float64(ArraySlice(repeating: 0.5, count: 104)))
    }
    XCTAssertEqual(try nnbatch(["inspect", path]).status, 0)
    let result = try nnbatch(["--config", run.config, "--resume", path, "--checkpoint-dir", dir.file("r")])
    XCTAssertEqual(result.status, 2, result.stderr)
    XCTAssertTrue(
      result.stderr.contains(
        "error: cannot resume from \(path): /@batch_in_epoch: expected 0..<4 for an epoch of 4 batches of 4 (16 training samples), found 100"
      ), result.stderr)
    XCTAssertEqual(try CheckpointStore(directory: dir.file("r")).checkpointFiles().count, 0)

    // A step count that does not follow from the epoch and batch is refused too.
    let shifted = dir.file("shifted.h5")
    try craft("\(run.checkpoints)/step-000000004.h5", to: shifted) { tree in
      tree.attributes["step"] = .integer(5)
      tree.attributes["samples_seen"] = .integer(20)
      tree.groups["optimizer"]?.attributes["step"] = .integer(5)
      tree.groups["history"]?.datasets["loss"] = HDF5Dataset(
        shape: [5], values: .float64(ArraySlice(repeating: 0.5, count: 5)))
    }
    let second = try nnbatch(["--config", run.config, "--resume", shifted, "--checkpoint-dir", dir.file("s")])
    XCTAssertEqual(second.status, 2, second.stderr)
    XCTAssertTrue(
      second.stderr.contains("\(shifted): /@step: expected 4 (/@epoch 1 × 4 + /@batch_in_epoch 0)"),
      second.stderr)

    // And samples seen that one epoch of these 16 samples cannot make.
    let samples = dir.file("samples.h5")
    try craft("\(run.checkpoints)/step-000000004.h5", to: samples) {
      $0.attributes["samples_seen"] = .integer(17)
    }
    let third = try nnbatch(["--config", run.config, "--resume", samples, "--checkpoint-dir", dir.file("t")])
    XCTAssertEqual(third.status, 2, third.stderr)
    XCTAssertTrue(
      third.stderr.contains(
        "cannot resume from \(samples): /@samples_seen: expected 16 for an epoch of 4 batches of 4 (16 training samples), found 17"
      ), third.stderr)
  }

  func testContradictingFieldsAreRefusedNamingTheirPaths() throws {
    let dir = TemporaryDirectory()
    let run = try trainedRun(dir)
    let source = "\(run.checkpoints)/step-000000008.h5"
    let cases: [(String, (inout HDF5Node) -> Void, String)] = [
      (
        "short-loss",
        {
          $0.groups["history"]?.datasets["loss"] = HDF5Dataset(
            shape: [7], values: .float64(ArraySlice(repeating: 0.5, count: 7)))
        },
        "/history/loss: expected 8 values (one per step, /@step), found 7"
      ),
      (
        "long-train-loss",
        {
          $0.groups["history"]?.datasets["train_loss"] = HDF5Dataset(shape: [3], values: .float64([1, 2, 3]))
        },
        "/history/train_loss: expected 2 values (one per epoch, /@epoch), found 3"
      ),
      (
        "duplicate-labels", { $0.groups["data"]?.attributes["labels"] = .string("[\"a\",\"a\"]") },
        "/data@labels: expected distinct labels, found \"a\" at indices 0 and 1"
      ),
      (
        "empty-label", { $0.groups["data"]?.attributes["labels"] = .string("[\"a\",\"\"]") },
        "/data@labels: expected non-empty labels, found an empty label at index 1"
      ),
      (
        "bias-without-flag", { $0.groups["model"]?.groups["layer_0"]?.attributes["bias"] = .integer(0) },
        "/model/layer_0@bias: expected 1 (/model/layer_0/biases holds the layer's biases), found 0"
      ),
      (
        "config-bias",
        { tree in
          guard case .string(let text) = tree.attributes["config"] else { return }
          tree.attributes["config"] = .string(
            text.replacingOccurrences(of: "\"model\": {", with: "\"model\": { \"bias\": false,"))
        },
        "/model/layer_0@bias: expected 0 (/@config gives layer_0 bias false), found 1"
      ),
    ]
    for (name, edit, reason) in cases {
      let path = dir.file("\(name).h5")
      try craft(source, to: path, edit)
      for command in [["inspect", path], ["evaluate", "--checkpoint", path]] {
        let result = try nnbatch(command)
        XCTAssertEqual(result.status, 2, "\(name) \(command): \(result.stderr)")
        XCTAssertTrue(result.stderr.contains("\(path): \(reason)"), "\(name): \(result.stderr)")
      }
    }
  }

  func testInspectJSONWritesNonFiniteNumbersAsNull() throws {
    let dir = TemporaryDirectory()
    let run = try trainedRun(dir)
    let path = dir.file("nan.h5")
    try craft("\(run.checkpoints)/step-000000008.h5", to: path) { tree in
      tree.groups["history"]?.datasets["train_loss"] = HDF5Dataset(shape: [2], values: .float64([.nan, 0.5]))
      tree.groups["optimizer"]?.attributes["learning_rate"] = .real(.infinity)
    }
    let result = try nnbatch(["inspect", path, "--json"])
    XCTAssertEqual(result.status, 0, result.stderr)
    let object = try XCTUnwrap(
      JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], result.stdout)
    let history = try XCTUnwrap(object["epoch_history"] as? [String: Any])
    let trainLoss = try XCTUnwrap(history["train_loss"] as? [Any])
    XCTAssertTrue(trainLoss.first is NSNull, "\(trainLoss)")
    XCTAssertEqual(trainLoss.last as? Double, 0.5)
    let hyper = try XCTUnwrap(object["hyperparameters"] as? [String: Any])
    XCTAssertTrue(hyper["learning_rate"] is NSNull, "\(hyper)")
  }
}
