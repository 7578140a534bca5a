import Foundation
import NNBatchCore
import NeuralNet

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

/// One finished training step, for observers (the Swift API's progress callbacks).
public struct StepReport: Sendable {
  /// 1-based epoch number.
  public var epoch: Int
  /// Total epochs of the run.
  public var epochs: Int
  /// 1-based batch number within the epoch.
  public var batch: Int
  /// Batches per epoch.
  public var batches: Int
  /// Steps so far, this one included.
  public var step: Int
  /// The step's mean training loss.
  public var loss: Double
}

/// What a run reports as it trains, in order: steps, and each epoch after its last step.
public enum TrainingEvent: Sendable {
  /// A training step finished.
  case step(StepReport)
  /// An epoch finished (metrics measured, before its checkpoint is saved).
  case epoch(EpochReport)
}

/// Writes progress to stdout: live on a terminal, plain or JSON otherwise.
///
/// `--log-every` thins the epoch lines (text, on a terminal too) and the JSON records;
/// between printed epochs a terminal shows one live line, redrawn at most ten times a
/// second and cut to the terminal's width (TerminalWidth.swift).
public final class ProgressReporter {
  private let format: LogFormat
  private let quiet: Bool
  private let live: Bool
  /// Stdout is a terminal (and something may be printed): notes and summary are word-wrapped.
  private let terminal: Bool
  private let logEvery: Int
  /// The validation metric early stopping or keep_best watches: the last to leave a narrow line.
  private let monitor: String?
  private let observer: (@Sendable (TrainingEvent) -> Void)?
  /// Nothing on stdout at all (the Swift API: its caller has the observer).
  private let silent: Bool
  private var lastDraw = -1.0
  private var lastFlush = 0.0
  private var lineOpen = false

  /// A reporter; `logEvery` thins epoch lines and JSON records for runs of many tiny epochs.
  ///
  /// Text defaults to about 20 epoch lines a run; JSON to every epoch (a log is read by
  /// programs) unless `logEvery` is given. `observer` sees every step and every epoch;
  /// `silent` prints nothing (errors and warnings still go to stderr). `liveAllowed:
  /// false` keeps plain, unwrapped lines even on a terminal (under mpirun, whose ranks
  /// always write to a pseudo-terminal). `monitor` is the validation metric kept longest on a narrow terminal.
  public init(
    format: LogFormat, quiet: Bool, epochs: Int, logEvery: Int?, liveAllowed: Bool = true,
    observer: (@Sendable (TrainingEvent) -> Void)? = nil, silent: Bool = false, monitor: String? = nil
  ) {
    self.format = format
    self.monitor = monitor
    self.quiet = quiet || silent
    self.observer = observer
    self.silent = silent
    // mpirun's pseudo-terminal is not the user's: its width says nothing of theirs.
    terminal = liveAllowed && format == .text && !silent && isatty(STDOUT_FILENO) == 1
    live = terminal && !quiet
    if let logEvery {
      self.logEvery = logEvery
    } else {
      self.logEvery = format == .json || epochs <= 30 ? 1 : (epochs + 19) / 20
    }
  }

  deinit { fflush(nil) }

  /// Prints a line of text (not in quiet or JSON mode); on a terminal, broken between words to fit.
  public func note(_ text: String) {
    guard !quiet, format == .text else { return }
    closeLine()
    print(terminal ? wrapWords(text, width: terminalColumns()) : text)
    fflush(nil)  // nil: all streams; the `stdout` global is not concurrency-safe
  }

  /// Prints a status line (not in quiet or JSON mode): every field in a pipe, on a
  /// terminal one line of its width, the least useful fields left out (`fitStatusLine`).
  package func note(_ fields: [LineField]) {
    guard !quiet, format == .text else { return }
    closeLine()
    print(statusLine(fields))
    fflush(nil)  // nil: all streams; the `stdout` global is not concurrency-safe
  }

  private func statusLine(_ fields: [LineField]) -> String {
    terminal ? fitStatusLine(fields, width: terminalColumns()) : fullLine(fields)
  }

  /// Whether epoch `epoch` of `epochs` is printed, written as JSON or observed (and so timed).
  public func reports(epoch: Int, of epochs: Int) -> Bool {
    observer != nil || printsEpoch(epoch, of: epochs)
  }

  private func printsEpoch(_ epoch: Int, of epochs: Int) -> Bool {
    guard !silent, format == .json || !quiet else { return false }
    return epoch % logEvery == 0 || epoch == epochs
  }

  /// Redraws the live line during an epoch (at most ten times a second).
  ///
  /// `done` and `total` count this run's steps (for the ETA), `samples` its
  /// samples (for the throughput).
  public func stepDone(
    epoch: Int, epochs: Int, batch: Int, batches: Int, step: Int, loss: Double, started: Double,
    done: Int, total: Int, samples: Int
  ) {
    observer?(
      .step(StepReport(epoch: epoch, epochs: epochs, batch: batch, batches: batches, step: step, loss: loss)))
    guard live else { return }
    let now = monotonicSeconds()
    // Not forced at an epoch's end: one-step epochs would redraw at every step.
    guard now - lastDraw >= 0.1 else { return }
    lastDraw = now
    let elapsed = now - started
    let fraction = Double(batch) / Double(max(batches, 1))
    let rate = elapsed > 0 ? Double(samples) / elapsed : 0
    let eta = done > 0 ? elapsed / Double(done) * Double(max(total - done, 0)) : 0
    // One column short of the width: a character in the last column leaves some
    // terminals waiting to wrap, and the next "\r" would then go to a new line.
    let width = max(terminalColumns() - 1, 1)
    let line = liveLine(
      epoch: epoch, epochs: epochs, fraction: fraction, batch: batch, batches: batches, step: step,
      loss: loss, rate: rate, elapsed: elapsed, eta: eta, width: width)
    // Cleared before it is drawn: a shorter line leaves nothing of the one before.
    print("\r\u{1B}[K" + line, terminator: "")
    fflush(nil)  // nil: all streams; the `stdout` global is not concurrency-safe
    lineOpen = true
  }

  /// The live line in at most `width` characters: the bar shrinks, then fields go.
  package func liveLine(
    epoch: Int, epochs: Int, fraction: Double, batch: Int, batches: Int, step: Int, loss: Double,
    rate: Double, elapsed: Double, eta: Double, width: Int
  ) -> String {
    func fields(bar: Int) -> [LineField] {
      let filled = Int(fraction * Double(bar))
      var fields = [LineField("epoch \(epoch)/\(epochs)")]
      if bar > 0 {
        let text = String(repeating: "=", count: filled) + String(repeating: " ", count: bar - filled)
        fields.append(LineField("[\(text)]", dropRank: 4))
      }
      fields += [
        LineField("\(batch)/\(batches)", dropRank: 5), LineField("step \(step)", dropRank: 3),
        LineField("loss \(format6(loss))"), LineField("\(Int(rate)) samples/s", dropRank: 6),
        LineField(formatDuration(elapsed), dropRank: 7),
        LineField("(ETA \(formatDuration(eta)))", dropRank: 2),
      ]
      return fields
    }
    let full = fullLine(fields(bar: 20))
    // Shrink the bar to what is left, keeping at least 5 cells, before dropping fields.
    let bar = max(0, min(20, 20 - (displayWidth(full) - width)))
    return fitLine(fields(bar: bar >= 5 ? bar : 0), width: width)
  }

  /// Reports a finished epoch.
  public func epochDone(_ report: EpochReport, force: Bool = false) {
    observer?(.epoch(report))
    guard force || printsEpoch(report.epoch, of: report.epochs) else { return }
    if format == .json {
      writeRecord(report)
      return
    }
    guard !quiet else { return }
    var fields = [
      LineField("epoch \(report.epoch)/\(report.epochs)"), LineField("step \(report.step)", dropRank: 4),
      LineField("loss \(format6(report.trainLoss))"),
    ]
    fields += validationFields(report.validation, lead: "  ")
    fields.append(LineField("lr \(format6(report.learningRate))", dropRank: 6))
    fields.append(LineField("\(Int(report.samplesPerSecond)) samples/s", dropRank: 7))
    let remaining = report.epochs - report.epoch
    let eta = report.epoch > 0 ? report.elapsed / Double(report.epoch) * Double(remaining) : 0
    var time = formatDuration(report.elapsed)
    if remaining > 0 { time += " (ETA \(formatDuration(eta)))" }
    fields.append(LineField(time, dropRank: 5, short: formatDuration(report.elapsed)))
    // Only a terminal's line is fitted to its width; a file or pipe gets every field.
    let text =
      live ? fitLine(fields, separator: "  ", width: terminalColumns()) : fullLine(fields, separator: "  ")
    if live {
      // Cleared even when no live line is open (epochs shorter than a redraw's 0.1 s):
      // an epoch line on a terminal always starts on a clean line.
      print("\r\u{1B}[K" + text)
      lineOpen = false
    } else {
      print(text)
    }
    fflush(nil)  // nil: all streams; the `stdout` global is not concurrency-safe
  }

  /// Validation metrics as fields in name order: on a narrow terminal the metric the run
  /// monitors stays longest, then `val_loss`, then the others (earlier names first).
  ///
  /// The terminal keeps to loss and accuracy (or MAE and R²); the logs have every metric.
  package func validationFields(_ validation: [String: Double], lead: String) -> [LineField] {
    validation.keys.sorted().filter { !ClassifierMetrics.isClassifierMetric($0) }.map { key in
      let rank = key == monitor ? 1 : key == "val_loss" ? 2 : 3
      return LineField(
        "\(key) \(format6(validation[key] ?? .nan))", dropRank: rank, lead: lead, openingLead: " ")
    }
  }

  /// Writes `report` as one JSON line, keys sorted, through stdout's buffer.
  private func writeRecord(_ report: EpochReport) {
    var record = JSONRecord()
    record.add("elapsed", report.elapsed)
    record.add("epoch", report.epoch)
    record.add("epochs", report.epochs)
    record.add("event", "epoch")
    record.add("learning_rate", report.learningRate)
    record.add("samples_per_second", report.samplesPerSecond)
    record.add("step", report.step)
    record.add("time", isoTimestamp(wallClockSeconds()))
    record.add("train_loss", report.trainLoss)
    // Validation metrics are "val_…": sorted, they all come after "train_loss".
    for key in report.validation.keys.sorted() {
      record.add(key, report.validation[key] ?? .nan)
    }
    print(record.line)
    // A flush (a write system call) only when 0.1 s have passed since the last one, at the
    // last epoch and at the end (deinit): a run of tiny epochs does not pay a system call
    // per record, and a reader following the log is behind by at most the records of 0.1 s.
    let now = monotonicSeconds()
    if now - lastFlush >= 0.1 || report.epoch == report.epochs {
      fflush(nil)  // nil: all streams; the `stdout` global is not concurrency-safe
      lastFlush = now
    }
  }

  /// Prints the final summary (also in quiet mode, never in JSON mode), each line fitted as `note(_:)` fits it.
  package func summary(lines: [[LineField]]) {
    guard format == .text, !silent else { return }
    closeLine()
    print(lines.map(statusLine).joined(separator: "\n"))
    fflush(nil)  // nil: all streams; the `stdout` global is not concurrency-safe
  }

  private func closeLine() {
    if lineOpen {
      print("\r\u{1B}[K", terminator: "")
      lineOpen = false
    }
  }
}
