import HDF5Store
import TensorBoardEvents

/// TensorBoard event files (`--tensorboard DIR`, `logging.tensorboard`).
///
/// Every scalar is on the global step axis (TensorBoard's restart purge compares
/// steps across all tags): `step/loss` every step; at each epoch's last step
/// `epoch/train_loss`, `epoch/val_*`, `epoch/learning_rate` and
/// `epoch/samples_per_second` (the names of the JSON log's keys).
///
/// Each run writes a new file, `events.out.tfevents.<time>.<host>.<pid>.0`, whose
/// first events are the file version and a `SessionLog` START at the first step
/// it will log: when a resumed run continues from step s, TensorBoard drops
/// the steps > s that the stopped run logged after its checkpoint.
final class TensorBoardLog: RunLogSink {
  /// The folder of event files.
  let directory: String
  /// This run's event file, once started.
  private(set) var path = ""
  private var file: LogFile?
  private var buffer: [UInt8] = []

  /// A log in `directory` (nothing is created before `start`).
  init(directory: String) {
    self.directory = directory
  }

  var target: String { path.isEmpty ? directory : path }
  var recordsSteps: Bool { true }
  var recordsEpochs: Bool { true }

  func start(_ start: RunStart) throws {
    try FileSystem.createDirectories(directory)
    // TensorBoard reads a folder's event files in name order: a file named
    // within the same second as an earlier one (a quick resume) could sort
    // before it, so the time in the name is at least one past the newest.
    let prefix = "events.out.tfevents."
    var time = Int(wallClockSeconds())
    for name in try FileSystem.list(directory) where name.hasPrefix(prefix) {
      if let earlier = Int(name.dropFirst(prefix.count).prefix { $0 != "." }), earlier >= time {
        time = earlier + 1
      }
    }
    let digits = String(time)
    let padded = String(repeating: "0", count: max(0, 10 - digits.count)) + digits
    path = "\(directory)/\(prefix)\(padded).\(LogFile.hostName()).\(LogFile.processID).0"
    file = try LogFile(creating: path)
    let now = wallClockSeconds()
    append(try TensorBoardEvent.fileVersion(wallTime: now))
    append(try TensorBoardEvent.sessionStart(step: start.step + 1, wallTime: now))
    try flush()
  }

  func step(_ step: Int, loss: Double) throws {
    append(try TensorBoardEvent.scalars([("step/loss", loss)], step: step, wallTime: wallClockSeconds()))
  }

  func epoch(_ report: EpochReport) throws {
    var values: [(tag: String, value: Double)] = [("epoch/train_loss", report.trainLoss)]
    for key in report.validation.keys.sorted() {
      values.append(("epoch/\(key)", report.validation[key] ?? 0))
    }
    values.append(("epoch/learning_rate", report.learningRate))
    values.append(("epoch/samples_per_second", report.samplesPerSecond))
    append(try TensorBoardEvent.scalars(values, step: report.step, wallTime: wallClockSeconds()))
  }

  func flush() throws {
    guard let file, !buffer.isEmpty else { return }
    try file.write(buffer)
    buffer.removeAll(keepingCapacity: true)
  }

  func summary(_ summary: RunSummary) throws {
    try flush()
    try file?.close()
    file = nil
  }

  private func append(_ event: [UInt8]) {
    EventRecord.append(event, to: &buffer)
  }
}
