import Foundation
import NNBatchKit
import TestSupport
import XCTest

/// The Keras-like example of the DocC article, compiled and run; its text must stay the article's.
final class KerasStyleExampleTests: XCTestCase {
  static let article = "\(repositoryRoot)/Sources/NNBatchKit/NNBatchKit.docc/KerasStyleExample.md"

  /// Three bands of points, labelled by band: a training, a validation and a test set.
  static func split() -> (train: [[Float]], trainLabels: [String], valid: [[Float]], validLabels: [String]) {
    let (inputs, labels) = StringLabelsTests.bands()
    let train = inputs.indices.filter { $0 % 5 != 0 }
    let valid = inputs.indices.filter { $0 % 5 == 0 }
    return (
      train.map { inputs[$0] }, train.map { labels[$0] }, valid.map { inputs[$0] }, valid.map { labels[$0] }
    )
  }

  func testTheArticleExampleTrainsWithEarlyStoppingEvaluatesPredictsAndExports() throws {
    let temporary = TemporaryDirectory()
    let folder = temporary.path
    let (x, y, xValid, yValid) = Self.split()
    // snippet-begin
    var data = TrainingData.inline(inputs: x, labels: y)  // y: a class name per row
    data.scaling = .standardize
    data.validation = ValidationData(.inline(inputs: xValid, labels: yValid))
    let config = try TrainingConfig(
      name: "bands", data: data,
      model: Model(layers: [.dense(16, activation: .relu), .dropout(0.1), .dense(3, activation: .softmax)]),
      loss: .crossEntropy, optimizer: .adam(learningRate: 0.01), epochs: 500, batchSize: 16,
      earlyStopping: EarlyStopping(monitor: "val_loss", patience: 5, minDelta: 1e-4))
    let model = try config.train()  // no checkpoint folder: nothing is left on disk
    let history = model.history
    print("\(history.epochs.count) epochs, best val_loss \(history.metric("val_loss")?.min() ?? .nan)")
    let scores = try model.evaluate(inputs: xValid, labels: yValid)
    print("accuracy \(scores.metrics["accuracy"] ?? .nan), macro F1 \(scores.metrics["f1_macro"] ?? .nan)")
    let probabilities = try model.predict(xValid)  // one row per sample, in model.classLabels order
    let classes = try model.classify(xValid)  // the class names: ["B", "a", ...]
    try model.export(to: folder + "/bands.onnx", format: .onnx)
    // snippet-end
    XCTAssertLessThan(history.epochs.count, 500, "early stopping ended the run")
    XCTAssertEqual(history.metric("val_loss")?.count, history.epochs.count)
    XCTAssertGreaterThanOrEqual(scores.metrics["accuracy"] ?? 0, 0.9)
    XCTAssertEqual(probabilities.count, xValid.count)
    XCTAssertEqual(probabilities.first?.count, 3)
    XCTAssertEqual(classes.count, xValid.count)
    XCTAssertEqual(model.classLabels, ["B", "a", "é"])
    XCTAssertGreaterThan(fileSize(folder + "/bands.onnx"), 0)
  }

  func testTheArticleShowsExactlyTheCodeThatTheTestRuns() throws {
    let tested = try ArticleSnippet.assertShown(in: Self.article, testFile: #filePath)
    XCTAssertEqual(tested.count, 16, "the line count the article states")
    let article = try String(contentsOfFile: Self.article, encoding: .utf8)
    XCTAssertTrue(article.contains("\(tested.count) lines"), "the article states its line count")
  }
}
