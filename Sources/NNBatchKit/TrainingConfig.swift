import NNBatch
import NNBatchCore
import NNBatchData

/// A validated training configuration: model, loss, optimizer, data, epochs and checkpoints.
///
/// Built from typed values, or read from a JSON config file like `nnbatch train --config`.
/// Either way it is nnbatch's config JSON checked by the command line's own parser, so a
/// problem is reported with the same message, and checkpoints store the text as always.
public struct TrainingConfig: Sendable {
  let config: Config
  /// The in-memory samples the config names by fingerprint (training and validation).
  var memory: [MemoryData] = []
  /// Whether no checkpoint folder was given: each run then writes to a temporary one it removes.
  var temporaryCheckpoints = false

  /// The config as nnbatch's JSON (what `nnbatch train --config` reads and checkpoints store).
  public var json: String { config.text }
  /// The run's name.
  public var name: String { config.name }
  /// Epochs to train.
  public var epochs: Int { config.epochs }
  /// The folder checkpoints are written to; nil when none was given (each run uses a temporary one).
  public var checkpointDirectory: String? { temporaryCheckpoints ? nil : config.checkpointDir }

  /// A config from typed values; throws, naming the JSON path, what the command line would refuse.
  ///
  /// Checkpoints go to `checkpointDirectory` every `checkpointEveryEpochs` epochs (default: only
  /// at the end, which every run saves), keeping the newest `keep`; without a folder, each run
  /// writes to a temporary one that it removes when it returns (<doc:RunsWithoutAFolder>). `earlyStopping` ends the run
  /// when a validation metric stops improving; `keepBest` also keeps `best.h5`, the checkpoint of
  /// the best `monitor` value (default: early stopping's, else `val_loss`); `logging` writes
  /// per-epoch metrics to TensorBoard or CSV files. `dropLast` drops each epoch's short last
  /// batch, `classWeight` weighs a classifier's training loss by class, and `shardSize` sets
  /// the samples per shard (results depend on it, never on threads).
  public init(
    name: String, seed: Int = 1, data: TrainingData, model: Model, loss: Loss, optimizer: Optimizer,
    epochs: Int, batchSize: Int = 32, shuffle: Bool = true, dropLast: Bool = false,
    classWeight: ClassWeight? = nil, shardSize: Int? = nil, earlyStopping: EarlyStopping? = nil,
    checkpointDirectory: String? = nil, checkpointEveryEpochs: Int? = nil, keep: Int = 3,
    keepBest: Bool = false, monitor: String? = nil, logging: Logging = Logging()
  ) throws(NNBatchKitError) {
    if let problem = data.problem
      ?? data.validation?.problem.map({ $0.replacingOccurrences(of: "$.data.", with: "$.data.validation.") })
    {
      throw NNBatchKitError(.usage, "TrainingConfig: \(problem)")
    }
    var checkpoint: [(String, JSONText)] = checkpointDirectory.map { [("dir", .string($0))] } ?? []
    checkpoint.append(("keep", .int(keep)))
    // A checkpoint per epoch (the JSON default) would cost a file per step in runs of tiny epochs.
    checkpoint.append(("every_epochs", .int(checkpointEveryEpochs ?? max(epochs, 1))))
    if keepBest { checkpoint.append(("keep_best", .bool(true))) }
    if let monitor { checkpoint.append(("monitor", .string(monitor))) }
    var training: [(String, JSONText)] = [
      ("epochs", .int(epochs)), ("batch_size", .int(batchSize)), ("shuffle", .bool(shuffle)),
    ]
    if dropLast { training.append(("drop_last", .bool(true))) }
    if let shardSize { training.append(("shard_size", .int(shardSize))) }
    if let classWeight { training.append(("class_weight", classWeight.json)) }
    if let earlyStopping { training.append(("early_stopping", earlyStopping.json)) }
    var root: [(String, JSONText)] = [
      ("name", .string(name)), ("seed", .int(seed)), ("data", data.json),
      ("model", model.json), ("loss", .string(loss.rawValue)), ("optimizer", optimizer.json),
      ("training", .object(training)), ("checkpoint", .object(checkpoint)),
    ]
    if let logs = logging.json { root.append(("logging", logs)) }
    try self.init(json: JSONText.object(root).text, file: "TrainingConfig")
    memory = data.memorySamples
    temporaryCheckpoints = checkpointDirectory == nil
  }

  /// This config with its `data` section replaced by `data`: how a run on in-memory samples is resumed.
  ///
  /// A config read from a checkpoint (``TrainedModel/config``) names in-memory samples by
  /// fingerprint only; giving them again here lets ``train(threads:epochs:checkpointDirectory:resume:callbacks:onEvent:)``
  /// resume it. Relative paths in `data` start from the working folder.
  public func replacingData(_ data: TrainingData) throws(NNBatchKitError) -> TrainingConfig {
    try replacingData(data, reading: false)
  }

  /// This config reading `data`; with `reading`, also without the settings that need validation data
  /// (early stopping, the keep-best monitor), which evaluating and predicting do not use.
  func replacingData(_ data: TrainingData, reading: Bool) throws(NNBatchKitError) -> TrainingConfig {
    if let problem = data.problem { throw NNBatchKitError(.usage, "data: \(problem)") }
    let root: JSONValue
    do {
      root = try JSONParser.parse(config.text)
    } catch {
      throw NNBatchKitError(.failure, "\(config.file): \(error)")
    }
    guard case .object(let members, _) = root else {
      throw NNBatchKitError(.failure, "\(config.file): expected an object")
    }
    let trainingOnly: [String: Set<String>] =
      reading ? ["training": ["early_stopping"], "checkpoint": ["keep_best", "monitor"]] : [:]
    var pairs = members.map { member -> (String, JSONText) in
      if member.key == "data" { return ("data", data.json) }
      guard let dropped = trainingOnly[member.key], case .object(let inner, _) = member.value else {
        return (member.key, JSONText(member.value))
      }
      return (
        member.key, .object(inner.filter { !dropped.contains($0.key) }.map { ($0.key, JSONText($0.value)) })
      )
    }
    if !members.contains(where: { $0.key == "data" }) { pairs.append(("data", data.json)) }
    var replaced = try TrainingConfig(json: JSONText.object(pairs).text, file: config.file)
    replaced.memory = data.memorySamples
    replaced.temporaryCheckpoints = temporaryCheckpoints
    return replaced
  }

  /// Runs `body` with this config's in-memory samples findable by the trainer and the readers.
  func withMemorySamples<T>(_ body: () throws(NNBatchKitError) -> T) throws(NNBatchKitError) -> T {
    for data in memory { MemoryDataStore.register(data) }
    defer { for data in memory { MemoryDataStore.release(data.fingerprint) } }
    return try body()
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

/// How a classifier's training loss weighs each class (`training.class_weight`).
public enum ClassWeight: Sendable {
  /// scikit-learn's n_samples / (n_classes · count), counted on the training split.
  case balanced
  /// A weight per class label (class indices as text, "0", "1", ..., for data without labels); others weigh 1.
  case weights(KeyValuePairs<String, Double>)

  var json: JSONText {
    switch self {
    case .balanced: return .string("balanced")
    case .weights(let weights): return .object(weights.map { ($0.key, .decimal($0.value)) })
    }
  }
}
