import ArgumentParser
import CMalloc
import Foundation
import NNBatch

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The `nnbatch` command line; `train` is the default subcommand.
@main
struct NNBatchCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "nnbatch",
    abstract: "A multi-threaded CPU trainer for dense neural networks, with HDF5 checkpoints.",
    discussion: """
      Examples:
        nnbatch --config configs/xor.json              train the tutorial's network
        nnbatch --config configs/big.json --threads 8  the throughput run
        nnbatch train --config configs/big.json --resume
        nnbatch inspect checkpoints/xor/step-000001500.h5
        nnbatch plot checkpoints/xor/step-000001500.h5 -o loss.svg

      Exit codes: 0 done; 1 training or I/O failure; 2 usage, config or data error;
      130/143 stopped by SIGINT/SIGTERM after writing a checkpoint.
      """,
    version: nnbatchVersion,
    subcommands: [
      Train.self, Inspect.self, Predict.self, Evaluate.self, Plot.self, BenchmarkCheckpoint.self,
    ],
    defaultSubcommand: Train.self)

  /// Runs the command and maps every failure to the documented exit codes.
  static func main() {
    // A file-size limit should fail a write with EFBIG, not kill the process.
    _ = signal(SIGXFSZ, SIG_IGN)
    // Checkpoint saves allocate and free tens of MB; reusing heap memory
    // instead of fresh mmaps saves thousands of page faults per save.
    _ = nnb_keep_large_allocations()
    do {
      var command = try parseAsRoot(allowingBareResume(Array(CommandLine.arguments.dropFirst())))
      try command.run()
    } catch let error as NNBatchError {
      for line in error.lines { FileHandle.standardError.write(Data("error: \(line)\n".utf8)) }
      Glibc.exit(error.kind.rawValue)
    } catch let error as ExitCode {
      Glibc.exit(error.rawValue)
    } catch {
      let code = exitCode(for: error)
      let message = fullMessage(for: error)
      if code == .success {
        print(message)
        Glibc.exit(0)
      }
      FileHandle.standardError.write(Data((message + "\n").utf8))
      Glibc.exit(NNBatchError.Kind.usage.rawValue)
    }
  }
}

/// Lets `--resume` stand without a value (newest checkpoint of the run's folder).
///
/// ArgumentParser options always take a value, so a bare `--resume` (last,
/// or followed by another option) becomes `--resume ""`.
func allowingBareResume(_ arguments: [String]) -> [String] {
  var result: [String] = []
  for (i, argument) in arguments.enumerated() {
    result.append(argument)
    if argument == "--resume" && (i + 1 == arguments.count || arguments[i + 1].hasPrefix("-")) {
      result.append("")
    }
  }
  return result
}

/// Default worker count: the active processors.
func activeProcessors() -> Int { ProcessInfo.processInfo.activeProcessorCount }

struct Train: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Train a network from a JSON config (the default command).",
    discussion: """
      Examples:
        nnbatch train --config configs/xor.json
        nnbatch train --config configs/big.json --threads 8 --epochs 5
        # continue from the newest valid checkpoint of the run's folder:
        nnbatch train --config configs/big.json --resume
        # or from a given file:
        nnbatch train --config configs/big.json --resume checkpoints/big/step-000000512.h5
        # warm start: weights from a checkpoint, fresh optimizer and counters:
        nnbatch train --config configs/big.json --init-from old.h5
        # write the initial model as a step-0 checkpoint and stop:
        nnbatch train --config configs/xor.json --epochs 0

      Results are bit-identical for any --threads (same config and shard_size).
      SIGINT/SIGTERM finish the current step, save a checkpoint and exit 130/143.
      """)

  @Option(name: .long, help: "The run's JSON config file.")
  var config: String

  @Option(name: .long, help: "Worker threads (default: active processors). Never changes results.")
  var threads: Int?

  @Option(
    name: .long,
    help: ArgumentHelp(
      "Resume from the newest valid checkpoint of the run's folder, or from FILE or DIR.",
      valueName: "file-or-dir"))
  var resume: String?

  @Option(name: .long, help: "Start from a checkpoint's weights with a fresh optimizer.")
  var initFrom: String?

  @Option(name: .long, help: "Train to this many epochs in total (overrides training.epochs).")
  var epochs: Int?

  @Option(name: .long, help: "Checkpoint folder (overrides checkpoint.dir).")
  var checkpointDir: String?

  @Flag(name: .long, help: "Print only errors and the final summary.")
  var quiet = false

  @Option(name: .long, help: "Progress format: text or json (one object per epoch).")
  var logFormat: String = "text"

  @Option(
    name: .long, help: "In plain text output, print every Nth epoch (default: about 20 lines per run).")
  var logEvery: Int?

  mutating func validate() throws {
    if let threads, threads < 1 || threads > 1024 {
      throw ValidationError("--threads must be between 1 and 1024, found \(threads)")
    }
    if let epochs, epochs < 0 { throw ValidationError("--epochs must be ≥ 0, found \(epochs)") }
    if let logEvery, logEvery < 1 { throw ValidationError("--log-every must be ≥ 1, found \(logEvery)") }
    if LogFormat(rawValue: logFormat) == nil {
      throw ValidationError("--log-format must be text or json, found \(logFormat)")
    }
    if initFrom != nil && resume != nil {
      throw ValidationError("--init-from and --resume exclude each other")
    }
  }

  func run() throws {
    var options = TrainOptions(configPath: config, threads: threads ?? activeProcessors())
    if let initFrom {
      options.start = .initFrom(initFrom)
    } else if let resume {
      options.start = resume.isEmpty ? .resumeLatest : .resume(resume)
    }
    options.epochs = epochs
    options.checkpointDir = checkpointDir
    options.quiet = quiet
    options.logFormat = LogFormat(rawValue: logFormat) ?? .text
    options.logEvery = logEvery
    let signals = StopSignals()
    let trainer = try Trainer(options: options, signals: signals)
    let code = try trainer.run()
    if code != 0 { throw ExitCode(code) }
  }
}

struct Inspect: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Summarise a checkpoint: layers, shapes, step, loss and config.",
    discussion: """
      Example:
        nnbatch inspect checkpoints/xor/step-000001500.h5
        nnbatch inspect checkpoints/xor/step-000001500.h5 --json | jq .layers
      """)

  @Argument(help: "The checkpoint file.")
  var checkpoint: String

  @Flag(name: .long, help: "Print JSON for scripts.")
  var json = false

  func run() throws {
    print(try NNBatch.Inspect.run(path: checkpoint, json: json))
  }
}

struct Predict: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Write a checkpoint's predictions for new inputs as CSV.",
    discussion: """
      Inputs: CSV rows of features (a header row is detected), an IDX image file,
      or an HDF5 file with --dataset. Scaling fitted at training time is applied.
      Example:
        nnbatch predict --checkpoint checkpoints/flowers/best.h5 --input new.csv --output out.csv
      """)

  @Option(name: .long, help: "The checkpoint file.")
  var checkpoint: String

  @Option(name: .long, help: "Inputs: CSV, IDX, or HDF5 (with --dataset), told apart by content.")
  var input: String

  @Option(name: .long, help: "Dataset of the inputs in an HDF5 input file.")
  var dataset: String?

  @Option(name: .long, help: "Whether the CSV input has a header row: true or false (default: detect).")
  var header: Bool?

  @Option(name: .long, help: ArgumentHelp(NNBatch.DataSources.formatHelp, valueName: "format"))
  var format: String?

  @Option(name: [.short, .long], help: "Write here instead of standard output.")
  var output: String?

  func run() throws {
    let text = try NNBatch.Predict.run(
      checkpoint: checkpoint, input: input, dataset: dataset, header: header, format: format)
    try write(text, to: output)
  }
}

struct Evaluate: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Report a checkpoint's loss and metrics on a data set.",
    discussion: """
      Without --data: the run's validation data (or its training data when it had none).
      With --data CONFIG.json: that config's data section. With --data FILE: a file
      read like the training data (same CSV columns or HDF5 dataset names;
      IMAGES,LABELS for IDX).
      Examples:
        nnbatch evaluate --checkpoint checkpoints/flowers/best.h5
        nnbatch evaluate --checkpoint checkpoints/flowers/best.h5 --data new-flowers.csv
      """)

  @Option(name: .long, help: "The checkpoint file.")
  var checkpoint: String

  @Option(
    name: [.customLong("data"), .customLong("config")],
    help: "A config (.json) whose data to use, or a data file read like the training data.")
  var data: String?

  @Option(name: .long, help: ArgumentHelp(NNBatch.DataSources.formatHelp, valueName: "format"))
  var format: String?

  @Option(name: .long, help: "Worker threads (default: active processors).")
  var threads: Int?

  func run() throws {
    print(
      try NNBatch.Evaluate.run(
        checkpoint: checkpoint, dataConfig: data, format: format, threads: threads ?? activeProcessors()))
  }
}

struct Plot: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Draw a checkpoint's loss curve (and epoch metrics) as SVG.",
    discussion: """
      Example:
        nnbatch plot checkpoints/xor/step-000001500.h5 -o loss.svg --log
      """)

  @Argument(help: "The checkpoint file.")
  var checkpoint: String

  @Option(name: [.short, .long], help: "The SVG file to write (default: standard output).")
  var output: String?

  @Flag(name: .long, help: "Log-scale loss axes.")
  var log = false

  func run() throws {
    try write(try NNBatch.Plot.run(path: checkpoint, logScale: log), to: output)
  }
}

/// Hidden helper of `tools/bench`: checkpoint save and load times as JSON.
struct BenchmarkCheckpoint: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "benchmark-checkpoint", abstract: "Time checkpoint saves and loads (for tools/bench).",
    shouldDisplay: false)

  @Option(name: .long, help: "The run's JSON config file.")
  var config: String

  @Option(name: .long, help: "Folder for the benchmark's checkpoints.")
  var checkpointDir: String

  @Option(name: .long, help: "Number of save/load rounds.")
  var repeats = 9

  func run() throws {
    var options = TrainOptions(configPath: config, threads: 1)
    options.checkpointDir = checkpointDir
    options.quiet = true
    let trainer = try Trainer(options: options, signals: nil)
    let result = try trainer.benchmarkCheckpoints(repeats: repeats)
    let object: [String: Any] = [
      "bytes": result.bytes, "save_ms": result.saveMilliseconds, "load_ms": result.loadMilliseconds,
    ]
    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    print(String(decoding: data, as: UTF8.self))
  }
}

/// Writes `text` to `path` atomically, or to stdout when `path` is nil.
func write(_ text: String, to path: String?) throws {
  guard let path else {
    print(text, terminator: "")
    return
  }
  do {
    try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
  } catch {
    throw NNBatchError(.failure, "\(path): cannot write: \(error.localizedDescription)")
  }
}
