/// One finished epoch of a ``TrainingConfig/train(threads:epochs:checkpointDirectory:resume:callbacks:onEvent:)`` call.
public struct EpochRecord: Sendable, Equatable {
  /// 1-based epoch number (counting the epochs of a resumed run's checkpoint).
  public var epoch: Int
  /// Steps so far.
  public var step: Int
  /// Mean training loss over the epoch's samples.
  public var loss: Double
  /// Validation metrics by name (`val_loss`, `val_accuracy`, `val_f1_macro`, `val_mae`, ...) when measured.
  public var validation: [String: Double]
  /// Learning rate of the epoch's last step.
  public var learningRate: Double
  /// Seconds since the run started.
  public var elapsed: Double
}

/// The per-epoch record of a training call, as Keras's `History`: training loss and validation metrics.
///
/// ```swift
/// let model = try config.train()
/// let losses = model.history.loss  // one per epoch
/// let accuracy = model.history.metric("val_accuracy")
/// ```
public struct History: Sendable, Equatable {
  /// The epochs trained, oldest first.
  public var epochs: [EpochRecord]

  /// A history of `epochs`.
  public init(epochs: [EpochRecord] = []) {
    self.epochs = epochs
  }

  /// Mean training loss of each epoch.
  public var loss: [Double] { epochs.map(\.loss) }

  /// Learning rate of each epoch's last step.
  public var learningRate: [Double] { epochs.map(\.learningRate) }

  /// The names ``metric(_:)`` knows for this history: `loss`, `learning_rate`, then the validation metrics.
  public var metricNames: [String] {
    ["loss", "learning_rate"] + Set(epochs.flatMap(\.validation.keys)).sorted()
  }

  /// The series of `name` (`"loss"`, `"learning_rate"` or a validation metric such as
  /// `"val_accuracy"`), one value per epoch that measured it; nil for a name no epoch has.
  public func metric(_ name: String) -> [Double]? {
    switch name {
    case "loss": return loss
    case "learning_rate": return learningRate
    default:
      let values = epochs.compactMap { $0.validation[name] }
      return values.isEmpty ? nil : values
    }
  }
}
