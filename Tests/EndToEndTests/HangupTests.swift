import Checkpoints
import Foundation
import TestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// A closed terminal (SIGHUP) never cancels the checkpoint a first signal asked for (issue 24).
final class HangupTests: XCTestCase {
  /// A run whose steps and saves take long enough that a second signal lands inside them.
  static func config(_ dir: TemporaryDirectory) -> String {
    dir.write(
      "hup.json",
      """
      { "name": "hup", "seed": 5,
        "data": { "source": "synthetic", "samples": 2048, "features": 512, "classes": 10, "seed": 6 },
        "model": { "layers": [ { "units": 1024, "activation": "relu" }, { "units": 1024, "activation": "relu" },
                               { "units": 10, "activation": "softmax" } ] },
        "loss": "cross_entropy",
        "optimizer": { "kind": "adam", "learning_rate": 0.001 },
        "training": { "epochs": 1000, "batch_size": 256 },
        "checkpoint": { "every_steps": 100000 } }
      """)
  }

  /// Whether `signal` is still pending for process `pid` (not yet handed to its handler).
  static func isPending(_ signal: Int32, pid: Int32) -> Bool {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else {
      return false
    }
    for line in status.split(separator: "\n") where line.hasPrefix("ShdPnd:") || line.hasPrefix("SigPnd:") {
      let hex = line.split(separator: "\t").last.map(String.init) ?? "0"
      if let mask = UInt64(hex, radix: 16), mask & (1 << UInt64(signal - 1)) != 0 { return true }
    }
    return false
  }

  /// Starts a long run in `folder`, sends `signals` in order (each once the previous one
  /// was handled), and returns its exit status and standard output.
  func run(_ config: String, folder: String, signals: [Int32]) throws -> (status: Int32, stdout: String) {
    let output = Pipe()
    let process = Process()
    process.executableURL = URL(fileURLWithPath: nnbatchExecutable)
    process.arguments = ["--config", config, "--checkpoint-dir", folder]
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
    // The start line comes once the data are loaded and training has begun.
    var text = String(decoding: output.fileHandleForReading.availableData, as: UTF8.self)
    Thread.sleep(forTimeInterval: 0.3)
    XCTAssertTrue(process.isRunning, "the run must still be going when signalled")
    let pid = process.processIdentifier
    for signal in signals {
      kill(pid, signal)
      // The next signal must arrive after this one was handled: Linux hands pending
      // signals out lowest number first, and SIGHUP (1) would overtake SIGINT (2).
      let deadline = Date().addingTimeInterval(5)
      while Self.isPending(signal, pid: pid) && Date() < deadline { Thread.sleep(forTimeInterval: 0.001) }
      Thread.sleep(forTimeInterval: 0.005)
    }
    text += String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    XCTAssertEqual(process.terminationReason, .exit, text)
    return (process.terminationStatus, text)
  }

  func testSIGHUPAfterSIGINTOrSIGTERMLetsTheCheckpointBeWritten() throws {
    let dir = TemporaryDirectory()
    let config = Self.config(dir)
    for (first, code) in [(SIGINT, Int32(130)), (SIGTERM, Int32(143))] {
      let folder = dir.file("ck\(first)")
      let (status, stdout) = try run(config, folder: folder, signals: [first, SIGHUP])
      XCTAssertEqual(status, code, "signal \(first) then SIGHUP: \(stdout)")
      XCTAssertTrue(stdout.contains("; checkpoint written; resume with --resume"), stdout)
      let saved = try XCTUnwrap(try CheckpointStore(directory: folder).newestValid(), "no valid checkpoint")
      XCTAssertGreaterThan(saved.checkpoint.counters.step, 0)
    }
  }

  func testAPlainSIGHUPStillWritesACheckpointAndExits129() throws {
    let dir = TemporaryDirectory()
    let folder = dir.file("ck")
    let (status, stdout) = try run(Self.config(dir), folder: folder, signals: [SIGHUP])
    XCTAssertEqual(status, 129, stdout)
    XCTAssertTrue(stdout.contains("; checkpoint written; resume with --resume"), stdout)
    let saved = try XCTUnwrap(try CheckpointStore(directory: folder).newestValid(), "no valid checkpoint")
    XCTAssertGreaterThan(saved.checkpoint.counters.step, 0)
  }

  /// A second SIGINT leaves at once (exit 130) without waiting for the save the first asked
  /// for: no checkpoint file appears (saves are renamed into place only when complete), and
  /// a new run in the folder starts cleanly and leaves no temporary file.
  func testASecondSIGINTExitsAtOnceWithoutTheSave() throws {
    let dir = TemporaryDirectory()
    let config = Self.config(dir)
    let folder = dir.file("ck")
    let (status, stdout) = try run(config, folder: folder, signals: [SIGINT, SIGINT])
    XCTAssertEqual(status, 130, stdout)
    // The first SIGINT's save needs the step to end first (tens of ms): the second, 5 ms
    // after the first was handled, comes before it.
    XCTAssertFalse(stdout.contains("checkpoint written"), "the second SIGINT did not wait: \(stdout)")
    // The save never began: no checkpoint file, whole or not, only what a killed save may leave.
    let store = CheckpointStore(directory: folder)
    let files = FileManager.default.fileExists(atPath: folder) ? try store.checkpointFiles() : []
    XCTAssertEqual(files.map(\.path), [], "no checkpoint from a save the second SIGINT cut short")
    // A new run in the folder starts cleanly and clears what an interrupted save left.
    let again = try nnbatch(
      ["--config", config, "--checkpoint-dir", folder, "--epochs", "1", "--quiet"], in: repositoryRoot)
    XCTAssertEqual(again.status, 0, again.stderr)
    XCTAssertEqual(try store.removeTemporaryFiles(), [], "no temporary file left")
    XCTAssertNotNil(try store.newestValid(), "the new run's checkpoint")
  }
}
