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

  /// Options for `configPath` on `threads` workers.
  public init(configPath: String, threads: Int) {
    self.configPath = configPath
    self.threads = threads
  }
}
