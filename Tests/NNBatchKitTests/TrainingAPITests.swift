import Checkpoints
import Foundation
import NNBatch
import NNBatchKit
import Synchronization
import TestSupport
import XCTest

/// The Swift API trains with the command line's trainer, reports progress and predicts as `nnbatch predict`.
final class TrainingAPITests: XCTestCase {
  private let xorInputs: [[Float]] = [[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]]

  private func xorConfig(_ directory: String, epochs: Int = 60) throws -> TrainingConfig {
    try TrainingConfig(
      name: "xor", data: .inline(inputs: xorInputs, targets: [[0], [1], [1], [0]]),
      model: Model(
        layers: [.dense(4, activation: .sigmoid), .dense(1, activation: .sigmoid)], initializer: .uniform01,
        bias: false),
      loss: .sse, optimizer: .sgd(learningRate: 1), epochs: epochs, batchSize: 4, shuffle: false,
      checkpointDirectory: directory)
  }

  func testTypedConfigTheJSONFileAndTheCommandLineTrainerGiveTheSameBits() throws {
    let dir = TemporaryDirectory()
    let typed = try xorConfig(dir.file("typed")).train(threads: 1)
    let file = try TrainingConfig(contentsOf: "\(repositoryRoot)/configs/xor.json")
    XCTAssertEqual(file.epochs, 1500)
    let fromFile = try file.train(threads: 2, epochs: 60, checkpointDirectory: dir.file("file"))
    var options = TrainOptions(configPath: "\(repositoryRoot)/configs/xor.json", threads: 1)
    options.epochs = 60
    options.checkpointDir = dir.file("cli")
    options.quiet = true
    XCTAssertEqual(try Trainer(options: options, signals: nil).run(), 0)
    let cli = try Checkpoint.read(from: dir.file("cli/step-000000060.h5"))
    let a = try Checkpoint.read(from: dir.file("typed/step-000000060.h5"))
    let b = try Checkpoint.read(from: dir.file("file/step-000000060.h5"))
    XCTAssertEqual(a.parameters.map(\.bitPattern), cli.parameters.map(\.bitPattern))
    XCTAssertEqual(b.parameters.map(\.bitPattern), cli.parameters.map(\.bitPattern))
    XCTAssertEqual(typed.step, 60)
    XCTAssertEqual(fromFile.lossHistory, cli.lossHistory)
    // The typed config is JSON that reads back as the same run, given its in-memory samples again.
    let json = dir.write("typed.json", try xorConfig(dir.file("again")).json)
    let reread = try TrainingConfig(contentsOf: json)
      .replacingData(.inline(inputs: xorInputs, targets: [[0], [1], [1], [0]]))
    XCTAssertEqual(try reread.train(threads: 1).lossHistory, cli.lossHistory)
  }

  func testProgressCallbackAndAsyncSequenceSeeEveryStepAndEpochThenTheModel() async throws {
    let dir = TemporaryDirectory()
    var data = TrainingData.inline(
      inputs: (0..<40).map { [Float($0) / 40] }, targets: (0..<40).map { [Float($0) / 20 + 1] })
    data.validationSplit = 0.25
    let config = try TrainingConfig(
      name: "line", seed: 3, data: data, model: Model(layers: [.dense(8, activation: .tanh), .dense(1)]),
      loss: .mse, optimizer: .adam(learningRate: 0.01), epochs: 5, batchSize: 8,
      checkpointDirectory: dir.file("a"))
    let seen = Mutex<[String]>([])
    let model = try config.train(threads: 1) { event in
      switch event {
      case .step(let s): seen.withLock { $0.append("step \(s.epoch).\(s.batch)/\(s.batches) \(s.step)") }
      case .epoch(let e):
        XCTAssertNotNil(e.validation["val_loss"])
        XCTAssertTrue(e.trainLoss.isFinite)
        seen.withLock { $0.append("epoch \(e.epoch)/\(e.epochs) \(e.step)") }
      case .finished(let m): seen.withLock { $0.append("finished \(m.step)") }
      }
    }
    let events = seen.withLock { $0 }
    // 30 training samples in batches of 8: 4 steps an epoch.
    var expected: [String] = []
    for epoch in 1...5 {
      for batch in 1...4 { expected.append("step \(epoch).\(batch)/4 \((epoch - 1) * 4 + batch)") }
      expected.append("epoch \(epoch)/5 \(epoch * 4)")
    }
    expected.append("finished 20")
    XCTAssertEqual(events, expected)
    XCTAssertEqual(model.step, 20)
    XCTAssertFalse(model.isClassifier)
    XCTAssertEqual(model.classLabels, [])

    var streamed: [String] = []
    var last: TrainedModel?
    for try await event in config.trainingEvents(threads: 2, checkpointDirectory: dir.file("b")) {
      switch event {
      case .step(let s): streamed.append("step \(s.epoch).\(s.batch)/\(s.batches) \(s.step)")
      case .epoch(let e): streamed.append("epoch \(e.epoch)/\(e.epochs) \(e.step)")
      case .finished(let m):
        streamed.append("finished \(m.step)")
        last = m
      }
    }
    XCTAssertEqual(streamed, expected)
    let probe: [[Float]] = [[0.1], [0.5], [0.9]]
    XCTAssertEqual(try XCTUnwrap(last).predict(probe), try model.predict(probe), "threads change no bits")
  }

  func testAFailingRunEndsTheSequenceWithItsError() async throws {
    let dir = TemporaryDirectory()
    let config = try TrainingConfig(
      name: "bad", data: .csv(path: dir.file("missing.csv"), target: "y"), model: Model(layers: [.dense(1)]),
      loss: .mse, optimizer: .sgd(learningRate: 0.1), epochs: 1, checkpointDirectory: dir.file("ck"))
    do {
      for try await _ in config.trainingEvents(threads: 1) {}
      XCTFail("expected an error")
    } catch let error as NNBatchKitError {
      XCTAssertEqual(error.kind, .usage)
      XCTAssertTrue(error.description.contains("missing.csv"), error.description)
    }
  }

  func testConfigMistakesAreTheCommandLinesMessages() throws {
    func message(_ build: () throws(NNBatchKitError) -> TrainingConfig) -> String {
      do {
        _ = try build()
        return "no error"
      } catch {
        XCTAssertEqual(error.kind, .usage)
        return error.description
      }
    }
    let zeroUnits = message { () throws(NNBatchKitError) in
      try TrainingConfig(
        name: "z", data: .inline(inputs: [[1]], targets: [[1]]), model: Model(layers: [.dense(0)]),
        loss: .mse,
        optimizer: .sgd(learningRate: 0.1), epochs: 1, checkpointDirectory: "ck")
    }
    XCTAssertTrue(zeroUnits.contains("$.model.layers[0].units"), zeroUnits)
    let softmaxFirst = message { () throws(NNBatchKitError) in
      try TrainingConfig(
        name: "s", data: .inline(inputs: [[1]], targets: [[1]]),
        model: Model(layers: [.dense(2, activation: .softmax), .dense(1)]), loss: .mse,
        optimizer: .sgd(learningRate: 0.1), epochs: 1, checkpointDirectory: "ck")
    }
    XCTAssertTrue(softmaxFirst.contains("softmax is only allowed on the last layer"), softmaxFirst)
    let json = message { () throws(NNBatchKitError) in
      try TrainingConfig(json: "{\"name\": 1}", file: "x.json")
    }
    XCTAssertTrue(json.hasPrefix("x.json:"), json)
    let missing = message { () throws(NNBatchKitError) in try TrainingConfig(contentsOf: "/nonexistent.json")
    }
    XCTAssertEqual(missing, "/nonexistent.json: no such config file")
  }

  func testPredictMatchesTheCommandLineAndRefusesWrongWidths() throws {
    let dir = TemporaryDirectory()
    let model = try xorConfig(dir.file("ck"), epochs: 200).train(threads: 1)
    let csv = dir.write(
      "in.csv", xorInputs.map { $0.map { "\($0)" }.joined(separator: ",") }.joined(separator: "\n"))
    let printed = try NNBatch.Predict.run(
      checkpoint: dir.file("ck/step-000000200.h5"), input: csv, dataset: nil, header: false)
    let rows = printed.split(separator: "\n").dropFirst().map { Float(String($0)) }
    let predicted = try model.predict(xorInputs).map { $0[0] }
    XCTAssertEqual(rows, predicted.map { Optional($0) })
    let matrix = try model.predict(FloatMatrix(xorInputs))
    XCTAssertEqual(matrix.rows, 4)
    XCTAssertEqual(matrix.columns, 1)
    XCTAssertEqual(matrix.values, predicted)
    XCTAssertEqual(try model.predict([[Float]]()), [])
    do {
      _ = try model.predict([[0, 1, 1], [0, 1]])
      XCTFail("expected an error")
    } catch {
      XCTAssertEqual(error.description, "inputs: sample 2: expected 3 features (the model's inputs), found 2")
    }
    do {
      _ = try model.predict([[0, .nan, 1]])
      XCTFail("expected an error")
    } catch {
      XCTAssertEqual(error.description, "inputs: sample 1, feature 1: expected a finite number, found nan")
    }
  }

  func testAClassifierFromACSVFileLabelsAsTheCommandLineDoes() throws {
    let dir = TemporaryDirectory()
    var data = TrainingData.csv(path: "\(repositoryRoot)/configs/data/flowers.csv", target: "species")
    data.scaling = .standardize
    data.validationSplit = 0.2
    let config = try TrainingConfig(
      name: "flowers", seed: 7, data: data,
      model: Model(
        layers: [.dense(16, activation: .relu), .dense(3, activation: .softmax)], initializer: .heUniform),
      loss: .crossEntropy, optimizer: .adam(learningRate: 0.01), epochs: 5,
      checkpointDirectory: dir.file("ck"))
    let model = try config.train(threads: 2)
    XCTAssertTrue(model.isClassifier)
    XCTAssertEqual(Set(model.classLabels), ["setosa", "versicolor", "virginica"])
    let rows = try String(contentsOfFile: "\(repositoryRoot)/configs/data/flowers.csv", encoding: .utf8)
      .components(separatedBy: .newlines).filter { !$0.isEmpty }.dropFirst().prefix(40)  // CRLF lines
      .map { $0.split(separator: ",").prefix(4).map { Float(String($0)) ?? .nan } }
    let csv = dir.write(
      "in.csv", rows.map { $0.map { "\($0)" }.joined(separator: ",") }.joined(separator: "\n"))
    let printed = try NNBatch.Predict.run(
      checkpoint: dir.file("ck/step-000000075.h5"), input: csv, dataset: nil, header: false)
    let lines = printed.split(separator: "\n").dropFirst()
    XCTAssertEqual(rows.count, 40)
    XCTAssertEqual(lines.count, 40)
    XCTAssertEqual(try model.classify(rows), lines.map { String($0.split(separator: ",")[0]) })
    XCTAssertEqual(
      try model.predict(rows).flatMap { $0 },
      lines.flatMap { $0.split(separator: ",").dropFirst().map { Float(String($0)) } })
    XCTAssertGreaterThanOrEqual(Set(try model.classify(rows)).count, 2, "a trained model tells classes apart")
    let regression = try xorConfig(dir.file("xor"), epochs: 1).train(threads: 1)
    XCTAssertThrowsError(try regression.classify(xorInputs))
  }

  func testThePublicSurfaceHasNoPointersOrBuffers() throws {
    let folder = "\(repositoryRoot)/Sources/NNBatchKit"
    let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".swift") }
    XCTAssertGreaterThan(files.count, 5)
    for file in files {
      let text = try String(contentsOfFile: "\(folder)/\(file)", encoding: .utf8)
      for line in text.split(separator: "\n") where line.contains("public ") {
        for banned in ["Unsafe", "FloatBuffer", "Pointer", "NeuralNet.", " Matrix", "NNBatch.", "SavedModel"]
        {
          XCTAssertFalse(line.contains(banned), "\(file): \(line)")
        }
      }
    }
  }
}
