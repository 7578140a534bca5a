import Checkpoints
import Foundation
import HDF5Store
import NeuralNet
import TestSupport
import XCTest

/// /data/memory: saved, read back, named in `requires`, and refused without its requirement or by an older reader.
final class MemoryDataCheckpointTests: XCTestCase {
  private func withMemoryData() throws -> Checkpoint {
    var checkpoint = try CheckpointTests.sample()
    checkpoint.data.memory = InMemoryDataFacts(
      fingerprint: "xxh64:0123456789abcdef", rows: 400, features: 64, targetColumns: 1)
    return checkpoint
  }

  func testFactsRoundTripAndAreRequired() throws {
    let dir = TemporaryDirectory()
    let checkpoint = try withMemoryData()
    XCTAssertEqual(checkpoint.requirements, ["memory_data"])
    let tree = checkpoint.encode()
    XCTAssertEqual(tree.attributes["requires"], .string("memory_data"))
    let group = try XCTUnwrap(tree.groups["data"]?.groups["memory"])
    XCTAssertEqual(group.attributes["fingerprint"], .string("xxh64:0123456789abcdef"))
    try CheckpointTests.write(tree, to: dir.file("a.h5"))
    let read = try Checkpoint.read(from: dir.file("a.h5"))
    XCTAssertEqual(read.data.memory, checkpoint.data.memory)
    XCTAssertNil(try CheckpointTests.sample().encode().groups["data"]?.groups["memory"])
  }

  func testFactsWithoutTheirRequirementAreRefused() throws {
    let dir = TemporaryDirectory()
    var tree = try withMemoryData().encode()
    tree.attributes["requires"] = .string("")
    Checkpoint.seal(&tree)
    try CheckpointTests.write(tree, to: dir.file("b.h5"))
    XCTAssertThrowsError(try Checkpoint.read(from: dir.file("b.h5"))) { error in
      XCTAssertTrue(
        "\(error)".contains(#"/@requires: expected "memory_data" (the file has /data/memory), found """#),
        "\(error)")
    }
  }

  /// What a reader without the feature does: the same refusal as for any unknown requirement.
  func testAReaderThatDoesNotKnowTheRequirementRefusesTheFile() throws {
    let dir = TemporaryDirectory()
    var tree = try withMemoryData().encode()
    tree.attributes["requires"] = .string("memory_data,memory_data_v9")
    Checkpoint.seal(&tree)
    try CheckpointTests.write(tree, to: dir.file("c.h5"))
    XCTAssertThrowsError(try Checkpoint.read(from: dir.file("c.h5"))) { error in
      XCTAssertTrue(
        "\(error)".contains(#"the file requires "memory_data_v9", which this build does not support"#),
        "\(error)")
    }
    XCTAssertTrue(Checkpoint.understoodRequirements.contains("memory_data"))
  }
}
