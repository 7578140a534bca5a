import Checkpoints
import Foundation
import HDF5Store
import NeuralNet
import TestSupport
import XCTest

/// Version 1 files (written by nnbatch 0.1.0) stay readable: the committed fixture.
final class Version1Tests: XCTestCase {
  static let fixture = "\(repositoryRoot)/Tests/Fixtures/v1/step-000000025.h5"

  func testTheVersion1FixtureLoadsWithEveryValue() throws {
    let file = try CheckpointFile.read(Self.fixture)
    XCTAssertEqual(file.formatVersion, 1)
    let c = file.checkpoint
    XCTAssertEqual(c.nnbatchVersion, "0.1.0")
    XCTAssertEqual(c.counters.step, 25)
    XCTAssertEqual(c.counters.epoch, 1)
    XCTAssertEqual(c.counters.batchInEpoch, 10)
    XCTAssertEqual(c.counters.samplesSeen, 800)
    XCTAssertEqual(c.counters.epochSamples, 320)
    XCTAssertEqual(c.counters.best?.epoch, 1)
    XCTAssertEqual(c.counters.best?.staleEpochs, 0)
    XCTAssertEqual(
      c.architecture,
      try Architecture(
        input: [4],
        layers: [
          Dense.Spec(units: 32, activation: .relu), Dense.Spec(units: 16, activation: .relu),
          Dense.Spec(units: 3, activation: .softmax),
        ]))
    XCTAssertEqual(c.optimizer.settings, OptimizerSettings(kind: .adam, learningRate: 0.01))
    XCTAssertEqual(c.optimizer.step, 25)
    XCTAssertEqual(c.lossHistory.count, 25)
    XCTAssertEqual(c.epochHistory.trainLoss.count, 1)
    XCTAssertEqual(c.epochHistory.validationAccuracy.count, 1)
    XCTAssertEqual(c.data.task, .classification)
    XCTAssertEqual(c.data.labels, ["setosa", "versicolor", "virginica"])
    XCTAssertEqual(c.data.features.kind, .standardize)
    XCTAssertEqual(c.data.targets, .identity)
    XCTAssertTrue(c.config.contains("\"name\": \"flowers-v1\""))

    // The values are the file's, read independently with the HDF5 wrapper.
    let raw = try HDF5File.openForReading(path: Self.fixture)
    let root = try raw.root()
    let layer2 = try root.openGroup("model").openGroup("layer_2")
    let tensors = c.architecture.layers[2].parameters
    XCTAssertEqual(try layer2.read(Float.self, name: "weights").values, Array(c.parameters[tensors[0].range]))
    XCTAssertEqual(try layer2.read(Float.self, name: "biases").values, Array(c.parameters[tensors[1].range]))
    let v = try root.openGroup("optimizer").openGroup("v").openGroup("layer_0")
    XCTAssertEqual(
      try v.read(Float.self, name: "weights").values,
      Array(c.optimizer.slots[1][c.architecture.layers[0].parameters[0].range]))
    XCTAssertEqual(try root.openGroup("history").read(Double.self, name: "loss").values, c.lossHistory)
    XCTAssertEqual(try root.openGroup("state").read(UInt64.self, name: "rng").values, c.generator.state)
    XCTAssertEqual(
      try root.openGroup("data").read(Float.self, name: "scale_shift").values, c.data.features.shift)
    XCTAssertEqual(try root.openGroup("state").doubleAttribute("best_metric"), c.counters.best?.value)
    try raw.close()
  }

  func testVersion1RewrittenAsVersion2IsTheSameCheckpoint() throws {
    let dir = TemporaryDirectory()
    let v1 = try Checkpoint.read(from: Self.fixture)
    try v1.write(to: dir.file("v2.h5"))
    let v2 = try CheckpointFile.read(dir.file("v2.h5"))
    XCTAssertEqual(v2.formatVersion, 2)
    XCTAssertEqual(v2.checkpoint, v1)
    XCTAssertEqual(v2.checkpoint.bitwiseDifferences(from: v1), [])
  }

  func testAnEditedVersion1FileFailsItsChecksum() throws {
    let dir = TemporaryDirectory()
    let file = try HDF5File.openForReading(path: Self.fixture)
    var tree = try file.readNode()
    try file.close()
    tree.groups["optimizer"]?.attributes["learning_rate"] = .real(0.02)
    // Resealed, so only the version 1 content checksum can notice.
    try FileSystem.writeOutput(dir.file("edited.h5"), bytes: Checkpoint.fileImage(tree, name: "edited.h5"))
    XCTAssertThrowsError(try Checkpoint.read(from: dir.file("edited.h5"))) { error in
      XCTAssertTrue("\(error)".contains("content checksum mismatch"), "\(error)")
    }
    // An unedited tree written the same way still verifies.
    tree.groups["optimizer"]?.attributes["learning_rate"] = .real(0.01)
    try FileSystem.writeOutput(dir.file("same.h5"), bytes: Checkpoint.fileImage(tree, name: "same.h5"))
    XCTAssertEqual(try Checkpoint.read(from: dir.file("same.h5")), try Checkpoint.read(from: Self.fixture))
  }

  func testADamagedVersion1FileIsRejected() throws {
    let dir = TemporaryDirectory()
    let copy = dir.file("copy.h5")
    try FileManager.default.copyItem(atPath: Self.fixture, toPath: copy)
    try flipBit(copy, offset: fileSize(copy) / 2, bit: 3)
    XCTAssertThrowsError(try Checkpoint.read(from: copy)) { error in
      XCTAssertTrue("\(error)".contains("damaged"), "\(error)")
    }
  }
}
