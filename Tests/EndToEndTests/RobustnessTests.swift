import Checkpoints
import Foundation
import HDF5Store
import TestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Determinism across threads, crashes, signals and failing disks, through the real CLI.
final class RobustnessTests: XCTestCase {
  /// A run big enough to take the parallel path, with a schedule, clipping and shuffling.
  static func config(_ dir: TemporaryDirectory, epochs: Int = 6, everySteps: Int = 3) -> String {
    dir.write(
      "rob.json",
      """
      { "name": "rob", "seed": 3,
        "data": { "source": "synthetic", "samples": 4096, "features": 64, "classes": 10, "seed": 4,
                  "validation_split": 0.125 },
        "model": { "layers": [ { "units": 128, "activation": "relu" }, { "units": 128, "activation": "tanh" },
                               { "units": 10, "activation": "softmax" } ] },
        "loss": "cross_entropy",
        "optimizer": { "kind": "adamw", "learning_rate": 0.002, "clip_norm": 5,
                       "schedule": { "kind": "cosine", "warmup_steps": 10 } },
        "training": { "epochs": \(epochs), "batch_size": 128, "shard_size": 32 },
        "checkpoint": { "dir": "\(dir.file("ck"))", "every_steps": \(everySteps), "keep": 2 } }
      """)
  }

  static func final(_ dir: String) throws -> Checkpoint {
    guard let found = try CheckpointStore(directory: dir).newestValid() else {
      throw CheckpointError(path: dir, reason: "no checkpoint")
    }
    return found.checkpoint
  }

  static func assertSameRun(
    _ a: Checkpoint, _ b: Checkpoint, _ message: String, file: StaticString = #filePath, line: UInt = #line
  ) {
    XCTAssertEqual(a.bitwiseDifferences(from: b), [], message, file: file, line: line)
  }

  func testBitIdenticalResultsForOneToSixtyFourThreads() throws {
    let dir = TemporaryDirectory()
    let config = Self.config(dir, epochs: 2, everySteps: 1000)
    var reference: Checkpoint?
    for threads in [1, 2, 3, 8, 64] {
      let result = try nnbatch([
        "--config", config, "--threads", "\(threads)", "--checkpoint-dir", dir.file("t\(threads)"),
      ])
      XCTAssertEqual(result.status, 0, result.stderr)
      let checkpoint = try Self.final(dir.file("t\(threads)"))
      if let reference {
        Self.assertSameRun(reference, checkpoint, "threads \(threads) vs 1")
      } else {
        reference = checkpoint
        XCTAssertLessThan(checkpoint.lossHistory.last!, checkpoint.lossHistory.first!)
      }
    }
  }

  /// Starts nnbatch with output discarded; returns the process.
  private func start(_ arguments: [String]) throws -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: nnbatchExecutable)
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    return process
  }

  func testSIGKILLAtRandomMomentsThenResumeEndsBitIdentical() throws {
    let dir = TemporaryDirectory()
    let epochs = 12
    let config = Self.config(dir, epochs: epochs, everySteps: 2)
    let began = Date()
    let straight = try nnbatch(["--config", config, "--checkpoint-dir", dir.file("straight")])
    XCTAssertEqual(straight.status, 0, straight.stderr)
    let duration = Date().timeIntervalSince(began)
    let expected = try Self.final(dir.file("straight"))

    var kills = 0
    var scenario = 0
    var generator = SystemRandomNumberGenerator()
    while kills < 20 {
      scenario += 1
      XCTAssertLessThan(scenario, 10, "could not land 20 kills")
      if scenario >= 10 { break }
      let folder = dir.file("killed\(scenario)")
      while true {
        let process = try start(["--config", config, "--checkpoint-dir", folder, "--resume"])
        // Somewhere between start-up and a fifth of a full run.
        let delay = Double.random(in: 0.02...max(0.05, duration / 5), using: &generator)
        Thread.sleep(forTimeInterval: delay)
        if process.isRunning {
          kill(process.processIdentifier, SIGKILL)
          process.waitUntilExit()
          if process.terminationReason == .uncaughtSignal {
            kills += 1
            // Whatever the kill hit, the newest loadable checkpoint verifies.
            _ = try CheckpointStore(directory: folder).newestValid()
            continue
          }
        }
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "resumed run failed in scenario \(scenario)")
        break
      }
      let final = try Self.final(folder)
      XCTAssertEqual(final.counters.epoch, epochs)
      Self.assertSameRun(expected, final, "after kills in scenario \(scenario)")
    }
    XCTAssertGreaterThanOrEqual(kills, 20)
  }

  func testSIGINTSIGTERMAndSIGHUPWriteACheckpointAndExitWithTheDocumentedCode() throws {
    let dir = TemporaryDirectory()
    let config = Self.config(dir, epochs: 12, everySteps: 1000)
    XCTAssertEqual(try nnbatch(["--config", config, "--checkpoint-dir", dir.file("straight")]).status, 0)
    let expected = try Self.final(dir.file("straight"))
    for (signal, code) in [(SIGINT, Int32(130)), (SIGTERM, Int32(143)), (SIGHUP, Int32(129))] {
      let folder = dir.file("sig\(signal)")
      let output = Pipe()
      let process = Process()
      process.executableURL = URL(fileURLWithPath: nnbatchExecutable)
      process.arguments = ["--config", config, "--checkpoint-dir", folder]
      process.standardOutput = output
      process.standardError = FileHandle.nullDevice
      try process.run()
      // The first line ("training rob: ...") comes once the data are loaded;
      // then let a few steps run. No file exists before the signal
      // (every_steps 1000, no every_epochs).
      _ = output.fileHandleForReading.availableData
      Thread.sleep(forTimeInterval: 0.3)
      XCTAssertTrue(process.isRunning, "the run must still be going when signalled")
      kill(process.processIdentifier, signal)
      process.waitUntilExit()
      XCTAssertEqual(process.terminationStatus, code)
      let stopped = try Self.final(folder)
      XCTAssertGreaterThan(stopped.counters.step, 0)
      XCTAssertLessThan(stopped.counters.step, expected.counters.step)
      let resumed = try nnbatch(["--config", config, "--checkpoint-dir", folder, "--resume"])
      XCTAssertEqual(resumed.status, 0, resumed.stderr)
      XCTAssertTrue(resumed.stdout.contains("resumed from"), resumed.stdout)
      Self.assertSameRun(expected, try Self.final(folder), "resumed after signal \(signal)")
    }
  }

  func testAFailingWriteKeepsThePreviousCheckpointAndReportsThePath() throws {
    let dir = TemporaryDirectory()
    let config = Self.config(dir, epochs: 1, everySteps: 1000)
    XCTAssertEqual(try nnbatch(["--config", config, "--checkpoint-dir", dir.file("ck")]).status, 0)
    let before = try Self.final(dir.file("ck"))
    let size = fileSize(dir.file("ck/step-000000028.h5"))
    XCTAssertGreaterThan(size, 100_000)
    // A file-size limit below one checkpoint makes the next save fail (EFBIG), like a full disk.
    let bash = try XCTUnwrap(tool("bash"))
    let limitBlocks = size / 1024 / 2
    let result = try runProcess(
      bash,
      [
        "-c", "ulimit -f \(limitBlocks); exec \"$0\" \"$@\"", nnbatchExecutable, "--config", config,
        "--resume", "--epochs", "2",
        "--checkpoint-dir", dir.file("ck"),
      ])
    XCTAssertEqual(result.status, 1, result.stderr)
    XCTAssertTrue(result.stderr.contains("checkpoint save failed"), result.stderr)
    XCTAssertTrue(
      result.stderr.contains(dir.file("ck/.step-000000056.h5")), "names the path: \(result.stderr)")
    XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
    XCTAssertTrue(
      result.stderr.lowercased().contains("file too large"), "names the system error: \(result.stderr)")
    let files = try FileSystem.list(dir.file("ck"))
    XCTAssertEqual(files, ["step-000000028.h5"], "the partial file is removed")
    Self.assertSameRun(before, try Self.final(dir.file("ck")), "previous checkpoint intact")
  }

  func testLeftoverTemporaryAndDamagedNewestCheckpointsAreHandledOnResume() throws {
    let dir = TemporaryDirectory()
    let config = Self.config(dir, epochs: 2, everySteps: 10)
    XCTAssertEqual(try nnbatch(["--config", config, "--checkpoint-dir", dir.file("straight")]).status, 0)
    let expected = try Self.final(dir.file("straight"))
    // Keep the straight run's files, damage the newest, leave a temporary file behind.
    try FileManager.default.copyItem(atPath: dir.file("straight"), toPath: dir.file("ck"))
    let files = try CheckpointStore(directory: dir.file("ck")).checkpointFiles()
    XCTAssertEqual(files.map(\.step), [50, 56])
    try truncate(files[1].path, to: 1000)
    dir.write("ck/.step-000000060.h5.4242.tmp", "partial")
    let result = try nnbatch(["--config", config, "--checkpoint-dir", dir.file("ck"), "--resume"])
    XCTAssertEqual(result.status, 0, result.stderr)
    XCTAssertTrue(result.stdout.contains("removed leftover temporary file"), result.stdout)
    XCTAssertTrue(
      result.stderr.contains("skipped") && result.stderr.contains("step-000000056.h5"), result.stderr)
    XCTAssertTrue(result.stdout.contains("resumed from \(files[0].path) at step 50"), result.stdout)
    // The resumed run ends exactly where the uninterrupted run ended.
    Self.assertSameRun(expected, try Self.final(dir.file("ck")), "after skipping a damaged file")
  }
}
