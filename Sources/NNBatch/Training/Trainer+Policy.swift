import Checkpoints
import NNBatchCore

// When a run saves and when it stops early: the checkpoint policy
// (checkpoint.every_steps, every_epochs, keep_best) and early stopping
// (training.early_stopping), read after each step and at each epoch's end.

extension Trainer {
  /// After a step: an `every_steps` save, deferred to the epoch's end on its last step.
  ///
  /// Deferred so that the file holds the finished epoch's history.
  func stepPolicy(lastOfEpoch: Bool) throws(NNBatchError) {
    guard let every = config.checkpointEverySteps, step % every == 0 else { return }
    if lastOfEpoch { saveAtEpochEnd = true } else { try save(reason: "every_steps") }
  }

  /// At an epoch's end: best tracking (and best.h5), the policy's save, early stopping; true when the run stops early.
  func epochPolicy() throws(NNBatchError) -> Bool {
    let improved = try trackBest()
    if let every = config.checkpointEveryEpochs, epoch % every == 0 { saveAtEpochEnd = true }
    if saveAtEpochEnd {
      try save(reason: "checkpoint policy")
      saveAtEpochEnd = false
    }
    guard improved == false, let es = config.earlyStopping, let best, best.staleEpochs >= es.patience else {
      return false
    }
    reporter.note([
      LineField("early stopping after epoch \(epoch)"),
      LineField(
        ": \(es.monitor) has not improved for \(es.patience) epochs", dropRank: 1, lead: "",
        short: ": \(es.monitor) stale"),
      LineField(" (best \(format6(best.value)) at epoch \(best.epoch))", dropRank: 2, lead: ""),
    ])
    stoppedEarly = true
    logs.earlyStop(
      EarlyStop(
        epoch: epoch, step: step, monitor: es.monitor, best: best.value, bestEpoch: best.epoch,
        patience: es.patience))
    return true
  }

  /// Updates the best-metric state and saves best.h5 when asked.
  ///
  /// Returns nil when nothing is monitored.
  private func trackBest() throws(NNBatchError) -> Bool? {
    let monitor = config.earlyStopping?.monitor ?? config.bestMonitor
    guard config.earlyStopping != nil || config.keepBest else { return nil }
    guard let value = history.last(monitor) else { return nil }
    let maximize = Config.maximizes(monitor)
    let minDelta = config.earlyStopping?.minDelta ?? 0
    let improved: Bool
    if let best {
      improved = maximize ? value > best.value + minDelta : value < best.value - minDelta
    } else {
      improved = true
    }
    if improved {
      best = BestMetric(value: value, epoch: epoch, staleEpochs: 0)
      if config.keepBest {
        try save(reason: "best", name: CheckpointStore.bestFileName)
      }
    } else {
      best?.staleEpochs += 1
    }
    return improved
  }
}
