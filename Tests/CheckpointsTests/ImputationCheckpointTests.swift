import Checkpoints
import Foundation
import HDF5Store
import NeuralNet
import TestSupport
import XCTest

/// /data/imputation: saved, read back, named in `requires`, and absent (the file unchanged) without data.missing.
final class ImputationCheckpointTests: XCTestCase {
  private func withImputer() throws -> Checkpoint {
    var checkpoint = try CheckpointTests.sample()
    // Two raw features, one with an indicator: the model's 3 inputs.
    checkpoint.data.imputer = Imputer(fill: [2.5, .nan], indicator: [true, false])
    checkpoint.data.features = AffineScaler(kind: .standardize, shift: [0, 1, 2], factor: [1, 0.5, 0.25])
    return checkpoint
  }

  func testImputationRoundTripsAndIsRequired() throws {
    let dir = TemporaryDirectory()
    let checkpoint = try withImputer()
    XCTAssertEqual(checkpoint.requirements, ["imputation"])
    let tree = checkpoint.encode()
    XCTAssertEqual(tree.attributes["requires"], .string("imputation"))
    try CheckpointTests.write(tree, to: dir.file("a.h5"))
    let read = try Checkpoint.read(from: dir.file("a.h5"))
    let imputer = try XCTUnwrap(read.data.imputer)
    XCTAssertEqual(imputer.fill[0], 2.5)
    XCTAssertTrue(imputer.fill[1].isNaN)
    XCTAssertEqual(imputer.indicator, [true, false])
  }

  func testWithoutImputationTheFileIsAsBefore() throws {
    let plain = try CheckpointTests.sample()
    XCTAssertNil(plain.data.imputer)
    XCTAssertEqual(plain.requirements, [])
    let tree = plain.encode()
    XCTAssertEqual(tree.attributes["requires"], .string(""))
    XCTAssertNil(tree.groups["data"]?.groups["imputation"])
  }

  func testImputationWithoutItsRequirementOrOfTheWrongWidthIsRefused() throws {
    let dir = TemporaryDirectory()
    var tree = try withImputer().encode()
    tree.attributes["requires"] = .string("")
    Checkpoint.seal(&tree)
    try CheckpointTests.write(tree, to: dir.file("b.h5"))
    XCTAssertThrowsError(try Checkpoint.read(from: dir.file("b.h5"))) { error in
      XCTAssertTrue(
        "\(error)".contains(#"/@requires: expected "imputation" (the file has /data/imputation), found """#),
        "\(error)")
    }
    var wide = try withImputer().encode()
    wide.groups["data"]?.groups["imputation"]?.datasets["fill"] = HDF5Dataset(
      shape: [3], values: .float32([1, 2, 3]))
    wide.groups["data"]?.groups["imputation"]?.datasets["indicator"] = HDF5Dataset(
      shape: [3], values: .float32([1, 0, 0]))
    Checkpoint.seal(&wide)
    try CheckpointTests.write(wide, to: dir.file("c.h5"))
    XCTAssertThrowsError(try Checkpoint.read(from: dir.file("c.h5"))) { error in
      XCTAssertTrue(
        "\(error)".contains(
          "/data/imputation/fill: the imputation writes 4 columns, expected 3 (the model's inputs)"),
        "\(error)")
    }
  }
}
