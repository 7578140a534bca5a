import ArgumentParser
import NNBatch

extension NNBatchCommand {
  /// `nnbatch train` (the default command): a run from a JSON config.
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
          nnbatch train --config configs/big.json \\
            --resume checkpoints/big/step-000000512.h5
          # warm start: weights from a checkpoint, fresh optimizer and counters:
          nnbatch train --config configs/big.json --init-from old.h5
          # write the initial model as a step-0 checkpoint and stop:
          nnbatch train --config configs/xor.json --epochs 0
          # TensorBoard event files and a CSV row per epoch:
          nnbatch train --config configs/flowers.json --tensorboard runs/flowers \\
            --log-csv flowers.csv

        Results are bit-identical for any --threads (same config and shard_size).
        SIGINT/SIGTERM/SIGHUP finish the current step, save a checkpoint and exit
        130/143/129 (during setup: at once, nothing written). One run per checkpoint
        folder: a second run on it exits 2.
        """)

    @OptionGroup var config: ConfigOption

    @OptionGroup var workers: WorkerOptions

    @Option(
      name: .long, defaultAsFlag: ResumeTarget.newest, parsing: .next,
      help: ArgumentHelp(
        "Resume from FILE, or from the newest valid checkpoint in DIR.",
        valueName: "file-or-dir"),
      completion: .checkpoint)
    var resume: ResumeTarget?

    @Option(
      name: .long, help: "Start from a checkpoint's weights with a fresh optimizer.", completion: .checkpoint)
    var initFrom: String?

    @Option(name: .long, help: "Train to this many epochs in total (overrides training.epochs).")
    var epochs: Int?

    @Option(name: .long, help: "Checkpoint folder (overrides checkpoint.dir).", completion: .directory)
    var checkpointDir: String?

    @Flag(name: .long, help: "Print only errors and the final summary.")
    var quiet = false

    @Option(name: .long, help: "Progress format: text, or json (one object per epoch).")
    var logFormat: LogFormat = .text

    @Option(
      name: .long,
      help:
        "Print every Nth epoch, on a terminal too, and write every Nth JSON record (default: text about 20 lines a run, JSON every epoch)."
    )
    var logEvery: Int?

    @Option(
      name: .long,
      help: ArgumentHelp(
        "Write TensorBoard event files to DIR (overrides logging.tensorboard).", valueName: "dir"),
      completion: .directory)
    var tensorboard: String?

    @Option(
      name: .long,
      help: ArgumentHelp("Write one CSV row per epoch to FILE (overrides logging.csv).", valueName: "file"),
      completion: .file(extensions: ["csv"]))
    var logCsv: String?

    func validate() throws {
      if let epochs, epochs < 0 || epochs > Config.maximumEpochs {
        throw ValidationError("--epochs must be between 0 and \(Config.maximumEpochs), found \(epochs)")
      }
      if let logEvery, logEvery < 1 { throw ValidationError("--log-every must be ≥ 1, found \(logEvery)") }
      if tensorboard == "" { throw ValidationError("--tensorboard needs a folder, found an empty string") }
      if logCsv == "" { throw ValidationError("--log-csv needs a file, found an empty string") }
      if initFrom != nil && resume != nil {
        throw ValidationError("--init-from and --resume exclude each other")
      }
    }

    /// The library's options for this command line.
    var options: TrainOptions {
      var options = TrainOptions(configPath: config.path, threads: workers.count)
      if let initFrom {
        options.start = .initFrom(initFrom)
      } else if let resume {
        options.start = resume.startPoint
      }
      options.epochs = epochs
      options.checkpointDir = checkpointDir
      options.quiet = quiet
      options.logFormat = logFormat
      options.logEvery = logEvery
      options.tensorboardDir = tensorboard
      options.csvLog = logCsv
      return options
    }

    func run() throws {
      // Under mpirun: one rank of a group (MPI initialised before the signal
      // handlers are installed, so that ours are the ones in place).
      let group = try MPIProcessGroup.ifLaunched()
      var options = self.options
      options.group = group
      let code: Int32
      do {
        let trainer = try Trainer(options: options, signals: StopSignals())
        code = try trainer.run()
      } catch {
        // A failed rank exits without MPI_Finalize: mpirun then ends the others.
        throw group.map { $0.naming(error) } ?? error
      }
      try group?.finish()
      if code != 0 { throw ExitCode(code) }
    }
  }
}
