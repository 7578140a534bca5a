import Checkpoints
import Foundation
import HDF5Store
import TestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Files nnbatch creates and the paths it is given (issue 23), through the real CLI.
final class OutputPathTests: XCTestCase {
  /// A short xor run in `dir` (checkpoints in dir/ck); returns its last checkpoint.
  private func train(_ dir: TemporaryDirectory, extra: [String] = []) throws -> String {
    let run = try nnbatch(
      ["--config", "configs/xor.json", "--epochs", "20", "--quiet", "--checkpoint-dir", dir.file("ck")]
        + extra,
      in: repositoryRoot)
    XCTAssertEqual(run.status, 0, run.stderr)
    return dir.file("ck/step-000000020.h5")
  }

  private func text(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

  /// The four output options, each as arguments writing to `path`.
  private func outputCommands(_ dir: TemporaryDirectory, checkpoint: String, input: String) -> [(
    String, [String]
  )] {
    [
      ("predict -o", ["predict", "--checkpoint", checkpoint, "--input", input, "-o"]),
      ("plot -o", ["plot", checkpoint, "-o"]),
      ("export -o", ["export", checkpoint, "--format", "onnx", "-o"]),
      (
        "--log-csv",
        [
          "--config", "configs/xor.json", "--epochs", "3", "--quiet", "--checkpoint-dir", dir.file("ck-log"),
          "--log-csv",
        ]
      ),
    ]
  }

  // MARK: #4 symlinks in the checkpoint folder

  func testLockSymlinkIsRefusedAndItsTargetKept() throws {
    let dir = TemporaryDirectory()
    let victim = dir.write("victim.txt", "precious bytes")
    try FileManager.default.createDirectory(atPath: dir.file("ck"), withIntermediateDirectories: false)
    XCTAssertEqual(symlink(victim, dir.file("ck/.lock")), 0)
    let run = try nnbatch(
      ["--config", "configs/xor.json", "--epochs", "5", "--quiet", "--checkpoint-dir", dir.file("ck")],
      in: repositoryRoot)
    XCTAssertEqual(run.status, 2, run.stderr)
    XCTAssertTrue(
      run.stderr.contains(
        "ck/.lock: expected the lock file nnbatch creates (a regular file), found a symlink"),
      run.stderr)
    XCTAssertEqual(text(victim), "precious bytes")
    XCTAssertEqual(fileType(dir.file("ck/.lock")), S_IFLNK)
    // A hard link (a second name for the victim) is refused too: its PID would land in the victim.
    XCTAssertEqual(unlink(dir.file("ck/.lock")), 0)
    XCTAssertEqual(link(victim, dir.file("ck/.lock")), 0)
    let linked = try nnbatch(
      ["--config", "configs/xor.json", "--epochs", "5", "--quiet", "--checkpoint-dir", dir.file("ck")],
      in: repositoryRoot)
    XCTAssertEqual(linked.status, 2, linked.stderr)
    XCTAssertTrue(linked.stderr.contains("found a file with 2 hard links"), linked.stderr)
    XCTAssertEqual(text(victim), "precious bytes")
  }

  /// Issue 23 #4: symlinks planted in a running run's folder are never written through.
  ///
  /// The attack: read the run's PID from DIR/.lock and plant symlinks to a victim at the
  /// old temporary names, `.step-<step>.h5.<pid>.tmp`, of every step it could still save.
  /// The victim must keep its bytes and every save succeed.
  func testPlantedTemporarySymlinksAreNeverWrittenThrough() throws {
    let dir = TemporaryDirectory()
    let victim = dir.write("victim.txt", "precious bytes")
    let config = dir.write(
      "long.json",
      """
      { "name": "long", "seed": 3,
        "data": { "source": "synthetic", "samples": 4096, "features": 64, "classes": 10, "seed": 4 },
        "model": { "layers": [ { "units": 128, "activation": "relu" }, { "units": 10, "activation": "softmax" } ] },
        "loss": "cross_entropy", "optimizer": { "kind": "sgd", "learning_rate": 0.01 },
        "training": { "epochs": 40, "batch_size": 128 },
        "checkpoint": { "dir": "\(dir.file("ck"))", "every_steps": 4, "keep": 2 } }
      """)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: nnbatchExecutable)
    process.arguments = ["--config", config, "--quiet", "--threads", "1"]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    var pid: Int?
    while pid == nil && process.isRunning {
      pid = Int(text(dir.file("ck/.lock")).trimmingCharacters(in: .whitespacesAndNewlines))
      if pid == nil { usleep(2000) }
    }
    let found = try XCTUnwrap(pid, "the run ended before its lock could be read")
    XCTAssertEqual(found, Int(process.processIdentifier))
    for step in 1...(40 * 32) {
      _ = symlink(victim, dir.file("ck/.\(CheckpointStore.fileName(step: step)).\(found).tmp"))
    }
    let planted = try FileManager.default.contentsOfDirectory(atPath: dir.file("ck")).filter {
      $0.hasSuffix(".tmp")
    }
    process.waitUntilExit()
    XCTAssertEqual(process.terminationStatus, 0)
    XCTAssertEqual(text(victim), "precious bytes")
    XCTAssertEqual(fileType(victim), S_IFREG)
    // Saves went on after the links were planted: the final one is a file of its own.
    XCTAssertGreaterThan(planted.count, 100)
    XCTAssertEqual(fileType(dir.file("ck/step-000001280.h5")), S_IFREG)
    XCTAssertEqual(try Checkpoint.read(from: dir.file("ck/step-000001280.h5")).counters.step, 1280)
  }

  // MARK: #5 output options and kinds of paths

  func testEveryOutputOptionWritesThroughAFIFO() throws {
    let dir = TemporaryDirectory()
    let checkpoint = try train(dir)
    let input = dir.write("in.csv", "0,0,1\n1,1,1\n")
    for (name, arguments) in outputCommands(dir, checkpoint: checkpoint, input: input) {
      let fifo = dir.file("fifo")
      let received = try XCTUnwrap(readingNewFIFO(fifo))
      let run = try nnbatch(arguments + [fifo], in: repositoryRoot)
      XCTAssertEqual(run.status, 0, "\(name): \(run.stderr)")
      let bytes = received()
      XCTAssertFalse(bytes.isEmpty, name)
      XCTAssertEqual(fileType(fifo), S_IFIFO, "\(name): the FIFO is still a FIFO")
      let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter {
        $0.hasPrefix(".")
      }
      XCTAssertEqual(leftovers, [], name)
      let content = String(decoding: bytes, as: UTF8.self)
      switch name {
      case "predict -o": XCTAssertTrue(content.hasPrefix("output_0\n"), content)
      case "plot -o": XCTAssertTrue(content.hasPrefix("<?xml"), content)
      case "--log-csv": XCTAssertTrue(content.hasPrefix("epoch,step,"), content)
      default: XCTAssertGreaterThan(bytes.count, 100, content)
      }
      XCTAssertEqual(unlink(fifo), 0)
    }
  }

  func testEveryOutputOptionReplacesASymlinksTargetAndKeepsTheLink() throws {
    let dir = TemporaryDirectory()
    let checkpoint = try train(dir)
    let input = dir.write("in.csv", "0,0,1\n1,1,1\n")
    try FileManager.default.createDirectory(atPath: dir.file("real"), withIntermediateDirectories: false)
    for (name, arguments) in outputCommands(dir, checkpoint: checkpoint, input: input) {
      let target = dir.write("real/target", "old")
      let link = dir.file("link")
      XCTAssertEqual(symlink("real/target", link), 0)
      let run = try nnbatch(arguments + [link], in: repositoryRoot)
      XCTAssertEqual(run.status, 0, "\(name): \(run.stderr)")
      XCTAssertEqual(fileType(link), S_IFLNK, "\(name): the link stays a link")
      XCTAssertNotEqual(text(target), "old", name)
      XCTAssertGreaterThan(fileSize(target), 3, name)
      XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.file("real")), ["target"], name)
      XCTAssertEqual(unlink(link), 0)
    }
  }

  func testADirectoryAsOutputIsRefusedAndLeavesNothing() throws {
    let dir = TemporaryDirectory()
    let checkpoint = try train(dir)
    let input = dir.write("in.csv", "0,0,1\n1,1,1\n")
    try FileManager.default.createDirectory(atPath: dir.file("out"), withIntermediateDirectories: false)
    for (name, arguments) in outputCommands(dir, checkpoint: checkpoint, input: input) {
      let before = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
      let absolute = try nnbatch(arguments + [dir.file("out")], in: repositoryRoot)
      XCTAssertEqual(absolute.status, 2, "\(name): \(absolute.stderr)")
      XCTAssertTrue(
        absolute.stderr.contains("out: cannot write: expected a file, a device or a FIFO, found a directory"),
        "\(name): \(absolute.stderr)")
      XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.file("out")), [], name)
      XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted(), before, name)
    }
  }

  /// Issue 23 #11: a directory as logging.csv left a 0-byte `.ck.PID.tmp` in the working directory.
  func testADirectoryAsLoggingCSVLeavesNothingInTheWorkingDirectory() throws {
    let dir = TemporaryDirectory()
    let config = try String(contentsOfFile: "\(repositoryRoot)/configs/xor.json", encoding: .utf8)
      .replacingOccurrences(
        of: "\"checkpoint\":", with: "\"logging\": { \"csv\": \"ck\" },\n  \"checkpoint\":")
    XCTAssertTrue(config.contains("\"csv\": \"ck\""))
    dir.write("xor.json", config)
    try FileManager.default.createDirectory(atPath: dir.file("ck"), withIntermediateDirectories: false)
    let run = try nnbatch(["--config", "xor.json", "--epochs", "5", "--checkpoint-dir", "run"], in: dir.path)
    XCTAssertEqual(run.status, 2, run.stderr)
    XCTAssertTrue(
      run.stderr.contains("ck: cannot write: expected a file, a device or a FIFO, found a directory"),
      run.stderr)
    XCTAssertEqual(
      try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted(), ["ck", "xor.json"])
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.file("ck")), [])
  }

  // MARK: #6 paths as given

  func testArgumentsThatAreNotUTF8AreRefused() throws {
    let dir = TemporaryDirectory()
    dir.write("xor.json", try String(contentsOfFile: "\(repositoryRoot)/configs/xor.json", encoding: .utf8))
    // Process takes String arguments: the shell's printf makes the raw byte 0xFF.
    let run = try runProcess(
      "/bin/sh",
      [
        "-c", #"exec "$0" --config xor.json --epochs 5 --checkpoint-dir "$(printf 'ck\377')""#,
        nnbatchExecutable,
      ],
      in: dir.path)
    XCTAssertEqual(run.status, 2, run.stderr)
    XCTAssertEqual(
      run.stderr,
      #"error: argument 6 ("ck\xff"): expected text in UTF-8, found other bytes; nnbatch takes paths and values as UTF-8 text (rename the file or folder)"#
        + "\n")
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["xor.json"])
    // inspect of a file whose name is not UTF-8 said "no such file" for a file that exists.
    let checkpoint = try train(dir)
    let named = try runProcess(
      "/bin/sh",
      [
        "-c", #"cp "$1" "$(printf 'c\376.h5')" && exec "$0" inspect "$(printf 'c\376.h5')""#,
        nnbatchExecutable, checkpoint,
      ],
      in: dir.path)
    XCTAssertEqual(named.status, 2, named.stderr)
    XCTAssertTrue(named.stderr.contains(#"argument 2 ("c\xfe.h5"): expected text in UTF-8"#), named.stderr)
  }

  func testNULInAConfigPathIsRefusedAndItsPrefixUntouched() throws {
    let dir = TemporaryDirectory()
    let victim = dir.write("victim.txt", "precious bytes")
    let config = try String(contentsOfFile: "\(repositoryRoot)/configs/xor.json", encoding: .utf8)
      .replacingOccurrences(
        of: "\"checkpoint\":", with: "\"logging\": { \"csv\": \"victim.txt\\u0000.csv\" },\n  \"checkpoint\":"
      )
    dir.write("xor.json", config)
    let run = try nnbatch(["--config", "xor.json", "--epochs", "5", "--checkpoint-dir", "run"], in: dir.path)
    XCTAssertEqual(run.status, 2, run.stderr)
    XCTAssertTrue(
      run.stderr.contains("$.logging.csv: expected a path without NUL characters, found one at byte 10"),
      run.stderr)
    XCTAssertEqual(text(victim), "precious bytes")
    XCTAssertEqual(
      try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted(), ["victim.txt", "xor.json"])
  }

  // MARK: #8 copies of standard input

  /// `predict --input -` and `evaluate --data -` killed with SIGKILL while reading standard input leave nothing in TMPDIR.
  func testStandardInputCopiesLeaveNothingEvenAfterSIGKILL() throws {
    let dir = TemporaryDirectory()
    let checkpoint = try train(dir)
    let tmp = dir.file("tmp")
    try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: false)
    var environment = ProcessInfo.processInfo.environment
    environment["TMPDIR"] = tmp
    for arguments in [
      ["predict", "--checkpoint", checkpoint, "--input", "-"],
      ["evaluate", "--checkpoint", checkpoint, "--data", "-", "--threads", "1"],
    ] {
      let process = Process()
      process.executableURL = URL(fileURLWithPath: nnbatchExecutable)
      process.arguments = arguments
      process.environment = environment
      let input = Pipe()
      process.standardInput = input
      process.standardOutput = FileHandle.nullDevice
      process.standardError = FileHandle.nullDevice
      try process.run()
      // 1 MiB through a 64 KiB pipe: when the write returns, nnbatch has copied most of it.
      let rows = String(repeating: "0,1,1\n", count: (1 << 20) / 6)
      try input.fileHandleForWriting.write(contentsOf: Data(rows.utf8))
      XCTAssertTrue(process.isRunning, "\(arguments[0]) still reading (standard input is open)")
      XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: tmp), [], "nameless from the start")
      kill(process.processIdentifier, SIGKILL)
      process.waitUntilExit()
      XCTAssertEqual(process.terminationReason, .uncaughtSignal)
      XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: tmp), [], arguments[0])
      try? input.fileHandleForWriting.close()
    }
    // And the copy reads as before, HDF5 included (libhdf5 opens it through /proc/self/fd).
    let h5 = try HDF5File.create(path: dir.file("in.h5"))
    try h5.root().write([Float(0), 0, 1, 1, 1, 1], shape: [2, 3], name: "x")
    try h5.close()
    let csv = dir.write("in.csv", "0,0,1\n1,1,1\n")
    let fromFile = try nnbatch(["predict", "--checkpoint", checkpoint, "--input", csv])
    XCTAssertEqual(fromFile.status, 0, fromFile.stderr)
    for (file, extra) in [(csv, [String]()), (dir.file("in.h5"), ["--dataset", "x"])] {
      let piped = try runProcess(
        "/bin/sh",
        [
          "-c",
          #"t=$1 c=$2 f=$3; shift 3; TMPDIR="$t" exec "$0" predict --checkpoint "$c" --input - "$@" < "$f""#,
          nnbatchExecutable, tmp, checkpoint, file,
        ] + extra)
      XCTAssertEqual(piped.status, 0, "\(file): \(piped.stderr)")
      XCTAssertEqual(piped.stdout, fromFile.stdout, file)
    }
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: tmp), [])
  }
}
