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
}
