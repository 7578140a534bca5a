import Checkpoints
import Foundation
import TestSupport
import XCTest

/// Config errors that point the right way, through the real CLI (issue 24).
final class ConfigErrorCLITests: XCTestCase {
  func testAWrongLayerTypeStopsAtTheOneRealError() throws {
    let dir = TemporaryDirectory()
    dir.write(
      "dense.json",
      """
      { "name": "d",
        "data": { "source": "inline", "inputs": [[0, 1], [1, 0]], "targets": [[1], [0]] },
        "model": { "layers": [ { "type": "Dense", "units": 4, "activation": "relu" },
                               { "units": 1, "activation": "sigmoid" } ] },
        "loss": "binary_cross_entropy",
        "optimizer": { "kind": "adam" } }
      """)
    let result = try nnbatch(["--config", "dense.json"], in: dir.path)
    XCTAssertEqual(result.status, 2, result.stderr)
    XCTAssertEqual(
      result.stderr,
      #"""
      error: dense.json:3:36: $.model.layers[0].type: unknown layer type "Dense"; expected one of dense, conv2d, max_pool2d, avg_pool2d, global_avg_pool2d, global_max_pool2d, flatten, dropout, add, concatenate, activation, batch_norm, residual (did you mean "dense"?)

      """#)
    XCTAssertFalse(FileManager.default.fileExists(atPath: dir.file("checkpoints")))
  }
}

extension ConfigErrorCLITests {
  /// The folder relative paths are resolved against when nnbatch runs in `dir`.
  private func resolved(_ dir: TemporaryDirectory) -> String {
    URL(fileURLWithPath: dir.path).resolvingSymlinksInPath().path
  }

  func testAMissingDataFileNamesItsKeyAndTheFolderItWasResolvedAgainst() throws {
    let dir = TemporaryDirectory()
    dir.write(
      "bc.json",
      """
      { "data": { "source": "csv", "path": "mydata/bc_trian.csv" },
        "model": { "layers": [ { "units": 1, "activation": "linear" } ] },
        "loss": "mse", "optimizer": { "kind": "sgd" } }
      """)
    let result = try nnbatch(["--config", "bc.json"], in: dir.path)
    XCTAssertEqual(result.status, 2, result.stderr)
    XCTAssertEqual(
      result.stderr,
      "error: bc.json: $.data.path: mydata/bc_trian.csv: no such file (resolved against \(resolved(dir)))\n")
  }

  func testEveryDataFileKeyOfEverySourceIsNamed() throws {
    let dir = TemporaryDirectory()
    for name in ["a.csv", "x.h5", "img.idx", "f.npy"] { dir.write(name, "") }
    let absent = dir.file("absent.bin")
    // (the data object, the key the error must name, the path it must show, whether it is relative)
    let cases: [(String, String, String, Bool)] = [
      (#"{ "source": "csv", "path": "no.csv" }"#, "$.data.path", "no.csv", true),
      (
        #"{ "source": "hdf5", "path": "no.h5", "inputs": "/x", "targets": "/y" }"#, "$.data.path", "no.h5",
        true
      ),
      (
        #"{ "source": "idx", "images": "sub/no.idx", "labels": "img.idx" }"#, "$.data.images", "sub/no.idx",
        true
      ),
      (#"{ "source": "idx", "images": "img.idx", "labels": "no.idx" }"#, "$.data.labels", "no.idx", true),
      (#"{ "source": "npy", "features": "no.npy", "targets": "f.npy" }"#, "$.data.features", "no.npy", true),
      (
        #"{ "source": "npy", "features": "f.npy", "targets": "\#(absent)" }"#, "$.data.targets", absent, false
      ),
      (
        #"{ "source": "csv", "path": "a.csv", "validation": { "source": "idx", "images": "img.idx", "labels": "v.idx" } }"#,
        "$.data.validation.labels", "v.idx", true
      ),
      (
        #"{ "source": "csv", "path": "a.csv", "validation": { "source": "csv", "path": "v.csv" } }"#,
        "$.data.validation.path", "v.csv", true
      ),
    ]
    for (data, key, path, relative) in cases {
      dir.write(
        "c.json",
        """
        { "data": \(data),
          "model": { "layers": [ { "units": 1, "activation": "linear" } ] },
          "loss": "mse", "optimizer": { "kind": "sgd" } }
        """)
      let result = try nnbatch(["--config", "c.json"], in: dir.path)
      XCTAssertEqual(result.status, 2, result.stderr)
      let folder = relative ? " (resolved against \(resolved(dir)))" : ""
      XCTAssertEqual(result.stderr, "error: c.json: \(key): \(path): no such file\(folder)\n", data)
    }
  }

  func testEvaluateNamesTheKeyOfAMovedDataFile() throws {
    let dir = TemporaryDirectory()
    var csv = "x,y\n"
    for i in 0..<8 { csv += "\(i),\(2 * i)\n" }
    dir.write("d.csv", csv)
    dir.write(
      "c.json",
      """
      { "data": { "source": "csv", "path": "d.csv" },
        "model": { "layers": [ { "units": 1, "activation": "linear" } ] },
        "loss": "mse", "optimizer": { "kind": "sgd" }, "training": { "epochs": 1 },
        "checkpoint": { "dir": "ck" } }
      """)
    let trained = try nnbatch(["--config", "c.json"], in: dir.path)
    XCTAssertEqual(trained.status, 0, trained.stderr)
    try FileManager.default.moveItem(atPath: dir.file("d.csv"), toPath: dir.file("moved.csv"))
    let own = try nnbatch(["evaluate", "--checkpoint", "ck/step-000000001.h5"], in: dir.path)
    XCTAssertEqual(own.status, 2, own.stdout)
    XCTAssertEqual(
      own.stderr,
      "error: ck/step-000000001.h5:/@config: $.data.path: d.csv: no such file (resolved against \(resolved(dir)))\n"
    )
    dir.write(
      "other.json",
      """
      { "data": { "source": "csv", "path": "d.csv", "validation": { "source": "csv", "path": "gone.csv" } },
        "model": { "layers": [ { "units": 1, "activation": "linear" } ] },
        "loss": "mse", "optimizer": { "kind": "sgd" } }
      """)
    let other = try nnbatch(
      ["evaluate", "--checkpoint", "ck/step-000000001.h5", "--data", "other.json"], in: dir.path)
    XCTAssertEqual(other.status, 2, other.stdout)
    XCTAssertEqual(
      other.stderr,
      "error: other.json: $.data.path: d.csv: no such file (resolved against \(resolved(dir)))\n")
    // evaluate --data CONFIG reads only its data: a missing validation file there is no error.
    try FileManager.default.moveItem(atPath: dir.file("moved.csv"), toPath: dir.file("d.csv"))
    let unread = try nnbatch(
      ["evaluate", "--checkpoint", "ck/step-000000001.h5", "--data", "other.json"], in: dir.path)
    XCTAssertEqual(unread.status, 0, unread.stderr)
    XCTAssertTrue(unread.stdout.contains("on other.json: 8 samples"), unread.stdout)
  }
}

extension ConfigErrorCLITests {
  /// `distributed.overlap`: a non-boolean stops the run (exit 2, one line); in one process true trains as false does.
  func testDistributedOverlapIsABooleanAndChangesNothingInOneProcess() throws {
    let dir = TemporaryDirectory()
    func config(_ name: String, overlap: String) -> String {
      dir.write(
        "\(name).json",
        """
        { "name": "o", "seed": 1,
          "data": { "source": "inline", "inputs": [[0, 1], [1, 0]], "targets": [[1], [0]] },
          "model": { "layers": [ { "units": 4, "activation": "tanh" }, { "units": 1, "activation": "sigmoid" } ] },
          "loss": "binary_cross_entropy", "optimizer": { "kind": "adam" }, "training": { "epochs": 3 },
          "distributed": { "overlap": \(overlap) } }
        """)
    }
    let bad = try nnbatch(["--config", config("bad", overlap: "\"yes\"")], in: dir.path)
    XCTAssertEqual(bad.status, 2, bad.stderr)
    XCTAssertEqual(
      bad.stderr,
      "error: \(dir.file("bad.json")):5:31: $.distributed.overlap: expected true or false, found \"yes\"\n")
    XCTAssertFalse(FileManager.default.fileExists(atPath: dir.file("checkpoints")))
    // No mpirun: nothing to overlap, the same checkpoint bytes as without the key.
    for overlap in ["true", "false"] {
      let run = try nnbatch(
        ["--config", config(overlap, overlap: overlap), "--checkpoint-dir", dir.file(overlap), "--quiet"],
        in: dir.path)
      XCTAssertEqual(run.status, 0, run.stderr)
      XCTAssertEqual(run.stderr, "")
    }
    let on = try FileManager.default.contentsOfDirectory(atPath: dir.file("true")).filter {
      $0.hasSuffix(".h5")
    }
    XCTAssertFalse(on.isEmpty)
    for name in on {
      let a = try Checkpoint.read(from: dir.file("true/\(name)"))
      let b = try Checkpoint.read(from: dir.file("false/\(name)"))
      XCTAssertEqual(a.bitwiseDifferences(from: b), [], name)
    }
    // The environment variable that came before the key is named, not silently ignored.
    var environment = ProcessInfo.processInfo.environment
    environment["NNBATCH_MPI_OVERLAP"] = "1"
    let old = try runProcess(
      nnbatchExecutable,
      ["--config", dir.file("false.json"), "--checkpoint-dir", dir.file("env"), "--quiet"],
      in: dir.path, environment: environment)
    XCTAssertEqual(old.status, 0, old.stderr)
    XCTAssertEqual(
      old.stderr,
      "warning: NNBATCH_MPI_OVERLAP is no longer read; the config's distributed.overlap decides (false in \(dir.file("false.json")))\n"
    )
  }
}
