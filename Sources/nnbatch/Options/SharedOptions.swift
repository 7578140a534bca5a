import ArgumentParser
import Foundation
import HDF5Store
import NNBatch
import NNBatchCore
import NNBatchData

// Options that several commands share, each declared once and included with
// `@OptionGroup`. Completion kinds name what a path holds, so that shells
// offer config files after `--config` and checkpoints after `inspect`.

extension CompletionKind {
  /// A run's JSON config.
  static var config: CompletionKind { .file(extensions: ["json"]) }
  /// An HDF5 checkpoint; shells offer folders too, to walk into them.
  static var checkpoint: CompletionKind { .file(extensions: ["h5"]) }
}

/// `--config FILE`: the run's JSON config (`train`, `benchmark-checkpoint`).
struct ConfigOption: ParsableArguments {
  @Option(name: .customLong("config"), help: "The run's JSON config file.", completion: .config)
  var path: String

  /// A quiet one-worker trainer on this config for the hidden timing commands, its
  /// checkpoint folder a fresh temporary one named `folder` (nothing is saved there).
  func benchmarkTrainer(rows: Int?, folder: String) throws -> Trainer {
    if let rows, rows < 1 { throw ValidationError("--rows must be at least 1, found \(rows)") }
    var options = TrainOptions(configPath: path, threads: 1)
    options.checkpointDir = FileManager.default.temporaryDirectory.path + "/\(folder)-\(getpid())"
    options.quiet = true
    return try Trainer(options: options, signals: nil)
  }
}

/// `--threads N`: the worker count (`train`, `evaluate`).
struct WorkerOptions: ParsableArguments {
  @Option(
    name: .long, help: "Worker threads, 1 to 1024 (default: active processors). Never changes results.")
  var threads: Int?

  func validate() throws {
    if let threads, threads < 1 || threads > 1024 {
      throw ValidationError("--threads must be between 1 and 1024, found \(threads)")
    }
  }

  /// `--threads`, or the number of active processors.
  var count: Int { threads ?? ProcessInfo.processInfo.activeProcessorCount }
}

/// A checkpoint named by position: `nnbatch inspect FILE`, `nnbatch plot FILE`.
struct CheckpointArgument: ParsableArguments {
  @Argument(
    help: ArgumentHelp(
      "The checkpoint file, or a run's folder (its newest valid checkpoint).", valueName: "checkpoint"),
    completion: .checkpoint)
  var path: String
}

/// `--checkpoint FILE|DIR` (`predict`, `evaluate`).
struct CheckpointOption: ParsableArguments {
  @Option(
    name: .customLong("checkpoint"),
    help: "The checkpoint file, or a run's folder (its newest valid checkpoint).",
    completion: .checkpoint)
  var path: String
}

/// `-o/--output FILE`, or standard output (`predict`, `plot`).
struct OutputOption: ParsableArguments {
  @Option(
    name: [.customShort("o"), .customLong("output")], help: "Write to this file instead of standard output.",
    completion: .file())
  var path: String?

  /// Writes `text` to the output by the rule for output paths, or to standard output.
  ///
  /// A file is replaced atomically, a symlink's target likewise, a device or
  /// FIFO is written through, a directory is refused (exit 2): see
  /// `FileSystem.openOutput`.
  func write(_ text: String) throws {
    guard let path else {
      print(text, terminator: "")
      return
    }
    do {
      try FileSystem.writeOutput(path, bytes: Array(text.utf8))
    } catch {
      throw NNBatchError(error.isUsageError ? .usage : .failure, "\(error)")
    }
  }
}

/// `--log-format text|json`: the parser lists the values and rejects others.
extension LogFormat: ExpressibleByArgument {}

/// `--format csv|idx|hdf5` of `predict` and `evaluate`.
struct DataFormatOption: ParsableArguments {
  @Option(name: .long, help: ArgumentHelp(DataSources.formatHelp, valueName: "format"))
  var format: DataFormatName?
}

/// A data file format named by the data-source registry (`DataSources`).
///
/// Not an enum: the registry is the one list of formats, so a new file source
/// appears here, in help and in completions without a change to the CLI.
struct DataFormatName: ExpressibleByArgument {
  /// The format's name as the registry spells it.
  let name: String

  init?(argument: String) {
    guard DataSources.formatNames.contains(argument) else { return nil }
    name = argument
  }

  static var allValueStrings: [String] { DataSources.formatNames }
}
