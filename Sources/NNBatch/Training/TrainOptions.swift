import Parallel

/// Where a run starts from.
public enum StartPoint: Sendable, Equatable {
  /// Fresh weights from the config's seed.
  case fresh
  /// The newest checkpoint that verifies in the run's folder.
  case resumeLatest
  /// A given checkpoint file, or the newest valid one in a given folder.
  case resume(String)
  /// Weights and biases of a checkpoint, with a fresh optimizer and counters.
  case initFrom(String)
}

/// Options of `nnbatch train` beyond the config.
public struct TrainOptions: Sendable {
  /// The config file.
  public var configPath: String
  /// Workers (`--threads`).
  public var threads: Int
  /// Where to start.
  public var start: StartPoint = .fresh
  /// Override of `training.epochs`.
  public var epochs: Int?
  /// Override of `checkpoint.dir`.
  public var checkpointDir: String?
  /// Print only errors and the final summary.
  public var quiet = false
  /// Progress format.
  public var logFormat: LogFormat = .text
  /// Epoch line or JSON record every this many epochs.
  public var logEvery: Int?
  /// The processes training together (`mpirun`), or nil for a run of this process alone.
  public var group: (any ProcessGroup)?
  /// Folder of TensorBoard event files (overrides `logging.tensorboard`).
  public var tensorboardDir: String?
  /// CSV file of per-epoch metrics (overrides `logging.csv`).
  public var csvLog: String?
  /// Whether this process writes the run's logs (JSON records, CSV, TensorBoard).
  ///
  /// The one gate for multi-process runs: only rank 0 writes them.
  public var writesLogs = true
  /// The config itself, when it is not read from `configPath` (the Swift API's).
  public var config: Config?
  /// Called on the training thread after every step and every epoch.
  public var observer: (@Sendable (TrainingEvent) -> Void)?
  /// Print nothing on stdout, not even the summary (the Swift API's runs).
  public var silent = false
  /// Called on the training thread at each epoch's end, after its metrics and before its
  /// checkpoint policy: may stop the run or set the base learning rate (the Swift API's callbacks).
  public var epochControl: (@Sendable (EpochReport) -> EpochControl)?

  /// Options for `configPath` on `threads` workers.
  public init(configPath: String, threads: Int) {
    self.configPath = configPath
    self.threads = threads
  }
}

/// What an epoch-end callback decides (`TrainOptions.epochControl`).
public struct EpochControl: Sendable, Equatable {
  /// End the run after this epoch, saving a checkpoint, as early stopping does.
  public var stop: Bool
  /// The base learning rate from the next step on, in place of `optimizer.learning_rate`
  /// (a schedule applies to it as to the config's); saved in checkpoints, so a resume keeps it.
  public var learningRate: Double?

  /// A decision; the default continues unchanged.
  public init(stop: Bool = false, learningRate: Double? = nil) {
    self.stop = stop
    self.learningRate = learningRate
  }
}
