import NeuralNet

/// Per-epoch series of a run: training loss, learning rate, validation metrics.
///
/// Plain arrays rather than a dictionary so that recording an epoch costs a
/// few appends (the tutorial's run has 1500 one-step epochs).
public struct EpochHistory: Sendable, Equatable {
  /// Mean training loss of each epoch.
  public var trainLoss: [Double] = []
  /// Learning rate of each epoch's last step.
  public var learningRate: [Double] = []
  /// Validation loss, when there is validation data.
  public var validationLoss: [Double] = []
  /// Validation accuracy (classification).
  public var validationAccuracy: [Double] = []
  /// Validation mean absolute error (regression).
  public var validationMAE: [Double] = []
  /// Validation R² (regression).
  public var validationR2: [Double] = []
  /// A classifier's further validation metrics (`ClassifierMetrics.names`) by name, for the
  /// logs and `monitor`: kept in memory for the epochs of this process, not in checkpoints
  /// (whose bits stay those of earlier versions; the best value is saved with the state).
  public var classifier: [String: [Double]] = [:]

  /// An empty history.
  public init() {}

  /// A history restored from checkpoint series.
  public init(series: [String: [Double]]) {
    trainLoss = series["train_loss"] ?? []
    learningRate = series["learning_rate"] ?? []
    validationLoss = series["val_loss"] ?? []
    validationAccuracy = series["val_accuracy"] ?? []
    validationMAE = series["val_mae"] ?? []
    validationR2 = series["val_r2"] ?? []
  }

  /// Reserves room for `epochs` epochs.
  public mutating func reserveCapacity(_ epochs: Int) {
    trainLoss.reserveCapacity(epochs)
    learningRate.reserveCapacity(epochs)
  }

  /// Records one epoch.
  ///
  /// `classifierMetrics` are a classifier's further metrics (see `classifier`).
  public mutating func append(
    trainLoss: Double, learningRate: Double, validation: MetricSums?, loss: Loss, classification: Bool,
    classifierMetrics: [String: Double] = [:]
  ) {
    self.trainLoss.append(trainLoss)
    self.learningRate.append(learningRate)
    guard let validation else { return }
    validationLoss.append(validation.reducedLoss(loss))
    if classification {
      validationAccuracy.append(validation.accuracy)
      for (name, value) in classifierMetrics { classifier[name, default: []].append(value) }
    } else {
      validationMAE.append(validation.meanAbsoluteError)
      validationR2.append(validation.rSquared)
    }
  }

  /// The names of the series, as checkpoints store them under /history.
  public static let seriesNames = [
    "train_loss", "learning_rate", "val_loss", "val_accuracy", "val_mae", "val_r2",
  ]

  /// The series by their checkpoint names; empty series are left out.
  public var series: [String: [Double]] {
    let all: [String: [Double]] = [
      "train_loss": trainLoss, "learning_rate": learningRate, "val_loss": validationLoss,
      "val_accuracy": validationAccuracy, "val_mae": validationMAE, "val_r2": validationR2,
    ]
    return all.filter { !$0.value.isEmpty }
  }

  /// The newest value of series `name` ("val_loss", "train_loss", "val_f1_macro", ...).
  public func last(_ name: String) -> Double? {
    series[name]?.last ?? classifier[name]?.last
  }

  /// The newest validation metrics by name, a classifier's further ones included.
  public var lastValidation: [String: Double] {
    series.filter { $0.key.hasPrefix("val_") }.compactMapValues(\.last).merging(
      classifier.compactMapValues(\.last)
    ) { a, _ in a }
  }
}
