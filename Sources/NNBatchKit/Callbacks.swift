import NNBatch
import Synchronization

/// What a ``Callback`` sees at the end of an epoch: a value, safe to keep or send anywhere.
public struct TrainingSnapshot: Sendable, Equatable {
  /// 1-based epoch number.
  public var epoch: Int
  /// Epochs the run trains to.
  public var epochs: Int
  /// Steps so far.
  public var step: Int
  /// Mean training loss over the epoch's samples.
  public var loss: Double
  /// Validation metrics by name (`val_loss`, `val_accuracy`, ...) when measured.
  public var validation: [String: Double]
  /// Learning rate of the epoch's last step.
  public var learningRate: Double
}

/// What a ``Callback`` decides at the end of an epoch.
public enum CallbackDecision: Sendable, Equatable {
  /// Train on.
  case `continue`
  /// End the run after this epoch; its checkpoint is saved, as when early stopping ends a run.
  case stop
  /// Use this base learning rate from the next step on, in place of the optimizer's.
  ///
  /// A schedule (warm-up, decay) applies to it as to the optimizer's rate. The rate
  /// is saved in every checkpoint from then on (`/state@learning_rate`, required as
  /// `learning_rate_override`), so a resumed run goes on with it, bit-identical.
  case setLearningRate(Double)
}

/// Code that runs at the end of each epoch and may stop training or set the learning rate.
///
/// A callback is a value the trainer owns while it trains: `epochEnded(_:)` is
/// `mutating`, so it keeps its own state (a best value, a count of epochs) in
/// stored properties, with no lock and no shared variable. It is called on the
/// training thread, one epoch after the other.
public protocol Callback: Sendable {
  /// Called after each epoch's metrics, before its checkpoint is saved.
  mutating func epochEnded(_ snapshot: TrainingSnapshot) -> CallbackDecision
}

/// A ``Callback`` of a closure, for decisions that need no state of their own.
///
/// ```swift
/// let stopAtLowLoss = EpochCallback { $0.loss < 0.01 ? .stop : .continue }
/// ```
public struct EpochCallback: Callback {
  private let body: @Sendable (TrainingSnapshot) -> CallbackDecision

  /// A callback that runs `body` at each epoch's end.
  public init(_ body: @escaping @Sendable (TrainingSnapshot) -> CallbackDecision) {
    self.body = body
  }

  /// Runs the closure.
  public mutating func epochEnded(_ snapshot: TrainingSnapshot) -> CallbackDecision { body(snapshot) }
}

/// The callbacks of one training call and the epochs seen, behind a lock the user never sees.
final class RunRecorder: Sendable {
  private struct State {
    var callbacks: [any Callback]
    var epochs: [EpochRecord] = []
  }
  private let state: Mutex<State>

  init(callbacks: [any Callback]) {
    state = Mutex(State(callbacks: callbacks))
  }

  var history: History { History(epochs: state.withLock { $0.epochs }) }

  /// Records the epoch and asks every callback, in order: any stop stops, the last rate set wins.
  func epochEnded(_ report: EpochReport) -> EpochControl {
    state.withLock { state in
      state.epochs.append(
        EpochRecord(
          epoch: report.epoch, step: report.step, loss: report.trainLoss, validation: report.validation,
          learningRate: report.learningRate, elapsed: report.elapsed))
      let snapshot = TrainingSnapshot(
        epoch: report.epoch, epochs: report.epochs, step: report.step, loss: report.trainLoss,
        validation: report.validation, learningRate: report.learningRate)
      var control = EpochControl()
      for index in state.callbacks.indices {
        switch state.callbacks[index].epochEnded(snapshot) {
        case .continue: break
        case .stop: control.stop = true
        case .setLearningRate(let rate): control.learningRate = rate
        }
      }
      return control
    }
  }
}
