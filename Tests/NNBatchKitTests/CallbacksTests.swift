import Checkpoints
import Foundation
import NNBatchKit
import TestSupport
import XCTest

/// train's history, and callbacks that stop a run or set its learning rate (saved for resume).
final class CallbacksTests: XCTestCase {
  static let article = "\(repositoryRoot)/Sources/NNBatchKit/NNBatchKit.docc/HistoryAndCallbacks.md"

  private func lineConfig(_ directory: String, epochs: Int = 6, every: Int? = nil) throws -> TrainingConfig {
    var data = TrainingData.inline(
      inputs: (0..<40).map { [Float($0) / 40] }, targets: (0..<40).map { [Float($0) / 20 + 1] })
    data.validationSplit = 0.25
    return try TrainingConfig(
      name: "line", seed: 3, data: data, model: Model(layers: [.dense(8, activation: .tanh), .dense(1)]),
      loss: .mse, optimizer: .sgd(learningRate: 0.05), epochs: epochs, batchSize: 8,
      checkpointDirectory: directory, checkpointEveryEpochs: every)
  }

  func testTheHistoryIsTheCheckpointsPerEpochSeriesWithEveryValidationMetric() throws {
    let dir = TemporaryDirectory()
    let model = try lineConfig(dir.file("ck"), epochs: 5).train(threads: 1)
    let stored = try Checkpoint.read(from: dir.file("ck/step-000000020.h5")).epochHistory
    XCTAssertEqual(model.history.epochs.map(\.epoch), [1, 2, 3, 4, 5])
    XCTAssertEqual(model.history.epochs.map(\.step), [4, 8, 12, 16, 20])
    XCTAssertEqual(model.history.loss.map(\.bitPattern), stored.trainLoss.map(\.bitPattern))
    XCTAssertEqual(model.history.learningRate, [0.05, 0.05, 0.05, 0.05, 0.05])
    XCTAssertEqual(
      model.history.metric("val_loss")?.map(\.bitPattern), stored.validationLoss.map(\.bitPattern))
    XCTAssertEqual(model.history.metric("val_r2")?.map(\.bitPattern), stored.validationR2.map(\.bitPattern))
    XCTAssertEqual(model.history.metric("loss"), model.history.loss)
    XCTAssertEqual(model.history.metricNames, ["loss", "learning_rate", "val_loss", "val_mae", "val_r2"])
    XCTAssertNil(model.history.metric("val_accuracy"), "a regression has no accuracy")
    XCTAssertEqual(try TrainedModel(checkpoint: dir.file("ck")).history, History(), "a loaded model has none")
    // A resumed call's history holds its own epochs, numbered as the run counts them.
    let resumed = try lineConfig(dir.file("ck"), epochs: 5).train(threads: 1, epochs: 7, resume: true)
    XCTAssertEqual(resumed.history.epochs.map(\.epoch), [6, 7])
  }

  func testACallbackStopsTheRunAfterItsEpochWithACheckpoint() throws {
    let dir = TemporaryDirectory()
    let stop = EpochCallback { $0.epoch == 3 ? .stop : .continue }
    let model = try lineConfig(dir.file("ck"), epochs: 10).train(threads: 1, callbacks: [stop])
    XCTAssertEqual(model.epoch, 3)
    XCTAssertEqual(model.step, 12)
    XCTAssertEqual(model.history.epochs.count, 3)
    XCTAssertTrue(FileManager.default.fileExists(atPath: dir.file("ck/step-000000012.h5")))
  }

  func testALearningRateSetByACallbackIsSavedAndAResumeIsBitIdentical() throws {
    let dir = TemporaryDirectory()
    let halveAtTwo = EpochCallback { $0.epoch == 2 ? .setLearningRate($0.learningRate / 2) : .continue }
    let whole = try lineConfig(dir.file("whole"), every: 1).train(threads: 1, callbacks: [halveAtTwo])
    XCTAssertEqual(whole.history.learningRate, [0.05, 0.05, 0.025, 0.025, 0.025, 0.025])
    // Stopped after epoch 3, resumed without the callback: the rate it set comes from the checkpoint.
    _ = try lineConfig(dir.file("split"), every: 1).train(threads: 2, epochs: 3, callbacks: [halveAtTwo])
    let third = try Checkpoint.read(from: dir.file("split/step-000000012.h5"))
    XCTAssertEqual(third.counters.learningRate, 0.025)
    XCTAssertEqual(
      third.requirements, [Checkpoint.memoryDataRequirement, Checkpoint.learningRateOverrideRequirement])
    let first = try Checkpoint.read(from: dir.file("split/step-000000004.h5"))
    XCTAssertNil(first.counters.learningRate, "nothing set yet: the file is as before")
    XCTAssertEqual(first.requirements, [Checkpoint.memoryDataRequirement])
    let resumed = try lineConfig(dir.file("split"), every: 1).train(threads: 1, resume: true)
    XCTAssertEqual(resumed.history.learningRate, [0.025, 0.025, 0.025])
    let a = try Checkpoint.read(from: dir.file("whole/step-000000024.h5"))
    let b = try Checkpoint.read(from: dir.file("split/step-000000024.h5"))
    XCTAssertEqual(a.parameters.map(\.bitPattern), b.parameters.map(\.bitPattern))
    XCTAssertEqual(a.lossHistory.map(\.bitPattern), b.lossHistory.map(\.bitPattern))
    XCTAssertEqual(a.counters, b.counters)
  }

  func testANonPositiveLearningRateFromACallbackIsRefusedNamingTheEpoch() throws {
    let dir = TemporaryDirectory()
    let zero = EpochCallback { _ in .setLearningRate(0) }
    XCTAssertThrowsError(try lineConfig(dir.file("ck")).train(threads: 1, callbacks: [zero])) { error in
      let error = error as? NNBatchKitError
      XCTAssertEqual(error?.kind, .usage)
      XCTAssertEqual(
        error?.description, "callback after epoch 1: expected a positive finite learning rate, found 0.0")
    }
  }

  func testTheArticleExampleCompilesUnderStrictConcurrencyAndRuns() throws {
    let temporary = TemporaryDirectory()
    let directory = temporary.file("line")
    let config = try lineConfig(directory, epochs: 40)
    // snippet-begin
    // State lives in the callback value, which the trainer owns: no lock, no shared variable.
    struct HalveOnPlateau: Callback {
      var best = Double.infinity
      var stale = 0
      mutating func epochEnded(_ snapshot: TrainingSnapshot) -> CallbackDecision {
        let loss = snapshot.validation["val_loss"] ?? snapshot.loss
        if loss < best {
          (best, stale) = (loss, 0)
          return .continue
        }
        stale += 1
        return stale % 2 == 0 ? .setLearningRate(snapshot.learningRate / 2) : .continue
      }
    }
    let stopWhenClose = EpochCallback { ($0.validation["val_mae"] ?? 1) < 0.05 ? .stop : .continue }
    let model = try config.train(callbacks: [HalveOnPlateau(), stopWhenClose])
    for record in model.history.epochs {
      print(record.epoch, record.loss, record.validation["val_loss"] ?? .nan, record.learningRate)
    }
    let valLoss = model.history.metric("val_loss") ?? []
    // snippet-end
    XCTAssertEqual(valLoss.count, model.history.epochs.count)
    XCTAssertEqual(model.epoch, model.history.epochs.count)
    XCTAssertLessThanOrEqual(model.epoch, 40)
    let last = try XCTUnwrap(model.history.epochs.last)
    XCTAssertTrue(last.epoch == 40 || (last.validation["val_mae"] ?? 1) < 0.05, "stopped only when close")
  }

  func testTheArticleShowsExactlyTheCodeThatTheTestRuns() throws {
    try ArticleSnippet.assertShown(in: Self.article, block: .last, testFile: #filePath)
  }
}
