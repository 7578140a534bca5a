import Foundation

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// How training reports progress.
public enum LogFormat: String, Sendable, CaseIterable {
  /// A live line on a terminal, plain lines otherwise.
  case text
  /// One JSON object per epoch on stdout.
  case json
}

/// Metrics of one finished epoch.
public struct EpochReport: Sendable {
  /// 1-based epoch number.
  public var epoch: Int
  /// Total epochs of the run.
  public var epochs: Int
  /// Steps so far.
  public var step: Int
  /// Mean training loss over the epoch's samples.
  public var trainLoss: Double
  /// Validation loss, accuracy, MAE, R² when measured.
  public var validation: [String: Double]
  /// Learning rate of the epoch's last step.
  public var learningRate: Double
  /// Training throughput of the epoch.
  public var samplesPerSecond: Double
  /// Seconds since the run started.
  public var elapsed: Double
}

/// Writes progress to stdout: live on a terminal, plain or JSON otherwise.
public final class ProgressReporter {
  private let format: LogFormat
  private let quiet: Bool
  private let live: Bool
  private let logEvery: Int
  private var lastDraw = 0.0
  private var lineOpen = false

  /// A reporter; `logEvery` thins plain lines for runs of many tiny epochs.
  ///
  /// `liveAllowed: false` keeps plain lines even on a terminal (under
  /// mpirun, whose ranks always write to a pseudo-terminal).
  public init(format: LogFormat, quiet: Bool, epochs: Int, logEvery: Int?, liveAllowed: Bool = true) {
    self.format = format
    self.quiet = quiet
    live = liveAllowed && format == .text && !quiet && isatty(STDOUT_FILENO) == 1
    self.logEvery = logEvery ?? (epochs <= 30 ? 1 : (epochs + 19) / 20)
  }

  /// Prints a line of text (not in quiet or JSON mode).
  public func note(_ text: String) {
    guard !quiet, format == .text else { return }
    closeLine()
    print(text)
    fflush(nil)  // nil: all streams; the `stdout` global is not concurrency-safe
  }

  /// Whether epoch `epoch` of `epochs` is printed (or written as JSON).
  public func reports(epoch: Int, of epochs: Int) -> Bool {
    format == .json || live || (!quiet && (epoch % logEvery == 0 || epoch == epochs))
  }

  /// Redraws the live line during an epoch (at most ten times a second).
  ///
  /// `done` and `total` count this run's steps (for the ETA), `samples` its
  /// samples (for the throughput).
  public func stepDone(
    epoch: Int, epochs: Int, batch: Int, batches: Int, step: Int, loss: Double, started: Double,
    done: Int, total: Int, samples: Int
  ) {
    guard live else { return }
    let now = monotonicSeconds()
    guard now - lastDraw >= 0.1 || batch == batches else { return }
    lastDraw = now
    let elapsed = now - started
    let fraction = Double(batch) / Double(max(batches, 1))
    let width = 20
    let filled = Int(fraction * Double(width))
    let bar = String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled)
    let rate = elapsed > 0 ? Double(samples) / elapsed : 0
    let eta = done > 0 ? elapsed / Double(done) * Double(max(total - done, 0)) : 0
    let text =
      "epoch \(epoch)/\(epochs) [\(bar)] \(batch)/\(batches) step \(step) loss \(format6(loss)) "
      + "\(Int(rate)) samples/s \(formatDuration(elapsed)) (ETA \(formatDuration(eta)))"
    print("\r\u{1B}[K" + text, terminator: "")
    fflush(nil)  // nil: all streams; the `stdout` global is not concurrency-safe
    lineOpen = true
  }

  /// Reports a finished epoch.
  public func epochDone(_ report: EpochReport, force: Bool = false) {
    if format == .json {
      var object: [String: Any] = [
        "event": "epoch", "time": isoTimestamp(wallClockSeconds()), "epoch": report.epoch,
        "epochs": report.epochs, "step": report.step,
        "train_loss": report.trainLoss, "learning_rate": report.learningRate,
        "samples_per_second": report.samplesPerSecond, "elapsed": report.elapsed,
      ]
      for (key, value) in report.validation { object[key] = value }
      // JSON has no NaN or infinity: such a value is written as null, never dropped with its line.
      for (key, value) in object {
        if let number = value as? Double, !number.isFinite { object[key] = NSNull() }
      }
      do {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
        fflush(nil)  // nil: all streams; the `stdout` global is not concurrency-safe
      } catch {
        writeToStandardError(
          "warning: epoch \(report.epoch): cannot write its JSON progress line: \(error)\n")
      }
      return
    }
    guard !quiet else { return }
    guard force || live || report.epoch % logEvery == 0 || report.epoch == report.epochs else { return }
    var text =
      "epoch \(report.epoch)/\(report.epochs)  step \(report.step)  loss \(format6(report.trainLoss))"
    for key in report.validation.keys.sorted() {
      text += "  \(key) \(format6(report.validation[key] ?? 0))"
    }
    text += "  lr \(format6(report.learningRate))  \(Int(report.samplesPerSecond)) samples/s"
    let remaining = report.epochs - report.epoch
    let eta = report.epoch > 0 ? report.elapsed / Double(report.epoch) * Double(remaining) : 0
    text += "  \(formatDuration(report.elapsed))"
    if remaining > 0 { text += " (ETA \(formatDuration(eta)))" }
    closeLine()
    print(text)
    fflush(nil)  // nil: all streams; the `stdout` global is not concurrency-safe
  }

  /// Prints the final summary (also in quiet mode, never in JSON mode).
  public func summary(_ text: String) {
    guard format == .text else { return }
    closeLine()
    print(text)
    fflush(nil)  // nil: all streams; the `stdout` global is not concurrency-safe
  }

  private func closeLine() {
    if lineOpen {
      print("\r\u{1B}[K", terminator: "")
      lineOpen = false
    }
  }
}
