import Foundation
import NNBatchKit
import TestSupport
import XCTest

/// The typed config covers shape, a validation source, early stopping, keep-best, schedules, clipping, logging.
final class TypedConfigTests: XCTestCase {
  func testACNNWithEverySectionTypedTrainsAsItsSettingsSay() throws {
    let dir = TemporaryDirectory()
    // 4×4 one-channel images given as rows of 16: bright top half is class 1.
    func images(_ count: Int, offset: Int) -> (inputs: [[Float]], targets: [[Float]]) {
      let rows = (0..<count).map { i -> [Float] in
        let bright = (i + offset) % 2 == 0
        return (0..<16).map { p in (p < 8) == bright ? 1 : Float((p * 7 + i) % 5) / 10 }
      }
      return (rows, (0..<count).map { [Float(($0 + offset + 1) % 2)] })
    }
    let train = images(32, offset: 0)
    let held = images(8, offset: 1)
    var data = TrainingData.inline(inputs: train.inputs, targets: train.targets)
    data.shape = [1, 4, 4]
    data.validation = ValidationData(.inline(inputs: held.inputs, targets: held.targets))
    let config = try TrainingConfig(
      name: "cnn", data: data,
      model: Model(layers: [
        .conv2d(filters: 2, kernel: 3, padding: .same, activation: .relu), .flatten,
        .dense(1, activation: .sigmoid),
      ]),
      loss: .binaryCrossEntropy,
      optimizer: .sgd(learningRate: 0.4).schedule(.step(everyEpochs: 1, factor: 0.5)).clipNorm(5),
      epochs: 20, batchSize: 8,
      // No change counts as an improvement: the run stops `patience` epochs after the first.
      earlyStopping: EarlyStopping(monitor: "val_loss", patience: 2, minDelta: 1e9),
      checkpointDirectory: dir.file("ck"), keepBest: true,
      logging: Logging(csv: dir.file("metrics.csv")))
    XCTAssertTrue(config.json.contains("\"clip_norm\": 5"), config.json)
    let model = try config.train(threads: 1)
    XCTAssertEqual(model.inputCount, 16)
    XCTAssertEqual(model.history.epochs.count, 3, "early stopping after patience 2")
    XCTAssertEqual(model.history.learningRate, [0.4, 0.2, 0.1])
    XCTAssertEqual(model.history.metric("val_loss")?.count, 3, "the validation source is measured")
    XCTAssertTrue(FileManager.default.fileExists(atPath: dir.file("ck/best.h5")))
    let csv = try String(contentsOfFile: dir.file("metrics.csv"), encoding: .utf8)
    XCTAssertEqual(csv.split(separator: "\n").count, 4, csv)  // header and three epochs
  }

  func testTypedSettingsAreCheckedByTheConfigParser() throws {
    XCTAssertThrowsError(
      try TrainingConfig(
        name: "x", data: .inline(inputs: [[1]], targets: [[1]]), model: Model(layers: [.dense(1)]),
        loss: .mse,
        optimizer: .sgd(learningRate: 0.1).schedule(.exponential(gamma: 2)), epochs: 1,
        checkpointDirectory: "ck")
    ) { error in
      XCTAssertTrue("\(error)".contains("$.optimizer.schedule.gamma"), "\(error)")
    }
    XCTAssertThrowsError(
      try TrainingConfig(
        name: "x", data: .inline(inputs: [[1]], targets: [[1]]), model: Model(layers: [.dense(1)]),
        loss: .mse,
        optimizer: .sgd(learningRate: 0.1), epochs: 1, earlyStopping: EarlyStopping(patience: 0),
        checkpointDirectory: "ck")
    ) { error in
      XCTAssertTrue("\(error)".contains("$.training.early_stopping.patience"), "\(error)")
    }
  }
}
