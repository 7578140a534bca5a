import HDF5Store
import NNBatchCore

/// How a run starts, as its logs record it.
struct RunStart {
  /// The run's name.
  var name: String
  /// Steps and epochs already done (0 unless resumed).
  var step: Int
  var epoch: Int
  /// Epochs the run trains to.
  var epochs: Int
  /// The checkpoint it continues, if resumed.
  var resumedFrom: String?
  /// Workers.
  var threads: Int
  /// Training and validation samples.
  var trainSamples: Int
  var validationSamples: Int
  /// Trainable parameters.
  var parameters: Int
  /// Steps per epoch.
  var batchesPerEpoch: Int
  /// The other logs of the run (for the JSON start record).
  var tensorboard: String? = nil
  var csv: String? = nil
}

/// Why early stopping ended a run.
struct EarlyStop {
  /// The epoch after which it stopped, and the step.
  var epoch: Int
  var step: Int
  /// The watched metric, its best value and that value's epoch.
  var monitor: String
  var best: Double
  var bestEpoch: Int
  /// Epochs without improvement that stop a run.
  var patience: Int
}

/// How a run ended, as its logs record it.
struct RunSummary {
  /// "done", "stopped" (a signal), "early_stop" or "failed".
  var status: String
  /// The process's exit code.
  var exitCode: Int32
  /// Epochs and steps done.
  var epoch: Int
  var step: Int
  /// The last step's loss, if any step ran (one batch's loss, not the epoch's).
  var finalLoss: Double?
  /// Seconds this process trained.
  var elapsed: Double
  /// The newest checkpoint, if one was written or resumed from.
  var checkpoint: String?
  /// The error that ended a failed run.
  var error: String?
  /// The last finished epoch (1-based), its mean training loss and its validation
  /// metrics ("val_loss", ...), if an epoch has finished in this run or the one it resumes.
  var finalEpoch: Int? = nil
  var finalEpochLoss: Double? = nil
  var finalValidation: [String: Double] = [:]
}

/// One log of a run: JSON records on stdout, a CSV file, TensorBoard event files.
///
/// Calls come from the training loop's thread only.
protocol RunLogSink: AnyObject {
  /// What a message about this log names (a file or folder).
  var target: String { get }
  /// Whether it records every step (only then `step` is called).
  var recordsSteps: Bool { get }
  /// Whether it records epochs (then every epoch is timed).
  var recordsEpochs: Bool { get }
  /// Opens the log; resumed runs supersede what the killed run logged past its checkpoint.
  func start(_ start: RunStart) throws
  /// The loss of step `step` (1-based).
  func step(_ step: Int, loss: Double) throws
  /// A finished epoch.
  func epoch(_ report: EpochReport) throws
  /// A checkpoint written (`reason` as the trainer names it).
  func checkpoint(path: String, step: Int, epoch: Int, reason: String) throws
  /// Early stopping ended the run.
  func earlyStop(_ stop: EarlyStop) throws
  /// The run ended.
  func summary(_ summary: RunSummary) throws
  /// Writes what is buffered.
  func flush() throws
}

extension RunLogSink {
  var recordsSteps: Bool { false }
  var recordsEpochs: Bool { false }
  func step(_ step: Int, loss: Double) throws {}
  func epoch(_ report: EpochReport) throws {}
  func checkpoint(path: String, step: Int, epoch: Int, reason: String) throws {}
  func earlyStop(_ stop: EarlyStop) throws {}
  func flush() throws {}
}

/// The logs a run writes, besides its terminal progress.
///
/// Opening a log that cannot be created stops the run before training (exit 2).
/// A log that later fails to write (disk full) is reported once on stderr
/// and closed; training and checkpoints go on, since they are what the run is for.
final class RunLogs {
  private var sinks: [any RunLogSink]
  private var stepSinks: [any RunLogSink]
  private var lastFlush = 0.0
  /// Buffered log lines and events reach their files at least this often (and at every checkpoint).
  private static let flushInterval = 1.0

  /// Logs that write to `sinks`.
  init(_ sinks: [any RunLogSink]) {
    self.sinks = sinks
    stepSinks = sinks.filter(\.recordsSteps)
  }

  /// The logs `options` and `config` ask for: JSON records with `--log-format json`,
  /// `--log-csv` / `logging.csv`, `--tensorboard` / `logging.tensorboard`.
  convenience init(options: TrainOptions, config: Config) {
    var sinks: [any RunLogSink] = []
    if options.logFormat == .json { sinks.append(JSONRecordLog()) }
    if let path = options.csvLog ?? config.logging.csv { sinks.append(CSVLog(path: path)) }
    if let directory = options.tensorboardDir ?? config.logging.tensorboard {
      sinks.append(TensorBoardLog(directory: directory))
    }
    self.init(sinks)
  }

  /// Whether any log records epochs (so every epoch is timed).
  var recordsEpochs: Bool { sinks.contains { $0.recordsEpochs } }

  /// Opens every log; a log that cannot be opened is a usage error naming its path.
  func start(_ start: RunStart) throws(NNBatchError) {
    for sink in sinks {
      do {
        try sink.start(start)
      } catch {
        throw NNBatchError(.usage, "\(error)")
      }
    }
    lastFlush = monotonicSeconds()
  }

  /// Records step `step`'s loss (only logs that keep steps are asked).
  func step(_ step: Int, loss: Double) {
    guard !stepSinks.isEmpty else { return }
    each(stepSinks) { try $0.step(step, loss: loss) }
  }

  /// Records a finished epoch, and writes buffered records when they have waited long enough.
  func epoch(_ report: EpochReport) {
    guard !sinks.isEmpty else { return }
    each(sinks) { try $0.epoch(report) }
    let now = monotonicSeconds()
    if now - lastFlush >= RunLogs.flushInterval {
      flush()
      lastFlush = now
    }
  }

  /// Records a checkpoint written.
  func checkpoint(path: String, step: Int, epoch: Int, reason: String) {
    each(sinks) { try $0.checkpoint(path: path, step: step, epoch: epoch, reason: reason) }
  }

  /// Records early stopping.
  func earlyStop(_ stop: EarlyStop) {
    each(sinks) { try $0.earlyStop(stop) }
  }

  /// Records the run's end and writes everything buffered.
  func summary(_ summary: RunSummary) {
    each(sinks) { try $0.summary(summary) }
    flush()
  }

  /// Writes what is buffered: before every checkpoint, so that the logs hold
  /// every step up to the newest checkpoint when a run is killed.
  func flush() {
    each(sinks) { try $0.flush() }
  }

  private func each(_ targets: [any RunLogSink], _ body: (any RunLogSink) throws -> Void) {
    var failed: [ObjectIdentifier] = []
    for sink in targets {
      do {
        try body(sink)
      } catch {
        Warnings.emit("\(sink.target): \(error); this log stops here, training goes on")
        failed.append(ObjectIdentifier(sink))
      }
    }
    guard !failed.isEmpty else { return }
    sinks.removeAll { failed.contains(ObjectIdentifier($0)) }
    stepSinks.removeAll { failed.contains(ObjectIdentifier($0)) }
  }
}
