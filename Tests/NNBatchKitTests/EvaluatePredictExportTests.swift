import Export
import Foundation
import NNBatch
import NNBatchKit
import TestSupport
import XCTest

/// evaluate and predict on in-memory data and on sources, and export as `nnbatch export` writes.
final class EvaluatePredictExportTests: XCTestCase {
  private let flowers = "\(repositoryRoot)/configs/data/flowers.csv"

  private func flowerModel(_ dir: TemporaryDirectory) throws -> TrainedModel {
    var data = TrainingData.csv(path: flowers, target: "species")
    data.scaling = .standardize
    data.validationSplit = 0.2
    let config = try TrainingConfig(
      name: "flowers", seed: 7, data: data,
      model: Model(
        layers: [.dense(16, activation: .relu), .dense(3, activation: .softmax)], initializer: .heUniform),
      loss: .crossEntropy, optimizer: .adam(learningRate: 0.01), epochs: 5,
      checkpointDirectory: dir.file("ck"))
    return try config.train(threads: 2)
  }

  private func flowerRows() throws -> (inputs: [[Float]], labels: [String]) {
    let lines = try String(contentsOfFile: flowers, encoding: .utf8)
      .components(separatedBy: .newlines).filter { !$0.isEmpty }.dropFirst()
    let fields = lines.map { $0.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ",") }
    return (fields.map { $0.prefix(4).map { Float(String($0)) ?? .nan } }, fields.map { String($0[4]) })
  }

  func testARegressionsMetricsAreThoseOfItsPredictions() throws {
    let dir = TemporaryDirectory()
    let inputs = (0..<40).map { [Float($0) / 40] }
    let targets = (0..<40).map { [Float($0) / 20 + 1] }
    let model = try TrainingConfig(
      name: "line", seed: 3, data: .inline(inputs: inputs, targets: targets),
      model: Model(layers: [.dense(8, activation: .tanh), .dense(1)]), loss: .mse,
      optimizer: .adam(learningRate: 0.01), epochs: 5, batchSize: 8, checkpointDirectory: dir.file("ck")
    ).train(threads: 1)
    let evaluation = try model.evaluate(inputs: inputs, targets: targets, threads: 2)
    XCTAssertEqual(evaluation.samples, 40)
    XCTAssertEqual(Set(evaluation.metrics.keys), ["loss", "mae", "r2"])
    XCTAssertEqual(evaluation.confusionMatrix, [])
    let outputs = try model.predict(inputs).map { Double($0[0]) }
    let errors = zip(outputs, targets).map { $0 - Double($1[0]) }
    XCTAssertEqual(evaluation.metrics["mae"] ?? .nan, errors.map(abs).reduce(0, +) / 40, accuracy: 1e-5)
    XCTAssertEqual(evaluation.loss, errors.map { $0 * $0 }.reduce(0, +) / 40, accuracy: 1e-5)
    XCTAssertThrowsError(try model.evaluate(inputs: [[1, 2]], targets: [[1]])) { error in
      XCTAssertEqual((error as? NNBatchKitError)?.kind, .usage)
      XCTAssertTrue("\(error)".contains("features"), "\(error)")
    }
  }

  func testAClassifierOnACSVSourceCountsAsItsPredictionsAndPredictReadsTheSource() throws {
    let dir = TemporaryDirectory()
    let model = try flowerModel(dir)
    let (inputs, labels) = try flowerRows()
    let evaluation = try model.evaluate(.csv(path: flowers, target: "species"))
    XCTAssertEqual(evaluation.samples, inputs.count)
    let predicted = try model.classify(inputs)
    let correct = zip(predicted, labels).filter { $0 == $1 }.count
    XCTAssertEqual(
      evaluation.metrics["accuracy"] ?? .nan, Double(correct) / Double(inputs.count), accuracy: 1e-12)
    let matrix = evaluation.confusionMatrix
    XCTAssertEqual(matrix.count, 3)
    XCTAssertEqual(matrix.flatMap { $0 }.reduce(0, +), inputs.count)
    XCTAssertEqual((0..<3).map { matrix[$0][$0] }.reduce(0, +), correct)
    for name in ["loss", "precision_macro", "recall_weighted", "f1_macro"] {
      XCTAssertNotNil(evaluation.metrics[name], name)
    }
    XCTAssertNil(evaluation.metrics["auc"], "three classes have no ROC AUC")
    let fromSource = try model.predict(.csv(path: flowers, target: "species"))
    XCTAssertEqual(fromSource.arrays, try model.predict(inputs))
    XCTAssertThrowsError(try model.evaluate(.csv(path: dir.file("none.csv"), target: "species"))) { error in
      XCTAssertEqual((error as? NNBatchKitError)?.kind, .usage)
      XCTAssertTrue("\(error)".contains("none.csv"), "\(error)")
    }
  }

  func testExportWritesTheBytesOfNNBatchExportAndRefusesAFolder() throws {
    let dir = TemporaryDirectory()
    let model = try flowerModel(dir)
    let saved = try SavedModel.load(dir.file("ck"))
    for (format, cli) in [(ModelFormat.onnx, ExportFormat.onnx), (.keras, .keras)] {
      let path = dir.file("flowers.\(format.rawValue)")
      try model.export(to: path, format: format)
      let written = try XCTUnwrap(FileManager.default.contents(atPath: path))
      XCTAssertEqual([UInt8](written), try ModelExport.encode(saved, format: cli), "\(format)")
    }
    XCTAssertThrowsError(try model.export(to: dir.path, format: .onnx)) { error in
      XCTAssertEqual((error as? NNBatchKitError)?.kind, .usage)
      XCTAssertTrue("\(error)".contains("directory"), "\(error)")
    }
  }
}
