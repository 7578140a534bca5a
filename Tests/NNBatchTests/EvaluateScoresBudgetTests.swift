import Foundation
import NNBatchCore
import TestSupport
import XCTest

@testable import NNBatch

/// A binary classifier's kept scores (for ROC and PR AUC) are checked against the memory budget.
final class EvaluateScoresBudgetTests: XCTestCase {
  func testScoresBeyondTheBudgetAreRefusedNamingThem() throws {
    let dir = TemporaryDirectory()
    let csv = "a,b,y\n" + (0..<60).map { "\($0 % 5),\($0 % 3),\($0 % 5 > $0 % 3 ? "yes" : "no")\n" }.joined()
    let data = dir.write("d.csv", csv)
    let config = dir.write(
      "c.json",
      """
      { "name": "b", "seed": 1,
        "data": { "source": "csv", "path": "\(data)", "targets": "y", "task": "classification" },
        "model": { "layers": [ { "units": 1, "activation": "sigmoid" } ] },
        "loss": "binary_cross_entropy", "optimizer": { "kind": "adam", "learning_rate": 0.01 },
        "training": { "epochs": 1, "batch_size": 30 }, "checkpoint": { "dir": "\(dir.file("ck"))" } }
      """)
    let train = try nnbatch(["train", "--config", config, "--quiet"])
    XCTAssertEqual(train.status, 0, train.stderr)
    let checkpoint = dir.file("ck/step-000000002.h5")
    // A block of 2 features, 1 target and 1 output; the 60 scores need 60 × 24 bytes more.
    let block = Evaluate.blockRows(features: 2) * (2 + 1 + 1) * 4
    do {
      _ = try MemoryBudget.$cap.withValue(block + 200) {
        try Evaluate.run(checkpoint: checkpoint, dataConfig: data, threads: 1)
      }
      XCTFail("expected the scores to be refused")
    } catch let error as NNBatchError {
      XCTAssertEqual(error.kind, .usage)
      XCTAssertTrue(
        error.description.hasPrefix(
          "\(data): the scores of 60 samples (for ROC and PR AUC) and a block needs "),
        error.description)
    }
    let report = try MemoryBudget.$cap.withValue(block + 60 * 24) {
      try Evaluate.run(checkpoint: checkpoint, dataConfig: data, threads: 1)
    }
    XCTAssertTrue(report.contains("\nroc auc    "), report)
  }
}
