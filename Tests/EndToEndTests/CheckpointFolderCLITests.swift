import Foundation
import TestSupport
import XCTest

/// inspect, predict, evaluate, plot and export take a run's folder as `--resume DIR` does (issue 24).
final class CheckpointFolderCLITests: XCTestCase {
  /// A folder `ck` in `dir` with checkpoints at steps 10, 20 and 30 of a small regression run.
  private func trainedRun() throws -> TemporaryDirectory {
    let dir = TemporaryDirectory()
    dir.write(
      "xor.json",
      """
      { "name": "xor", "seed": 1,
        "data": { "source": "inline", "inputs": [[0,0,1],[0,1,1],[1,0,1],[1,1,1]], "targets": [[0],[1],[1],[0]] },
        "model": { "layers": [ { "units": 4, "activation": "sigmoid" }, { "units": 1, "activation": "sigmoid" } ] },
        "loss": "sse", "optimizer": { "kind": "sgd", "learning_rate": 1.0 },
        "training": { "epochs": 30, "batch_size": 4 },
        "checkpoint": { "dir": "ck", "every_epochs": 10 } }
      """)
    dir.write("in.csv", "0,0,1\n1,0,1\n")
    let trained = try nnbatch(["--config", "xor.json", "--quiet"], in: dir.path)
    XCTAssertEqual(trained.status, 0, trained.stderr)
    return dir
  }

  /// Each command that reads a checkpoint: its name, its arguments before the checkpoint and after it.
  private static let commands: [(name: String, before: [String], after: [String])] = [
    ("inspect", ["inspect"], []),
    ("predict", ["predict", "--checkpoint"], ["--input", "in.csv"]),
    ("evaluate", ["evaluate", "--checkpoint"], []),
    ("plot", ["plot"], []),
  ]

  func testAFolderIsItsNewestValidCheckpointNamedOnStderr() throws {
    let dir = try trainedRun()
    let newest = "ck/step-000000030.h5"
    for command in Self.commands {
      let direct = try nnbatch(command.before + [newest] + command.after, in: dir.path)
      XCTAssertEqual(direct.status, 0, "\(command.name): \(direct.stderr)")
      XCTAssertEqual(direct.stderr, "", command.name)
      for folder in ["ck", "ck/"] {
        let viaFolder = try nnbatch(command.before + [folder] + command.after, in: dir.path)
        XCTAssertEqual(viaFolder.status, 0, "\(command.name) \(folder): \(viaFolder.stderr)")
        XCTAssertEqual(viaFolder.stderr, "using \(newest) (newest valid in ck)\n", command.name)
        XCTAssertEqual(viaFolder.stdout, direct.stdout, "\(command.name) \(folder)")
      }
    }
    let inspect = try nnbatch(["inspect", "ck"], in: dir.path)
    XCTAssertTrue(inspect.stdout.hasPrefix("checkpoint  \(newest)\n"), inspect.stdout)
    let evaluate = try nnbatch(["evaluate", "--checkpoint", "ck"], in: dir.path)
    XCTAssertTrue(evaluate.stdout.hasPrefix("evaluated \(newest) on "), evaluate.stdout)
  }

  func testExportOfAFolderWritesBesideTheFileItUsed() throws {
    let dir = try trainedRun()
    let export = try nnbatch(["export", "ck", "--format", "onnx"], in: dir.path)
    XCTAssertEqual(export.status, 0, export.stderr)
    XCTAssertEqual(export.stderr, "using ck/step-000000030.h5 (newest valid in ck)\n")
    XCTAssertEqual(export.stdout, "wrote ck/step-000000030.onnx\n")
    let direct = try nnbatch(
      ["export", "ck/step-000000030.h5", "--format", "onnx", "-o", "direct.onnx"], in: dir.path)
    XCTAssertEqual(direct.status, 0, direct.stderr)
    XCTAssertEqual(
      FileManager.default.contents(atPath: dir.file("ck/step-000000030.onnx")),
      FileManager.default.contents(atPath: dir.file("direct.onnx")))
    XCTAssertFalse(FileManager.default.fileExists(atPath: dir.file("ck.onnx")))
  }

  func testANewerDamagedFileIsSkippedWithAWarning() throws {
    let dir = try trainedRun()
    dir.write("ck/step-000000099.h5", "")
    let inspect = try nnbatch(["inspect", "ck"], in: dir.path)
    XCTAssertEqual(inspect.status, 0, inspect.stderr)
    XCTAssertEqual(
      inspect.stderr,
      """
      warning: skipped ck/step-000000099.h5: damaged: file too short (0 bytes) for a checkpoint
      using ck/step-000000030.h5 (newest valid in ck)

      """)
  }

  /// A FIFO or a directory named like a checkpoint is skipped in a folder and refused by name,
  /// never opened for reading (a FIFO without a writer would block for ever).
  func testAFIFOOrDirectoryNamedLikeACheckpointIsSkippedNeverWaitedOn() throws {
    let dir = try trainedRun()
    XCTAssertEqual(mkfifo(dir.file("ck/step-000000099.h5"), 0o644), 0)
    try FileManager.default.createDirectory(
      atPath: dir.file("ck/step-000000100.h5"), withIntermediateDirectories: false)
    for command in Self.commands {
      let result = try nnbatch(command.before + ["ck"] + command.after, in: dir.path)
      XCTAssertEqual(result.status, 0, "\(command.name): \(result.stderr)")
      XCTAssertTrue(
        result.stderr.contains(
          "warning: skipped ck/step-000000099.h5: expected a checkpoint file, found a FIFO (named pipe)"),
        "\(command.name): \(result.stderr)")
      XCTAssertTrue(
        result.stderr.contains(
          "warning: skipped ck/step-000000100.h5: expected a checkpoint file, found a directory"),
        "\(command.name): \(result.stderr)")
      XCTAssertTrue(result.stderr.contains("using ck/step-000000030.h5"), result.stderr)
    }
    let direct = try nnbatch(["inspect", "ck/step-000000099.h5"], in: dir.path)
    XCTAssertEqual(direct.status, 2, direct.stderr)
    XCTAssertEqual(
      direct.stderr, "error: ck/step-000000099.h5: expected a checkpoint file, found a FIFO (named pipe)\n")
  }

  func testAFolderWithoutACheckpointIsAUsageError() throws {
    let dir = try trainedRun()
    try FileManager.default.createDirectory(atPath: dir.file("empty"), withIntermediateDirectories: false)
    let all = Self.commands + [("export", ["export"], ["--format", "onnx"])]
    for command in all {
      let result = try nnbatch(command.before + ["empty"] + command.after, in: dir.path)
      XCTAssertEqual(result.status, 2, "\(command.name): \(result.stderr)")
      XCTAssertEqual(
        result.stderr,
        "error: empty: no checkpoint in this folder (step-*.h5); give a checkpoint file or a run's checkpoint folder\n",
        command.name)
      XCTAssertEqual(result.stdout, "", command.name)
    }
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.file("empty")), [])
    XCTAssertFalse(FileManager.default.fileExists(atPath: dir.file("empty.onnx")))
    // Only damaged files: none verifies, each named.
    dir.write("empty/step-000000001.h5", "")
    let damaged = try nnbatch(["inspect", "empty"], in: dir.path)
    XCTAssertEqual(damaged.status, 2, damaged.stderr)
    XCTAssertEqual(
      damaged.stderr,
      "error: empty: no checkpoint verifies: empty/step-000000001.h5: damaged: file too short (0 bytes) for a checkpoint\n"
    )
  }
}
