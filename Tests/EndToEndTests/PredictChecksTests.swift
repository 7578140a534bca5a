import Checkpoints
import Foundation
import TestSupport
import XCTest

/// What `predict` and `evaluate` refuse: values that stop being finite on the way through the
/// model, empty inputs, sizes beyond the memory budget, huge fields, and files the system cannot open.
final class PredictChecksTests: XCTestCase {
  private static let header = "sepal_length,sepal_width,petal_length,petal_width"

  /// The flowers model after two epochs, in `dir`.
  private func flowers(_ dir: TemporaryDirectory) throws -> String {
    let folder = dir.file("ck")
    let result = try nnbatch(
      ["train", "--config", "configs/flowers.json", "--epochs", "2", "--checkpoint-dir", folder, "--quiet"],
      in: repositoryRoot)
    XCTAssertEqual(result.status, 0, result.stderr)
    let steps = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasPrefix("step-") }
    return "\(folder)/\(try XCTUnwrap(steps.sorted().last))"
  }

  /// The first line of `stderr` with `path` replaced by FILE, for comparing two commands' messages.
  private func message(_ result: ProcessResult, _ path: String) -> String {
    String(result.stderr.split(separator: "\n").first ?? "").replacingOccurrences(of: path, with: "FILE")
  }

  func testAnInputThatOverflowsWhenScaledIsTheSameErrorInPredictAndEvaluate() throws {
    let dir = TemporaryDirectory()
    let checkpoint = try flowers(dir)
    // 3.4e38 is a finite float; minus the mean, times the factor (> 1) it is not.
    let inputs = dir.write("inputs.csv", "\(Self.header)\n5.1,3.5,1.4,0.2\n3.4e38,3,1,1\n")
    let data = dir.write("data.csv", "\(Self.header),species\n5.1,3.5,1.4,0.2,setosa\n3.4e38,3,1,1,setosa\n")
    let predicted = try nnbatch(["predict", "--checkpoint", checkpoint, "--input", inputs])
    XCTAssertEqual(predicted.status, 2, predicted.stderr)
    XCTAssertEqual(predicted.stdout, "", "nothing is printed for a failed prediction")
    XCTAssertTrue(
      predicted.stderr.hasPrefix(
        "error: \(inputs): sample 2, feature 0: expected a value that stays finite under the checkpoint's input scaling, found 3.4e+38 ((x − "
      ), predicted.stderr)
    XCTAssertTrue(predicted.stderr.contains(" = inf in 32-bit floats)"), predicted.stderr)
    let evaluated = try nnbatch(["evaluate", "--checkpoint", checkpoint, "--data", data])
    XCTAssertEqual(evaluated.status, 2, evaluated.stderr)
    XCTAssertEqual(message(evaluated, data), message(predicted, inputs))
    XCTAssertFalse(evaluated.stderr.contains("found inf"), evaluated.stderr)
  }

  /// Validation data that overflow under the training split's scaling say the same, in training.
  func testValidationDataThatOverflowsWhenScaledNamesTheScaling() throws {
    let dir = TemporaryDirectory()
    let rows = (0..<12).map { "\(Double($0) / 10),\($0 % 3),\($0 % 2 == 0 ? "a" : "b")" }
    let data = dir.write("data.csv", "x,y,label\n" + rows.joined(separator: "\n") + "\n")
    let validation = dir.write("validation.csv", "x,y,label\n0.5,1,a\n3.4e38,2,b\n")
    let config = dir.write(
      "c.json",
      """
      { "name": "o", "data": { "source": "csv", "path": "\(data)", "targets": "label", "scale": "standardize",
                             "validation": { "source": "csv", "path": "\(validation)", "targets": "label" } },
        "model": { "layers": [ { "units": 2, "activation": "softmax" } ] },
        "loss": "cross_entropy", "optimizer": { "kind": "sgd" }, "training": { "epochs": 1, "batch_size": 4 },
        "checkpoint": { "dir": "\(dir.file("ck"))" } }
      """)
    let result = try nnbatch(["--config", config, "--quiet"])
    XCTAssertEqual(result.status, 2, result.stderr)
    XCTAssertTrue(
      result.stderr.contains(
        "validation sample 2, feature 0: expected a value that stays finite under data.scale \"standardize\""),
      result.stderr)
    XCTAssertTrue(result.stderr.contains("found inf after scaling"), result.stderr)
    XCTAssertFalse(FileManager.default.fileExists(atPath: dir.file("ck")))
  }

  func testNaNWeightsAreAnErrorNamingTheFirstSampleInPredictAndEvaluate() throws {
    let dir = TemporaryDirectory()
    var checkpoint = try Checkpoint.read(from: try flowers(dir))
    // The output layer's last bias: every sample's outputs are NaN after it.
    checkpoint.parameters[checkpoint.parameters.count - 1] = .nan
    let crafted = dir.file("nan.h5")
    try checkpoint.write(to: crafted)
    let inputs = dir.write("inputs.csv", "\(Self.header)\n5.1,3.5,1.4,0.2\n6.2,2.9,4.3,1.3\n")
    let data = dir.write(
      "data.csv", "\(Self.header),species\n5.1,3.5,1.4,0.2,setosa\n6.2,2.9,4.3,1.3,setosa\n")
    let predicted = try nnbatch(["predict", "--checkpoint", crafted, "--input", inputs])
    XCTAssertEqual(predicted.status, 2, predicted.stderr)
    XCTAssertEqual(predicted.stdout, "")
    XCTAssertTrue(
      predicted.stderr.hasPrefix("error: \(inputs): sample 1: expected finite outputs, found nan at output "),
      predicted.stderr)
    let evaluated = try nnbatch(["evaluate", "--checkpoint", crafted, "--data", data])
    XCTAssertEqual(evaluated.status, 2, evaluated.stderr)
    XCTAssertEqual(message(evaluated, data), message(predicted, inputs))
  }

  func testPredictRefusesEmptyHeaderOnlyAndBlankInputs() throws {
    let dir = TemporaryDirectory()
    let checkpoint = try flowers(dir)
    for (name, text, expected) in [
      ("empty.csv", "", "no data rows"), ("header.csv", "\(Self.header)\n", "no data rows after the header"),
      ("blank.csv", "\n\n\n", "no data rows"),
    ] {
      let input = dir.write(name, text)
      let result = try nnbatch(["predict", "--checkpoint", checkpoint, "--input", input])
      XCTAssertEqual(result.status, 2, "\(name): \(result.stderr)")
      XCTAssertEqual(result.stdout, "", name)
      XCTAssertTrue(result.stderr.hasPrefix("error: \(input): \(expected) (read as CSV"), result.stderr)
    }
    // Evaluate refuses the same files with the same line (its config expects a header).
    for name in ["empty.csv", "blank.csv"] {
      let file = dir.file(name)
      let predicted = try nnbatch(["predict", "--checkpoint", checkpoint, "--input", file])
      let evaluated = try nnbatch(["evaluate", "--checkpoint", checkpoint, "--data", file])
      XCTAssertEqual(evaluated.status, 2, evaluated.stderr)
      XCTAssertEqual(evaluated.stderr, predicted.stderr)
    }
  }

  /// Issue 23: 2,000,000 rows under `ulimit -v 500000` ended in "Fatal error: failed to allocate".
  func testTwoMillionRowsUnderAnAddressSpaceLimitEndInTheBudgetsRefusalNeverAnAbort() throws {
    let dir = TemporaryDirectory()
    let checkpoint = try flowers(dir)
    var text = Self.header + "\n"
    text.reserveCapacity(2_000_000 * 20)
    for i in 0..<2_000_000 { text += "5.\(i % 10),3.\(i % 7),1.\(i % 5),0.\(i % 3)\n" }
    let input = dir.write("rows.csv", text)
    var refused = 0
    for limit in [300_000, 500_000] {
      let result = try runProcess(
        "/bin/sh",
        [
          "-c", "ulimit -v \(limit) && exec \"$0\" \"$@\"", nnbatchExecutable, "predict", "--checkpoint",
          checkpoint, "--input", input, "-o", dir.file("out-\(limit).csv"),
        ])
      XCTAssertFalse(
        result.stderr.contains("Fatal error"), "ulimit -v \(limit): \(result.stderr.prefix(500))")
      XCTAssertTrue([0, 2].contains(result.status), "ulimit -v \(limit): \(result.stderr.prefix(500))")
      if result.status == 2 {
        XCTAssertTrue(
          result.stderr.contains("more than nnbatch may use") && result.stderr.contains("RLIMIT_AS"),
          result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.file("out-\(limit).csv")))
        refused += 1
      }
    }
    XCTAssertGreaterThan(refused, 0, "ulimit -v 300000 leaves less than the 2,000,000 predictions need")
  }

  /// Issue 23: a 100 MB header field became a 100 MB error line after 16 s and 3.7 GB.
  func testHugeFieldsAreQuotedByTheirStartOnly() throws {
    let dir = TemporaryDirectory()
    let checkpoint = try flowers(dir)
    let huge = String(repeating: "x", count: 20_000_000)
    let header = dir.write("header.csv", "a,b,c,\(huge)\n1,2,3,4\n")
    let evaluated = try nnbatch(["evaluate", "--checkpoint", checkpoint, "--data", header])
    XCTAssertEqual(evaluated.status, 2)
    XCTAssertLessThan(evaluated.stderr.utf8.count, 600, String(evaluated.stderr.prefix(600)))
    XCTAssertTrue(
      evaluated.stderr.contains(
        "no target column named \"species\"; columns are a, b, c, \(String(repeating: "x", count: 80))… (20000000 bytes)"
      ), String(evaluated.stderr.prefix(600)))
    let wide = String(repeating: "é", count: 20_000_000)  // 2 bytes each: cut by characters, not bytes
    let field = dir.write("field.csv", "\(Self.header)\n1,2,3,\(wide)\n")
    let predicted = try nnbatch(["predict", "--checkpoint", checkpoint, "--input", field])
    XCTAssertEqual(predicted.status, 2)
    XCTAssertLessThan(predicted.stderr.utf8.count, 600, String(predicted.stderr.prefix(600)))
    XCTAssertTrue(
      predicted.stderr.contains(
        "\(field):2: column \"petal_width\": expected a number, found \"\(String(repeating: "é", count: 80))… (40000000 bytes)\""
      ), String(predicted.stderr.prefix(600)))
  }

  func testHugeNpyHeaderStringsAreQuotedByTheirStartOnly() throws {
    let dir = TemporaryDirectory()
    let checkpoint = try flowers(dir)
    // Format 2.0: a 4-byte header length, so the header (and its 'descr') may be up to 64 KiB.
    let descr = String(repeating: "f", count: 60_000)  // headers are refused past 64 KiB
    var dict = "{'descr': '\(descr)', 'fortran_order': False, 'shape': (1, 4), }"
    dict += String(repeating: " ", count: (64 - (12 + dict.utf8.count + 1) % 64) % 64) + "\n"
    var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [2, 0]
    let length = UInt32(dict.utf8.count)
    bytes += [
      UInt8(length & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length >> 16 & 0xFF), UInt8(length >> 24),
    ]
    bytes += Array(dict.utf8) + [UInt8](repeating: 0, count: 16)
    let path = dir.file("huge.npy")
    XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
    let result = try nnbatch(["predict", "--checkpoint", checkpoint, "--input", path])
    XCTAssertEqual(result.status, 2, String(result.stderr.prefix(600)))
    XCTAssertLessThan(result.stderr.utf8.count, 600, String(result.stderr.prefix(600)))
    XCTAssertTrue(
      result.stderr.contains("found '\(String(repeating: "f", count: 80))… (60000 bytes)'"),
      String(result.stderr.prefix(600)))
  }

  /// A data file the system cannot open (no descriptor left) is an I/O failure, exit 1;
  /// one that is missing or a directory is the caller's to fix, exit 2.
  func testDataFilesThatCannotBeOpenedForLackOfDescriptorsExitOne() throws {
    let dir = TemporaryDirectory()
    let checkpoint = try flowers(dir)
    let input = dir.write("inputs.csv", "\(Self.header)\n5.1,3.5,1.4,0.2\n")
    var exhausted = 0
    // The limit at which the checkpoint still opens but the data file does not depends on the build.
    for limit in 4...40 {
      let result = try runProcess(
        "/bin/sh",
        [
          "-c", "ulimit -n \(limit) && exec \"$0\" \"$@\"", nnbatchExecutable, "predict", "--checkpoint",
          checkpoint, "--input", input,
        ])
      if result.stderr.contains("\(input): ") && result.stderr.contains("Too many open files") {
        XCTAssertEqual(result.status, 1, "ulimit -n \(limit): \(result.stderr)")
        exhausted += 1
      }
      if result.status == 0 { break }
    }
    XCTAssertGreaterThan(exhausted, 0, "no descriptor limit made the data file's open fail")

    let missing = try nnbatch(["predict", "--checkpoint", checkpoint, "--input", dir.file("nope.csv")])
    XCTAssertEqual(missing.status, 2, missing.stderr)
    XCTAssertTrue(missing.stderr.contains("\(dir.file("nope.csv")): no such file"), missing.stderr)
    let folder = try nnbatch(["predict", "--checkpoint", checkpoint, "--input", dir.path])
    XCTAssertEqual(folder.status, 2, folder.stderr)
    XCTAssertTrue(folder.stderr.contains("expected a regular file, found a directory"), folder.stderr)
  }
}
