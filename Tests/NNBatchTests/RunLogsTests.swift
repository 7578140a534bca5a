import Foundation
import HDF5Store
import NNBatchCore
import TensorBoardEvents
import TestSupport
import XCTest

@testable import NNBatch

/// The run's logs one by one: CSV rows, JSON records, TensorBoard event files, failures.
final class RunLogsTests: XCTestCase {
  private func start(step: Int = 0, epoch: Int = 0, resumedFrom: String? = nil) -> RunStart {
    RunStart(
      name: "t", step: step, epoch: epoch, epochs: 4, resumedFrom: resumedFrom, threads: 2,
      trainSamples: 48, validationSamples: 16, parameters: 19, batchesPerEpoch: 3)
  }

  private func report(epoch: Int, loss: Double) -> EpochReport {
    EpochReport(
      epoch: epoch, epochs: 4, step: 3 * epoch, trainLoss: loss,
      validation: ["val_loss": loss + 0.5, "val_accuracy": 1 / Double(epoch + 2)],
      learningRate: 0.01 / Double(epoch), samplesPerSecond: 1000.25, elapsed: Double(epoch))
  }

  func testTimestampsAreISO8601UTCWithMilliseconds() {
    XCTAssertEqual(isoTimestamp(0), "1970-01-01T00:00:00.000Z")
    XCTAssertEqual(isoTimestamp(951_782_400.5), "2000-02-29T00:00:00.500Z")
    let now = wallClockSeconds()
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    let parsed = formatter.date(from: isoTimestamp(now))
    XCTAssertEqual(parsed?.timeIntervalSince1970 ?? 0, now, accuracy: 0.001)
  }

  func testCSVHasOneHeaderAndOneRowPerEpochAndAResumeKeepsRowsUpToItsCheckpoint() throws {
    let dir = TemporaryDirectory()
    let path = dir.file("logs/run.csv")
    let first = CSVLog(path: path)
    try first.start(start())
    for epoch in 1...4 { try first.epoch(report(epoch: epoch, loss: 1 / Double(epoch * 3))) }
    try first.flush()
    var lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
    XCTAssertEqual(
      lines.first, "epoch,step,learning_rate,samples_per_second,train_loss,val_accuracy,val_loss")
    XCTAssertEqual(lines.count, 5)
    // Every value reads back as the same Double.
    let third = lines[3].split(separator: ",").map(String.init)
    XCTAssertEqual(third[0], "3")
    XCTAssertEqual(third[1], "9")
    XCTAssertEqual(Double(third[2]), 0.01 / 3)
    XCTAssertEqual(Double(third[4]), 1 / 9.0)
    XCTAssertEqual(Double(third[5]), 1 / 5.0)
    XCTAssertEqual(Double(third[6]), 1 / 9.0 + 0.5)

    // A run resumed from epoch 2's checkpoint replaces rows 3 and 4, header kept once.
    let resumed = CSVLog(path: path)
    try resumed.start(start(step: 6, epoch: 2, resumedFrom: "ck/step-000000006.h5"))
    XCTAssertEqual(
      try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n"), lines[0...2].map { $0 })
    try resumed.epoch(report(epoch: 3, loss: 7))
    try resumed.summary(
      RunSummary(
        status: "done", exitCode: 0, epoch: 3, step: 9, finalLoss: 7, elapsed: 1, checkpoint: nil, error: nil)
    )
    lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
    XCTAssertEqual(lines.map { $0.prefix { $0 != "," } }, ["epoch", "1", "2", "3"])
    XCTAssertEqual(Double(lines[3].split(separator: ",")[4]), 7)
    XCTAssertEqual(try FileSystem.list(dir.file("logs")), ["run.csv"], "no temporary file left")

    // A fresh run replaces the file.
    let fresh = CSVLog(path: path)
    try fresh.start(start())
    XCTAssertEqual(try FileSystem.size(path), 0)
  }

  func testJSONRecordsCarryTheirEventTimeAndFields() throws {
    var lines: [String] = []
    let log = JSONRecordLog { lines.append($0) }
    let before = wallClockSeconds()
    try log.start(start(step: 6, epoch: 2, resumedFrom: "ck/step-000000006.h5"))
    try log.checkpoint(path: "ck/step-000000009.h5", step: 9, epoch: 3, reason: "final")
    try log.earlyStop(
      EarlyStop(epoch: 3, step: 9, monitor: "val_loss", best: 0.25, bestEpoch: 1, patience: 2))
    try log.summary(
      RunSummary(
        status: "early_stop", exitCode: 0, epoch: 3, step: 9, finalLoss: .nan, elapsed: 1.5,
        checkpoint: "ck/step-000000009.h5", error: nil, finalEpoch: 3, finalEpochLoss: 0.5,
        finalValidation: ["val_loss": 0.75, "val_accuracy": 0.625]))
    let records = try lines.map {
      try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
    }
    XCTAssertEqual(records.map { $0["event"] as? String }, ["start", "checkpoint", "early_stop", "summary"])
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    for record in records {
      let time = try XCTUnwrap(record["time"] as? String)
      XCTAssertTrue(time.hasSuffix("Z"), time)
      let date = try XCTUnwrap(formatter.date(from: time), time)
      XCTAssertEqual(date.timeIntervalSince1970, before, accuracy: 5)
    }
    XCTAssertEqual(records[0]["resumed_from"] as? String, "ck/step-000000006.h5")
    XCTAssertEqual(records[0]["step"] as? Int, 6)
    XCTAssertEqual(records[0]["epochs"] as? Int, 4)
    XCTAssertTrue(records[0]["tensorboard"] is NSNull)
    XCTAssertEqual(records[1]["path"] as? String, "ck/step-000000009.h5")
    XCTAssertEqual(records[1]["reason"] as? String, "final")
    XCTAssertEqual(records[2]["best"] as? Double, 0.25)
    XCTAssertEqual(records[2]["best_epoch"] as? Int, 1)
    XCTAssertEqual(records[3]["status"] as? String, "early_stop")
    XCTAssertTrue(records[3]["final_loss"] is NSNull, "NaN is written as null")
    XCTAssertEqual(records[3]["elapsed"] as? Double, 1.5)
    XCTAssertEqual(records[3]["final_epoch"] as? Int, 3)
    XCTAssertEqual(records[3]["final_epoch_loss"] as? Double, 0.5)
    XCTAssertEqual(records[3]["final_val_loss"] as? Double, 0.75)
    XCTAssertEqual(records[3]["final_val_accuracy"] as? Double, 0.625)
    XCTAssertNil(records[3]["final_val_r2"])
  }

  /// The events of `path`, decoded, after checking every record's CRCs.
  private func events(_ path: String) throws -> [TensorBoardEvent.Decoded] {
    let bytes = try XCTUnwrap(FileManager.default.contents(atPath: path))
    return try EventRecord.records(in: Array(bytes)).map { try TensorBoardEvent.decode($0) }
  }

  func testTensorBoardFilesStartWithVersionAndSessionStartAndSortInRunOrder() throws {
    let dir = TemporaryDirectory()
    let first = TensorBoardLog(directory: dir.file("tb"))
    try first.start(start())
    for step in 1...6 { try first.step(step, loss: 1 / Double(step)) }
    try first.epoch(report(epoch: 2, loss: 0.125))
    try first.flush()
    let written = try events(first.path)
    XCTAssertEqual(written.first?.fileVersion, "brain.Event:2")
    XCTAssertEqual(written[1].sessionStart, true)
    XCTAssertEqual(written[1].step, 1)
    XCTAssertEqual(written[2...7].map(\.step), Array(1...6))
    XCTAssertEqual(written[2...7].map { $0.scalars["step/loss"] }, (1...6).map { Float(1 / Double($0)) })
    XCTAssertEqual(written[8].step, 6)
    XCTAssertEqual(
      written[8].scalars,
      [
        "epoch/train_loss": 0.125, "epoch/val_loss": 0.625, "epoch/val_accuracy": 0.25,
        "epoch/learning_rate": 0.005, "epoch/samples_per_second": 1000.25,
      ])
    XCTAssertLessThanOrEqual(abs(written[0].wallTime - wallClockSeconds()), 5)

    // A run resumed at step 3, started within the same second: its file sorts
    // after the first (TensorBoard reads in name order) and restarts at step 4.
    let second = TensorBoardLog(directory: dir.file("tb"))
    try second.start(start(step: 3, epoch: 1, resumedFrom: "ck/step-000000003.h5"))
    let names = try FileSystem.list(dir.file("tb"))
    XCTAssertEqual(names.count, 2)
    XCTAssertTrue(names.allSatisfy { $0.hasPrefix("events.out.tfevents.") }, "\(names)")
    XCTAssertEqual(names.last.map { dir.file("tb/\($0)") }, second.path)
    let restart = try events(second.path)
    XCTAssertEqual(restart.count, 2)
    XCTAssertEqual(restart[1].sessionStart, true)
    XCTAssertEqual(restart[1].step, 4)
  }

  func testALogThatFailsIsReportedOnceAndDropped() throws {
    final class Failing: RunLogSink {
      var calls = 0
      var target: String { "failing.log" }
      var recordsSteps: Bool { true }
      func start(_ start: RunStart) throws {}
      func step(_ step: Int, loss: Double) throws {
        calls += 1
        throw FileSystemError(operation: "write", path: "failing.log", reason: "No space left on device")
      }
      func summary(_ summary: RunSummary) throws { calls += 1 }
    }
    let failing = Failing()
    let logs = RunLogs([failing])
    try logs.start(start())
    let (_, warnings) = Warnings.recording {
      logs.step(1, loss: 1)
      logs.step(2, loss: 1)
      logs.summary(
        RunSummary(
          status: "done", exitCode: 0, epoch: 1, step: 2, finalLoss: 1, elapsed: 0, checkpoint: nil,
          error: nil))
    }
    XCTAssertEqual(failing.calls, 1)
    XCTAssertEqual(warnings.count, 1)
    XCTAssertTrue(warnings[0].contains("failing.log"), warnings[0])
    XCTAssertTrue(warnings[0].contains("No space left on device"), warnings[0])
  }

  func testLoggingConfigKeys() throws {
    let base = """
      "data": { "source": "inline", "inputs": [[0], [1]], "targets": [[0], [1]] },
      "model": { "layers": [ { "units": 1 } ] }, "loss": "mse", "optimizer": { "kind": "sgd" }
      """
    let config = try Config.parse(
      text: "{ \(base), \"logging\": { \"tensorboard\": \"runs/a\", \"csv\": \"a.csv\" } }", file: "c.json")
    XCTAssertEqual(config.logging, LoggingConfig(tensorboard: "runs/a", csv: "a.csv"))
    XCTAssertEqual(try Config.parse(text: "{ \(base) }", file: "c.json").logging, LoggingConfig())
    for (logging, fragment) in [
      ("{ \"csv\": \"\" }", "$.logging.csv: expected a path, found an empty string"),
      ("{ \"tensorbord\": \"x\" }", "$.logging.tensorbord"),
      ("{ \"csv\": 3 }", "$.logging.csv: expected a string"),
    ] {
      XCTAssertThrowsError(try Config.parse(text: "{ \(base), \"logging\": \(logging) }", file: "c.json")) {
        XCTAssertTrue("\($0)".contains(fragment), "\($0)")
      }
    }
  }
}
