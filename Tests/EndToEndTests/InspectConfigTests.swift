import Foundation
import TestSupport
import XCTest

/// `nnbatch inspect --config`: the model a config describes, before any training, and nothing written.
final class InspectConfigTests: XCTestCase {
  func testInspectConfigSummarisesTheModelWithoutTrainingOrWriting() throws {
    let dir = TemporaryDirectory()
    let text = try String(contentsOfFile: "\(repositoryRoot)/configs/images-cnn.json", encoding: .utf8)
      .replacingOccurrences(of: "checkpoints/images-cnn", with: dir.file("ck"))
    let config = dir.write("cnn.json", text)
    let result = try nnbatch(["inspect", "--config", config, "--threads", "2"], in: repositoryRoot)
    XCTAssertEqual(result.status, 0, result.stderr)
    for fragment in [
      "config      \(config) (not trained)",
      "data        5000 training samples, 1000 validation, task classification",
      "model       7 conv2d/dense/flatten/max_pool2d layers, 38,282 parameters, input [1, 16, 16]",
      "layer_0  conv2d      [16, 16, 16]         160  3×3×1 → 16 same  relu",
      "layer_6  dense       [10]                 650  [64, 10]  softmax",
      "optimizer   adam learning_rate=0.002", "loss        cross_entropy, batch 64, shard 32",
      "for the model at 2 threads (38282 parameters:",
      // 1000 validation rows × 10 outputs kept each epoch for F1 and AUC.
      "validation outputs ",
    ] {
      XCTAssertTrue(result.stdout.contains(fragment), "lacks \(fragment):\n\(result.stdout)")
    }
    XCTAssertFalse(FileManager.default.fileExists(atPath: dir.file("ck")), "nothing is written")

    // The JSON form, and the same parameter count as a checkpoint of the model has.
    let json = try nnbatch(["inspect", "--config", config, "--json"], in: repositoryRoot)
    XCTAssertEqual(json.status, 0, json.stderr)
    let object = try XCTUnwrap(
      JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
    XCTAssertEqual(object["parameters"] as? Int, 38_282)
    XCTAssertEqual((object["layers"] as? [Any])?.count, 7)
    XCTAssertEqual(object["training_samples"] as? Int, 5000)
    XCTAssertGreaterThan(object["model_memory_bytes"] as? Int ?? 0, 38_282 * 4)
  }

  func testInspectNeedsACheckpointOrAConfigAndAConfigErrorExitsTwo() throws {
    let dir = TemporaryDirectory()
    let neither = try nnbatch(["inspect"])
    XCTAssertEqual(neither.status, 2)
    XCTAssertTrue(neither.stderr.contains("give a checkpoint, or --config FILE"), neither.stderr)
    let both = try nnbatch(["inspect", "x.h5", "--config", "c.json"])
    XCTAssertEqual(both.status, 2)
    XCTAssertTrue(both.stderr.contains("give a checkpoint or --config, not both"), both.stderr)
    let bad = dir.write(
      "bad.json", #"{ "name": "b", "data": { "source": "synthetic" }, "model": { "layers": [] } }"#)
    let refused = try nnbatch(["inspect", "--config", bad])
    XCTAssertEqual(refused.status, 2, refused.stderr)
    XCTAssertTrue(refused.stderr.contains("\(bad)"), refused.stderr)
  }
}
