import Checkpoints
import Foundation
import NNBatchData
import NNBatchKit
import TestSupport
import XCTest

/// In-memory samples are named by fingerprint and shape in configs and checkpoints, never copied
/// into them; a resume takes them again and refuses other samples.
final class InMemoryDataTests: XCTestCase {
  /// 400 8×8 "images" in two classes (which half is brighter), from a fixed generator.
  static func images(count: Int = 400, seed: UInt64 = 7) -> (inputs: [[Float]], targets: [[Float]]) {
    var state = seed
    func next() -> Float {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return Float(state >> 40) / Float(1 << 24)
    }
    var inputs: [[Float]] = []
    var targets: [[Float]] = []
    for i in 0..<count {
      let upper = i % 2 == 0
      inputs.append((0..<64).map { p in next() * 0.5 + ((p < 32) == upper ? 0.5 : 0) })
      targets.append([upper ? 1 : 0])
    }
    return (inputs, targets)
  }

  private func config(_ data: TrainingData, directory: String?, epochs: Int = 4) throws -> TrainingConfig {
    try TrainingConfig(
      name: "memory", data: data,
      model: Model(layers: [.dense(8, activation: .relu), .dense(2, activation: .softmax)]),
      loss: .crossEntropy, optimizer: .adam(learningRate: 0.01), epochs: epochs, batchSize: 32,
      checkpointDirectory: directory)
  }

  private func newestFile(_ directory: String) throws -> String {
    let names = try FileManager.default.contentsOfDirectory(atPath: directory).filter {
      $0.hasPrefix("step-")
    }
    return "\(directory)/\(try XCTUnwrap(names.sorted().last))"
  }

  func testCheckpointsKeepTheFingerprintAndShapeNeverTheSamples() throws {
    let dir = TemporaryDirectory()
    let (inputs, targets) = Self.images()
    _ = try config(.inline(inputs: inputs, targets: targets), directory: dir.file("ck")).train(threads: 2)
    let file = try newestFile(dir.file("ck"))
    let checkpoint = try Checkpoint.read(from: file)
    let expected = MemoryData(
      rows: 400, features: 64, inputs: inputs.flatMap { $0 }, targets: .values(targets.flatMap { $0 }))
    // Before: the samples as JSON, 282,000 characters of config in every file.
    XCTAssertLessThan(checkpoint.config.utf8.count, 1000, checkpoint.config)
    XCTAssertTrue(
      checkpoint.config.contains(
        #"{"source": "memory", "fingerprint": "\#(expected.fingerprint)", "rows": 400, "features": 64, "target_columns": 1, "labels": false}"#
      ), checkpoint.config)
    XCTAssertEqual(
      checkpoint.data.memory,
      InMemoryDataFacts(fingerprint: expected.fingerprint, rows: 400, features: 64, targetColumns: 1))
    XCTAssertEqual(checkpoint.requirements, ["memory_data"])
    XCTAssertLessThan(fileSize(file), 60_000, "no copy of the 400×64 samples (102 KB as float32)")
  }

  func testTheFingerprintCoversEveryValueAndTheShape() {
    let base = MemoryData(rows: 2, features: 2, inputs: [1, 2, 3, 4], targets: .values([0, 1]))
    let others = [
      MemoryData(rows: 2, features: 2, inputs: [1, 2, 3, 5], targets: .values([0, 1])),
      MemoryData(rows: 2, features: 2, inputs: [1, 2, 3, 4], targets: .values([1, 1])),
      MemoryData(rows: 1, features: 4, inputs: [1, 2, 3, 4], targets: .values([0, 1])),
      MemoryData(rows: 2, features: 2, inputs: [1, 2, 3, 4], targets: .labels(["0", "1"])),
      MemoryData(rows: 2, features: 2, inputs: [1, 2, 3, 4], targets: .labels(["01", ""])),
    ]
    XCTAssertTrue(base.fingerprint.hasPrefix("xxh64:"))
    XCTAssertEqual(base.fingerprint.count, 22)
    let all = [base] + others
    XCTAssertEqual(Set(all.map(\.fingerprint)).count, all.count)
    XCTAssertEqual(
      MemoryData(rows: 2, features: 2, inputs: [1, 2, 3, 4], targets: .values([0, 1])).fingerprint,
      base.fingerprint)
  }

  func testResumingWithTheSameSamplesIsBitIdenticalAndOtherSamplesAreRefused() throws {
    let dir = TemporaryDirectory()
    let (inputs, targets) = Self.images()
    let data = TrainingData.inline(inputs: inputs, targets: targets)
    _ = try config(data, directory: dir.file("whole")).train(threads: 2)
    _ = try config(data, directory: dir.file("parts")).train(threads: 1, epochs: 2)
    // A config built again from the same samples resumes.
    let resumed = try config(.inline(inputs: inputs, targets: targets), directory: dir.file("parts"))
      .train(threads: 2, resume: true)
    XCTAssertEqual(resumed.epoch, 4)
    let whole = try Checkpoint.read(from: try newestFile(dir.file("whole")))
    let parts = try Checkpoint.read(from: try newestFile(dir.file("parts")))
    XCTAssertEqual(parts.counters.step, whole.counters.step)
    XCTAssertEqual(parts.parameters.map(\.bitPattern), whole.parameters.map(\.bitPattern))
    XCTAssertEqual(parts.lossHistory, whole.lossHistory)

    // So does the checkpoint's own config, given the samples again.
    _ = try config(data, directory: dir.file("again")).train(threads: 1, epochs: 2)
    let saved = try TrainedModel(checkpoint: dir.file("again")).config
    XCTAssertThrowsError(try saved.train(threads: 1, checkpointDirectory: dir.file("again"), resume: true)) {
      error in
      XCTAssertTrue("\(error)".contains("not in this process"), "\(error)")
    }
    let again = try saved.replacingData(data).train(
      threads: 2, checkpointDirectory: dir.file("again"), resume: true)
    XCTAssertEqual(again.epoch, 4)
    let againFile = try Checkpoint.read(from: try newestFile(dir.file("again")))
    XCTAssertEqual(againFile.parameters.map(\.bitPattern), whole.parameters.map(\.bitPattern))

    // One value changed: refused, naming both fingerprints; the checkpoints are untouched.
    var changed = inputs
    changed[17][3] += 0.25
    let other = TrainingData.inline(inputs: changed, targets: targets)
    let before = try FileManager.default.contentsOfDirectory(atPath: dir.file("parts")).sorted()
    let old = MemoryData(
      rows: 400, features: 64, inputs: inputs.flatMap { $0 }, targets: .values(targets.flatMap { $0 }))
    let new = MemoryData(
      rows: 400, features: 64, inputs: changed.flatMap { $0 }, targets: .values(targets.flatMap { $0 }))
    XCTAssertThrowsError(
      try config(other, directory: dir.file("parts"), epochs: 6).train(threads: 1, resume: true)
    ) {
      error in
      guard let error = error as? NNBatchKitError else { return XCTFail("\(error)") }
      XCTAssertEqual(error.kind, .usage)
      XCTAssertTrue(
        error.description.contains(
          "$.data: the in-memory samples differ from the ones the checkpoint was trained on (fingerprint \(old.fingerprint), now \(new.fingerprint)); resume with the same samples"
        ), error.description)
    }
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.file("parts")).sorted(), before)
  }

  /// The command line cannot train from samples it does not have; every other command works on such a checkpoint.
  func testTheCommandLineReadsSuchACheckpointAndSaysWhatTrainingNeeds() throws {
    let dir = TemporaryDirectory()
    let (inputs, targets) = Self.images(count: 64)
    let model = try config(.inline(inputs: inputs, targets: targets), directory: dir.file("ck"), epochs: 2)
      .train(threads: 1)
    let file = try newestFile(dir.file("ck"))

    let configFile = dir.write("config.json", model.config.json)
    let resume = try nnbatch(["train", "--config", configFile, "--resume", dir.file("ck")])
    XCTAssertEqual(resume.status, 2, resume.stderr)
    XCTAssertTrue(resume.stderr.contains("in-memory data xxh64:"), resume.stderr)
    XCTAssertTrue(resume.stderr.contains("not in this process"), resume.stderr)

    let inspect = try nnbatch(["inspect", file])
    XCTAssertEqual(inspect.status, 0, inspect.stderr)
    XCTAssertTrue(inspect.stdout.contains(#""source": "memory", "fingerprint": "xxh64:"#), inspect.stdout)

    let evaluate = try nnbatch(["evaluate", "--checkpoint", file])
    XCTAssertEqual(evaluate.status, 2, evaluate.stderr)
    XCTAssertTrue(evaluate.stderr.contains("evaluate --data CONFIG.json"), evaluate.stderr)

    var csv = (0..<64).map { "f\($0)" }.joined(separator: ",") + ",label\n"
    for (row, target) in zip(inputs, targets) {
      csv += row.map { "\($0)" }.joined(separator: ",") + ",\(Int(target[0]))\n"
    }
    let data = dir.write("data.csv", csv)
    let plain = try nnbatch(["evaluate", "--checkpoint", file, "--data", data])
    XCTAssertEqual(plain.status, 2, plain.stderr)
    XCTAssertTrue(
      plain.stderr.contains("pass a config (.json) whose data section describes it"), plain.stderr)
    let described = dir.write(
      "csv.json", try model.config.replacingData(.csv(path: data, target: "label")).json)
    let withData = try nnbatch(["evaluate", "--checkpoint", file, "--data", described])
    XCTAssertEqual(withData.status, 0, withData.stderr)
    XCTAssertTrue(withData.stdout.contains("accuracy"), withData.stdout)

    let inputsOnly = dir.write(
      "inputs.csv",
      inputs.map { row in row.map { "\($0)" }.joined(separator: ",") }.joined(separator: "\n") + "\n")
    let predict = try nnbatch(["predict", "--checkpoint", file, "--input", inputsOnly])
    XCTAssertEqual(predict.status, 0, predict.stderr)
    XCTAssertEqual(predict.stdout.split(separator: "\n").count, 65, "a header and one line per sample")

    let export = try nnbatch(["export", file, "--format", "onnx", "-o", dir.file("m.onnx")])
    XCTAssertEqual(export.status, 0, export.stderr)
    XCTAssertGreaterThan(fileSize(dir.file("m.onnx")), 0)
    XCTAssertEqual(try model.predict(inputs).count, 64)
  }

  /// Samples that cannot be a data set are a usage error naming the row, as the config parser names them.
  func testSamplesThatCannotBeADataSetAreRefusedNamingTheRow() throws {
    let cases: [(TrainingData, String)] = [
      (
        .inline(inputs: [[1, 2], [3]], targets: [[0], [1]]),
        "$.data.inputs[1]: expected a row of 2 numbers (as row 0), found 1"
      ),
      (
        .inline(inputs: [[1], [2]], targets: [[0]]),
        "$.data.targets: expected 2 targets (one per input row), found 1"
      ),
      (.inline(inputs: [], targets: []), "$.data.inputs: expected at least one sample, found none"),
      (
        .inline(inputs: [[1], [.nan]], targets: [[0], [1]]),
        "$.data.inputs[1][0]: expected a finite number, found nan"
      ),
      (
        .inline(inputs: [[1], [2]], targets: [[0], [.infinity]]),
        "$.data.targets[1][0]: expected a finite number, found inf"
      ),
      (
        .inline(inputs: [[1], [2]], labels: ["a"]),
        "$.data.labels: expected 2 labels (one per input row), found 1"
      ),
      (
        .inline(inputs: [[1], [2]], labels: ["a", ""]),
        "$.data.labels[1]: expected a class label, found an empty string"
      ),
    ]
    for (data, message) in cases {
      XCTAssertThrowsError(try config(data, directory: nil)) { error in
        XCTAssertEqual((error as? NNBatchKitError)?.kind, .usage)
        XCTAssertEqual("\(error)", "TrainingConfig: \(message)")
      }
    }
    var data = TrainingData.inline(inputs: [[1], [2]], targets: [[0], [1]])
    data.validation = ValidationData(.inline(inputs: [[1], [2, 3]], targets: [[0], [1]]))
    XCTAssertThrowsError(try config(data, directory: nil)) { error in
      XCTAssertEqual(
        "\(error)",
        "TrainingConfig: $.data.validation.inputs[1]: expected a row of 1 numbers (as row 0), found 2")
    }
  }
}
