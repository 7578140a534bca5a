import HDF5Store

/// A checkpoint read from a file, with what the file says about itself.
public struct CheckpointFile: Sendable {
  /// The file.
  public let path: String
  /// The file's format version (earlier versions are converted on reading).
  public let formatVersion: Int
  /// The verified content checksum as stored ("xxh64:..."; its definition depends on the version).
  public let checksum: String
  /// The contents.
  public let checkpoint: Checkpoint

  /// Reads and verifies the checkpoint at `path`.
  ///
  /// Checks, in order: the file seal (before libhdf5 parses anything), HDF5's
  /// own checksums while reading, the format name and version, what the file
  /// requires, the content checksum, every entry decoded, then the relations
  /// between entries (counters in range, history lengths, labels, bias flags:
  /// `Checkpoint.checkConsistency`). Any failure is
  /// a `CheckpointError` naming the file and, for contents, the HDF5 path
  /// ("/model/layer_1@activation: unknown activation \"swish\" ...").
  public static func read(_ path: String) throws(CheckpointError) -> CheckpointFile {
    guard FileSystem.exists(path) else {
      throw CheckpointError(path: path, reason: "no such file")
    }
    do {
      try FileSeal.verify(path)
    } catch {
      switch error.problem {
      case .noSeal:
        throw CheckpointError(
          path: path, reason: "damaged or not an nnbatch checkpoint: no valid seal in the user block")
      case .tooShort(let bytes):
        throw CheckpointError(path: path, reason: "damaged: file too short (\(bytes) bytes) for a checkpoint")
      case .unreadable, .mismatch:
        throw CheckpointError(path: path, reason: error.reason)
      }
    }
    let tree: HDF5Node
    do {
      let file = try HDF5File.openForReading(path: path)
      // The version decides how the rest is read, so it comes first: a newer
      // file may hold entries that this build cannot even parse.
      let root = try file.root()
      if root.hasAttribute("format_version") {
        try Checkpoint.checkNotNewer(root.intAttribute("format_version"))
      }
      tree = try file.readNode()
      try file.close()
    } catch let error as SchemaError {
      throw CheckpointError(path: path, reason: error.reason, isNewerFormat: error.isNewerFormat)
    } catch let error as HDF5Error {
      throw CheckpointError(
        path: path, reason: "unreadable or damaged: cannot \(error.operation): \(error.reason)")
    } catch {
      throw CheckpointError(path: path, reason: "unreadable: \(error)")
    }
    do {
      let root = NodeReader(tree)
      let version = try Checkpoint.version(of: root)
      let decoded = version == 1 ? try Checkpoint.decodeVersion1(root) : try Checkpoint.decodeVersion2(root)
      // One place for every relation between fields, whichever version was read (Schema/Consistency.swift).
      try decoded.checkpoint.checkConsistency(formatVersion: version)
      return CheckpointFile(
        path: path, formatVersion: version, checksum: decoded.checksum, checkpoint: decoded.checkpoint)
    } catch let error as SchemaError {
      throw CheckpointError(path: path, reason: error.reason, isNewerFormat: error.isNewerFormat)
    } catch {
      throw CheckpointError(path: path, reason: "\(error)")
    }
  }
}

extension Checkpoint {
  /// Reads and verifies the checkpoint at `path` (see `CheckpointFile.read`).
  public static func read(from path: String) throws(CheckpointError) -> Checkpoint {
    try CheckpointFile.read(path).checkpoint
  }

  /// The checkpoint as the bytes of a sealed HDF5 file (format version 2), built in memory.
  public func fileImage(name: String) throws -> [UInt8] {
    try Checkpoint.fileImage(encode(), name: name)
  }

  /// The bytes of a sealed HDF5 file holding `tree`, built in memory (no disk I/O).
  package static func fileImage(_ tree: HDF5Node, name: String) throws -> [UInt8] {
    let file = try HDF5File.createInMemory(name: name, userBlock: FileSeal.userBlockSize)
    try file.root().write(tree)
    // The image leaves out the user block; the seal fills it below. On an
    // error the in-memory file is dropped (closed on deinit): nothing to lose.
    var bytes = try file.image(prefix: FileSeal.userBlockSize)
    try file.close()
    FileSeal.seal(&bytes)
    return bytes
  }

  /// Writes the checkpoint to `path` by the rule for output paths (`FileSystem.openOutput`):
  /// a regular file there is replaced atomically, a symlink's target likewise.
  public func write(to path: String) throws {
    try FileSystem.writeOutput(path, bytes: fileImage(name: path))
  }
}
