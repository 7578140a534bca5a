import Foundation
import TestSupport
import XCTest

/// `--format` of predict and evaluate, and formats told apart by content, through the executable.
final class DataFormatCLITests: XCTestCase {
  /// A version-1 checkpoint of configs/flowers.json: 4 features, 3 labelled classes.
  private let flowers = "\(repositoryRoot)/Tests/Fixtures/v1/step-000000060.h5"

  func testPredictNamesAnUnknownFormatAndFormatReadsItAnyway() throws {
    let dir = TemporaryDirectory()
    let elf = dir.file("new.bin")
    try Data([0x7F, 0x45, 0x4C, 0x46, 0x02, 0x01, 0x01, 0x00]).write(to: URL(fileURLWithPath: elf))
    let garbage = try nnbatch(["predict", "--checkpoint", flowers, "--input", elf])
    XCTAssertEqual(garbage.status, 2)
    XCTAssertEqual(
      garbage.stderr,
      "error: \(elf): not CSV, IDX, HDF5, NPY or PNG/JPEG (first bytes 7f 45 4c 46); pass --format\n")

    // A stray control byte in the header hides that this is CSV; --format says it is.
    let odd = dir.write("new.bin2", "a\u{1},b,c,d\n5.1,3.5,1.4,0.2\n6.9,3.1,5.4,2.1\n")
    XCTAssertEqual(try nnbatch(["predict", "--checkpoint", flowers, "--input", odd]).status, 2)
    let forced = try nnbatch(["predict", "--checkpoint", flowers, "--input", odd, "--format", "csv"])
    XCTAssertEqual(forced.status, 0, forced.stderr)
    XCTAssertEqual(forced.stdout.split(separator: "\n").count, 3, forced.stdout)

    let unknown = try nnbatch(["predict", "--checkpoint", flowers, "--input", odd, "--format", "parquet"])
    XCTAssertEqual(unknown.status, 2)
    XCTAssertTrue(
      unknown.stderr.contains(
        "The value 'parquet' is invalid for '--format <format>'. Please provide one of 'csv', 'idx', 'hdf5', 'npy' or 'images'."
      ),
      unknown.stderr)
    let help = try nnbatch(["predict", "--help"])
    XCTAssertTrue(help.stdout.contains("--format"), help.stdout)
  }

  func testEvaluateReadsADataFileByContentOrByFormat() throws {
    let dir = TemporaryDirectory()
    let rows = try String(contentsOfFile: "\(repositoryRoot)/configs/data/flowers.csv", encoding: .utf8)
      .split(whereSeparator: \.isNewline).prefix(31)
    let data = dir.write("flowers.dat", rows.joined(separator: "\n") + "\n")
    for extra in [[], ["--format", "csv"]] {
      let result = try nnbatch(["evaluate", "--checkpoint", flowers, "--data", data] + extra)
      XCTAssertEqual(result.status, 0, result.stderr)
      XCTAssertTrue(result.stdout.contains("on \(data): 30 samples"), result.stdout)
    }
    let wrong = try nnbatch(["evaluate", "--checkpoint", flowers, "--data", data, "--format", "idx"])
    XCTAssertEqual(wrong.status, 2)
    XCTAssertTrue(
      wrong.stderr.contains("IDX data (as --format idx says), but the model was trained on csv data"),
      wrong.stderr)
  }
}
