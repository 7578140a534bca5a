import Foundation
import NNBatch
import NNBatchCore
import NNBatchData
import NeuralNet
import TestSupport
import XCTest

/// data.missing: the imputer's statistics by hand, the config's checks, and fitting on the training split only.
final class MissingValuesTests: XCTestCase {
  func testEachStrategyAgainstAHandComputation() {
    let nan = Float.nan
    // Columns: 1, 3, 4 (and a gap); 2, 1, 2, 1, 5 (ties: the smaller wins); all missing but constant.
    let m = Matrix(
      rows: 5, columns: 3,
      values: [1, 2, nan, nan, 1, nan, 3, 2, nan, 4, 1, nan, nan, 5, nan])
    let rules: [[MissingRule]] = [
      [MissingRule(.mean), MissingRule(.mean), MissingRule(.constant(-7))],
      [MissingRule(.median), MissingRule(.median), MissingRule(.constant(0.5))],
      [MissingRule(.mostFrequent), MissingRule(.mostFrequent), MissingRule(.constant(0))],
    ]
    let fitted = rules.map { Imputer.fit($0, to: m) }
    XCTAssertEqual(fitted[0].imputer.fill, [Float((1.0 + 3 + 4) / 3), Float(11.0 / 5), -7])
    // Medians: of 1, 3, 4 the middle one; of 1, 1, 2, 2, 5 the third.
    XCTAssertEqual(fitted[1].imputer.fill, [3, 2, 0.5])
    // 1 and 2 occur twice each in column 1: the smaller, as scikit-learn's most_frequent.
    XCTAssertEqual(fitted[2].imputer.fill, [1, 1, 0])
    XCTAssertTrue(fitted.allSatisfy { $0.emptyColumns.isEmpty })
    // An even count's median is the mean of the middle two.
    let even = Imputer.fit([MissingRule(.median)], to: Matrix(rows: 4, columns: 1, values: [4, nan, 1, 2]))
    XCTAssertEqual(even.imputer.fill, [2])
    let all = Imputer.fit([MissingRule(.mean)], to: Matrix(rows: 2, columns: 1, values: [nan, nan]))
    XCTAssertEqual(all.emptyColumns, [0])
  }

  func testApplyFillsAndAppendsIndicators() {
    let nan = Float.nan
    let imputer = Imputer(fill: [9, .nan, 7], indicator: [true, false, true])
    XCTAssertEqual(imputer.outputWidth, 5)
    let out = imputer.apply(to: Matrix(rows: 2, columns: 3, values: [nan, 1, 2, 3, 4, nan]))
    XCTAssertEqual(Array(out.storage.array[0..<5]), [9, 1, 2, 1, 0])
    XCTAssertEqual(Array(out.storage.array[5..<10]), [3, 4, 7, 0, 1])
    // A refusing column keeps its NaN, for predict's finite check to refuse.
    XCTAssertTrue(imputer.apply(to: Matrix(rows: 1, columns: 3, values: [1, nan, 2]))[0, 1].isNaN)
  }

  private func config(_ missing: String, source: String = #""source": "csv", "path": "d.csv""#) -> String {
    """
    { "data": { \(source), "missing": \(missing) },
      "model": { "layers": [ { "units": 2, "activation": "softmax" } ] },
      "loss": "cross_entropy", "optimizer": { "kind": "sgd", "learning_rate": 0.1 },
      "training": { "epochs": 1, "batch_size": 2 }, "checkpoint": { "dir": "/tmp/x" } }
    """
  }

  private func errors(_ text: String) -> [String] {
    do {
      _ = try Config.parse(text: text, file: "bad.json")
      return []
    } catch {
      XCTAssertEqual(error.kind, .usage)
      return error.lines
    }
  }

  func testPolicyForms() throws {
    let one = try Config.parse(text: config(#"{"constant": 0, "indicator": true}"#), file: "t.json")
    XCTAssertEqual(one.data.missing, MissingPolicy(fallback: MissingRule(.constant(0), indicator: true)))
    let per = try Config.parse(
      text: config(
        #"{"default": "median", "columns": {"b": {"strategy": "most_frequent", "indicator": true}}}"#),
      file: "t.json")
    XCTAssertEqual(
      per.data.missing,
      MissingPolicy(
        fallback: MissingRule(.median), columns: ["b": MissingRule(.mostFrequent, indicator: true)]))
    XCTAssertEqual(try Config.parse(text: config(#""refuse""#), file: "t.json").data.missing, .refuse)
  }

  func testBadPoliciesAreConfigErrorsNamingTheKey() {
    let cases: [(String, String)] = [
      (
        #""avg""#,
        #"$.data.missing: unknown missing-value strategy "avg"; expected one of refuse, mean, median, most_frequent"#
      ),
      (
        #"{"strategy": "mean", "indicater": true}"#,
        #"$.data.missing.indicater: unknown key "indicater" (did you mean "indicator"?)"#
      ),
      (
        #"{"default": "mean", "colums": {}}"#,
        #"$.data.missing.colums: unknown key "colums" (did you mean "columns"?)"#
      ),
      (
        #"{"strategy": "mean", "constant": 1}"#,
        #"$.data.missing.constant: give either "strategy" or "constant", not both"#
      ),
      (#"{"constant": "zero"}"#, #"$.data.missing.constant: expected a number, found "zero""#),
      (#"{"columns": {"b": 3}}"#, "$.data.missing.columns.b: expected a missing-value strategy"),
      (
        #"{"strategy": "refuse", "indicator": true}"#,
        #"$.data.missing.indicator: an indicator needs a strategy that fills the value; "refuse" fills none"#
      ),
      (#"{"indicator": true}"#, "$.data.missing.strategy: missing required key"),
      (#"[]"#, "$.data.missing: expected a missing-value strategy"),
    ]
    for (missing, expected) in cases {
      let lines = errors(config(missing))
      XCTAssertTrue(lines.contains { $0.contains(expected) }, "\(missing): \(lines)")
    }
    let synthetic = errors(
      config(#""mean""#, source: #""source": "synthetic", "samples": 8, "features": 2, "classes": 2"#))
    XCTAssertTrue(
      synthetic.contains { $0.contains("$.data.missing: missing values are read from CSV files only") },
      "\(synthetic)")
  }

  /// Statistics come from the training split: the held-out rows' values do not move the mean.
  func testStatisticsComeFromTheTrainingSplitOnly() throws {
    let dir = TemporaryDirectory()
    var csv = "a,b,y\n"
    for i in 0..<20 { csv += "\(i % 3 == 0 ? "NA" : String(i * i)),\(i),\(i % 2)\n" }
    dir.write("d.csv", csv)
    let text = """
      { "data": { "source": "csv", "path": "\(dir.file("d.csv"))", "validation_split": 0.25, "missing": "mean" },
        "model": { "layers": [ { "units": 2, "activation": "softmax" } ] },
        "loss": "cross_entropy", "optimizer": { "kind": "sgd", "learning_rate": 0.1 },
        "training": { "epochs": 1, "batch_size": 2 }, "checkpoint": { "dir": "\(dir.file("ck"))" } }
      """
    let config = try Config.parse(text: text, file: "t.json")
    let selected = try DataLoader.select(config, labels: [])
    var sum = 0.0
    var count = 0
    for r in 0..<selected.train.count where !selected.train.inputs[r, 0].isNaN {
      sum += Double(selected.train.inputs[r, 0])
      count += 1
    }
    let prepared = try DataLoader.prepare(config)
    let imputer = try XCTUnwrap(prepared.imputer)
    XCTAssertEqual(imputer.fill[0], Float(sum / Double(count)))
    XCTAssertEqual(
      count,
      selected.train.count - (0..<selected.train.count).filter { selected.train.inputs[$0, 0].isNaN }.count)
    // Every value of a over all 20 rows would give another mean.
    let allRows = (0..<20).filter { $0 % 3 != 0 }.map { Double($0 * $0) }
    XCTAssertNotEqual(imputer.fill[0], Float(allRows.reduce(0, +) / Double(allRows.count)))
    XCTAssertEqual(prepared.train.features, 2)
    XCTAssertTrue((0..<prepared.train.count).allSatisfy { !prepared.train.inputs[$0, 0].isNaN })
  }
  /// Every one of pandas' default missing markers (read_csv's na_values), with spaces around, is a gap;
  /// near misses such as `none` or `NAN` are values, refused in a numeric column with its file and line.
  func testPandasDefaultMarkersAreMissingAndNearMissesAreNot() throws {
    // pandas 2.x: pandas._libs.parsers.STR_NA_VALUES.
    let markers = [
      "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>",
      "N/A",
      "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
    ]
    let dir = TemporaryDirectory()
    func config(_ cells: [String]) throws -> Config {
      var csv = "a,b,y\n"
      for (i, cell) in cells.enumerated() { csv += "\(cell),\(i),\(i % 2)\n" }
      csv += "5,1,0\n6,2,1\n"
      dir.write("d.csv", csv)
      return try Config.parse(
        text: """
          { "data": { "source": "csv", "path": "\(dir.file("d.csv"))", "missing": "mean" },
            "model": { "layers": [ { "units": 2, "activation": "softmax" } ] },
            "loss": "cross_entropy", "optimizer": { "kind": "sgd", "learning_rate": 0.1 },
            "training": { "epochs": 1, "batch_size": 2 }, "checkpoint": { "dir": "\(dir.file("ck"))" } }
          """, file: "t.json")
    }
    let cells = markers + markers.filter { !$0.isEmpty }.map { " \($0) " }
    let selected = try DataLoader.select(try config(cells), labels: [])
    let gaps = (0..<selected.train.count).filter { selected.train.inputs[$0, 0].isNaN }.count
    XCTAssertEqual(gaps, cells.count)
    XCTAssertEqual(selected.train.count, cells.count + 2)
    for nearMiss in ["none", "NAN", "na", "Null", "N.A.", "-"] {
      XCTAssertThrowsError(try DataLoader.select(try config([nearMiss]), labels: []), nearMiss) { error in
        // Text first makes the column categorical, and the numbers after it are refused; a
        // spelling of NaN that is no marker is a non-finite number.
        XCTAssertTrue(
          "\(error)".contains(#"d.csv:"#) && "\(error)".contains(#"column "a""#), "\(nearMiss): \(error)")
      }
    }
  }
}
