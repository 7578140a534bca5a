import Foundation
import HDF5Store

/// One row per epoch, like Keras's `CSVLogger` (`--log-csv FILE`, `logging.csv`).
///
/// Columns: `epoch` (1-based, as in nnbatch's other output; Keras counts from 0),
/// `step`, then the metrics in name order (`learning_rate`, `samples_per_second`,
/// `train_loss`, `val_*`). The header is written once. A fresh run replaces the
/// file; a resumed run keeps the header and the rows up to its checkpoint's
/// epoch (rewritten to a temporary file and renamed, so a crash leaves the old
/// or the new file) and appends after them. The path follows the rule for
/// output paths (`FileSystem.openOutput`): a FIFO or device is written
/// through, a symlink's target replaced, a directory refused.
final class CSVLog: RunLogSink {
  /// The CSV file.
  let path: String
  private var file: LogFile?
  private var columns: [String]?
  private var pending = ""

  /// A log at `path` (nothing is opened before `start`).
  init(path: String) {
    self.path = path
  }

  var target: String { path }
  var recordsEpochs: Bool { true }

  func start(_ start: RunStart) throws {
    // Not NSString.deletingLastPathComponent: it traps on a one-letter name ("--log-csv f").
    let folder = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? ""
    if !folder.isEmpty { try FileSystem.createDirectories(folder) }
    var kept = ""
    // Rows are kept from a regular file only: a FIFO or device has none to read back.
    if start.resumedFrom != nil, case .file(let existing) = try FileSystem.outputTarget(path),
      FileSystem.exists(existing)
    {
      let text: String
      do {
        text = try String(contentsOfFile: existing, encoding: .utf8)
      } catch {
        throw FileSystemError(operation: "read", path: path, reason: error.localizedDescription)
      }
      var lines = text.split(separator: "\n", omittingEmptySubsequences: true)
      if let header = lines.first {
        columns = header.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        lines.removeFirst()
        kept = header + "\n"
        // Rows past the checkpoint came from the run that was stopped: this run redoes them.
        for line in lines {
          guard let first = line.split(separator: ",").first, let epoch = Int(first) else { continue }
          if epoch <= start.epoch { kept += line + "\n" }
        }
      }
    }
    // The file is replaced atomically (or a FIFO written through) and stays open for the epochs' rows.
    let output = try FileSystem.openOutput(path, writing: Array(kept.utf8))
    file = LogFile(output)
  }

  func epoch(_ report: EpochReport) throws {
    var values: [String: String] = [
      "epoch": String(report.epoch), "step": String(report.step),
      "train_loss": CSVLog.format(report.trainLoss), "learning_rate": CSVLog.format(report.learningRate),
      "samples_per_second": CSVLog.format(report.samplesPerSecond),
    ]
    for (key, value) in report.validation { values[key] = CSVLog.format(value) }
    if columns == nil {
      let metrics = values.keys.filter { $0 != "epoch" && $0 != "step" }.sorted()
      let header = ["epoch", "step"] + metrics
      columns = header
      pending += header.joined(separator: ",") + "\n"
    }
    pending += (columns ?? []).map { values[$0] ?? "" }.joined(separator: ",") + "\n"
  }

  func flush() throws {
    guard let file, !pending.isEmpty else { return }
    try file.write(Array(pending.utf8))
    pending = ""
  }

  func summary(_ summary: RunSummary) throws {
    try flush()
    try file?.close()
    file = nil
  }

  /// Shortest text that reads back as the same Double ("nan", "inf" as Python's csv writes them).
  static func format(_ value: Double) -> String { "\(value)" }
}
