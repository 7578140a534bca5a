import HDF5Store

#if canImport(Glibc)
import Glibc
#endif

/// A folder of checkpoints: durable saves, retention, and finding the one to resume.
///
/// Files are `step-000001500.h5` (nine digits, so names sort by step) plus
/// an optional `best.h5`. A save goes to a new file with an unpredictable
/// name, `.step-000001500.h5.<16 random hex digits>.tmp`, created with
/// `O_EXCL|O_NOFOLLOW` (nothing planted in the folder is ever written
/// through), fsynced, renamed into place, and the folder fsynced; only then
/// are old files removed. Names starting with "." and ending in ".tmp" are
/// leftovers of killed saves: never loaded, removed by `removeTemporaryFiles`.
public struct CheckpointStore: Sendable {
  /// The folder.
  public let directory: String

  /// A store for `directory` (created on the first save).
  public init(directory: String) {
    self.directory = directory
  }

  /// The file name of the checkpoint after `step` steps.
  public static func fileName(step: Int) -> String {
    let digits = String(step)
    return "step-" + String(repeating: "0", count: max(0, 9 - digits.count)) + digits + ".h5"
  }

  /// The step encoded in a checkpoint file name, or nil for other names.
  public static func step(fromFileName name: String) -> Int? {
    guard name.hasPrefix("step-"), name.hasSuffix(".h5") else { return nil }
    let digits = name.dropFirst(5).dropLast(3)
    guard digits.count >= 9, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) else {
      return nil
    }
    return Int(digits)
  }

  /// Name of the best-so-far checkpoint kept apart from the rolling ones.
  public static let bestFileName = "best.h5"

  private func path(_ name: String) -> String { "\(directory)/\(name)" }

  /// Checkpoint files in the folder, oldest step first.
  public func checkpointFiles() throws -> [(step: Int, path: String)] {
    guard FileSystem.isDirectory(directory) else { return [] }
    return try FileSystem.list(directory)
      .compactMap { name in Self.step(fromFileName: name).map { ($0, path(name)) } }
      .sorted { $0.0 < $1.0 }
  }

  /// Removes leftovers of interrupted saves; returns their paths.
  @discardableResult
  public func removeTemporaryFiles() throws -> [String] {
    guard FileSystem.isDirectory(directory) else { return [] }
    let leftovers = try FileSystem.list(directory)
      .filter { $0.hasPrefix(".") && $0.hasSuffix(".tmp") }
      .map(path)
    for file in leftovers { try FileSystem.remove(file) }
    if !leftovers.isEmpty { try FileSystem.fsyncDirectory(directory) }
    return leftovers
  }

  /// Durably saves `checkpoint` as `name` (default: its step's file name); returns the path.
  ///
  /// On any failure the temporary file is removed, existing checkpoints are
  /// untouched, and the error names the path and the cause.
  @discardableResult
  public func save(_ checkpoint: Checkpoint, name: String? = nil) throws -> String {
    try FileSystem.createDirectories(directory)
    let finalName = name ?? Self.fileName(step: checkpoint.counters.step)
    // Written, fsynced and closed; removed again by writeUniqueFile if that fails.
    let temporary = try FileSystem.writeUniqueFile(
      in: directory, prefix: ".\(finalName).", suffix: ".tmp",
      bytes: checkpoint.fileImage(name: path(finalName)))
    do {
      try FileSystem.rename(temporary, to: path(finalName))
    } catch {
      // The save error is the one to report; a temporary file that cannot be
      // removed now is removed by the next run (removeTemporaryFiles).
      let saveError = error
      do {
        try FileSystem.remove(temporary)
      } catch {
        throw CheckpointError(
          path: temporary, reason: "\(saveError); removing the temporary file failed too: \(error)")
      }
      throw saveError
    }
    try FileSystem.fsyncDirectory(directory)
    return path(finalName)
  }

  /// What a run's first save was: a step checkpoint, or `best.h5` (keep_best) saved at a step.
  public enum FirstSave: Sendable {
    /// `step-<step>.h5`.
    case step(Int)
    /// `best.h5`, saved at `step`.
    case best(atStep: Int)
  }

  /// After a run's first durable save, removes the files of the run it replaces; returns their paths.
  ///
  /// Never earlier: a run that fails before its first save leaves the folder
  /// as it was. A resumed run replaces only the steps after its own (another
  /// branch of the same run, which a later `--resume` must not pick up); a
  /// fresh run replaces every other step checkpoint, and an earlier run's
  /// `best.h5` unless what it saved first was its own `best.h5`.
  @discardableResult
  public func removeFilesOfReplacedRun(firstSave: FirstSave, resumed: Bool) throws -> [String] {
    let current: Int
    let savedBest: Bool
    switch firstSave {
    case .step(let step): (current, savedBest) = (step, false)
    case .best(let step): (current, savedBest) = (step, true)
    }
    var removed: [String] = []
    for file in try checkpointFiles()
    where file.step > current || (!resumed && (file.step < current || savedBest)) {
      try FileSystem.remove(file.path)
      removed.append(file.path)
    }
    if !resumed && !savedBest {
      let best = path(Self.bestFileName)
      if FileSystem.exists(best) {
        try FileSystem.remove(best)
        removed.append(best)
      }
    }
    if !removed.isEmpty { try FileSystem.fsyncDirectory(directory) }
    return removed
  }

  /// Deletes the oldest step checkpoints so that at most `keep` remain.
  ///
  /// Called after a save is durable, so a crash here loses nothing.
  @discardableResult
  public func prune(keep: Int) throws -> [String] {
    let files = try checkpointFiles()
    guard keep > 0, files.count > keep else { return [] }
    let doomed = files.prefix(files.count - keep).map(\.path)
    for file in doomed { try FileSystem.remove(file) }
    try FileSystem.fsyncDirectory(directory)
    return doomed
  }

  /// The newest checkpoint that verifies, and every newer one skipped with its reason.
  ///
  /// Damaged files are skipped; a file of a newer format is not: it throws,
  /// so that an older nnbatch never continues (and later retires) a run that
  /// a newer one has taken further.
  public func newestValid() throws -> (
    checkpoint: Checkpoint, path: String, skipped: [CheckpointError]
  )? {
    try newestValidFile().map { ($0.file.checkpoint, $0.file.path, $0.skipped) }
  }

  /// The newest checkpoint file that verifies, as read (with its format version and checksum), and the newer ones skipped.
  ///
  /// The same choice as `newestValid()`, for readers that report what the file says about itself (inspect).
  public func newestValidFile() throws -> (file: CheckpointFile, skipped: [CheckpointError])? {
    var skipped: [CheckpointError] = []
    for (_, file) in try checkpointFiles().reversed() {
      do {
        return (try CheckpointFile.read(file), skipped)
      } catch  where error.isNewerFormat {
        throw error
      } catch {
        skipped.append(error)
      }
    }
    if !skipped.isEmpty {
      throw CheckpointError(
        path: directory,
        reason: "no checkpoint verifies: " + skipped.map(\.description).joined(separator: "; "))
    }
    return nil
  }
}
