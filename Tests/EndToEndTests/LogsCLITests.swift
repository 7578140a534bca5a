import Checkpoints
import Foundation
import HDF5Store
import TensorBoardEvents
import TestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// `--tensorboard`, `--log-csv` and the JSON log's records, read back by their consumers:
/// TensorBoard's own readers (from .venv-test), and the CSV and JSON as text.
final class LogsCLITests: XCTestCase {
  /// A small classifier with validation: 3 steps per epoch, a checkpoint every 2 epochs.
  private func config(_ dir: TemporaryDirectory, epochs: Int, everyEpochs: Int = 2, samples: Int = 64)
    -> String
  {
    dir.write(
      "logs.json",
      """
      { "name": "logs", "seed": 5,
        "data": { "source": "synthetic", "samples": \(samples), "features": 6, "classes": 3,
                  "validation_split": 0.25 },
        "model": { "layers": [ { "units": 8, "activation": "tanh" }, { "units": 3, "activation": "softmax" } ] },
        "loss": "cross_entropy",
        "optimizer": { "kind": "adam", "learning_rate": 0.01, "schedule": { "kind": "cosine", "warmup_steps": 4 } },
        "training": { "epochs": \(epochs), "batch_size": 16 },
        "checkpoint": { "dir": "\(dir.file("ck"))", "every_epochs": \(everyEpochs), "keep": 10 } }
      """)
  }

  /// `.venv-test/bin/python3`: required when CI=true, else its absence skips the test.
  private func python() throws -> String {
    let path = "\(repositoryRoot)/.venv-test/bin/python3"
    if FileManager.default.isExecutableFile(atPath: path) { return path }
    if ProcessInfo.processInfo.environment["CI"] == "true" {
      XCTFail("\(path) is missing: run tools/setup --test")
      throw XCTSkip("no test environment")
    }
    throw XCTSkip("\(path) is missing (tools/setup --test makes it)")
  }

  /// Every scalar of event folder `dir` as TensorBoard reads it: [tag: [(step, value)]],
  /// once by the legacy `EventAccumulator` and once by the plugin reader the server uses.
  private func tensorBoardScalars(_ dir: String) throws -> (
    legacy: [String: [[Double]]], plugin: [String: [[Double]]]
  ) {
    let script = """
      import json, sys
      from tensorboard.backend.event_processing import event_accumulator, plugin_event_accumulator
      from tensorboard.util import tensor_util
      legacy = event_accumulator.EventAccumulator(sys.argv[1], size_guidance={"scalars": 0})
      legacy.Reload()
      plugin = plugin_event_accumulator.EventAccumulator(sys.argv[1], size_guidance={"tensors": 0})
      plugin.Reload()
      print(json.dumps({
          "legacy": {t: [[e.step, e.value] for e in legacy.Scalars(t)] for t in legacy.Tags()["scalars"]},
          "plugin": {t: [[e.step, float(tensor_util.make_ndarray(e.tensor_proto))] for e in plugin.Tensors(t)]
                     for t in plugin.Tags()["tensors"]},
      }))
      """
    let result = try runProcess(try python(), ["-c", script, dir])
    XCTAssertEqual(result.status, 0, result.stderr)
    let object = try XCTUnwrap(
      JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: [String: [[Double]]]],
      result.stdout)
    return (try XCTUnwrap(object["legacy"]), try XCTUnwrap(object["plugin"]))
  }

  /// The JSON log's lines as objects.
  private func records(_ stdout: String) throws -> [[String: Any]] {
    try stdout.split(separator: "\n").map {
      try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any], String($0))
    }
  }

  /// The CSV log's rows as [column: value].
  private func csvRows(_ path: String) throws -> [[String: Double]] {
    let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
    let header = try XCTUnwrap(lines.first).split(separator: ",").map(String.init)
    return lines.dropFirst().map { line in
      var row: [String: Double] = [:]
      for (column, field) in zip(header, line.split(separator: ",", omittingEmptySubsequences: false)) {
        row[column] = Double(field)
      }
      return row
    }
  }

  /// Checks every scalar TensorBoard read against the checkpoint's histories (exact, as
  /// float32) and the CSV's rows (steps, samples/s), and that nothing else was read.
  private func assertScalars(
    _ scalars: [String: [[Double]]], checkpoint: Checkpoint, csv: [[String: Double]],
    file: StaticString = #filePath, line: UInt = #line
  ) {
    let losses = scalars["step/loss"] ?? []
    XCTAssertEqual(losses.map { Int($0[0]) }, Array(1...checkpoint.lossHistory.count), file: file, line: line)
    XCTAssertEqual(
      losses.map { Float($0[1]) }, checkpoint.lossHistory.map { Float($0) }, file: file, line: line)
    let history = checkpoint.epochHistory
    let steps = csv.map { Int($0["step"] ?? -1) }
    for (key, expected) in [
      ("train_loss", history.trainLoss), ("val_loss", history.validationLoss),
      ("val_accuracy", history.validationAccuracy), ("learning_rate", history.learningRate),
      ("samples_per_second", csv.map { $0["samples_per_second"] ?? .nan }),
    ] {
      let points = scalars["epoch/\(key)"] ?? []
      XCTAssertEqual(points.map { Int($0[0]) }, steps, key, file: file, line: line)
      XCTAssertEqual(points.map { Float($0[1]) }, expected.map { Float($0) }, key, file: file, line: line)
    }
    // A classifier's averaged and per-class precision, recall and F1 (three classes here) are
    // logged, not checkpointed: as the CSV has them.
    let averages =
      [
        "val_f1_macro", "val_f1_weighted", "val_precision_macro", "val_precision_weighted",
        "val_recall_macro",
        "val_recall_weighted",
      ] + (0..<3).flatMap { ["val_precision_class_\($0)", "val_recall_class_\($0)", "val_f1_class_\($0)"] }
    for key in averages {
      let points = scalars["epoch/\(key)"] ?? []
      XCTAssertEqual(points.map { Int($0[0]) }, steps, key, file: file, line: line)
      XCTAssertEqual(
        points.map { Float($0[1]) }, csv.map { Float($0[key] ?? .nan) }, key, file: file, line: line)
      XCTAssertTrue(csv.allSatisfy { (0...1).contains($0[key] ?? .nan) }, key, file: file, line: line)
    }
    XCTAssertEqual(scalars.count, 6 + averages.count, "\(scalars.keys.sorted())", file: file, line: line)
  }

  /// Checks the CSV's rows against the checkpoint's history (exactly) and the JSON log's epoch lines.
  private func assertCSV(
    _ csv: [[String: Double]], checkpoint: Checkpoint, epochs: [[String: Any]],
    file: StaticString = #filePath, line: UInt = #line
  ) {
    let history = checkpoint.epochHistory
    XCTAssertEqual(
      csv.map { $0["epoch"] }, (1...history.trainLoss.count).map(Double.init), file: file, line: line)
    XCTAssertEqual(csv.map { $0["train_loss"] }, history.trainLoss, file: file, line: line)
    XCTAssertEqual(csv.map { $0["val_loss"] }, history.validationLoss, file: file, line: line)
    XCTAssertEqual(csv.map { $0["val_accuracy"] }, history.validationAccuracy, file: file, line: line)
    XCTAssertEqual(csv.map { $0["learning_rate"] }, history.learningRate, file: file, line: line)
    XCTAssertEqual(csv.count, epochs.count, file: file, line: line)
    for (row, epoch) in zip(csv, epochs) {
      XCTAssertEqual(row["step"], (epoch["step"] as? Int).map(Double.init), file: file, line: line)
      // The JSON log's numbers carry ~16 significant digits (JSONSerialization), the CSV's all 17.
      let rate = epoch["samples_per_second"] as? Double ?? .nan
      XCTAssertEqual(row["samples_per_second"] ?? .nan, rate, accuracy: 1e-14 * rate, file: file, line: line)
    }
  }

  func testTensorBoardCSVAndJSONLogsAgreeWithTheRun() throws {
    _ = try python()
    let dir = TemporaryDirectory()
    let result = try nnbatch([
      "--config", config(dir, epochs: 5), "--log-format", "json", "--tensorboard", dir.file("tb"),
      "--log-csv", dir.file("logs/metrics.csv"),
    ])
    XCTAssertEqual(result.status, 0, result.stderr)
    let lines = try records(result.stdout)
    XCTAssertEqual(lines.first?["event"] as? String, "start")
    XCTAssertEqual(lines.last?["event"] as? String, "summary")
    XCTAssertEqual(lines.last?["status"] as? String, "done")
    XCTAssertEqual(lines.last?["step"] as? Int, 15)
    let epochs = lines.filter { $0["event"] as? String == "epoch" }
    XCTAssertEqual(epochs.map { $0["epoch"] as? Int }, [1, 2, 3, 4, 5])
    let saved = lines.filter { $0["event"] as? String == "checkpoint" }
    XCTAssertEqual(saved.map { $0["step"] as? Int }, [6, 12, 15])
    for record in saved {
      XCTAssertTrue(FileSystem.exists(record["path"] as? String ?? ""), "\(record)")
    }
    let times = lines.compactMap { $0["time"] as? String }
    XCTAssertEqual(times.count, lines.count, "every record has a time")
    XCTAssertEqual(times, times.sorted(), "times in order")

    let checkpoint = try Checkpoint.read(from: dir.file("ck/step-000000015.h5"))
    let csvText = try String(contentsOfFile: dir.file("logs/metrics.csv"), encoding: .utf8)
    XCTAssertTrue(
      csvText.hasPrefix(
        "epoch,step,learning_rate,samples_per_second,train_loss,val_accuracy,val_f1_class_0,val_f1_class_1,val_f1_class_2,val_f1_macro,val_f1_weighted,val_loss,val_precision_class_0,val_precision_class_1,val_precision_class_2,val_precision_macro,val_precision_weighted,val_recall_class_0,val_recall_class_1,val_recall_class_2,val_recall_macro,val_recall_weighted\n"
      ),
      csvText)
    let csv = try csvRows(dir.file("logs/metrics.csv"))
    assertCSV(csv, checkpoint: checkpoint, epochs: epochs)
    let read = try tensorBoardScalars(dir.file("tb"))
    assertScalars(read.legacy, checkpoint: checkpoint, csv: csv)
    assertScalars(read.plugin, checkpoint: checkpoint, csv: csv)
  }

  func testAResumeSupersedesWhatTheEarlierRunLoggedPastItsCheckpoint() throws {
    _ = try python()
    let dir = TemporaryDirectory()
    let config = config(dir, epochs: 6)
    let logs = ["--tensorboard", dir.file("tb"), "--log-csv", dir.file("m.csv"), "--log-format", "json"]
    // The first run logs all 6 epochs (18 steps); the second continues from
    // its epoch-2 checkpoint, as after a kill that lost the later checkpoints.
    let first = try nnbatch(["--config", config] + logs)
    XCTAssertEqual(first.status, 0, first.stderr)
    let firstCSV = try String(contentsOfFile: dir.file("m.csv"), encoding: .utf8).split(separator: "\n")
    XCTAssertEqual(firstCSV.count, 7)
    let second = try nnbatch(["--config", config, "--resume", dir.file("ck/step-000000006.h5")] + logs)
    XCTAssertEqual(second.status, 0, second.stderr)

    // Both files hold steps 7...18: the raw events repeat them ...
    let files = try FileSystem.list(dir.file("tb"))
    XCTAssertEqual(files.count, 2)
    var rawSteps: [Int] = []
    for name in files {
      let bytes = try XCTUnwrap(FileManager.default.contents(atPath: dir.file("tb/\(name)")))
      for record in try EventRecord.records(in: Array(bytes)) {
        let event = try TensorBoardEvent.decode(record)
        if event.scalars["step/loss"] != nil { rawSteps.append(event.step) }
      }
    }
    XCTAssertEqual(rawSteps, Array(1...18) + Array(7...18))
    // ... but TensorBoard's readers purge the first run's from step 7 on.
    let checkpoint = try Checkpoint.read(from: dir.file("ck/step-000000018.h5"))
    let firstEpochs = try records(first.stdout).filter { $0["event"] as? String == "epoch" }
    let secondEpochs = try records(second.stdout).filter { $0["event"] as? String == "epoch" }
    XCTAssertEqual(firstEpochs.count, 6)
    XCTAssertEqual(secondEpochs.map { $0["epoch"] as? Int }, [3, 4, 5, 6])
    let csv = try csvRows(dir.file("m.csv"))
    assertCSV(csv, checkpoint: checkpoint, epochs: Array(firstEpochs.prefix(2)) + secondEpochs)
    let read = try tensorBoardScalars(dir.file("tb"))
    assertScalars(read.legacy, checkpoint: checkpoint, csv: csv)
    assertScalars(read.plugin, checkpoint: checkpoint, csv: csv)
    let start = try XCTUnwrap(records(second.stdout).first)
    XCTAssertEqual(start["event"] as? String, "start")
    XCTAssertEqual(start["resumed_from"] as? String, dir.file("ck/step-000000006.h5"))

    // The CSV: epochs 1 and 2 as the first run wrote them (their samples/s), then the second run's.
    let lines = try String(contentsOfFile: dir.file("m.csv"), encoding: .utf8).split(separator: "\n")
    XCTAssertEqual(lines.map { $0.prefix { $0 != "," } }, ["epoch", "1", "2", "3", "4", "5", "6"])
    XCTAssertEqual(Array(lines.prefix(3)), Array(firstCSV.prefix(3)))
  }

  func testSIGKILLedRunsResumedLeaveNoStepOrEpochTwice() throws {
    _ = try python()
    let dir = TemporaryDirectory()
    let epochs = 30
    // More steps, a checkpoint every epoch: kills land between them.
    let config = config(dir, epochs: epochs, everyEpochs: 1, samples: 1024)
    let began = Date()
    let straight = try nnbatch(["--config", config, "--checkpoint-dir", dir.file("straight")])
    XCTAssertEqual(straight.status, 0, straight.stderr)
    let duration = Date().timeIntervalSince(began)
    var generator = SystemRandomNumberGenerator()
    // Up to 4 kills, then a run to the end; a scenario whose first run ended before its kill starts over.
    var folder = ""
    var kills = 0
    for scenario in 1...5 where kills == 0 {
      folder = dir.file("s\(scenario)")
      let arguments = [
        "--config", config, "--checkpoint-dir", "\(folder)/ck", "--resume", "--tensorboard", "\(folder)/tb",
        "--log-csv", "\(folder)/m.csv", "--threads", "2",
      ]
      for _ in 0..<20 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: nnbatchExecutable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        if kills < 4 {
          Thread.sleep(forTimeInterval: Double.random(in: 0.05...0.6, using: &generator) * duration)
          if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            if process.terminationReason == .uncaughtSignal { kills += 1 }
            continue
          }
        }
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "scenario \(scenario) after \(kills) kills")
        break
      }
    }
    XCTAssertGreaterThan(kills, 0, "no kill landed in 5 scenarios")
    let final = try XCTUnwrap(CheckpointStore(directory: "\(folder)/ck").newestValid()).checkpoint
    XCTAssertEqual(final.counters.epoch, epochs)
    // Each epoch once, its values those of the run that completed it.
    let csv = try csvRows("\(folder)/m.csv")
    XCTAssertEqual(csv.map { $0["epoch"] }, (1...epochs).map(Double.init))
    XCTAssertEqual(csv.map { $0["train_loss"] }, final.epochHistory.trainLoss)
    XCTAssertEqual(csv.map { $0["val_loss"] }, final.epochHistory.validationLoss)
    // Each step once in what TensorBoard shows, however many runs logged it.
    let read = try tensorBoardScalars("\(folder)/tb")
    assertScalars(read.legacy, checkpoint: final, csv: csv)
    assertScalars(read.plugin, checkpoint: final, csv: csv)
  }

  /// Replaces `old` by `new` in the file at `path` (which must contain it); returns the path.
  private func edited(_ path: String, _ old: String, _ new: String) throws -> String {
    let text = try String(contentsOfFile: path, encoding: .utf8)
    XCTAssertTrue(text.contains(old), text)
    try text.replacingOccurrences(of: old, with: new).write(toFile: path, atomically: true, encoding: .utf8)
    return path
  }

  func testEarlyStoppingAndAFailedRunEndTheJSONLogWithTheirRecords() throws {
    let dir = TemporaryDirectory()
    // train_loss never improves by 100: early stopping after epoch 2, the best being epoch 1.
    let stopping = try edited(
      config(dir, epochs: 6), "\"batch_size\": 16",
      "\"batch_size\": 16, \"early_stopping\": { \"monitor\": \"train_loss\", \"patience\": 1, \"min_delta\": 100 }"
    )
    let stopped = try nnbatch(["--config", stopping, "--log-format", "json"])
    XCTAssertEqual(stopped.status, 0, stopped.stderr)
    let lines = try records(stopped.stdout)
    let early = try XCTUnwrap(lines.first { $0["event"] as? String == "early_stop" }, stopped.stdout)
    XCTAssertEqual(early["epoch"] as? Int, 2)
    XCTAssertEqual(early["step"] as? Int, 6)
    XCTAssertEqual(early["best_epoch"] as? Int, 1)
    XCTAssertEqual(early["monitor"] as? String, "train_loss")
    let firstEpoch = try XCTUnwrap(lines.first { $0["event"] as? String == "epoch" })
    XCTAssertEqual(early["best"] as? Double, firstEpoch["train_loss"] as? Double)
    XCTAssertEqual(lines.last?["event"] as? String, "summary")
    XCTAssertEqual(lines.last?["status"] as? String, "early_stop")
    XCTAssertEqual(lines.last?["checkpoint"] as? String, dir.file("ck/step-000000006.h5"))

    // A learning rate of 1e6 diverges: the summary says so, with the error and exit code 1.
    let inputs = (0..<32).map { "[\(Double($0) / 8), \(Double($0 % 5))]" }.joined(separator: ",")
    let targets = (0..<32).map { "[\(Double($0) * 3)]" }.joined(separator: ",")
    let diverging = dir.write(
      "diverging.json",
      """
      { "name": "reg", "data": { "source": "inline", "inputs": [\(inputs)], "targets": [\(targets)] },
        "model": { "layers": [ { "units": 8, "activation": "relu" }, { "units": 1, "activation": "linear" } ] },
        "loss": "mse", "optimizer": { "kind": "sgd", "learning_rate": 1e6 }, "training": { "epochs": 50, "batch_size": 8 } }
      """)
    let failed = try nnbatch([
      "--config", diverging, "--log-format", "json", "--checkpoint-dir", dir.file("d"),
    ])
    XCTAssertEqual(failed.status, 1, failed.stderr)
    let summary = try XCTUnwrap(records(failed.stdout).last)
    XCTAssertEqual(summary["event"] as? String, "summary")
    XCTAssertEqual(summary["status"] as? String, "failed")
    XCTAssertEqual(summary["exit_code"] as? Int, 1)
    XCTAssertTrue((summary["error"] as? String ?? "").contains("training diverged at step"), "\(summary)")
  }

  func testALogThatCannotBeCreatedExitsTwoNamingIt() throws {
    let dir = TemporaryDirectory()
    let blocker = dir.write("file", "not a folder")
    let result = try nnbatch(["--config", config(dir, epochs: 1), "--tensorboard", "\(blocker)/tb"])
    XCTAssertEqual(result.status, 2, result.stderr)
    XCTAssertTrue(result.stderr.hasPrefix("error: \(blocker)"), result.stderr)
    XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
    XCTAssertFalse(FileSystem.exists(dir.file("ck/step-000000003.h5")), "nothing trained")
  }
}
