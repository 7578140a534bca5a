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
    try FileSystem.writeNewFile(path, bytes: Checkpoint.fileImage(tree, name: path))
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
