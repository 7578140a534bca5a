import Checkpoints
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
        "OVERVIEW: Trains dense, convolutional and residual neural networks on CPUs.\n"),
      help)
    for phrase in [
      "HDF5 checkpoints", "data-parallel on threads", "under mpirun", "resume from bit for bit",
      "ONNX or Keras", "conv2d", "batch_norm", "add or concatenate (residual blocks)", "a run's folder",
    ] {
      // Prose is wrapped to the terminal: a phrase may span two lines.
      let prose = help.split(whereSeparator: \.isWhitespace).joined(separator: " ")
      XCTAssertTrue(prose.contains(phrase), "\(phrase) missing from: \(help)")
    }
    XCTAssertFalse(help.contains("for dense neural networks"), help)
  }

  /// Trains a 3-epoch model on CSV `csv` (header included) with `targets`, `task`, the output
  /// layer `output` and `loss`; returns the checkpoint.
  private func trainCSV(
    _ dir: TemporaryDirectory, csv: String, targets: String, task: String, output: String, loss: String
  ) throws -> String {
    let config = dir.write(
      "csv.json",
      """
      { "name": "csv", "seed": 3,
        "data": { "source": "csv", "path": "\(dir.write("train.csv", csv))", "targets": "\(targets)",
                  "task": "\(task)", "scale": "standardize" },
        "model": { "layers": [ { "units": 4, "activation": "tanh" }, \(output) ] },
        "loss": "\(loss)", "optimizer": { "kind": "adam", "learning_rate": 0.01 },
        "training": { "epochs": 3, "batch_size": 8 },
        "checkpoint": { "dir": "\(dir.file("ck"))" } }
      """)
    let result = try nnbatch(["train", "--config", config, "--quiet"])
    XCTAssertEqual(result.status, 0, result.stderr)
    return dir.file("ck/step-000000006.h5")
  }

  /// Rows "a,b,target" of a + b (regression) or a > b (the classes `labels`).
  private func rows(_ count: Int, labels: [String]? = nil) -> String {
    (0..<count).map { i in
      let (a, b) = (Double(i % 5), Double(i % 3))
      guard let labels else { return "\(a),\(b),\(a + b)\n" }
      return "\(a),\(b),\(labels[a > b ? 1 : 0])\n"
    }.joined()
  }

  func testRegressionOutputsAreNamedAfterTheTrainingTarget() throws {
    let dir = TemporaryDirectory()
    let checkpoint = try trainCSV(
      dir, csv: "a,b,total\n" + rows(48), targets: "total", task: "regression",
      output: #"{ "units": 1, "activation": "linear" }"#, loss: "mse")
    XCTAssertEqual(try Checkpoint.read(from: checkpoint).data.targetNames, ["total"])
    let input = dir.write("new.csv", "a,b\n1,2\n4,0\n")
    let predict = try nnbatch(["predict", "--checkpoint", checkpoint, "--input", input])
    XCTAssertEqual(predict.status, 0, predict.stderr)
    XCTAssertEqual(predict.stderr, "")
    let lines = predict.stdout.split(separator: "\n")
    XCTAssertEqual(lines.first, "total")
    XCTAssertEqual(lines.count, 3, predict.stdout)
  }

  func testPredictIgnoresTheTargetColumnAndSaysSoOnce() throws {
    let dir = TemporaryDirectory()
    let checkpoint = try trainCSV(
      dir, csv: "a,b,total\n" + rows(48), targets: "total", task: "regression",
      output: #"{ "units": 1, "activation": "linear" }"#, loss: "mse")
    // 600 rows: more than one of predict's 256-row batches, still one message.
    let body = (0..<600).map { "\(Double($0 % 5)),\(Double($0 % 3))" }
    let without = dir.write("without.csv", "a,b\n" + body.map { $0 + "\n" }.joined())
    // The target column first: columns are matched by name, not position.
    let with = dir.write("with.csv", "total,a,b\n" + body.map { "99,\($0)\n" }.joined())
    let plain = try nnbatch(["predict", "--checkpoint", checkpoint, "--input", without])
    XCTAssertEqual(plain.status, 0, plain.stderr)
    let labelled = try nnbatch(["predict", "--checkpoint", checkpoint, "--input", with])
    XCTAssertEqual(labelled.status, 0, labelled.stderr)
    XCTAssertEqual(labelled.stdout, plain.stdout, "the target column changes no prediction")
    XCTAssertEqual(
      labelled.stderr, "warning: \(with): ignoring column \"total\", the model's training target\n")
    // evaluate reads the same file.
    let evaluate = try nnbatch(["evaluate", "--checkpoint", checkpoint, "--data", with])
    XCTAssertEqual(evaluate.status, 0, evaluate.stderr)
  }

  func testBinaryClassifierColumnNamesThePositiveClass() throws {
    for (labels, column) in [(["no", "yes"], "p_yes"), (["0", "1"], "p_1")] {
      let dir = TemporaryDirectory()
      let checkpoint = try trainCSV(
        dir, csv: "a,b,bought\n" + rows(48, labels: labels), targets: "bought", task: "classification",
        output: #"{ "units": 1, "activation": "sigmoid" }"#, loss: "binary_cross_entropy")
      let input = dir.write("new.csv", "a,b\n4,0\n0,2\n")
      let predict = try nnbatch(["predict", "--checkpoint", checkpoint, "--input", input])
      XCTAssertEqual(predict.status, 0, predict.stderr)
      let lines = predict.stdout.split(separator: "\n")
      XCTAssertEqual(lines.first.map(String.init), "label,\(column)", predict.stdout)
      XCTAssertEqual(lines.count, 3, predict.stdout)
      XCTAssertTrue(lines.dropFirst().allSatisfy { labels.contains(String($0.prefix { $0 != "," })) })
    }
  }

  func testCheckpointsWithoutTargetNamesKeepOutputIndexColumns() throws {
    // A version 1 file predates /data@target_names.
    let checkpoint = "\(repositoryRoot)/Tests/Fixtures/v1-regression/step-000000030.h5"
    XCTAssertNil(try Checkpoint.read(from: checkpoint).data.targetNames)
    let dir = TemporaryDirectory()
    let input = dir.write("new.csv", "120,4,10,2.5,1,0\n")
    let predict = try nnbatch(["predict", "--checkpoint", checkpoint, "--input", input])
    XCTAssertEqual(predict.status, 0, predict.stderr)
    XCTAssertEqual(predict.stdout.split(separator: "\n").first, "output_0")
    // Its config names the target column: a labelled CSV is still read without it.
    let labelled = dir.write(
      "labelled.csv", "area_m2,rooms,age_years,distance_km,floor,garden,price_k\n120,4,10,2.5,1,0,400\n")
    let again = try nnbatch(["predict", "--checkpoint", checkpoint, "--input", labelled])
    XCTAssertEqual(again.status, 0, again.stderr)
    XCTAssertEqual(again.stdout, predict.stdout)
    XCTAssertEqual(
      again.stderr, "warning: \(labelled): ignoring column \"price_k\", the model's training target\n")
  }
}
