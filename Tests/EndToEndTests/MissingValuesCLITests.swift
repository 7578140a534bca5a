import Foundation
import TestSupport
import XCTest

/// data.missing from the command line: refusal, filling at training, predict and evaluate, indicators, export.
final class MissingValuesCLITests: XCTestCase {
  /// 24 rows of a, b, y; b is missing ("NA" or empty) on every fourth row.
  private func trainingCSV() -> String {
    var csv = "a,b,y\n"
    for i in 0..<24 {
      let b = i % 4 == 0 ? (i % 8 == 0 ? "NA" : "") : "\(i)"
      csv += "\(Double(i % 5) / 2),\(b),\(i % 3 == 0 ? "yes" : "no")\n"
    }
    return csv
  }

  /// The mean of b over the rows that have it (no validation split: all rows train).
  private let meanOfB: Float = {
    let values = (0..<24).filter { $0 % 4 != 0 }.map(Double.init)
    return Float(values.reduce(0, +) / Double(values.count))
  }()

  private func config(_ dir: TemporaryDirectory, name: String, missing: String?) -> String {
    dir.write(
      "\(name).json",
      """
      { "data": { "source": "csv", "path": "\(dir.file("train.csv"))", "targets": ["y"], "scale": "standardize"
          \(missing.map { #", "missing": \#($0)"# } ?? "") },
        "model": { "layers": [ { "units": 4, "activation": "tanh" }, { "units": 2, "activation": "softmax" } ] },
        "loss": "cross_entropy", "seed": 5, "optimizer": { "kind": "adam", "learning_rate": 0.01 },
        "training": { "epochs": 3, "batch_size": 8 }, "checkpoint": { "dir": "\(dir.file("ck-" + name))" } }
      """)
  }

  func testWithoutDataMissingTheCellIsRefusedNamingTheKey() throws {
    let dir = TemporaryDirectory()
    dir.write("train.csv", trainingCSV())
    let train = try nnbatch(
      ["train", "--config", config(dir, name: "plain", missing: nil), "--quiet"], in: dir.path)
    XCTAssertEqual(train.status, 2, train.stderr)
    XCTAssertTrue(
      train.stderr.contains(
        #"train.csv:2: column "b": expected a number, found "NA", a missing value; set data.missing to fill it"#
      ),
      train.stderr)
    XCTAssertFalse(FileManager.default.fileExists(atPath: dir.file("ck-plain")))
  }

  func testMeanFillsTrainingPredictAndEvaluateWithTheSavedMean() throws {
    let dir = TemporaryDirectory()
    dir.write("train.csv", trainingCSV())
    let train = try nnbatch(
      ["train", "--config", config(dir, name: "mean", missing: #""mean""#), "--quiet"], in: dir.path)
    XCTAssertEqual(train.status, 0, train.stderr)
    let ck = dir.file("ck-mean")
    // New rows with gaps predict as the same rows with the training mean written in.
    dir.write("gaps.csv", "a,b\n1,NA\n0.5,\n2,null\n")
    dir.write("filled.csv", "a,b\n1,\(meanOfB)\n0.5,\(meanOfB)\n2,\(meanOfB)\n")
    let gaps = try nnbatch(["predict", "--checkpoint", ck, "--input", dir.file("gaps.csv")], in: dir.path)
    let filled = try nnbatch(
      ["predict", "--checkpoint", ck, "--input", dir.file("filled.csv")], in: dir.path)
    XCTAssertEqual(gaps.status, 0, gaps.stderr)
    XCTAssertEqual(filled.status, 0, filled.stderr)
    XCTAssertEqual(gaps.stdout, filled.stdout)
    XCTAssertEqual(gaps.stdout.split(separator: "\n").count, 4)
    // A row whose value differs from the mean predicts otherwise (the comparison can fail).
    dir.write("other.csv", "a,b\n1,1000\n0.5,1000\n2,1000\n")
    let other = try nnbatch(["predict", "--checkpoint", ck, "--input", dir.file("other.csv")], in: dir.path)
    XCTAssertNotEqual(other.stdout, gaps.stdout)
    // evaluate fills the same way.
    dir.write("eval-gaps.csv", "a,b,y\n1,NA,yes\n0.5,,no\n2,7,no\n")
    dir.write("eval-filled.csv", "a,b,y\n1,\(meanOfB),yes\n0.5,\(meanOfB),no\n2,7,no\n")
    let e1 = try nnbatch(["evaluate", "--checkpoint", ck, "--data", dir.file("eval-gaps.csv")], in: dir.path)
    let e2 = try nnbatch(
      ["evaluate", "--checkpoint", ck, "--data", dir.file("eval-filled.csv")], in: dir.path)
    XCTAssertEqual(e1.status, 0, e1.stderr)
    XCTAssertEqual(e2.status, 0, e2.stderr)
    XCTAssertEqual(
      e1.stdout.replacingOccurrences(of: "eval-gaps.csv", with: "X"),
      e2.stdout.replacingOccurrences(of: "eval-filled.csv", with: "X"))
    // A resume must fill as the run did.
    let resumed = try nnbatch(
      ["train", "--config", config(dir, name: "mean", missing: #""median""#), "--resume", "--quiet"],
      in: dir.path)
    XCTAssertEqual(resumed.status, 2, resumed.stderr)
    XCTAssertTrue(
      resumed.stderr.contains("$.data.missing: checkpoint has mean, config has median"), resumed.stderr)
    // inspect says so; export carries the filling (ExportInteropTests runs the files against predict).
    let inspect = try nnbatch(["inspect", ck], in: dir.path)
    XCTAssertTrue(inspect.stdout.contains("missing values filled in 2 of 2 features"), inspect.stdout)
    for format in ["onnx", "keras"] {
      let out = dir.file("m.\(format)")
      let export = try nnbatch(["export", ck, "--format", format, "-o", out], in: dir.path)
      XCTAssertEqual(export.status, 0, export.stderr)
      XCTAssertTrue(FileManager.default.fileExists(atPath: out))
    }
  }

  func testIndicatorColumnWidensTheModelAndRefusingColumnsStayRefused() throws {
    let dir = TemporaryDirectory()
    dir.write("train.csv", trainingCSV())
    let missing = #"{"default": "refuse", "columns": {"b": {"strategy": "median", "indicator": true}}}"#
    let train = try nnbatch(
      ["train", "--config", config(dir, name: "ind", missing: missing), "--quiet"], in: dir.path)
    XCTAssertEqual(train.status, 0, train.stderr)
    let ck = dir.file("ck-ind")
    let inspect = try nnbatch(["inspect", ck], in: dir.path)
    XCTAssertTrue(inspect.stdout.contains("input [3]"), inspect.stdout)
    XCTAssertTrue(
      inspect.stdout.contains("missing values filled in 1 of 2 features (+1 indicator column)"),
      inspect.stdout)
    // The median of b written in differs from a gap only by the indicator.
    let values = (0..<24).filter { $0 % 4 != 0 }.sorted()
    let median = Float(Double(values[values.count / 2 - 1] + values[values.count / 2]) / 2)
    dir.write("gap.csv", "a,b\n1,NA\n")
    dir.write("median.csv", "a,b\n1,\(median)\n")
    let gap = try nnbatch(["predict", "--checkpoint", ck, "--input", dir.file("gap.csv")], in: dir.path)
    let written = try nnbatch(
      ["predict", "--checkpoint", ck, "--input", dir.file("median.csv")], in: dir.path)
    XCTAssertEqual(gap.status, 0, gap.stderr)
    XCTAssertEqual(written.status, 0, written.stderr)
    XCTAssertNotEqual(gap.stdout, written.stdout)
    // Column a refuses: a gap there at predict is exit 2.
    dir.write("gap-a.csv", "a,b\nNA,3\n")
    let refused = try nnbatch(
      ["predict", "--checkpoint", ck, "--input", dir.file("gap-a.csv")], in: dir.path)
    XCTAssertEqual(refused.status, 2, refused.stderr)
    XCTAssertTrue(
      refused.stderr.contains(#"gap-a.csv:2: column "a": expected a number, found "NA", a missing value"#),
      refused.stderr)
  }

  func testAMissingTargetIsAlwaysAnError() throws {
    let dir = TemporaryDirectory()
    dir.write("train.csv", trainingCSV() + "1,2,NA\n")
    let train = try nnbatch(
      ["train", "--config", config(dir, name: "t", missing: #""mean""#), "--quiet"], in: dir.path)
    XCTAssertEqual(train.status, 2, train.stderr)
    XCTAssertTrue(
      train.stderr.contains(
        #"train.csv:26: column "y": expected a target, found "NA", a missing value (data.missing fills features only; a missing target is always an error)"#
      ), train.stderr)
    // A column named in data.missing must be a feature column of the file.
    dir.write("train.csv", trainingCSV())
    let named = try nnbatch(
      ["train", "--config", config(dir, name: "n", missing: #"{"columns": {"bb": "mean"}}"#), "--quiet"],
      in: dir.path)
    XCTAssertEqual(named.status, 2, named.stderr)
    XCTAssertTrue(
      named.stderr.contains(#"data.missing.columns: no column named "bb" (did you mean "b"?)"#), named.stderr)
  }
}
