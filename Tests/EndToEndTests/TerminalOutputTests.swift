import Checkpoints
import Foundation
import TestSupport
import XCTest

@testable import nnbatch

/// Progress on a (pseudo-)terminal fits its width; --log-every thins every output; `-` is stdin.
final class TerminalOutputTests: XCTestCase {
  /// `arguments` run by nnbatch on a pseudo-terminal of `columns` columns (0: size unknown).
  private func onTerminal(columns: Int, environment: String = "", _ arguments: [String]) throws
    -> ProcessResult
  {
    // `script` (util-linux) gives nnbatch a pseudo-terminal; `stty` sizes it.
    let script = try XCTUnwrap(tool("script"), "script (util-linux) must be installed")
    let command =
      "stty cols \(columns); \(environment) exec \(nnbatchExecutable) " + arguments.joined(separator: " ")
    return try runProcess(script, ["-q", "-e", "-c", command, "/dev/null"], in: repositoryRoot)
  }

  /// What stays visible of each redraw and line: the text between "\r", "\n" and clear-to-end-of-line.
  private func segments(_ output: String) -> [String] {
    output.replacingOccurrences(of: "\u{1B}[K", with: "\r").components(separatedBy: .newlines)
      .filter { !$0.isEmpty }
  }

  func testTheTutorialRunPrintsAsManyLinesOnATerminalAsPipedAndEveryProgressLineFits() throws {
    let dir = TemporaryDirectory()
    let terminal = try onTerminal(
      columns: 80, ["--config", "configs/xor.json", "--checkpoint-dir", dir.file("tty")])
    XCTAssertEqual(terminal.status, 0, terminal.stderr)
    let piped = try nnbatch(
      ["--config", "configs/xor.json", "--checkpoint-dir", dir.file("pipe")], in: repositoryRoot)
    XCTAssertEqual(piped.status, 0, piped.stderr)
    // Bytes, not Characters: a terminal's "\r\n" is one Character.
    let lines = terminal.stdout.utf8.filter { $0 == 10 }.count
    // As many as piped: the status lines are fitted to the width, never wrapped.
    XCTAssertEqual(lines, piped.stdout.utf8.filter { $0 == 10 }.count, terminal.stdout)
    XCTAssertLessThanOrEqual(lines, 30, terminal.stdout)
    let progress = segments(terminal.stdout).filter { $0.hasPrefix("epoch ") }
    XCTAssertGreaterThanOrEqual(progress.count, 20, terminal.stdout)
    // Every line fits: progress and status lines drop fields, paths their leading folders.
    for line in segments(terminal.stdout) { XCTAssertLessThanOrEqual(line.count, 80, line) }
    XCTAssertTrue(
      segments(terminal.stdout).contains {
        $0.hasPrefix("done: 1500 epochs") && $0.hasSuffix("tty/step-000001500.h5")
      },
      terminal.stdout)
    XCTAssertTrue(terminal.stdout.contains("epoch 1500/1500  step 1500  loss"), terminal.stdout)
  }

  func testANarrowTerminalDropsFieldsAndAnUnsizedOneFallsBackToColumns() throws {
    let dir = TemporaryDirectory()
    for (columns, environment, width) in [(40, "COLUMNS=200", 40), (0, "COLUMNS=50", 50), (0, "", 80)] {
      let result = try onTerminal(
        columns: columns, environment: environment,
        ["--config", "configs/flowers.json", "--epochs", "3", "--checkpoint-dir", dir.file("ck\(width)")])
      XCTAssertEqual(result.status, 0, result.stderr)
      let progress = segments(result.stdout).filter { $0.hasPrefix("epoch ") }
      XCTAssertGreaterThanOrEqual(progress.count, 3, result.stdout)
      for line in progress {
        XCTAssertLessThanOrEqual(line.count, width, "\(columns) columns, \(environment): \(line)")
        XCTAssertTrue(line.contains("loss "), line)
      }
      // The widest terminal keeps the validation metrics of every epoch line.
      if width == 80 {
        XCTAssertEqual(progress.filter { $0.contains("val_accuracy") }.count, 3, result.stdout)
      }
    }
  }

  func testLogEveryThinsTheJSONLogWhoseRecordsAreValidJSON() throws {
    let dir = TemporaryDirectory()
    let result = try nnbatch(
      [
        "--config", "configs/xor.json", "--checkpoint-dir", dir.file("ck"), "--log-format", "json",
        "--log-every", "100",
      ], in: repositoryRoot)
    XCTAssertEqual(result.status, 0, result.stderr)
    let lines = result.stdout.split(separator: "\n")
    let all = try lines.map {
      try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any], String($0))
    }
    // The run's start, checkpoint and summary records are not thinned; epoch records are.
    XCTAssertEqual(all.first?["event"] as? String, "start")
    XCTAssertEqual(all.last?["event"] as? String, "summary")
    let records = all.filter { $0["event"] as? String == "epoch" }
    XCTAssertEqual(
      records.compactMap { $0["epoch"] as? Int }, Array(stride(from: 100, through: 1500, by: 100)))
    for record in records {
      XCTAssertEqual(
        Set(record.keys),
        [
          "elapsed", "epoch", "epochs", "event", "learning_rate", "samples_per_second", "step", "time",
          "train_loss",
        ])
      XCTAssertEqual(record["learning_rate"] as? Double, 1)
    }
    // Keys in sorted order, as before the encoder was replaced.
    let first = try XCTUnwrap(lines.first { $0.contains("\"event\":\"epoch\"") })
    XCTAssertTrue(first.hasPrefix("{\"elapsed\":"), String(first))
    XCTAssertTrue(
      first.contains(",\"epoch\":100,\"epochs\":1500,\"event\":\"epoch\",\"learning_rate\":1.0,"),
      String(first))
  }

  func testPredictAndEvaluateReadStandardInput() throws {
    let dir = TemporaryDirectory()
    let train = try nnbatch(
      ["--config", "configs/xor.json", "--epochs", "300", "--checkpoint-dir", dir.file("ck")],
      in: repositoryRoot)
    XCTAssertEqual(train.status, 0, train.stderr)
    let checkpoint = dir.file("ck/step-000000300.h5")
    let input = dir.write("in.csv", "0,0,1\n0,1,1\n1,0,1\n1,1,1\n")
    let fromFile = try nnbatch(["predict", "--checkpoint", checkpoint, "--input", input])
    XCTAssertEqual(fromFile.status, 0, fromFile.stderr)
    XCTAssertEqual(fromFile.stdout.split(separator: "\n").count, 5, fromFile.stdout)
    func piped(_ file: String, _ arguments: [String]) throws -> ProcessResult {
      try runProcess("/bin/sh", ["-c", "exec \"$0\" \"$@\" < \(file)", nnbatchExecutable] + arguments)
    }
    let fromStdin = try piped(input, ["predict", "--checkpoint", checkpoint, "--input", "-"])
    XCTAssertEqual(fromStdin.status, 0, fromStdin.stderr)
    XCTAssertEqual(fromStdin.stdout, fromFile.stdout)
    let bad = dir.write("bad.csv", "0,1\n1,0\n")
    let refused = try piped(bad, ["predict", "--checkpoint", checkpoint, "--input", "-"])
    XCTAssertEqual(refused.status, 2)
    XCTAssertTrue(refused.stderr.hasPrefix("error: standard input: expected 3 features"), refused.stderr)
    // evaluate --data -: a config whose data section to use, on standard input.
    let config = try String(contentsOfFile: "\(repositoryRoot)/configs/xor.json", encoding: .utf8)
    let evaluated = try piped(
      dir.write("xor.json", config),
      ["evaluate", "--checkpoint", checkpoint, "--data", "-", "--threads", "1"])
    XCTAssertEqual(evaluated.status, 0, evaluated.stderr)
    XCTAssertTrue(evaluated.stdout.contains("on standard input: 4 samples"), evaluated.stdout)
    let leftovers = try FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory())
    XCTAssertFalse(leftovers.contains { $0.hasPrefix("nnbatch-stdin-") }, "\(leftovers)")
  }

  func testHelpExamplesDoNotWrapAtEightyColumns() throws {
    let commands: [(String, String)] = [
      ("", NNBatchCommand.configuration.discussion), ("train", NNBatchCommand.Train.configuration.discussion),
      ("predict", NNBatchCommand.Predict.configuration.discussion),
      ("evaluate", NNBatchCommand.Evaluate.configuration.discussion),
      ("inspect", NNBatchCommand.Inspect.configuration.discussion),
      ("plot", NNBatchCommand.Plot.configuration.discussion),
      ("benchmark-checkpoint", NNBatchCommand.BenchmarkCheckpoint.configuration.discussion),
    ]
    var examples = 0
    for (name, discussion) in commands {
      let help = try runProcess(
        nnbatchExecutable, (name.isEmpty ? [] : [name]) + ["--help"], environment: ["COLUMNS": "80"])
      XCTAssertEqual(help.status, 0, name)
      let printed = Set(help.stdout.components(separatedBy: "\n"))
      // Prose may wrap between words; an example must stay one line.
      for line in discussion.components(separatedBy: "\n") {
        if line.contains("nnbatch ") {
          XCTAssertLessThanOrEqual(line.count, 80, "\(name): \(line)")
          examples += 1
          XCTAssertTrue(printed.contains(line), "\(name): wrapped at 80 columns: \(line)\n\(help.stdout)")
        }
      }
    }
    XCTAssertGreaterThanOrEqual(examples, 10)
  }

  /// Columns `line` takes: CJK ideographs and kana two, everything else one (the test's lines hold no other wide or zero-width text).
  private func columnsTaken(_ line: String) -> Int {
    line.unicodeScalars.reduce(0) { $0 + ((0x3040...0x9FFF).contains($1.value) ? 2 : 1) }
  }

  /// Every line of `output` fits `width` and none continues the one before (an indented
  /// continuation is how a line broken between words would show).
  private func assertFits(_ output: String, width: Int, _ what: String) {
    for line in segments(output) {
      XCTAssertLessThanOrEqual(columnsTaken(line), width, "\(what) at \(width) columns: \(line)\n\(output)")
      XCTAssertFalse(line.hasPrefix("  ") && !line.hasPrefix("  ["), "\(what): a wrapped line: \(line)")
    }
  }

  func testStatusLinesFitFiftyAndEightyColumnsWithoutWrappingOrCutting() throws {
    let dir = TemporaryDirectory()
    // A deep folder and a run name of wide characters: the path is longer than 50 columns.
    let deep = dir.file("a-rather-long-folder-name/with/several/levels/of/checkpoints")
    let config = try String(contentsOfFile: "\(repositoryRoot)/configs/flowers.json", encoding: .utf8)
      .replacingOccurrences(of: #""name": "flowers""#, with: #""name": "花のデータ""#)
    XCTAssertTrue(config.contains("花のデータ"), config)
    let file = dir.write("flowers.json", config)
    for width in [50, 80] {
      let folder = "\(deep)/\(width)"
      // Early stopping ends the first run (epoch 43 of 120); the second resumes it.
      let first = try onTerminal(columns: width, ["--config", file, "--checkpoint-dir", folder])
      XCTAssertEqual(first.status, 0, first.stderr)
      assertFits(first.stdout, width: width, "training")
      let lines = segments(first.stdout)
      XCTAssertTrue(lines.contains { $0.hasPrefix("training 花のデータ: 480 samples") }, first.stdout)
      XCTAssertTrue(lines.contains { $0.hasPrefix("early stopping after epoch 43: val_loss ") }, first.stdout)
      XCTAssertTrue(
        lines.contains { $0.hasPrefix("done: 43 epochs") && $0.hasSuffix("/step-000000645.h5") }, first.stdout
      )
      XCTAssertTrue(lines.contains { $0.hasPrefix("final epoch 43: train_loss 0.0327051") }, first.stdout)
      XCTAssertTrue(lines.contains { $0.hasPrefix("final epoch 43: ") && $0.contains("val_loss 0.0800458") })
      // The monitored val_loss stays on every epoch line, and no field is cut.
      let epochs = lines.filter { $0.hasPrefix("epoch ") && $0.contains("  loss ") }
      XCTAssertGreaterThanOrEqual(epochs.count, 7, first.stdout)
      for line in epochs {
        XCTAssertTrue(line.contains("val_loss 0."), line)
        XCTAssertFalse(line.contains("…"), line)
      }
      if width == 80 {
        // The path gives way from its start: its last folders and the file stay.
        XCTAssertTrue(
          lines.contains {
            $0.hasPrefix("done: 43 epochs") && $0.hasSuffix("checkpoints/80/step-000000645.h5")
          },
          first.stdout)
        XCTAssertTrue(epochs.allSatisfy { $0.contains("val_accuracy 0.") }, first.stdout)
      }
      let resumed = try onTerminal(
        columns: width, ["--config", file, "--checkpoint-dir", folder, "--resume", "--epochs", "44"])
      XCTAssertEqual(resumed.status, 0, resumed.stderr)
      assertFits(resumed.stdout, width: width, "resumed")
      XCTAssertTrue(
        segments(resumed.stdout).contains {
          $0.hasPrefix("resumed from ") && $0.contains("step-000000645.h5")
        },
        resumed.stdout)
    }
  }

  func testTheCheckpointAFolderStandsForIsNamedInOneLineOnATerminal() throws {
    let dir = TemporaryDirectory()
    let folder = dir.file("a-rather-long-folder-name/with/several/levels/of/checkpoints")
    let train = try nnbatch(["--config", "configs/xor.json", "--checkpoint-dir", folder], in: repositoryRoot)
    XCTAssertEqual(train.status, 0, train.stderr)
    let piped = try nnbatch(["inspect", folder])
    XCTAssertEqual(piped.status, 0, piped.stderr)
    XCTAssertEqual(piped.stderr, "using \(folder)/step-000001500.h5 (newest valid in \(folder))\n")
    for width in [50, 80] {
      let result = try onTerminal(columns: width, ["inspect", folder])
      XCTAssertEqual(result.status, 0, result.stdout)
      let using = try XCTUnwrap(segments(result.stdout).first { $0.hasPrefix("using ") }, result.stdout)
      XCTAssertLessThanOrEqual(columnsTaken(using), width, using)
      XCTAssertTrue(using.hasPrefix("using …/") && using.hasSuffix("/checkpoints/step-000001500.h5"), using)
    }
  }

  func testTheStopLineOfASignalFitsFiftyColumns() throws {
    let dir = TemporaryDirectory()
    let config = HangupTests.config(dir)
    let folder = dir.file("a-rather-long-folder-name/with/several/levels/of/checkpoints")
    // SIGINT once training has begun (its TensorBoard file is opened just before): the stop line, then exit 130.
    let events = dir.file("events")
    let script = try XCTUnwrap(tool("script"), "script (util-linux) must be installed")
    let command =
      "stty cols 50; \(nnbatchExecutable) --config \(config) --checkpoint-dir \(folder) --tensorboard \(events) & "
      + "for i in $(seq 300); do [ -n \"$(ls \(events) 2>/dev/null)\" ] && break; sleep 0.1; done; "
      + "sleep 0.5; kill -INT $!; wait $!; echo \"exit $?\""
    let result = try runProcess(script, ["-q", "-e", "-c", command, "/dev/null"], in: repositoryRoot)
    assertFits(result.stdout, width: 50, "stopped")
    XCTAssertTrue(result.stdout.contains("exit 130"), result.stdout)
    XCTAssertTrue(
      segments(result.stdout).contains {
        $0.hasPrefix("stopped by signal at step ") && $0.hasSuffix("; checkpoint written")
      },
      result.stdout)
    XCTAssertFalse(try CheckpointStore(directory: folder).checkpointFiles().isEmpty, result.stdout)
  }
  /// A warning or an error longer than a 50-column terminal is broken between words to fit
  /// it (continuations indented), and reads as the piped one-line message when joined.
  func testWarningsAndErrorsAreBrokenBetweenWordsOnANarrowTerminal() throws {
    let dir = TemporaryDirectory()
    var csv = "a,b,y\n"
    for i in 0..<40 { csv += "\(i % 7),7,\(i % 2)\n" }  // b is constant: a warning
    dir.write("d.csv", csv)
    let layers = #"[ { "units": 2, "activation": "softmax" } ]"#
    let good = dir.write(
      "good.json",
      """
      { "data": { "source": "csv", "path": "d.csv", "scale": "standardize" }, "model": { "layers": \(layers) },
        "loss": "cross_entropy", "optimizer": { "kind": "sgd", "learning_rate": 0.1 },
        "training": { "epochs": 1, "batch_size": 8 } }
      """)
    let bad = dir.write(
      "bad.json",
      """
      { "data": { "source": "csv", "path": "d.csv" }, "model": { "layers": \(layers) },
        "loss": "cross_entropy", "optimizer": { "kind": "sgd", "learning_rate": 0.1 }, "trainig": { "epochs": 1 } }
      """)
    for (file, status, prefix) in [(good, Int32(0), "warning: "), (bad, Int32(2), "error: ")] {
      let piped = try nnbatch(["--config", file, "--checkpoint-dir", dir.file("ck-pipe")], in: dir.path)
      XCTAssertEqual(piped.status, status, piped.stderr)
      let message = try XCTUnwrap(
        piped.stderr.split(separator: "\n").first { $0.hasPrefix(prefix) }.map(String.init), piped.stderr)
      XCTAssertGreaterThan(message.count, 100, message)
      let terminal = try runProcess(
        try XCTUnwrap(tool("script"), "script (util-linux) must be installed"),
        [
          "-q", "-e", "-c",
          "cd \(dir.path); stty cols 50; exec \(nnbatchExecutable) --config \(file) --checkpoint-dir ck-tty",
          "/dev/null",
        ])
      XCTAssertEqual(terminal.status, status, terminal.stdout)
      let lines = segments(terminal.stdout)
      let start = try XCTUnwrap(lines.firstIndex { $0.hasPrefix(prefix) }, terminal.stdout)
      var pieces = [lines[start]]
      for line in lines[(start + 1)...] {
        guard line.hasPrefix("  ") else { break }
        pieces.append(String(line.drop { $0 == " " }))
      }
      XCTAssertGreaterThan(pieces.count, 2, terminal.stdout)
      XCTAssertEqual(pieces.joined(separator: " "), message.split(separator: " ").joined(separator: " "))
      for (n, piece) in pieces.enumerated() where piece.split(separator: " ").count > 1 {
        XCTAssertLessThanOrEqual(columnsTaken(piece) + (n == 0 ? 0 : 2), 50, piece)
      }
    }
  }
}
