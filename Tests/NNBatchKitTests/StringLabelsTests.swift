import Foundation
import NNBatchKit
import TestSupport
import XCTest

/// A classifier's labels given as text: classes numbered as for a CSV file, saved, given back by predictions.
final class StringLabelsTests: XCTestCase {
  /// Points in three bands of x, labelled by band with labels whose code-point order is not their band order.
  static func bands() -> (inputs: [[Float]], labels: [String]) {
    let names = ["é", "B", "a"]  // code-point order: "B" (U+0042), "a" (U+0061), "é" (U+00E9)
    var inputs: [[Float]] = []
    var labels: [String] = []
    for i in 0..<90 {
      let band = i % 3
      inputs.append([Float(band) + Float(i % 7) / 10, Float(i % 5) / 5])
      labels.append(names[band])
    }
    return (inputs, labels)
  }

  private func config(_ data: TrainingData) throws -> TrainingConfig {
    try TrainingConfig(
      name: "bands", data: data,
      model: Model(layers: [.dense(16, activation: .relu), .dense(3, activation: .softmax)]),
      loss: .crossEntropy, optimizer: .adam(learningRate: 0.05), epochs: 60, batchSize: 30)
  }

  func testTextLabelsTrainPredictAndEvaluateByName() throws {
    let (inputs, labels) = Self.bands()
    var data = TrainingData.inline(inputs: inputs, labels: labels)
    data.scaling = .standardize
    let model = try config(data).train(threads: 2)
    XCTAssertEqual(model.classLabels, ["B", "a", "é"])
    let predicted = try model.classify(inputs)
    let correct = zip(predicted, labels).filter { $0 == $1 }.count
    XCTAssertGreaterThanOrEqual(correct, 85, "\(predicted)")
    XCTAssertEqual(try model.classify(.inline(inputs: inputs, labels: labels)), predicted)
    let evaluation = try model.evaluate(inputs: inputs, labels: labels)
    XCTAssertEqual(evaluation.samples, 90)
    XCTAssertEqual(evaluation.metrics["accuracy"] ?? 0, Double(correct) / 90, accuracy: 1e-9)
    XCTAssertEqual(evaluation.confusionMatrix.map { $0.reduce(0, +) }, [30, 30, 30])
    // A label the model never saw is refused by name.
    XCTAssertThrowsError(try model.evaluate(inputs: [[0, 0]], labels: ["c"])) { error in
      XCTAssertTrue("\(error)".contains(#"label "c" does not occur in the training data"#), "\(error)")
    }
  }

  /// The same labels in a CSV file give the same classes, in the same order, and the same model.
  func testClassesAreNumberedAsForACSVFile() throws {
    let dir = TemporaryDirectory()
    let (inputs, labels) = Self.bands()
    var csv = "x,y,label\n"
    for (row, label) in zip(inputs, labels) { csv += "\(row[0]),\(row[1]),\(label)\n" }
    let fromCSV = try config(.csv(path: dir.write("bands.csv", csv), target: "label")).train(threads: 1)
    let inMemory = try config(.inline(inputs: inputs, labels: labels)).train(threads: 1)
    XCTAssertEqual(fromCSV.classLabels, inMemory.classLabels)
    XCTAssertEqual(
      try fromCSV.predict(inputs), try inMemory.predict(inputs), "the same samples, the same bits")
    // Numbers as text sort numerically, as in CSV files.
    let numeric = try config(
      .inline(inputs: inputs, labels: labels.map { ["é": "10", "B": "9", "a": "100"][$0] ?? "" })
    )
    .train(threads: 1, epochs: 1)
    XCTAssertEqual(numeric.classLabels, ["9", "10", "100"])
  }
}
