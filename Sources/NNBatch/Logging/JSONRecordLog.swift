import Foundation

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The JSON log's records besides the epoch lines (`--log-format json`): one
/// object per line on stdout, told apart by `"event"`, each with `"time"` (ISO 8601 UTC).
///
/// `start` (the run's shape and where it continues from), `checkpoint` (each file
/// written), `early_stop`, and `summary` (how the run ended, also when it failed;
/// `final_loss` is the last step's loss, `final_epoch_loss` the last epoch's mean).
final class JSONRecordLog: RunLogSink {
  private let output: (String) -> Void

  /// Records written as lines to `output` (stdout, flushed, unless a test collects them).
  init(output: @escaping (String) -> Void = JSONRecordLog.printLine) {
    self.output = output
  }

  var target: String { "standard output" }

  func start(_ start: RunStart) throws {
    try write([
      "event": "start", "name": start.name, "step": start.step, "epoch": start.epoch,
      "epochs": start.epochs, "resumed_from": start.resumedFrom ?? NSNull(), "threads": start.threads,
      "train_samples": start.trainSamples, "validation_samples": start.validationSamples,
      "parameters": start.parameters, "batches_per_epoch": start.batchesPerEpoch,
      "tensorboard": start.tensorboard ?? NSNull(), "csv": start.csv ?? NSNull(),
      "nnbatch_version": nnbatchVersion,
    ])
  }

  func checkpoint(path: String, step: Int, epoch: Int, reason: String) throws {
    try write(["event": "checkpoint", "path": path, "step": step, "epoch": epoch, "reason": reason])
  }

  func earlyStop(_ stop: EarlyStop) throws {
    try write([
      "event": "early_stop", "epoch": stop.epoch, "step": stop.step, "monitor": stop.monitor,
      "best": stop.best, "best_epoch": stop.bestEpoch, "patience": stop.patience,
    ])
  }

  func summary(_ summary: RunSummary) throws {
    var fields: [String: Any] = [
      "event": "summary", "status": summary.status, "exit_code": Int(summary.exitCode),
      "epoch": summary.epoch, "step": summary.step, "final_loss": summary.finalLoss ?? NSNull(),
      "final_epoch": summary.finalEpoch ?? NSNull(),
      "final_epoch_loss": summary.finalEpochLoss ?? NSNull(),
      "elapsed": summary.elapsed, "checkpoint": summary.checkpoint ?? NSNull(),
      "error": summary.error ?? NSNull(),
    ]
    // "final_val_loss", ...: only the metrics the run measures, as the epoch records have them.
    for (key, value) in summary.finalValidation { fields["final_" + key] = value }
    try write(fields)
  }

  /// Writes `fields` and the time as one line (NaN and infinities as null, as the epoch lines do).
  private func write(_ fields: [String: Any]) throws {
    var object = fields
    object["time"] = isoTimestamp(wallClockSeconds())
    for (key, value) in object {
      if let number = value as? Double, !number.isFinite { object[key] = NSNull() }
    }
    let data = try JSONSerialization.data(
      withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    output(String(decoding: data, as: UTF8.self))
  }

  /// Prints `line` to stdout at once (progress readers tail it).
  static func printLine(_ line: String) {
    print(line)
    fflush(nil)  // nil: all streams; the `stdout` global is not concurrency-safe
  }
}
