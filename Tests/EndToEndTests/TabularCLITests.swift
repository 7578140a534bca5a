import Foundation
import TestSupport
import XCTest

/// Tabular data from the command line: class weights, metrics in the logs, missing values, categories.
final class TabularCLITests: XCTestCase {
  /// An imbalanced two-class CSV: about one "yes" in six.
  private func imbalancedCSV() -> String {
    var csv = "a,b,bought\n"
    for i in 0..<72 {
      let (a, b) = (Double(i % 9) / 3, Double(i % 5) / 2)
      csv += "\(a),\(b),\(i % 6 == 0 ? "yes" : "no")\n"
    }
    return csv
  }

  private func config(
    _ dir: TemporaryDirectory, name: String, training: String = "", loss: String = "cross_entropy"
  )
    -> String
  {
    let output =
      loss == "mse" ? #"{ "units": 1 }"# : #"{ "units": 2, "activation": "softmax" }"#
    return dir.write(
      "\(name).json",
      """
      { "data": { "source": "csv", "path": "\(dir.file("train.csv"))", "scale": "standardize" },
        "model": { "layers": [ { "units": 6, "activation": "tanh" }, \(output) ] },
        "loss": "\(loss)", "seed": 3, "optimizer": { "kind": "adam", "learning_rate": 0.01 },
        "training": { "epochs": 4, "batch_size": 16 \(training) },
        "checkpoint": { "dir": "\(dir.file("ck-" + name))" } }
      """)
  }

  /// Weights of 1 are the unweighted run bit for bit; other weights change the model; the checkpoint keeps the setting.
  func testClassWeightsTrainAndOnesChangeNoBit() throws {
    let dir = TemporaryDirectory()
    dir.write("train.csv", imbalancedCSV())
    var predictions: [String: String] = [:]
    for (name, setting) in [
      ("plain", ""), ("ones", #", "class_weight": { "no": 1, "yes": 1 }"#),
      ("map", #", "class_weight": { "yes": 5 }"#), ("balanced", #", "class_weight": "balanced""#),
    ] {
      let train = try nnbatch(
        ["train", "--config", config(dir, name: name, training: setting), "--quiet"], in: dir.path)
      XCTAssertEqual(train.status, 0, "\(name): \(train.stderr)")
      let predict = try nnbatch(
        ["predict", "--checkpoint", dir.file("ck-" + name), "--input", dir.file("train.csv")], in: dir.path)
      XCTAssertEqual(predict.status, 0, "\(name): \(predict.stderr)")
      predictions[name] = predict.stdout
    }
    XCTAssertEqual(predictions["ones"], predictions["plain"])
    XCTAssertNotEqual(predictions["map"], predictions["plain"])
    XCTAssertNotEqual(predictions["balanced"], predictions["plain"])
    XCTAssertNotEqual(predictions["balanced"], predictions["map"])
    // A resume must weigh as the run did.
    let resumed = try nnbatch(
      [
        "train", "--config", config(dir, name: "plain", training: #", "class_weight": "balanced""#),
        "--resume",
      ],
      in: dir.path)
    XCTAssertEqual(resumed.status, 2, resumed.stderr)
    XCTAssertTrue(
      resumed.stderr.contains(#"$.training.class_weight: checkpoint has none, config has "balanced""#),
      resumed.stderr)
  }

  func testBadClassWeightsAreConfigErrorsNamingTheKey() throws {
    let dir = TemporaryDirectory()
    dir.write("train.csv", imbalancedCSV())
    let cases: [(String, String, String)] = [
      (
        #", "class_weight": { "yess": 5 }"#, "cross_entropy",
        #"$.training.class_weight.yess: unknown class "yess"; expected one of "no", "yes" (did you mean "yes"?)"#
      ),
      (
        #", "class_weight": { "yes": 0 }"#, "cross_entropy",
        "$.training.class_weight.yes: expected a number > 0.0, found 0"
      ),
      (
        #", "class_weight": "balancd""#, "cross_entropy",
        #"$.training.class_weight: expected "balanced" or an object of class label → weight, found "balancd""#
      ),
      (
        #", "class_weight": "balanced""#, "mse",
        "$.training.class_weight: class weights are for classification"
      ),
    ]
    for (setting, loss, message) in cases {
      let result = try nnbatch(
        ["train", "--config", config(dir, name: "bad", training: setting, loss: loss)], in: dir.path)
      XCTAssertEqual(result.status, 2, result.stderr)
      XCTAssertTrue(result.stderr.contains(message), result.stderr)
      XCTAssertFalse(FileManager.default.fileExists(atPath: dir.file("ck-bad/step-000000000.h5")))
    }
  }

  func testBalancedNeedsEveryClassInTheTrainingSplit() throws {
    let dir = TemporaryDirectory()
    dir.write("train.csv", "a,c\n0,0\n1,1\n2,0\n3,1\n")
    let result = try nnbatch(
      [
        "train", "--config",
        dir.write(
          "c.json",
          """
          { "data": { "source": "inline", "inputs": [[0], [1], [2], [3]], "targets": [0, 1, 0, 1] },
            "model": { "layers": [ { "units": 3, "activation": "softmax" } ] }, "loss": "cross_entropy",
            "optimizer": { "kind": "sgd" }, "training": { "class_weight": "balanced" },
            "checkpoint": { "dir": "\(dir.file("ck"))" } }
          """),
      ], in: dir.path)
    XCTAssertEqual(result.status, 2, result.stderr)
    XCTAssertTrue(
      result.stderr.contains(
        #"$.training.class_weight: "balanced" needs samples of every class in the training split; found none of class "2""#
      ),
      result.stderr)
  }

  /// The JSON, CSV and TensorBoard logs carry F1 and the AUCs per epoch, and they are `monitor` choices.
  func testClassifierMetricsInLogsAndAsMonitors() throws {
    let dir = TemporaryDirectory()
    var csv = "a,b,bought\n"
    for i in 0..<80 {
      let (a, b) = (Double(i % 5), Double(i % 3) + Double(i % 4) / 4)
      csv += "\(a),\(b),\((a > b) != (i % 7 == 0) ? "yes" : "no")\n"
    }
    dir.write("train.csv", csv)
    let config = dir.write(
      "c.json",
      """
      { "data": { "source": "csv", "path": "train.csv", "scale": "standardize", "validation_split": 0.3 },
        "model": { "layers": [ { "units": 6, "activation": "tanh" }, { "units": 1, "activation": "sigmoid" } ] },
        "loss": "binary_cross_entropy", "seed": 2, "optimizer": { "kind": "adam", "learning_rate": 0.02 },
        "training": { "epochs": 6, "batch_size": 8 },
        "checkpoint": { "dir": "ck", "keep_best": true, "monitor": "val_auc" } }
      """)
    let run = try nnbatch(
      ["train", "--config", config, "--log-format", "json", "--log-csv", "log.csv", "--tensorboard", "tb"],
      in: dir.path)
    XCTAssertEqual(run.status, 0, run.stderr)
    let epochs = run.stdout.split(separator: "\n").compactMap { line -> [String: Any]? in
      guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
        object["event"] as? String == "epoch"
      else { return nil }
      return object
    }
    XCTAssertEqual(epochs.count, 6, run.stdout)
    let names = [
      "val_auc", "val_pr_auc", "val_f1_macro", "val_f1_weighted", "val_precision_macro",
      "val_precision_weighted",
      "val_recall_macro", "val_recall_weighted",
      "val_precision_class_0", "val_recall_class_0", "val_f1_class_0", "val_precision_class_1",
      "val_recall_class_1", "val_f1_class_1",
    ]
    var aucs: [Double] = []
    for epoch in epochs {
      for name in names {
        let value = try XCTUnwrap(epoch[name] as? Double, "\(name) in \(epoch)")
        XCTAssertTrue((0...1).contains(value), "\(name) \(value)")
      }
      aucs.append(epoch["val_auc"] as? Double ?? .nan)
    }
    let header = try String(contentsOfFile: dir.file("log.csv"), encoding: .utf8).split(separator: "\n")[0]
    for name in names {
      XCTAssertTrue(header.split(separator: ",").contains(Substring(name)), String(header))
    }
    let events = try FileManager.default.contentsOfDirectory(atPath: dir.file("tb"))
    let bytes = try Data(contentsOf: URL(fileURLWithPath: dir.file("tb/\(try XCTUnwrap(events.first))")))
    XCTAssertNotNil(bytes.range(of: Data("epoch/val_auc".utf8)))
    XCTAssertNotNil(bytes.range(of: Data("epoch/val_f1_macro".utf8)))
    XCTAssertNotNil(bytes.range(of: Data("epoch/val_f1_class_1".utf8)))
    // The terminal's epoch lines keep to loss and accuracy.
    let plain = try nnbatch(["train", "--config", config, "--checkpoint-dir", "ck2"], in: dir.path)
    XCTAssertEqual(plain.status, 0, plain.stderr)
    XCTAssertFalse(plain.stdout.contains("val_f1"), plain.stdout)
    XCTAssertTrue(plain.stdout.contains("val_accuracy"), plain.stdout)

    // evaluate on the same held-out rows prints the last epoch's ROC AUC; best.h5 has the largest one.
    let last = try nnbatch(["evaluate", "--checkpoint", "ck"], in: dir.path)
    XCTAssertEqual(last.status, 0, last.stderr)
    XCTAssertTrue(
      last.stdout.contains("roc auc    \(String(format: "%.4f", aucs.last ?? 0))"), "\(last.stdout) \(aucs)")
    let best = try nnbatch(["evaluate", "--checkpoint", "ck/best.h5"], in: dir.path)
    XCTAssertEqual(best.status, 0, best.stderr)
    // The first epoch of the largest value: later equal ones are no improvement.
    let top = aucs.max() ?? 0
    XCTAssertTrue(best.stdout.contains("roc auc    \(String(format: "%.4f", top))"), "\(best.stdout) \(aucs)")
  }

  func testClassifierMonitorsTheRunCannotMeasureAreRefused() throws {
    let dir = TemporaryDirectory()
    dir.write("train.csv", imbalancedCSV())
    dir.write("reg.csv", "a,b,y\n" + (0..<20).map { "\($0),\($0 % 3),\(Double($0) / 2)\n" }.joined())
    let cases: [(String, String, String)] = [
      ("mse", "val_f1_macro", "val_f1_macro is measured for classification; this run is a regression"),
      ("cross_entropy", "val_pr_aux", #"unknown metric "val_pr_aux""#),
    ]
    for (loss, monitor, message) in cases {
      let path = config(
        dir, name: "m", training: #", "early_stopping": { "monitor": "\#(monitor)" }"#, loss: loss)
      let text = try String(contentsOfFile: path, encoding: .utf8).replacingOccurrences(
        of: #""scale": "standardize""#, with: #""scale": "standardize", "validation_split": 0.25"#
      ).replacingOccurrences(of: loss == "mse" ? "train.csv" : "\u{0}", with: "reg.csv")
      dir.write("m.json", text)
      let result = try nnbatch(["train", "--config", path], in: dir.path)
      XCTAssertEqual(result.status, 2, result.stderr)
      XCTAssertTrue(result.stderr.contains(message), result.stderr)
    }
    // Three classes have no AUC.
    let three = dir.write(
      "three.json",
      """
      { "data": { "source": "synthetic", "samples": 40, "features": 3, "classes": 3, "validation_split": 0.25 },
        "model": { "layers": [ { "units": 3, "activation": "softmax" } ] }, "loss": "cross_entropy",
        "optimizer": { "kind": "sgd" }, "checkpoint": { "dir": "ck3", "keep_best": true, "monitor": "val_auc" } }
      """)
    let result = try nnbatch(["train", "--config", three], in: dir.path)
    XCTAssertEqual(result.status, 2, result.stderr)
    XCTAssertTrue(
      result.stderr.contains("$.checkpoint.monitor: val_auc is measured for two classes; this model has 3"),
      result.stderr)
  }
}
