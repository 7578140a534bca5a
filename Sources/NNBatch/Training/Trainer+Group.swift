import Checkpoints
import Foundation
import HDF5Store
import NNBatchCore
import NNBatchData
import NeuralNet
import Parallel

// A run spread over a process group (mpirun): what differs from one process.
// Rank 0 alone reads and writes the checkpoint folder; the other ranks get
// what they need from it through the group.
extension Trainer {
  /// The run's config; in a group, a config error is reported once.
  ///
  /// Every rank reads the config and opens its data files before any other exchange,
  /// and they read the same text and paths, so they fail alike: rank 0 alone reports its error and the other ranks
  /// leave with its exit code and no message. An error only some ranks meet (their
  /// host's copy of the file) is reported by those ranks, each naming itself. The
  /// report is written here, before the ranks leave together: a rank that left first
  /// would have mpirun end the others before they could write.
  static func agreedConfig(of options: TrainOptions) throws(NNBatchError) -> Config {
    guard let group = options.group else { return try config(of: options) }
    let result: Result<Config, NNBatchError>
    do {
      let config = try config(of: options)
      // Its data files too, before any exchange: every rank opens the same paths.
      try config.requireDataFiles()
      result = .success(config)
    } catch {
      result = .failure(error)
    }
    var failure: NNBatchError?
    if case .failure(let error) = result { failure = error }
    // Both collective: every rank asks, whether it failed or not.
    let code = group.agree(stop: failure.map { $0.kind.rawValue })
    let rootFailed = group.broadcast([failure == nil ? 0 : 1]).first == 1
    guard let code else { return try result.get() }
    if let failure, group.rank == 0 || !rootFailed {
      for line in failure.lines {
        let ranked = line.hasPrefix("rank ") ? line : "rank \(group.rank): \(line)"
        writeMessageToStandardError("error: \(ranked)\n")
      }
    }
    // A barrier: every report is out before a rank exits (mpirun then ends the others).
    _ = group.agree(stop: nil)
    throw NNBatchError(NNBatchError.Kind(rawValue: code) ?? .usage, [])
  }

  /// The checkpoint a run continues, if any: read here, or in a group read by rank 0 and sent to all.
  static func checkpointToContinue(options: TrainOptions, config: Config) throws(NNBatchError) -> (
    checkpoint: Checkpoint, file: String, skipped: [CheckpointError]
  )? {
    guard let group = options.group else {
      return try localCheckpointToContinue(options: options, config: config)
    }
    if group.rank == 0 {
      let found: (checkpoint: Checkpoint, file: String, skipped: [CheckpointError])?
      do {
        found = try localCheckpointToContinue(options: options, config: config)
      } catch {
        _ = group.broadcast(GroupMessage.failed)
        throw error
      }
      guard let found else {
        _ = group.broadcast(GroupMessage.none)
        return nil
      }
      _ = group.broadcast(try GroupMessage.encode(found.checkpoint, file: found.file))
      return found
    }
    guard let (checkpoint, file) = try GroupMessage.decode(group.broadcast([]), rank: group.rank) else {
      return nil
    }
    return (checkpoint, file, [])
  }

  /// Which checkpoint this process continues, from its own disk.
  private static func localCheckpointToContinue(options: TrainOptions, config: Config) throws(NNBatchError)
    -> (
      checkpoint: Checkpoint, file: String, skipped: [CheckpointError]
    )?
  {
    switch options.start {
    case .resumeLatest:
      // A bare --resume with nothing to resume starts fresh, so scripts
      // (and preemptible jobs) can always pass it.
      let existing: [(step: Int, path: String)]
      do {
        existing = try CheckpointStore(directory: config.checkpointDir).checkpointFiles()
      } catch {
        throw NNBatchError(.failure, "\(error)")
      }
      return existing.isEmpty ? nil : try Trainer.checkpointToResume(config.checkpointDir)
    case .resume(let path):
      return try Trainer.checkpointToResume(path)
    case .fresh, .initFrom:
      return nil
    }
  }

  /// The checkpoint of `--init-from`: read here, or in a group read by rank 0 and sent to all.
  func warmStartCheckpoint(_ path: String) throws(NNBatchError) -> Checkpoint {
    func read() throws(NNBatchError) -> Checkpoint {
      do {
        return try Checkpoint.read(from: path)
      } catch {
        throw NNBatchError(.usage, "cannot initialise from \(path): \(error)")
      }
    }
    guard let group = options.group else { return try read() }
    if group.rank == 0 {
      let checkpoint: Checkpoint
      do {
        checkpoint = try read()
      } catch {
        _ = group.broadcast(GroupMessage.failed)
        throw error
      }
      _ = group.broadcast(try GroupMessage.encode(checkpoint, file: path))
      return checkpoint
    }
    guard let (checkpoint, _) = try GroupMessage.decode(group.broadcast([]), rank: group.rank) else {
      throw NNBatchError(.failure, "rank \(group.rank): rank 0 sent no checkpoint to initialise from")
    }
    return checkpoint
  }
}

/// What rank 0 broadcasts about the checkpoint a run starts from.
///
/// One status byte, then for a checkpoint the file's path (8-byte length,
/// UTF-8) and the checkpoint as a sealed HDF5 image, which the other ranks
/// read back through a private temporary file with the same verified reader.
enum GroupMessage {
  static let none: [UInt8] = [0]
  static let failed: [UInt8] = [2]

  static func encode(_ checkpoint: Checkpoint, file: String) throws(NNBatchError) -> [UInt8] {
    let image: [UInt8]
    do {
      image = try checkpoint.fileImage(name: "broadcast.h5")
    } catch {
      throw NNBatchError(.failure, "cannot send \(file) to the other ranks: \(error)")
    }
    let name = Array(file.utf8)
    var bytes: [UInt8] = [1]
    withUnsafeBytes(of: UInt64(name.count).littleEndian) { bytes.append(contentsOf: $0) }
    bytes.append(contentsOf: name)
    bytes.append(contentsOf: image)
    return bytes
  }

  /// The checkpoint and its path, nil when rank 0 has none; throws when rank 0 failed.
  static func decode(_ bytes: [UInt8], rank: Int) throws(NNBatchError) -> (Checkpoint, String)? {
    guard let status = bytes.first else {
      throw NNBatchError(.failure, "rank \(rank): empty message from rank 0")
    }
    switch status {
    case 0: return nil
    case 1: break
    default:
      // Rank 0 reports its own error; this rank only leaves with the same kind.
      throw NNBatchError(.usage, "rank \(rank): rank 0 could not read the checkpoint (see its error)")
    }
    guard bytes.count >= 9 else { throw NNBatchError(.failure, "rank \(rank): short message from rank 0") }
    var length: UInt64 = 0
    for i in 0..<8 { length |= UInt64(bytes[1 + i]) << (8 * UInt64(i)) }
    guard length <= UInt64(bytes.count - 9) else {
      throw NNBatchError(.failure, "rank \(rank): damaged message from rank 0")
    }
    let nameEnd = 9 + Int(length)
    let file = String(decoding: bytes[9..<nameEnd], as: UTF8.self)
    do {
      // A nameless file read through its descriptor: nothing is left in $TMPDIR, whatever ends the rank.
      let copy = try FileSystem.createAnonymousFile(
        in: FileSystem.temporaryDirectory(), fallbackPrefix: ".nnbatch-rank\(rank)-")
      defer { close(copy) }
      try FileSystem.writeAll(to: copy, Array(bytes[nameEnd...]), path: "the copy of \(file)")
      return (try Checkpoint.read(from: FileSystem.descriptorPath(copy)), file)
    } catch {
      throw NNBatchError(.failure, "rank \(rank): cannot read the checkpoint rank 0 sent (\(file)): \(error)")
    }
  }
}
