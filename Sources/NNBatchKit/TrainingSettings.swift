import NNBatchCore

/// How the learning rate changes over a run (`optimizer.schedule`), optionally after a linear warm-up.
public struct Schedule: Sendable {
  let pairs: [(String, JSONText)]

  /// The optimizer's rate throughout, after `warmupSteps` steps of linear warm-up.
  public static func constant(warmupSteps: Int = 0) -> Schedule {
    Schedule(kind: "constant", warmupSteps: warmupSteps, [])
  }

  /// The rate times `factor` every `everyEpochs` epochs.
  public static func step(everyEpochs: Int, factor: Double = 0.1, warmupSteps: Int = 0) -> Schedule {
    Schedule(
      kind: "step", warmupSteps: warmupSteps,
      [("every_epochs", .int(everyEpochs)), ("factor", .decimal(factor))])
  }

  /// The rate times `gamma` after each epoch.
  public static func exponential(gamma: Double = 0.95, warmupSteps: Int = 0) -> Schedule {
    Schedule(kind: "exponential", warmupSteps: warmupSteps, [("gamma", .decimal(gamma))])
  }

  /// A half cosine from the rate down to `floor` over the run's steps.
  public static func cosine(floor: Double = 0, warmupSteps: Int = 0) -> Schedule {
    Schedule(kind: "cosine", warmupSteps: warmupSteps, [("floor", .decimal(floor))])
  }

  private init(kind: String, warmupSteps: Int, _ settings: [(String, JSONText)]) {
    var pairs: [(String, JSONText)] = [("kind", .string(kind))]
    if warmupSteps != 0 { pairs.append(("warmup_steps", .int(warmupSteps))) }
    self.pairs = pairs + settings
  }
}

extension Optimizer {
  /// This optimizer with the learning rate following `schedule`.
  public func schedule(_ schedule: Schedule) -> Optimizer { adding("schedule", .object(schedule.pairs)) }

  /// This optimizer with gradients clipped to global L2 norm `norm` before each update (`clip_norm`).
  public func clipNorm(_ norm: Double) -> Optimizer { adding("clip_norm", .decimal(norm)) }

  private func adding(_ key: String, _ value: JSONText) -> Optimizer {
    guard case .object(let pairs) = json else { return self }
    return Optimizer(json: .object(pairs.filter { $0.0 != key } + [(key, value)]))
  }
}

/// Ending a run once a validation metric stops improving (`training.early_stopping`).
public struct EarlyStopping: Sendable {
  /// The metric watched (`val_loss`, `val_accuracy`, `val_f1_macro`, `val_auc`, ...).
  public var monitor: String
  /// Epochs without improvement before the run stops.
  public var patience: Int
  /// The least change that counts as an improvement.
  public var minDelta: Double

  /// Stops after `patience` epochs in which `monitor` improved by less than `minDelta`.
  public init(monitor: String = "val_loss", patience: Int = 5, minDelta: Double = 0) {
    self.monitor = monitor
    self.patience = patience
    self.minDelta = minDelta
  }

  var json: JSONText {
    .object([("monitor", .string(monitor)), ("patience", .int(patience)), ("min_delta", .decimal(minDelta))])
  }
}

/// Files a run writes its per-epoch metrics to (`logging`), besides its checkpoints.
public struct Logging: Sendable {
  /// A folder of TensorBoard event files.
  public var tensorboard: String?
  /// A CSV file, one row per epoch.
  public var csv: String?

  /// Logs to `tensorboard` and `csv` when given.
  public init(tensorboard: String? = nil, csv: String? = nil) {
    self.tensorboard = tensorboard
    self.csv = csv
  }

  var json: JSONText? {
    var pairs: [(String, JSONText)] = []
    if let tensorboard { pairs.append(("tensorboard", .string(tensorboard))) }
    if let csv { pairs.append(("csv", .string(csv))) }
    return pairs.isEmpty ? nil : .object(pairs)
  }
}
