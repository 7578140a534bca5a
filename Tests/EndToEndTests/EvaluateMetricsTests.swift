import Foundation
import TestSupport
import XCTest

/// `evaluate`'s per-class precision, recall and F1, and a binary task's ROC AUC and PR AUC.
final class EvaluateMetricsTests: XCTestCase {
  /// The numbers on the first line from `start` named `name` ("macro avg 0.9 0.8 0.85 120" gives 4).
  private func numbers(_ lines: [Substring], _ name: String, from start: Int = 0) throws -> [Double] {
    let line = try XCTUnwrap(
      lines.dropFirst(start).first { $0.drop { $0 == " " }.hasPrefix(name + " ") }, name)
    return line.drop { $0 == " " }.dropFirst(name.count).split(separator: " ").compactMap { Double($0) }
  }

  func testFlowersReportHasEveryClassAndBothAverages() throws {
    let dir = TemporaryDirectory()
    let train = try nnbatch(
      [
        "train", "--config", "configs/flowers.json", "--epochs", "2", "--checkpoint-dir", dir.file("ck"),
        "--quiet",
      ],
      in: repositoryRoot)
    XCTAssertEqual(train.status, 0, train.stderr)
    let result = try nnbatch(["evaluate", "--checkpoint", dir.file("ck")], in: repositoryRoot)
    XCTAssertEqual(result.status, 0, result.stderr)
    let lines = result.stdout.split(separator: "\n")
    let report = try XCTUnwrap(lines.firstIndex(of: "per class (a ratio 0/0 counts as 0)"), result.stdout)
    XCTAssertEqual(
      lines[report + 1].split(separator: " "), ["precision", "recall", "f1", "support"], result.stdout)
    var supports = 0
    for label in ["setosa", "versicolor", "virginica"] {
      let values = try numbers(lines, label, from: report)
      XCTAssertEqual(values.count, 4, "\(label): \(result.stdout)")
      XCTAssertTrue(values.prefix(3).allSatisfy { (0...1).contains($0) }, result.stdout)
      supports += Int(values[3])
    }
    let macro = try numbers(lines, "macro avg")
    let weighted = try numbers(lines, "weighted avg")
    XCTAssertEqual(macro.count, 4, result.stdout)
    XCTAssertEqual(weighted.count, 4, result.stdout)
    // evaluated ... : N samples; the supports add up to N.
    let samples = try XCTUnwrap(lines.first?.split(separator: " ").dropLast().last.flatMap { Int($0) })
    XCTAssertEqual(supports, samples, result.stdout)
    XCTAssertEqual(Int(weighted[3]), samples)
    // Recall weighted by support is the accuracy.
    let accuracy = try XCTUnwrap(try numbers(lines, "accuracy").first)
    XCTAssertEqual(weighted[1], accuracy, accuracy: 1e-4, result.stdout)
    // Three classes: no AUC.
    XCTAssertFalse(result.stdout.contains("auc"), result.stdout)
  }

  /// ROC AUC and average precision of (score, positive) pairs by scikit-learn's rules, in Double.
  private func areas(_ set: [(Double, Bool)]) -> (roc: Double, ap: Double) {
    let positives = Double(set.filter(\.1).count)
    let negatives = Double(set.count) - positives
    var (roc, ap, lastTPR, lastFPR) = (0.0, 0.0, 0.0, 0.0)
    for t in Set(set.map(\.0)).sorted(by: >) {
      let tp = Double(set.filter { $0.0 >= t && $0.1 }.count)
      let fp = Double(set.filter { $0.0 >= t && !$0.1 }.count)
      roc += (fp / negatives - lastFPR) * (tp / positives + lastTPR) / 2
      ap += (tp / positives - lastTPR) * tp / (tp + fp)
      (lastTPR, lastFPR) = (tp / positives, fp / negatives)
    }
    return (roc, ap)
  }

  func testBinaryClassifierReportsROCAndPRAUCAsPredictsScoresGive() throws {
    // Noisy labels (a > b, with every 7th flipped), so the areas are neither 0 nor 1.
    var csv = "a,b,bought\n"
    for i in 0..<60 {
      let (a, b) = (Double(i % 5), Double(i % 3) + Double(i % 4) / 4)
      csv += "\(a),\(b),\((a > b) != (i % 7 == 0) ? "yes" : "no")\n"
    }
    let outputs = [
      (#"{ "units": 1, "activation": "sigmoid" }"#, "binary_cross_entropy"),
      (#"{ "units": 2, "activation": "softmax" }"#, "cross_entropy"),
    ]
    for (output, loss) in outputs {
      let dir = TemporaryDirectory()
      let data = dir.write("train.csv", csv)
      let config = dir.write(
        "binary.json",
        """
        { "name": "binary", "seed": 3,
          "data": { "source": "csv", "path": "\(data)", "targets": "bought",
                    "task": "classification", "scale": "standardize" },
          "model": { "layers": [ { "units": 4, "activation": "tanh" }, \(output) ] },
          "loss": "\(loss)", "optimizer": { "kind": "adam", "learning_rate": 0.01 },
          "training": { "epochs": 3, "batch_size": 8 },
          "checkpoint": { "dir": "\(dir.file("ck"))" } }
        """)
      let train = try nnbatch(["train", "--config", config, "--quiet"])
      XCTAssertEqual(train.status, 0, train.stderr)
      let checkpoint = dir.file("ck")
      let evaluate = try nnbatch(["evaluate", "--checkpoint", checkpoint, "--data", data])
      XCTAssertEqual(evaluate.status, 0, evaluate.stderr)
      let lines = evaluate.stdout.split(separator: "\n")
      XCTAssertTrue(lines.contains { $0.hasPrefix("weighted avg") }, evaluate.stdout)
      // The areas of predict's probabilities of "yes", computed here.
      let predict = try nnbatch(["predict", "--checkpoint", checkpoint, "--input", data])
      XCTAssertEqual(predict.status, 0, predict.stderr)
      let truth = csv.split(separator: "\n").dropFirst().map { $0.hasSuffix(",yes") }
      let scores = predict.stdout.split(separator: "\n").dropFirst().compactMap {
        $0.split(separator: ",").last.flatMap { Double(String($0)) }
      }
      XCTAssertEqual(scores.count, truth.count, predict.stdout)
      let expected = areas(Array(zip(scores.map { Double(Float($0)) }, truth)))
      let roc = try XCTUnwrap(lines.first { $0.hasPrefix("roc auc ") }, evaluate.stdout)
      let pr = try XCTUnwrap(lines.first { $0.hasPrefix("pr auc ") }, evaluate.stdout)
      XCTAssertEqual(
        roc, "roc auc    \(String(format: "%.4f", expected.roc)) (positive class yes)", evaluate.stdout)
      XCTAssertEqual(
        pr, "pr auc     \(String(format: "%.4f", expected.ap)) (average precision, positive class yes)",
        evaluate.stdout)
      XCTAssertTrue(expected.roc > 0 && expected.roc < 1 && expected.ap < 1, "\(expected)")

      // A set without positive samples: both areas are undefined, said as such.
      let negatives = dir.write("no.csv", "a,b,bought\n0,1,no\n1,2,no\n0,2,no\n")
      let absent = try nnbatch(["evaluate", "--checkpoint", checkpoint, "--data", negatives])
      XCTAssertEqual(absent.status, 0, absent.stderr)
      XCTAssertTrue(absent.stdout.contains("roc auc    undefined (no samples of class yes)"), absent.stdout)
      XCTAssertTrue(absent.stdout.contains("pr auc     undefined (no samples of class yes)"), absent.stdout)
      XCTAssertFalse(absent.stdout.contains("nan"), absent.stdout)
    }
  }
}
