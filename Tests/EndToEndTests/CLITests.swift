import Checkpoints
import Foundation
import HDF5Store
import TestSupport
import XCTest

@testable import nnbatch

#if canImport(FoundationXML)
import FoundationXML
#endif

/// The built `nnbatch` executable run as a subprocess: output, exit codes and files.
final class CLITests: XCTestCase {
  func testTheTutorialRun() throws {
    let dir = TemporaryDirectory()
    let result = try nnbatch([
      "--config", "\(repositoryRoot)/configs/xor.json", "--checkpoint-dir", dir.file("xor"),
    ])
    XCTAssertEqual(result.status, 0, result.stderr)
    // Predictions as the tutorial prints them, each within 0.1 of its target.
    let rows = result.stdout.split(separator: "\n").filter { $0.contains("-> [") }
    XCTAssertEqual(rows.count, 4, result.stdout)
    for row in rows {
      let numbers = row.split(whereSeparator: { "[], ".contains($0) }).compactMap { Double($0) }
      let prediction = numbers[3]
      let target = numbers[4]
      XCTAssertEqual(prediction, target, accuracy: 0.1, String(row))
    }
    // The loss falls (the tutorial's curve), and the checkpoints follow the policy.
    let store = CheckpointStore(directory: dir.file("xor"))
    XCTAssertEqual(try store.checkpointFiles().map(\.step), [500, 1000, 1500])
    let last = try Checkpoint.read(from: dir.file("xor/step-000001500.h5"))
    XCTAssertEqual(last.lossHistory.count, 1500)
    XCTAssertLessThan(last.lossHistory.last!, last.lossHistory.first! / 100)
    // h5dump prints the same weight matrix.
    let h5dump = try XCTUnwrap(tool("h5dump"))
    let dump = try runProcess(h5dump, ["-d", "/model/layer_0/weights", dir.file("xor/step-000001500.h5")])
    XCTAssertEqual(dump.status, 0)
    XCTAssertTrue(dump.stdout.contains("( 3, 4 )"))
    let printed = h5dumpValues(dump.stdout)
    XCTAssertEqual(printed.count, 12)
    for (a, b) in zip(printed, last.parameters[0..<12]) {
      XCTAssertEqual(a, Double(b), accuracy: 1e-4 * max(1, abs(a)))
    }
  }

  func testBadInputsExitTwoWithOneLineNamingTheFile() throws {
    let dir = TemporaryDirectory()
    let missing = try nnbatch(["--config", dir.file("nope.json")])
    XCTAssertEqual(missing.status, 2)
    XCTAssertEqual(missing.stderr, "error: \(dir.file("nope.json")): no such config file\n")
    let broken = dir.write("broken.json", "{\n  \"name\": \"x\",\n  \"seed\": 1,,\n}")
    let syntax = try nnbatch(["--config", broken])
    XCTAssertEqual(syntax.status, 2)
    XCTAssertEqual(syntax.stderr, "error: \(broken):3:13: invalid JSON: expected a string key, found ','\n")
    let xor = try String(contentsOfFile: "\(repositoryRoot)/configs/xor.json", encoding: .utf8)
    for (old, new, fragment) in [
      ("\"sigmoid\" },", "\"sigmod\" },", "unknown activation \"sigmod\""),
      ("\"sse\"", "\"sse2\"", "unknown loss \"sse2\""),
      ("\"sgd\"", "\"sgdd\"", "unknown optimizer \"sgdd\""),
    ] {
      let path = dir.write("c.json", xor.replacingOccurrences(of: old, with: new))
      let result = try nnbatch(["--config", path, "--checkpoint-dir", dir.file("ck")])
      XCTAssertEqual(result.status, 2, result.stderr)
      XCTAssertTrue(result.stderr.hasPrefix("error: \(path):"), result.stderr)
      XCTAssertTrue(result.stderr.contains(fragment), result.stderr)
      XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
      XCTAssertFalse(FileManager.default.fileExists(atPath: dir.file("ck")), "nothing written")
    }
    let usage = try nnbatch(["--config", "x.json", "--threads", "0"])
    XCTAssertEqual(usage.status, 2)
    XCTAssertTrue(usage.stderr.contains("--threads must be between 1 and 1024"), usage.stderr)
  }

  func testOnATerminalProgressIsOneLiveLinePerEpoch() throws {
    // `script` (util-linux) gives nnbatch a pseudo-terminal.
    let script = try XCTUnwrap(tool("script"), "script (util-linux) must be installed")
    let dir = TemporaryDirectory()
    let command =
      "\(nnbatchExecutable) --config \(repositoryRoot)/configs/flowers.json --epochs 3 --checkpoint-dir \(dir.file("ck"))"
    let result = try runProcess(script, ["-q", "-e", "-c", command, "/dev/null"], in: repositoryRoot)
    XCTAssertEqual(result.status, 0, result.stderr)
    let redraw = "\r\u{1B}[K"
    XCTAssertTrue(result.stdout.contains(redraw + "epoch 1/3 ["), "a live line with a bar: \(result.stdout)")
    XCTAssertTrue(result.stdout.contains("samples/s") && result.stdout.contains("(ETA "), result.stdout)
    // Each epoch ends as a plain line with its validation metrics.
    for epoch in 1...3 {
      XCTAssertTrue(
        result.stdout.contains(redraw + "epoch \(epoch)/3  step"), "epoch \(epoch): \(result.stdout)")
    }
    XCTAssertTrue(result.stdout.contains("val_accuracy"), result.stdout)
  }

  func testHelpForEveryCommandHasAnExampleAndCompletionScriptsGenerate() throws {
    for command in [[], ["train"], ["inspect"], ["predict"], ["evaluate"], ["plot"]] {
      let result = try nnbatch(command + ["--help"])
      XCTAssertEqual(result.status, 0, "\(command)")
      XCTAssertTrue(result.stdout.contains("Example"), "\(command): \(result.stdout)")
    }
    for command in [["help"], ["help", "train"], ["help", "evaluate"], ["train", "-h"]] {
      let result = try nnbatch(command)
      XCTAssertEqual(result.status, 0, "\(command)")
      XCTAssertTrue(result.stdout.contains("Example"), "\(command): \(result.stdout)")
    }
    let train = try nnbatch(["train", "--help"]).stdout
    for fragment in [
      "[--resume [<file-or-dir>]]", "(values: text, json; default: text)",
      "(default as flag: the newest valid checkpoint",
    ] {
      XCTAssertTrue(train.contains(fragment), "train --help lacks \(fragment):\n\(train)")
    }
    for shell in ["bash", "zsh", "fish"] {
      let completion = try nnbatch(["--generate-completion-script", shell])
      XCTAssertEqual(completion.status, 0, shell)
      XCTAssertTrue(completion.stdout.contains("log-format"), "\(shell): \(completion.stdout)")
    }
    let version = try nnbatch(["--version"])
    XCTAssertEqual(version.status, 0)
    XCTAssertEqual(version.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "0.1.0")
    // The parser checks enumerated values and reports usage errors with exit code 2.
    let format = try nnbatch(["--config", "x.json", "--log-format", "xml"])
    XCTAssertEqual(format.status, 2)
    XCTAssertTrue(format.stderr.contains("Please provide one of 'text' and 'json'"), format.stderr)
    XCTAssertEqual(format.stdout, "")
  }

  func testInspectPlotPredictAndEvaluate() throws {
    let dir = TemporaryDirectory()
    // A standardised regression y = 2x + 1 on inputs near 1000: without the
    // saved scaling, predict's answers would be far off.
    let inputs = (0..<64).map { "[\(1000 + Double($0) / 8)]" }.joined(separator: ",")
    let targets = (0..<64).map { "[\(2 * Double($0) / 8 + 1)]" }.joined(separator: ",")
    let config = dir.write(
      "reg.json",
      """
      { "name": "reg", "seed": 2,
        "data": { "source": "inline", "inputs": [\(inputs)], "targets": [\(targets)], "scale": "standardize",
                  "validation_split": 0.25 },
        "model": { "layers": [ { "units": 16, "activation": "tanh" }, { "units": 1, "activation": "linear" } ] },
        "loss": "mse", "optimizer": { "kind": "adam", "learning_rate": 0.02 },
        "training": { "epochs": 150, "batch_size": 16 },
        "checkpoint": { "dir": "\(dir.file("ck"))", "every_epochs": 50, "keep": 2 } }
      """)
    let train = try nnbatch(["--config", config, "--log-format", "json"])
    XCTAssertEqual(train.status, 0, train.stderr)
    // One line per epoch, between the start and summary records (LogsCLITests checks those).
    var epochLines = train.stdout.split(separator: "\n")
    XCTAssertTrue(epochLines.first?.contains("\"event\":\"start\"") ?? false, train.stdout)
    XCTAssertTrue(epochLines.last?.contains("\"event\":\"summary\"") ?? false, train.stdout)
    epochLines.removeAll { !$0.contains("\"event\":\"epoch\"") }
    XCTAssertEqual(epochLines.count, 150)
    let lastEpoch = try XCTUnwrap(
      JSONSerialization.jsonObject(with: Data(epochLines.last!.utf8)) as? [String: Any])
    XCTAssertEqual(lastEpoch["epoch"] as? Int, 150)
    XCTAssertNotNil(lastEpoch["val_loss"])
    XCTAssertNotNil(lastEpoch["samples_per_second"])
    let checkpoint = dir.file("ck/step-000000450.h5")

    let inspect = try nnbatch(["inspect", checkpoint])
    XCTAssertEqual(inspect.status, 0, inspect.stderr)
    for fragment in [
      "layer_0  dense  [16]                  32  [1, 16]  tanh",
      "layer_1  dense  [1]                   17  [16, 1]  linear", " 49  all trainable",
      "step 450, 150 epochs done",
      "\"name\": \"reg\"",
    ] {
      XCTAssertTrue(inspect.stdout.contains(fragment), "inspect lacks \(fragment):\n\(inspect.stdout)")
    }
    let json = try nnbatch(["inspect", checkpoint, "--json"])
    let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
    XCTAssertEqual(object["step"] as? Int, 450)
    XCTAssertEqual((object["layers"] as? [[String: Any]])?.count, 2)

    // predict applies the training scaling: predictions on fresh x ≈ 2(x − 1000) + 1.
    let fresh = [1001.0, 1003.5, 1006.25]
    let csv = dir.write("new.csv", "x\n" + fresh.map { "\($0)" }.joined(separator: "\n") + "\n")
    let predict = try nnbatch([
      "predict", "--checkpoint", checkpoint, "--input", csv, "-o", dir.file("out.csv"),
    ])
    XCTAssertEqual(predict.status, 0, predict.stderr)
    let out = try String(contentsOfFile: dir.file("out.csv"), encoding: .utf8).split(separator: "\n")
    XCTAssertEqual(out.first, "output_0")
    for (line, x) in zip(out.dropFirst(), fresh) {
      XCTAssertEqual(Double(line)!, 2 * (x - 1000) + 1, accuracy: 0.5, "prediction for \(x)")
    }

    let evaluate = try nnbatch(["evaluate", "--checkpoint", checkpoint])
    XCTAssertEqual(evaluate.status, 0, evaluate.stderr)
    XCTAssertTrue(
      evaluate.stdout.contains("on the checkpoint's validation data: 16 samples"), evaluate.stdout)
    XCTAssertTrue(evaluate.stdout.contains("r2"), evaluate.stdout)

    // plot: an SVG whose series carry the checkpoint's history.
    let plot = try nnbatch(["plot", checkpoint, "-o", dir.file("loss.svg"), "--log"])
    XCTAssertEqual(plot.status, 0, plot.stderr)
    let svg = try Data(contentsOf: URL(fileURLWithPath: dir.file("loss.svg")))
    let series = SVGSeries(svg)
    XCTAssertTrue(series.parsed, "the SVG is well-formed XML")
    let history = try Checkpoint.read(from: checkpoint)
    XCTAssertEqual(series.values["loss"]?.count, 450)
    for (index, point) in (series.values["loss"] ?? []).enumerated() {
      XCTAssertEqual(point.x, Double(index + 1))
      XCTAssertEqual(point.y, history.lossHistory[index], accuracy: 1e-9 * max(1, history.lossHistory[index]))
    }
    XCTAssertEqual(series.values["val_loss"]?.map(\.y), history.epochHistory.validationLoss)
    XCTAssertEqual(series.values["train_loss"]?.map(\.y), history.epochHistory.trainLoss)
    XCTAssertTrue(
      Set(["loss", "train_loss", "val_loss"]).isSubset(of: Set(series.legends)), "\(series.legends)")
    XCTAssertGreaterThan(series.ticks, 10, "axes have tick labels")
  }

  func testScaledRegressionTargetsArePredictedAndMeasuredInTheirOwnUnits() throws {
    // y = 5000 + 300·x: far from unit scale. With scale_targets the network
    // trains on standardized targets; predict and MAE come back in the targets' units.
    let dir = TemporaryDirectory()
    let inputs = (0..<80).map { "[\(Double($0) / 8)]" }.joined(separator: ",")
    let targets = (0..<80).map { "[\(5000 + 300 * Double($0) / 8)]" }.joined(separator: ",")
    let config = dir.write(
      "t.json",
      """
      { "name": "t", "seed": 1,
        "data": { "source": "inline", "inputs": [\(inputs)], "targets": [\(targets)], "scale": "standardize",
                  "scale_targets": "standardize", "validation_split": 0.25 },
        "model": { "layers": [ { "units": 16, "activation": "tanh" }, { "units": 1, "activation": "linear" } ] },
        "loss": "mse", "optimizer": { "kind": "adam", "learning_rate": 0.02 },
        "training": { "epochs": 150, "batch_size": 20 }, "checkpoint": { "dir": "\(dir.file("ck"))" } }
      """)
    let train = try nnbatch(["--config", config, "--quiet"])
    XCTAssertEqual(train.status, 0, train.stderr)
    let checkpoint = try XCTUnwrap(try CheckpointStore(directory: dir.file("ck")).checkpointFiles().last).path
    let saved = try Checkpoint.read(from: checkpoint)
    XCTAssertEqual(saved.data.targets.kind, .standardize)
    XCTAssertLessThan(
      try XCTUnwrap(saved.epochHistory.validationMAE.last), 60, "val_mae in the targets' units")
    let csv = dir.write("x.csv", "x\n2\n7.5\n")
    let predict = try nnbatch(["predict", "--checkpoint", checkpoint, "--input", csv])
    XCTAssertEqual(predict.status, 0, predict.stderr)
    let values = predict.stdout.split(separator: "\n").dropFirst().compactMap { Double($0) }
    XCTAssertEqual(values.count, 2)
    XCTAssertEqual(values.first ?? 0, 5600, accuracy: 60)
    XCTAssertEqual(values.last ?? 0, 7250, accuracy: 60)
    let evaluate = try nnbatch(["evaluate", "--checkpoint", checkpoint])
    XCTAssertTrue(
      evaluate.stdout.contains("on targets scaled by data.scale_targets standardize"), evaluate.stdout)
    let maeLine = try XCTUnwrap(evaluate.stdout.split(separator: "\n").first { $0.hasPrefix("mae") })
    let mae = try XCTUnwrap(maeLine.split(separator: " ").last.flatMap { Double($0) })
    XCTAssertLessThan(mae, 60)
    XCTAssertGreaterThan(mae, 0.01, "an MAE in standardized units would be far below 1")
  }

  func testClassificationPredictPrintsLabelsAndEvaluatePrintsAConfusionMatrix() throws {
    let dir = TemporaryDirectory()
    var lines = ["width,height,kind"]
    var g = SystemRandomNumberGenerator()
    for i in 0..<90 {
      let kind = ["small", "medium", "large"][i % 3]
      let base = Double(i % 3) * 3
      lines.append(
        "\(base + Double.random(in: 0...1, using: &g)),\(base + Double.random(in: 0...1, using: &g)),\(kind)")
    }
    let data = dir.write("shapes.csv", lines.joined(separator: "\r\n"))
    let config = dir.write(
      "cls.json",
      """
      { "name": "cls", "data": { "source": "csv", "path": "\(data)", "targets": "kind", "task": "classification",
                                  "scale": "minmax" },
        "model": { "layers": [ { "units": 8, "activation": "relu" }, { "units": 3, "activation": "softmax" } ] },
        "loss": "cross_entropy", "optimizer": { "kind": "adam", "learning_rate": 0.05 },
        "training": { "epochs": 60, "batch_size": 30 }, "checkpoint": { "dir": "\(dir.file("ck"))" } }
      """)
    let train = try nnbatch(["--config", config, "--quiet"])
    XCTAssertEqual(train.status, 0, train.stderr)
    XCTAssertEqual(
      train.stdout.split(separator: "\n").map { $0.prefix { $0 != " " } }, ["done:", "final"],
      "quiet prints only the summary: \(train.stdout)")
    let checkpoint = dir.file("ck/step-000000180.h5")
    let input = dir.write("in.csv", "0.5,0.5\n6.5,6.5\n3.5,3.5\n")
    let predict = try nnbatch(["predict", "--checkpoint", checkpoint, "--input", input])
    XCTAssertEqual(predict.status, 0, predict.stderr)
    let rows = predict.stdout.split(separator: "\n")
    XCTAssertEqual(rows[0], "label,p_large,p_medium,p_small")
    XCTAssertEqual(rows.dropFirst().map { $0.split(separator: ",")[0] }, ["small", "large", "medium"])
    let evaluate = try nnbatch(["evaluate", "--checkpoint", checkpoint, "--data", config])
    XCTAssertEqual(evaluate.status, 0, evaluate.stderr)
    XCTAssertTrue(evaluate.stdout.contains("accuracy   1.0000 (90/90)"), evaluate.stdout)
    XCTAssertTrue(evaluate.stdout.contains("confusion matrix"), evaluate.stdout)
    XCTAssertTrue(evaluate.stdout.contains("  small      0      0     30"), evaluate.stdout)
    // A data file read like the training data (same columns).
    let more = dir.write("more.csv", lines.prefix(31).joined(separator: "\n"))
    let onFile = try nnbatch(["evaluate", "--checkpoint", checkpoint, "--data", more])
    XCTAssertEqual(onFile.status, 0, onFile.stderr)
    XCTAssertTrue(onFile.stdout.contains("on \(more): 30 samples"), onFile.stdout)
    XCTAssertTrue(onFile.stdout.contains("accuracy   1.0000 (30/30)"), onFile.stdout)
  }
}

/// Reads the series (`data-series`, `data-values`) of an nnbatch SVG with an XML parser.
final class SVGSeries: NSObject, XMLParserDelegate {
  var values: [String: [(x: Double, y: Double)]] = [:]
  var legends: [String] = []
  var ticks = 0
  var parsed = false
  private var inLegend = false

  init(_ data: Data) {
    super.init()
    let parser = XMLParser(data: data)
    parser.delegate = self
    parsed = parser.parse()
  }

  func parser(
    _ parser: XMLParser, didStartElement element: String, namespaceURI: String?, qualifiedName: String?,
    attributes: [String: String] = [:]
  ) {
    if element == "polyline", let name = attributes["data-series"], let text = attributes["data-values"] {
      values[name] = text.split(separator: " ").compactMap { pair in
        let parts = pair.split(separator: ":")
        guard parts.count == 2, let x = Double(parts[0]), let y = Double(parts[1]) else { return nil }
        return (x, y)
      }
    }
    inLegend = element == "text" && attributes["class"] == "legend"
    if element == "text", let c = attributes["class"], c == "xtick" || c == "ytick" { ticks += 1 }
  }

  func parser(_ parser: XMLParser, foundCharacters string: String) {
    if inLegend { legends.append(string) }
  }

  func parser(
    _ parser: XMLParser, didEndElement element: String, namespaceURI: String?, qualifiedName: String?
  ) {
    inLegend = false
  }
}

/// The command line as the parser reads it, without running anything: `--resume`'s
/// optional value, enumerated values, shared option groups.
final class CommandLineParsingTests: XCTestCase {
  private func train(_ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws
    -> NNBatchCommand.Train
  {
    let command = try NNBatchCommand.parseAsRoot(arguments)
    return try XCTUnwrap(command as? NNBatchCommand.Train, "\(arguments)", file: file, line: line)
  }

  /// The one-line usage message and exit code of a command line the parser refuses.
  private func refusal(_ arguments: [String]) -> (message: String, code: Int32) {
    do {
      _ = try NNBatchCommand.parseAsRoot(arguments)
      return ("parsed", 0)
    } catch {
      return (NNBatchCommand.message(for: error), NNBatchCommand.exitStatus(for: error))
    }
  }

  func testResumeWithoutAValueMeansTheNewestCheckpointOfTheRun() throws {
    XCTAssertEqual(try train(["--config", "c.json"]).options.start, .fresh)
    // Bare at the end, with and without the subcommand's name.
    XCTAssertEqual(try train(["--config", "c.json", "--resume"]).options.start, .resumeLatest)
    XCTAssertEqual(try train(["train", "--config", "c.json", "--resume"]).options.start, .resumeLatest)
    // Bare before another option, which keeps its own value.
    let beforeEpochs = try train(["--config", "c.json", "--resume", "--epochs", "2"])
    XCTAssertEqual(beforeEpochs.options.start, .resumeLatest)
    XCTAssertEqual(beforeEpochs.options.epochs, 2)
    let beforeConfig = try train(["--resume", "--config", "c.json", "--quiet"])
    XCTAssertEqual(beforeConfig.options.start, .resumeLatest)
    XCTAssertEqual(beforeConfig.options.configPath, "c.json")
    XCTAssertTrue(beforeConfig.options.quiet)
    // Bare before `--`.
    XCTAssertEqual(try train(["--config", "c.json", "--resume", "--"]).options.start, .resumeLatest)
    // An empty value (`--resume "$DIR"` with DIR empty) is bare, as it always was.
    XCTAssertEqual(try train(["--config", "c.json", "--resume", ""]).options.start, .resumeLatest)
  }

  func testResumeWithAFileOrFolder() throws {
    XCTAssertEqual(
      try train(["--config", "c.json", "--resume", "ck/step-000000050.h5"]).options.start,
      .resume("ck/step-000000050.h5"))
    XCTAssertEqual(try train(["--resume", "ck", "--config", "c.json"]).options.start, .resume("ck"))
    XCTAssertEqual(try train(["--config", "c.json", "--resume=ck/a.h5"]).options.start, .resume("ck/a.h5"))
    // A path that starts with `-` is given with `=`, never as the next word.
    XCTAssertEqual(try train(["--config", "c.json", "--resume=-a.h5"]).options.start, .resume("-a.h5"))
    let dashed = refusal(["--config", "c.json", "--resume", "-old"])
    XCTAssertEqual(dashed.code, 2)
    XCTAssertTrue(dashed.message.contains("Unknown option '-old'"), dashed.message)
    // Words after `--` are never the value of --resume.
    let terminated = refusal(["--config", "c.json", "--resume", "--", "ck/a.h5"])
    XCTAssertEqual(terminated.code, 2)
    XCTAssertTrue(terminated.message.contains("Unexpected argument 'ck/a.h5'"), terminated.message)
    let both = refusal(["--config", "c.json", "--resume", "--init-from", "a.h5"])
    XCTAssertEqual(both.code, 2)
    XCTAssertTrue(both.message.contains("--init-from and --resume exclude each other"), both.message)
    XCTAssertEqual(try train(["--config", "c.json", "--init-from", "a.h5"]).options.start, .initFrom("a.h5"))
  }

  func testEnumeratedAndSharedOptionsAreCheckedByTheParser() throws {
    XCTAssertEqual(try train(["--config", "c.json"]).options.logFormat, .text)
    XCTAssertEqual(try train(["--config", "c.json", "--log-format", "json"]).options.logFormat, .json)
    let format = refusal(["--config", "c.json", "--log-format", "xml"])
    XCTAssertEqual(format.code, 2)
    XCTAssertTrue(
      format.message.contains("The value 'xml' is invalid for '--log-format <log-format>'"), format.message)
    XCTAssertTrue(format.message.contains("'text' and 'json'"), format.message)
    // --threads is one option group, checked alike for train and evaluate.
    XCTAssertEqual(try train(["--config", "c.json", "--threads", "3"]).options.threads, 3)
    for arguments in [["--config", "c.json"], ["evaluate", "--checkpoint", "a.h5"]] {
      let threads = refusal(arguments + ["--threads", "0"])
      XCTAssertEqual(threads.code, 2, "\(arguments)")
      XCTAssertEqual(threads.message, "--threads must be between 1 and 1024, found 0", "\(arguments)")
    }
    let evaluate = try XCTUnwrap(
      try NNBatchCommand.parseAsRoot(["evaluate", "--checkpoint", "a.h5", "--config", "d.json"])
        as? NNBatchCommand.Evaluate)
    XCTAssertEqual(evaluate.checkpoint.path, "a.h5")
    XCTAssertEqual(evaluate.data, "d.json", "--config is another name of --data")
    XCTAssertEqual(evaluate.workers.count, ProcessInfo.processInfo.activeProcessorCount)
  }
}
