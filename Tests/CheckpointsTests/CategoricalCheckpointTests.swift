import Checkpoints
import Foundation
import HDF5Store
import NeuralNet
import TestSupport
import XCTest

/// /data/categorical: saved, read back, named in `requires`, and refused without its requirement.
final class CategoricalCheckpointTests: XCTestCase {
  private func withEncoder() throws -> Checkpoint {
    var checkpoint = try CheckpointTests.sample()
    // Two raw features, the second with two categories: the model's 3 inputs.
    checkpoint.data.encoder = CategoricalEncoder(
      inputWidth: 2,
      columns: [CategoricalColumn(position: 1, name: "color", categories: ["Blue", "é"], fill: 1)])
    return checkpoint
  }

  func testEncodingRoundTripsAndIsRequired() throws {
    let dir = TemporaryDirectory()
    let checkpoint = try withEncoder()
    XCTAssertEqual(checkpoint.requirements, ["categorical"])
    let tree = checkpoint.encode()
    XCTAssertEqual(tree.attributes["requires"], .string("categorical"))
    try CheckpointTests.write(tree, to: dir.file("a.h5"))
    let read = try Checkpoint.read(from: dir.file("a.h5"))
    XCTAssertEqual(read.data.encoder, checkpoint.data.encoder)
    XCTAssertNil(try CheckpointTests.sample().encode().groups["data"]?.groups["categorical"])
  }

  func testEncodingWithoutItsRequirementIsRefused() throws {
    let dir = TemporaryDirectory()
    var tree = try withEncoder().encode()
    tree.attributes["requires"] = .string("")
    Checkpoint.seal(&tree)
    try CheckpointTests.write(tree, to: dir.file("b.h5"))
    XCTAssertThrowsError(try Checkpoint.read(from: dir.file("b.h5"))) { error in
      XCTAssertTrue(
        "\(error)".contains(
          #"/@requires: expected "categorical" (the file has /data/categorical), found """#),
        "\(error)")
    }
  }
}
