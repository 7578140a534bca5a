import NNBatch
import NNBatchCore

/// A validated training configuration: model, loss, optimizer, data, epochs and checkpoints.
///
/// Built from typed values, or read from a JSON config file like `nnbatch train --config`.
/// Either way it is nnbatch's config JSON checked by the command line's own parser, so a
/// problem is reported with the same message, and checkpoints store the text as always.
public struct TrainingConfig: Sendable {
  let config: Config

  /// The config as nnbatch's JSON (what `nnbatch train --config` reads and checkpoints store).
  public var json: String { config.text }
  /// The run's name.
  public var name: String { config.name }
  /// Epochs to train.
  public var epochs: Int { config.epochs }
  /// The folder checkpoints are written to.
  public var checkpointDirectory: String { config.checkpointDir }

  /// A config from typed values; throws, naming the JSON path, what the command line would refuse.
  ///
  /// Checkpoints go to `checkpointDirectory` every `checkpointEveryEpochs` epochs (default: only
  /// at the end, which every run saves), keeping the newest `keep`. `earlyStopping` ends the run
  /// when a validation metric stops improving; `keepBest` also keeps `best.h5`, the checkpoint of
  /// the best `monitor` value (default: early stopping's, else `val_loss`); `logging` writes
  /// per-epoch metrics to TensorBoard or CSV files.
  public init(
    name: String, seed: Int = 1, data: TrainingData, model: Model, loss: Loss, optimizer: Optimizer,
    epochs: Int, batchSize: Int = 32, shuffle: Bool = true, earlyStopping: EarlyStopping? = nil,
    checkpointDirectory: String, checkpointEveryEpochs: Int? = nil, keep: Int = 3, keepBest: Bool = false,
    monitor: String? = nil, logging: Logging = Logging()
  ) throws(NNBatchKitError) {
    var checkpoint: [(String, JSONText)] = [("dir", .string(checkpointDirectory)), ("keep", .int(keep))]
    // A checkpoint per epoch (the JSON default) would cost a file per step in runs of tiny epochs.
    checkpoint.append(("every_epochs", .int(checkpointEveryEpochs ?? max(epochs, 1))))
    if keepBest { checkpoint.append(("keep_best", .bool(true))) }
    if let monitor { checkpoint.append(("monitor", .string(monitor))) }
    var training: [(String, JSONText)] = [
      ("epochs", .int(epochs)), ("batch_size", .int(batchSize)), ("shuffle", .bool(shuffle)),
    ]
    if let earlyStopping { training.append(("early_stopping", earlyStopping.json)) }
    var root: [(String, JSONText)] = [
      ("name", .string(name)), ("seed", .int(seed)), ("data", data.json),
      ("model", model.json), ("loss", .string(loss.rawValue)), ("optimizer", optimizer.json),
      ("training", .object(training)), ("checkpoint", .object(checkpoint)),
    ]
    if let logs = logging.json { root.append(("logging", logs)) }
    try self.init(json: JSONText.object(root).text, file: "TrainingConfig")
  }

  /// A config from JSON `text`; `file` names it in messages (and gives the default run name).
  public init(json text: String, file: String = "config.json") throws(NNBatchKitError) {
    do {
      config = try Config.parse(text: text, file: file)
    } catch {
      throw NNBatchKitError(error)
    }
  }

  /// The JSON config file at `path`, as `nnbatch train --config` reads it.
  public init(contentsOf path: String) throws(NNBatchKitError) {
    do {
      config = try Config.load(path: path)
    } catch {
      throw NNBatchKitError(error)
    }
  }
}
