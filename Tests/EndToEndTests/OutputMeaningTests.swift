import Foundation
import TestSupport
import XCTest

/// Outputs that say what they mean: the closing summary's figures, predict's column names.
final class OutputMeaningTests: XCTestCase {
  /// A run's config: synthetic data of 3 classes, or (`regression`) a CSV with target
  /// column "price"; `validation` is the split.
  private func config(_ dir: TemporaryDirectory, regression: Bool = false, validation: Double) -> String {
    let data: String
    if regression {
      var csv = "area,rooms,age,price\n"
      for i in 0..<70 {
        let (a, r, g) = (Double(i % 13) + 1, Double(i % 5) + 1, Double(i % 7))
        csv += "\(a),\(r),\(g),\(3 * a + 2 * r - g)\n"
      }
      data = """
        { "source": "csv", "path": "\(dir.write("houses.csv", csv))", "targets": "price",
          "task": "regression", "scale": "standardize", "validation_split": \(validation) }
        """
    } else {
      data = """
        { "source": "synthetic", "samples": 70, "features": 4, "classes": 3,
          "validation_split": \(validation) }
        """
    }
    let output =
      regression
      ? #"{ "units": 1, "activation": "linear" }"#
      : #"{ "units": 3, "activation": "softmax" }"#
    return dir.write(
      "run.json",
      """
      { "name": "meaning", "seed": 5, "data": \(data),
        "model": { "layers": [ { "units": 8, "activation": "tanh" }, \(output) ] },
        "loss": "\(regression ? "mse" : "cross_entropy")",
        "optimizer": { "kind": "adam", "learning_rate": 0.01 },
        "training": { "epochs": 3, "batch_size": 16 },
        "checkpoint": { "dir": "\(dir.file("ck"))" } }
      """)
  }

  /// The fields of text epoch line `line` ("loss 0.5", "val_loss 0.4", ...) by name.
  private func fields(_ line: Substring) -> [String: String] {
    var result: [String: String] = [:]
    for field in line.components(separatedBy: "  ") {
      let parts = field.split(separator: " ", maxSplits: 1)
      if parts.count == 2 { result[String(parts[0])] = String(parts[1]) }
    }
    return result
  }

  func testDoneLineReportsTheLastEpochsMeanLossAndValidation() throws {
    // 70 samples, 20% validation: 56 train in batches of 16, the last batch 8 samples,
    // so the last batch's loss is not the epoch's mean.
    for regression in [false, true] {
      let dir = TemporaryDirectory()
      let result = try nnbatch(["train", "--config", config(dir, regression: regression, validation: 0.2)])
      XCTAssertEqual(result.status, 0, result.stderr)
      let lines = result.stdout.split(separator: "\n")
      let epoch = try XCTUnwrap(lines.last { $0.hasPrefix("epoch 3/3") }, result.stdout)
      let measured = fields(epoch)
      let loss = try XCTUnwrap(measured["loss"], String(epoch))
      let done = try XCTUnwrap(lines.firstIndex { $0.hasPrefix("done: ") }, result.stdout)
      XCTAssertTrue(lines[done].hasPrefix("done: 3 epochs, 12 steps, "), String(lines[done]))
      XCTAssertTrue(lines[done].hasSuffix("; checkpoint \(dir.file("ck"))/step-000000012.h5"))
      XCTAssertFalse(result.stdout.contains("final loss"), result.stdout)
      XCTAssertEqual(String(lines[done + 1]), "final epoch 3: train_loss \(loss) (epoch mean)")
      let names = regression ? ["val_loss", "val_mae", "val_r2"] : ["val_accuracy", "val_loss"]
      let validation = try names.map { "\($0) \(try XCTUnwrap(measured[$0], String(epoch)))" }
      XCTAssertEqual(String(lines[done + 2]), "final epoch 3: " + validation.joined(separator: ", "))
      XCTAssertEqual(lines.count, done + 3, "nothing after the summary: \(result.stdout)")
      for line in lines[(done + 1)...] { XCTAssertLessThanOrEqual(line.count, 80, String(line)) }
    }
  }

  func testDoneLineWithoutValidationHasNoValidationLine() throws {
    let dir = TemporaryDirectory()
    let result = try nnbatch(["train", "--config", config(dir, validation: 0)])
    XCTAssertEqual(result.status, 0, result.stderr)
    let lines = result.stdout.split(separator: "\n")
    let loss = try XCTUnwrap(fields(try XCTUnwrap(lines.last { $0.hasPrefix("epoch 3/3") }))["loss"])
    XCTAssertEqual(lines.suffix(2).map(String.init).last, "final epoch 3: train_loss \(loss) (epoch mean)")
    XCTAssertTrue(lines[lines.count - 2].hasPrefix("done: 3 epochs, 15 steps, "), result.stdout)
  }

  func testJSONSummaryKeepsFinalLossAndAddsTheEpochMean() throws {
    let dir = TemporaryDirectory()
    let result = try nnbatch(["train", "--config", config(dir, validation: 0.2), "--log-format", "json"])
    XCTAssertEqual(result.status, 0, result.stderr)
    let records = try result.stdout.split(separator: "\n").map {
      try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any], String($0))
    }
    let epoch = try XCTUnwrap(records.last { $0["event"] as? String == "epoch" })
    let summary = try XCTUnwrap(records.last { $0["event"] as? String == "summary" })
    XCTAssertEqual(summary["final_epoch"] as? Int, 3)
    XCTAssertEqual(summary["final_epoch_loss"] as? Double, epoch["train_loss"] as? Double)
    XCTAssertEqual(summary["final_val_loss"] as? Double, epoch["val_loss"] as? Double)
    XCTAssertEqual(summary["final_val_accuracy"] as? Double, epoch["val_accuracy"] as? Double)
    XCTAssertNil(summary["final_val_mae"], "only the metrics the run measures")
    // final_loss stays the last step's loss: its batch has 8 of the epoch's 56 samples.
    let finalLoss = try XCTUnwrap(summary["final_loss"] as? Double)
    XCTAssertNotEqual(finalLoss, summary["final_epoch_loss"] as? Double)
  }

  func testHelpDescribesTheToolAsItIs() throws {
    let result = try nnbatch(["--help"])
    XCTAssertEqual(result.status, 0, result.stderr)
    let help = result.stdout
    XCTAssertTrue(
      help.hasPrefix(
        "OVERVIEW: Trains dense and convolutional neural networks on CPUs.\n"),
      help)
    for phrase in [
      "HDF5 checkpoints", "data-parallel on threads", "under mpirun", "resume from bit for bit",
      "ONNX or Keras",
    ] {
      XCTAssertTrue(help.contains(phrase), "\(phrase) missing from: \(help)")
    }
    XCTAssertFalse(help.contains("for dense neural networks"), help)
  }
}
