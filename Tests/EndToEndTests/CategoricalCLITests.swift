import Foundation
import TestSupport
import XCTest

/// Categorical CSV feature columns from the command line: one-hot at training, predict and evaluate, export, errors.
final class CategoricalCLITests: XCTestCase {
  private let colors = ["red", "green", "Blue", "green", "red", "red"]

  /// 24 rows of a, color, b, y; "color" holds text only, so it is detected as categorical.
  private func stringCSV() -> String {
    var csv = "a,color,b,y\n"
    for i in 0..<24 {
      csv += "\(Double(i % 5) / 2),\(colors[i % colors.count]),\(i % 7),\(i % 3 == 0 ? "yes" : "no")\n"
    }
    return csv
  }

  /// The same rows with color one-hot encoded by hand in place, categories in code-point order (Blue, green, red).
  private func oneHotCSV() -> String {
    var csv = "a,Blue,green,red,b,y\n"
    for i in 0..<24 {
      let c = colors[i % colors.count]
      let hot = ["Blue", "green", "red"].map { $0 == c ? "1" : "0" }.joined(separator: ",")
      csv += "\(Double(i % 5) / 2),\(hot),\(i % 7),\(i % 3 == 0 ? "yes" : "no")\n"
    }
    return csv
  }

  private func config(_ dir: TemporaryDirectory, name: String, data: String, extra: String = "") -> String {
    dir.write(
      "\(name).json",
      """
      { "data": { "source": "csv", "path": "\(dir.file(data))", "targets": ["y"] \(extra) },
        "model": { "layers": [ { "units": 4, "activation": "tanh" }, { "units": 2, "activation": "softmax" } ] },
        "loss": "cross_entropy", "seed": 5, "optimizer": { "kind": "adam", "learning_rate": 0.01 },
        "training": { "epochs": 3, "batch_size": 8 }, "checkpoint": { "dir": "\(dir.file("ck-" + name))" } }
      """)
  }

  func testStringColumnTrainsPredictsAndEvaluatesAsTheHandEncodedColumns() throws {
    let dir = TemporaryDirectory()
    dir.write("strings.csv", stringCSV())
    dir.write("onehot.csv", oneHotCSV())
    let t1 = try nnbatch(
      ["train", "--config", config(dir, name: "cat", data: "strings.csv"), "--quiet"], in: dir.path)
    let t2 = try nnbatch(
      ["train", "--config", config(dir, name: "hot", data: "onehot.csv"), "--quiet"], in: dir.path)
    XCTAssertEqual(t1.status, 0, t1.stderr)
    XCTAssertEqual(t2.status, 0, t2.stderr)
    let cat = dir.file("ck-cat")
    let hot = dir.file("ck-hot")
    // The model's input width is the encoded width.
    let inspect = try nnbatch(["inspect", cat], in: dir.path)
    XCTAssertEqual(inspect.status, 0, inspect.stderr)
    XCTAssertTrue(
      inspect.stdout.contains("categorical color (3 categories: Blue, green, red)"), inspect.stdout)
    // Same rows, encoded by nnbatch or by hand: the same predictions, bit for bit; "purple" is unseen: zeros.
    dir.write("p-strings.csv", "a,color,b\n1,red,3\n0.5,Blue,1\n2,purple,0\n1,purple,2\n0,mauve,4\n")
    dir.write("p-onehot.csv", "a,Blue,green,red,b\n1,0,0,1,3\n0.5,1,0,0,1\n2,0,0,0,0\n1,0,0,0,2\n0,0,0,0,4\n")
    let p1 = try nnbatch(
      ["predict", "--checkpoint", cat, "--input", dir.file("p-strings.csv")], in: dir.path)
    let p2 = try nnbatch(["predict", "--checkpoint", hot, "--input", dir.file("p-onehot.csv")], in: dir.path)
    XCTAssertEqual(p1.status, 0, p1.stderr)
    XCTAssertEqual(p2.status, 0, p2.stderr)
    XCTAssertEqual(p1.stdout, p2.stdout)
    XCTAssertEqual(p1.stdout.split(separator: "\n").count, 6)
    XCTAssertTrue(
      p1.stderr.contains("3 values of column color were not seen in training: encoded as all zeros"),
      p1.stderr)
    XCTAssertEqual(p1.stderr.components(separatedBy: "not seen in training").count, 2, p1.stderr)
    let e1 = try nnbatch(["evaluate", "--checkpoint", cat, "--data", dir.file("strings.csv")], in: dir.path)
    let e2 = try nnbatch(["evaluate", "--checkpoint", hot, "--data", dir.file("onehot.csv")], in: dir.path)
    XCTAssertEqual(e1.status, 0, e1.stderr)
    XCTAssertEqual(
      e1.stdout.replacingOccurrences(of: "strings.csv", with: "X").replacingOccurrences(
        of: "ck-cat", with: "C"),
      e2.stdout.replacingOccurrences(of: "onehot.csv", with: "X").replacingOccurrences(
        of: "ck-hot", with: "C"))
    // Export carries the encoding (ExportInteropTests runs the files against predict).
    for format in ["onnx", "keras"] {
      let export = try nnbatch(
        ["export", cat, "--format", format, "-o", dir.file("m.\(format)")], in: dir.path)
      XCTAssertEqual(export.status, 0, export.stderr)
      XCTAssertTrue(FileManager.default.fileExists(atPath: dir.file("m.\(format)")))
    }
  }

  /// A column name an exported model cannot give its input is refused in one line, writing nothing:
  /// ONNX's reserved names (input, output, label), and a "/" in Keras.
  func testExportRefusesColumnNamesAFormatCannotGiveAnInput() throws {
    let dir = TemporaryDirectory()
    for (header, format, other) in [("label", "onnx", "keras"), ("kind/sub", "keras", "onnx")] {
      var csv = "a,\(header),y\n"
      for i in 0..<16 { csv += "\(i % 4),\(colors[i % colors.count]),\(i % 2 == 0 ? "yes" : "no")\n" }
      let name = format + "-names"
      dir.write("\(name).csv", csv)
      let train = try nnbatch(
        ["train", "--config", config(dir, name: name, data: "\(name).csv"), "--quiet"], in: dir.path)
      XCTAssertEqual(train.status, 0, train.stderr)
      let out = dir.file("\(name).\(format)")
      let refused = try nnbatch(
        ["export", dir.file("ck-" + name), "--format", format, "-o", out], in: dir.path)
      XCTAssertEqual(refused.status, 2, refused.stderr)
      XCTAssertTrue(
        refused.stderr.contains("categorical column \"\(header)\": its \(format) input"), refused.stderr)
      XCTAssertTrue(refused.stderr.contains("rename the column and retrain"), refused.stderr)
      XCTAssertEqual(
        refused.stderr.split(separator: "\n").filter { $0.hasPrefix("error") }.count, 1, refused.stderr)
      XCTAssertFalse(FileManager.default.fileExists(atPath: out))
      // The other format has no such rule.
      let fine = try nnbatch(
        ["export", dir.file("ck-" + name), "--format", other, "-o", dir.file("\(name).\(other)")],
        in: dir.path)
      XCTAssertEqual(fine.status, 0, fine.stderr)
    }
  }

  func testDeclaredColumnErrorsAndResumeWithOtherColumnsAreRefused() throws {
    let dir = TemporaryDirectory()
    dir.write("strings.csv", stringCSV())
    let typo = try nnbatch(
      [
        "train", "--config",
        config(dir, name: "typo", data: "strings.csv", extra: #", "categorical": ["colr"]"#),
      ],
      in: dir.path)
    XCTAssertEqual(typo.status, 2, typo.stderr)
    XCTAssertTrue(
      typo.stderr.contains(#"data.categorical: no column named "colr" (did you mean "color"?)"#), typo.stderr)
    let target = try nnbatch(
      [
        "train", "--config",
        config(dir, name: "target", data: "strings.csv", extra: #", "categorical": ["y"]"#),
      ],
      in: dir.path)
    XCTAssertEqual(target.status, 2, target.stderr)
    XCTAssertTrue(target.stderr.contains(#"data.categorical: "y" is a target column"#), target.stderr)
    XCTAssertFalse(FileManager.default.fileExists(atPath: dir.file("ck-target")))
    // A declared numeric column is one-hot too; resuming with another declaration is refused.
    let declared = config(dir, name: "decl", data: "strings.csv", extra: #", "categorical": ["b"]"#)
    let train = try nnbatch(["train", "--config", declared, "--quiet"], in: dir.path)
    XCTAssertEqual(train.status, 0, train.stderr)
    let inspect = try nnbatch(["inspect", dir.file("ck-decl")], in: dir.path)
    XCTAssertTrue(
      inspect.stdout.contains("categorical b (7 categories: 0, 1, 2, 3, 4, 5, 6)"), inspect.stdout)
    let other = config(dir, name: "decl", data: "strings.csv")
    let resume = try nnbatch(
      ["train", "--config", other, "--resume", dir.file("ck-decl"), "--epochs", "4", "--quiet"], in: dir.path)
    XCTAssertEqual(resume.status, 2, resume.stderr)
    XCTAssertTrue(resume.stderr.contains("$.data.categorical"), resume.stderr)
  }

  func testMissingCellsTakeTheMostFrequentCategoryOrAreRefused() throws {
    let dir = TemporaryDirectory()
    // Every sixth row (a "red" one) has no color: red and green are then equally frequent, and
    // the tie goes to the first in code-point order, "green".
    var csv = "a,color,y\n"
    for i in 0..<24 {
      csv += "\(i % 5),\(i % 6 == 5 ? "" : colors[i % colors.count]),\(i % 3 == 0 ? "yes" : "no")\n"
    }
    dir.write("gaps.csv", csv)
    let refused = try nnbatch(
      ["train", "--config", config(dir, name: "refuse", data: "gaps.csv")], in: dir.path)
    XCTAssertEqual(refused.status, 2, refused.stderr)
    XCTAssertTrue(
      refused.stderr.contains(#"gaps.csv:7: column "color": expected a category, found "", a missing value"#),
      refused.stderr)
    // A rule written for the column itself must be most_frequent or refuse.
    let columnMean = try nnbatch(
      [
        "train", "--config",
        config(
          dir, name: "colmean", data: "gaps.csv", extra: #", "missing": {"columns": {"color": "mean"}}"#),
      ],
      in: dir.path)
    XCTAssertEqual(columnMean.status, 2, columnMean.stderr)
    XCTAssertTrue(
      columnMean.stderr.contains(#"data.missing for categorical column "color": expected most_frequent"#),
      columnMean.stderr)
    XCTAssertFalse(FileManager.default.fileExists(atPath: dir.file("ck-colmean")))
    // A default rule is for the numbers: under it the categorical column takes its most frequent category.
    let mean = try nnbatch(
      [
        "train", "--config", config(dir, name: "mean", data: "gaps.csv", extra: #", "missing": "mean""#),
        "--quiet",
      ],
      in: dir.path)
    XCTAssertEqual(mean.status, 0, mean.stderr)
    let ok = config(dir, name: "mf", data: "gaps.csv", extra: #", "missing": "most_frequent""#)
    let train = try nnbatch(["train", "--config", ok, "--quiet"], in: dir.path)
    XCTAssertEqual(train.status, 0, train.stderr)
    dir.write("p-gap.csv", "a,color\n1,\n2,NA\n")
    dir.write("p-red.csv", "a,color\n1,red\n2,red\n")
    dir.write("p-green.csv", "a,color\n1,green\n2,green\n")
    let ck = dir.file("ck-mf")
    let gap = try nnbatch(["predict", "--checkpoint", ck, "--input", dir.file("p-gap.csv")], in: dir.path)
    let red = try nnbatch(["predict", "--checkpoint", ck, "--input", dir.file("p-red.csv")], in: dir.path)
    let green = try nnbatch(
      ["predict", "--checkpoint", ck, "--input", dir.file("p-green.csv")], in: dir.path)
    XCTAssertEqual(gap.status, 0, gap.stderr)
    XCTAssertEqual(gap.stdout, green.stdout)
    XCTAssertNotEqual(gap.stdout, red.stdout)
    let meanCk = dir.file("ck-mean")
    let meanGap = try nnbatch(
      ["predict", "--checkpoint", meanCk, "--input", dir.file("p-gap.csv")], in: dir.path)
    let meanGreen = try nnbatch(
      ["predict", "--checkpoint", meanCk, "--input", dir.file("p-green.csv")], in: dir.path)
    XCTAssertEqual(meanGap.status, 0, meanGap.stderr)
    XCTAssertEqual(meanGap.stdout, meanGreen.stdout)
  }
}
