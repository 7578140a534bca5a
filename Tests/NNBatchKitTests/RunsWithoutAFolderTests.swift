import Foundation
import NNBatchKit
import Synchronization
import TestSupport
import XCTest

/// A config without a checkpoint folder: each run writes to a temporary folder it removes, and the model it returns still works.
final class RunsWithoutAFolderTests: XCTestCase {
  private static func temporaryFolders() throws -> Set<String> {
    Set(
      try FileManager.default.contentsOfDirectory(atPath: FileManager.default.temporaryDirectory.path)
        .filter { $0.hasPrefix("nnbatchkit-") })
  }

  func testAFitWithoutAFolderLeavesNoFilesAndItsModelEvaluatesPredictsExportsAndSaves() throws {
    let dir = TemporaryDirectory()
    let (inputs, labels) = StringLabelsTests.bands()
    let name = "no-folder-\(UUID().uuidString)"
    let config = try TrainingConfig(
      name: name, data: .inline(inputs: inputs, labels: labels),
      model: Model(layers: [.dense(8, activation: .relu), .dense(3, activation: .softmax)]),
      loss: .crossEntropy, optimizer: .adam(learningRate: 0.05), epochs: 5, batchSize: 30)
    XCTAssertNil(config.checkpointDirectory)
    XCTAssertFalse(config.json.contains("\"dir\""), config.json)
    let before = try Self.temporaryFolders()
    let during = Mutex<Set<String>>([])
    let model = try config.train(threads: 1) { event in
      if case .epoch = event, let now = try? Self.temporaryFolders() { during.withLock { $0 = now } }
    }
    let used = during.withLock { $0 }.subtracting(before)
    XCTAssertEqual(used.count, 1, "the run wrote to a temporary folder of its own")
    XCTAssertEqual(try Self.temporaryFolders(), before, "the run's temporary folder is gone")
    XCTAssertFalse(FileManager.default.fileExists(atPath: "checkpoints/\(name)"))
    XCTAssertEqual(model.epoch, 5)
    XCTAssertEqual(model.history.loss.count, 5)
    XCTAssertEqual(try model.classify(inputs).count, 90)
    XCTAssertEqual(try model.evaluate(inputs: inputs, labels: labels).samples, 90)
    try model.export(to: dir.file("m.onnx"), format: .onnx)
    XCTAssertGreaterThan(fileSize(dir.file("m.onnx")), 0)
    // Asked for, the model is saved like any checkpoint, and reads back as the same model.
    try model.save(to: dir.file("m.h5"))
    XCTAssertEqual(try TrainedModel(checkpoint: dir.file("m.h5")).predict(inputs), try model.predict(inputs))
    // A resume has nothing to resume from.
    XCTAssertThrowsError(try config.train(resume: true)) { error in
      XCTAssertTrue("\(error)".contains("the config names no checkpoint folder"), "\(error)")
    }
    // Given a folder, the same config writes there.
    _ = try config.train(threads: 1, checkpointDirectory: dir.file("ck"))
    XCTAssertTrue(FileManager.default.fileExists(atPath: dir.file("ck/step-000000015.h5")))
  }

  func testTheTemporaryFolderIsRemovedWhenTheRunFails() throws {
    let config = try TrainingConfig(
      name: "fails", data: .inline(inputs: [[0], [1]], targets: [[Float.greatestFiniteMagnitude], [0]]),
      model: Model(layers: [.dense(1)]), loss: .mse, optimizer: .sgd(learningRate: 1e30), epochs: 3,
      batchSize: 2)
    let before = try Self.temporaryFolders()
    XCTAssertThrowsError(try config.train(threads: 1))
    XCTAssertEqual(try Self.temporaryFolders(), before)
  }
}
