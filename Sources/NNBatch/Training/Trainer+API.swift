import Checkpoints
import NNBatchCore

// What the Swift API (NNBatchKit) needs of a run beyond the command line's.
extension Trainer {
  /// The run's config: given in `options`, or read from `options.configPath`.
  static func config(of options: TrainOptions) throws(NNBatchError) -> Config {
    if let config = options.config { return config }
    return try Config.load(path: options.configPath)
  }

  /// The step checkpoint that holds the run's current state (written by `run()` before it returns).
  package var checkpointPath: String {
    "\(config.checkpointDir)/\(CheckpointStore.fileName(step: step))"
  }
}
