import Foundation
import NNBatchKit
import TestSupport
import XCTest

/// The DocC article's example, compiled and run; its text must stay the article's.
final class GettingStartedTests: XCTestCase {
  static let article = "\(repositoryRoot)/Sources/NNBatchKit/NNBatchKit.docc/GettingStarted.md"

  func testTheArticleExampleTrainsSavesLoadsAndPredictsXOR() throws {
    let temporary = TemporaryDirectory()
    let directory = temporary.file("xor")
    // snippet-begin
    let inputs: [[Float]] = [[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]]
    let config = try TrainingConfig(
      name: "xor", data: .inline(inputs: inputs, targets: [[0], [1], [1], [0]]),
      model: Model(
        layers: [.dense(4, activation: .sigmoid), .dense(1, activation: .sigmoid)],
        initializer: .uniform01, bias: false),
      loss: .sse, optimizer: .sgd(learningRate: 1), epochs: 1500, batchSize: 4,
      checkpointDirectory: directory)
    let trained = try config.train { event in
      if case .epoch(let e) = event, e.epoch % 500 == 0 { print("epoch \(e.epoch): \(e.trainLoss)") }
    }
    try trained.save(to: directory + "/xor.h5")
    let model = try TrainedModel(checkpoint: directory + "/xor.h5")
    let outputs = try model.predict(inputs)  // [[0.01...], [0.98...], [0.98...], [0.02...]]
    // snippet-end
    XCTAssertEqual(outputs.count, 4)
    for (output, target) in zip(outputs, [0, 1, 1, 0] as [Float]) {
      XCTAssertEqual(output.count, 1)
      XCTAssertEqual(output[0], target, accuracy: 0.1)
    }
    XCTAssertEqual(model.step, 1500)
    XCTAssertEqual(model.lossHistory.count, 1500)
    XCTAssertEqual(try trained.predict(inputs), outputs, "a saved and loaded model predicts the same bits")
    // save(to:) follows the rule for output paths: a symlink's target is replaced, a folder refused.
    XCTAssertEqual(symlink("xor.h5", temporary.file("link.h5")), 0)
    try trained.save(to: temporary.file("link.h5"))
    XCTAssertEqual(fileType(temporary.file("link.h5")), S_IFLNK)
    XCTAssertEqual(try TrainedModel(checkpoint: temporary.file("xor.h5")).step, 1500)
    XCTAssertThrowsError(try trained.save(to: directory)) { error in
      XCTAssertTrue("\(error)".contains("found a directory"), "\(error)")
    }
  }

  func testTheArticleShowsExactlyTheCodeThatTheTestRuns() throws {
    let tested = try ArticleSnippet.assertShown(in: Self.article, testFile: #filePath)
    XCTAssertGreaterThanOrEqual(tested.count, 10)
    XCTAssertLessThanOrEqual(tested.count, 20)
  }
}
