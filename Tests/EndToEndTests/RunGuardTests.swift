import Checkpoints
import Foundation
import TestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The process around a run (issue 14): one run per folder, signals during setup, a
/// closed stdout, models and data larger than memory, through the real CLI.
final class RunGuardTests: XCTestCase {
  /// A run whose setup (generating 400,000 synthetic samples) takes seconds in a debug build.
  static func slowSetupConfig(_ dir: TemporaryDirectory) -> String {
    dir.write(
      "slow.json",
      """
      { "name": "slow",
        "data": { "source": "synthetic", "samples": 400000, "features": 64, "classes": 4 },
        "model": { "layers": [ { "units": 4, "activation": "softmax" } ] },
        "loss": "cross_entropy", "optimizer": { "kind": "sgd" }, "training": { "epochs": 1 } }
      """)
  }

  /// A started nnbatch whose stdout is `output` and whose stderr is kept in a file.
  struct Running {
    let process: Process
    let output: Pipe
    let stderrPath: String

    func stderr() throws -> String { try String(contentsOfFile: stderrPath, encoding: .utf8) }

    /// Waits for the exit; returns the exit status (128 + n after signal n).
    func wait() -> Int32 {
      process.waitUntilExit()
      return process.terminationReason == .uncaughtSignal
        ? 128 + process.terminationStatus : process.terminationStatus
    }
  }

  private func start(_ arguments: [String], _ dir: TemporaryDirectory, name: String) throws -> Running {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: nnbatchExecutable)
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    let stderrPath = dir.write("\(name).stderr", "")
    process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
    try process.run()
    return Running(process: process, output: output, stderrPath: stderrPath)
  }

  /// Waits until `path` exists and is not empty, at most a minute.
  ///
  /// A lock file holds its run's PID only once it is locked and registered
  /// for removal on a setup-time signal.
  private func waitFor(_ path: String, while running: Running) {
    let deadline = Date().addingTimeInterval(60)
    while running.process.isRunning && Date() < deadline {
      let attributes = try? FileManager.default.attributesOfItem(atPath: path)
      if let size = attributes?[.size] as? Int, size > 0 { return }
      Thread.sleep(forTimeInterval: 0.005)
    }
  }

  func testASecondRunOnTheSameFolderExitsAtOnceNamingTheFolderAndThePID() throws {
    let dir = TemporaryDirectory()
    let config = Self.slowSetupConfig(dir)
    let folder = dir.file("ck")
    let first = try start(["--config", config, "--checkpoint-dir", folder], dir, name: "first")
    waitFor("\(folder)/.lock", while: first)
    XCTAssertTrue(first.process.isRunning)
    // A save in progress of the first run: the second must not take it for a leftover.
    let temporary = dir.write("ck/.step-000000001.h5.\(first.process.processIdentifier).tmp", "in progress")
    let second = try nnbatch(["--config", config, "--checkpoint-dir", folder, "--resume"])
    XCTAssertEqual(second.status, 2, second.stderr)
    XCTAssertEqual(
      second.stderr.split(separator: "\n").first.map(String.init),
      "error: \(folder): another nnbatch run (PID \(first.process.processIdentifier)) is using this checkpoint folder; expected no other run, found its lock \(folder)/.lock. Wait for it to end, or give this run another checkpoint.dir (--checkpoint-dir)"
    )
    XCTAssertEqual(second.stderr.split(separator: "\n").count, 1, second.stderr)
    XCTAssertTrue(FileManager.default.fileExists(atPath: temporary), "the live writer's file is kept")
    // Read-only commands take no lock.
    let inspect = try nnbatch(["inspect", folder])
    XCTAssertFalse(inspect.stderr.contains("another nnbatch run"), inspect.stderr)
    kill(first.process.processIdentifier, SIGTERM)
    let status = first.wait()
    let stderr = try first.stderr()
    XCTAssertEqual(status, 143, stderr)
  }

  func testSIGTERMAndSIGHUPDuringDataLoadingExitAtOnceWithNothingWritten() throws {
    let dir = TemporaryDirectory()
    let config = Self.slowSetupConfig(dir)
    for (signal, name, code) in [
      (SIGTERM, "SIGTERM", Int32(143)), (SIGHUP, "SIGHUP", 129), (SIGINT, "SIGINT", 130),
    ] {
      let folder = dir.file("ck\(signal)")
      let run = try start(["--config", config, "--checkpoint-dir", folder], dir, name: "run\(signal)")
      // The lock is taken just before the data load.
      waitFor("\(folder)/.lock", while: run)
      kill(run.process.processIdentifier, signal)
      let status = run.wait()
      let stderr = try run.stderr()
      XCTAssertEqual(status, code, stderr)
      // Had it waited for the load to end, it would say "before training started".
      XCTAssertEqual(stderr, "stopped by \(name) during setup; nothing written\n")
      XCTAssertFalse(FileManager.default.fileExists(atPath: folder), "the folder it created is gone again")
    }
  }

  func testAClosedStdoutStopsProgressOutputButNotTraining() throws {
    let dir = TemporaryDirectory()
    let config = dir.write(
      "pipe.json",
      """
      { "name": "pipe", "data": { "source": "synthetic", "samples": 256, "features": 8, "classes": 2 },
        "model": { "layers": [ { "units": 8, "activation": "relu" }, { "units": 2, "activation": "softmax" } ] },
        "loss": "cross_entropy", "optimizer": { "kind": "sgd", "learning_rate": 0.1 },
        "training": { "epochs": 60, "batch_size": 32 }, "checkpoint": { "every_epochs": 1000 } }
      """)
    let folder = dir.file("ck")
    // As `nnbatch ... | head -1`: read one chunk of output, then close the pipe.
    let run = try start(
      ["--config", config, "--checkpoint-dir", folder, "--log-every", "1"], dir, name: "pipe")
    _ = run.output.fileHandleForReading.availableData
    try run.output.fileHandleForReading.close()
    let status = run.wait()
    let stderr = try run.stderr()
    XCTAssertEqual(status, 0, "killed by SIGPIPE (141) before its final checkpoint? \(stderr)")
    let final = try XCTUnwrap(try CheckpointStore(directory: folder).newestValid())
    XCTAssertEqual(final.checkpoint.counters.epoch, 60)
  }

  func testAClosedStderrDoesNotTurnAnErrorIntoACrash() throws {
    // No reader on the pipe: every write to stderr fails with EPIPE.
    let pipe = Pipe()
    try pipe.fileHandleForReading.close()
    let process = Process()
    process.executableURL = URL(fileURLWithPath: nnbatchExecutable)
    process.arguments = ["--config", "/nonexistent/config.json"]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = pipe
    try process.run()
    process.waitUntilExit()
    XCTAssertEqual(process.terminationReason, .exit, "a trap (SIGILL) when the message could not be written?")
    XCTAssertEqual(process.terminationStatus, 2)
  }

  func testAModelLargerThanTheMemoryBudgetIsRefusedBeforeAllocating() throws {
    let dir = TemporaryDirectory()
    let bash = try XCTUnwrap(tool("bash"))
    let config = dir.write(
      "huge.json",
      """
      { "data": { "source": "inline", "inputs": [[0, 1], [1, 0]], "targets": [[0], [1]] },
        "model": { "layers": [ { "units": 100000, "activation": "relu" }, { "units": 100000, "activation": "relu" },
                               { "units": 1, "activation": "linear" } ] },
        "loss": "mse", "optimizer": { "kind": "adam" } }
      """)
    // 10^10 parameters: 40 GB of weights alone. ulimit -v makes the budget the
    // same on any machine (and a missed check fail its allocation, not the machine).
    let result = try runProcess(
      bash,
      [
        "-c", "ulimit -v 4000000; exec \"$0\" \"$@\"", nnbatchExecutable, "--config", config,
        "--checkpoint-dir", dir.file("ck"),
      ])
    XCTAssertEqual(result.status, 2, result.stderr)
    XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
    for fragment in [
      "error: \(config): $.model.layers: the model (10000500001 parameters: weights 40.0 GB",
      "optimizer state 80.0 GB", "more than nnbatch may use", "RLIMIT_AS (ulimit -v)",
    ] {
      XCTAssertTrue(result.stderr.contains(fragment), "expected \(fragment) in \(result.stderr)")
    }
  }

  func testDevZeroAndAValueBeyondFloatRangeAreErrorsInTrainingAndPredict() throws {
    let dir = TemporaryDirectory()
    var csv = "x,y\n"
    for i in 0..<8 { csv += "\(i),\(2 * i)\n" }
    let data = dir.write("d.csv", csv)
    let config = dir.write(
      "c.json",
      """
      { "data": { "source": "csv", "path": "\(data)" },
        "model": { "layers": [ { "units": 1, "activation": "linear" } ] },
        "loss": "mse", "optimizer": { "kind": "sgd" }, "training": { "epochs": 1 } }
      """)
    let zero = dir.write(
      "zero.json",
      try String(contentsOfFile: config, encoding: .utf8).replacingOccurrences(of: data, with: "/dev/zero"))
    let refused = try nnbatch(["--config", zero, "--checkpoint-dir", dir.file("z")])
    XCTAssertEqual(refused.status, 2)
    XCTAssertEqual(
      refused.stderr,
      "error: \(zero): $.data.path: /dev/zero: expected a regular file, found a character device\n")

    XCTAssertEqual(try nnbatch(["--config", config, "--checkpoint-dir", dir.file("ck")]).status, 0)
    let checkpoint = dir.file("ck/step-000000001.h5")
    let input = dir.write("in.csv", "x\n1\n1e39\n")
    let predict = try nnbatch(["predict", "--checkpoint", checkpoint, "--input", input])
    XCTAssertEqual(predict.status, 2, predict.stdout)
    XCTAssertTrue(
      predict.stderr.hasPrefix("error: \(input):3: column \"x\" (field 1): expected a number within"),
      predict.stderr)
    XCTAssertEqual(predict.stdout, "", "no NaN predictions printed")
    let device = try nnbatch(["predict", "--checkpoint", checkpoint, "--input", "/dev/zero"])
    XCTAssertEqual(device.status, 2)
    XCTAssertTrue(device.stderr.contains("/dev/zero: expected a regular file"), device.stderr)
  }
}
