import Foundation
import HDF5Store
import TestSupport
import XCTest

/// The checkpoint schema, durable saves, retention and damage handling.
final class CheckpointTests: XCTestCase {
  static func sample(step: Int = 10, scale: Float = 1) -> Checkpoint {
    let layers = [
      Checkpoint.Layer(activation: "relu", inputs: 3, units: 4),
      Checkpoint.Layer(activation: "softmax", inputs: 4, units: 2),
    ]
    let count = 3 * 4 + 4 + 4 * 2 + 2
    let parameters = (0..<count).map { Float($0) * 0.25 * scale - 1 }
    return Checkpoint(
      nnbatchVersion: "test", created: "2026-01-01T00:00:00Z", config: "{\"name\": \"t\"}", step: step,
      epoch: 2, batchInEpoch: 1, samplesSeen: 123, layers: layers, bias: true, parameters: parameters,
      optimizerKind: "sgd", hyperparameters: ["learning_rate": 0.1, "momentum": 0.9], optimizerStep: step,
      optimizerSlots: ["velocity": parameters.map { $0 / 2 }],
      lossHistory: (0..<step).map { 1 / Double($0 + 1) },
      epochHistory: ["train_loss": [0.5, 0.25], "val_accuracy": [0.5, 0.75]],
      rngState: [1, 2, 3, UInt64.max], epochRNGState: [5, 6, 7, 8],
      stateValues: ["best_metric": 0.25, "stale_epochs": 1], task: "classification", labels: ["cat", "dog"],
      scaling: "standardize", scaleShift: [0, 1, 2], scaleFactor: [1, 0.5, 0.25])
  }

  func testRoundTripAndH5dump() throws {
    let dir = TemporaryDirectory()
    let store = CheckpointStore(directory: dir.file("run"))
    let original = Self.sample()
    let path = try store.save(original)
    XCTAssertEqual(path, dir.file("run/step-000000010.h5"))
    XCTAssertEqual(try Checkpoint.read(from: path), original)

    let h5dump = try XCTUnwrap(tool("h5dump"))
    let weights = try runProcess(h5dump, ["-d", "/model/layer_0/weights", path])
    XCTAssertEqual(weights.status, 0, weights.stderr)
    XCTAssertTrue(weights.stdout.contains("( 3, 4 )"), weights.stdout)
    XCTAssertEqual(h5dumpValues(weights.stdout).map { Float($0) }, Array(original.parameters[0..<12]))
    let biases = try runProcess(h5dump, ["-d", "/model/layer_1/biases", path])
    XCTAssertEqual(h5dumpValues(biases.stdout).map { Float($0) }, Array(original.parameters[24..<26]))
    let velocity = try runProcess(h5dump, ["-d", "/optimizer/velocity/layer_1/weights", path])
    XCTAssertEqual(
      h5dumpValues(velocity.stdout).map { Float($0) }, original.parameters[16..<24].map { $0 / 2 })
    let attributes = try runProcess(h5dump, ["-A", path])
    for expected in [
      "nnbatch-checkpoint", "format_version", "content_checksum", "\"relu\"", "batch_in_epoch",
    ] {
      XCTAssertTrue(attributes.stdout.contains(expected), "h5dump -A lacks \(expected)")
    }
    let superblock = try runProcess(h5dump, ["-B", "-H", path])
    XCTAssertTrue(superblock.stdout.contains("SUPERBLOCK_VERSION 3"), "V110 files have superblock v3")
  }

  func testSavesAreAtomicAndPruned() throws {
    let dir = TemporaryDirectory()
    let store = CheckpointStore(directory: dir.path)
    for step in [5, 10, 15, 20] {
      try store.save(Self.sample(step: step))
      try store.prune(keep: 2)
    }
    XCTAssertEqual(try store.checkpointFiles().map(\.step), [15, 20])
    // No temporary files remain after successful saves.
    XCTAssertEqual(try FileSystem.list(dir.path), ["step-000000015.h5", "step-000000020.h5"])
    // A leftover from a killed save is never loaded and is cleaned up.
    dir.write(".step-000000025.h5.999.tmp", "partial")
    XCTAssertEqual(try store.newestValid()?.checkpoint.step, 20)
    XCTAssertEqual(try store.removeTemporaryFiles(), [dir.file(".step-000000025.h5.999.tmp")])
    XCTAssertEqual(try FileSystem.list(dir.path).count, 2)
  }

  /// Writes step 10 (good) and step 20 (then damaged); the store must skip 20 and load 10.
  private func assertDamageDetected(
    _ name: String, file: StaticString = #filePath, line: UInt = #line, damage: (String) throws -> Void
  ) throws {
    let dir = TemporaryDirectory()
    let store = CheckpointStore(directory: dir.path)
    try store.save(Self.sample(step: 10))
    let newest = try store.save(Self.sample(step: 20, scale: 2))
    try damage(newest)
    XCTAssertThrowsError(
      try Checkpoint.read(from: newest), "\(name): damage not detected", file: file, line: line
    ) {
      error in
      XCTAssertTrue(error is CheckpointError, "\(name): \(error)", file: file, line: line)
      XCTAssertTrue(
        "\(error)".hasPrefix(newest), "\(name): message names the file: \(error)", file: file, line: line)
    }
    let found = try XCTUnwrap(try store.newestValid(), file: file, line: line)
    XCTAssertEqual(found.checkpoint.step, 10, name, file: file, line: line)
    XCTAssertEqual(found.skipped.count, 1, name, file: file, line: line)
  }

  func testTruncatedEmptyAndGarbageFilesAreRejected() throws {
    for fraction in [0.0, 0.1, 0.5, 0.9, 0.99] {
      try assertDamageDetected("truncated to \(fraction)") { path in
        try truncate(path, to: Int(Double(fileSize(path)) * fraction))
      }
    }
    try assertDamageDetected("garbage") { path in
      try Data("garbage".utf8).write(to: URL(fileURLWithPath: path))
    }
  }

  func testBitFlipsInDataAndMetadataAreDetected() throws {
    // Flip one bit at many offsets across the file: superblock, object
    // headers, B-trees, attribute heaps and raw data chunks alike.
    let dir = TemporaryDirectory()
    let probe = try CheckpointStore(directory: dir.path).save(Self.sample(step: 20, scale: 2))
    let size = fileSize(probe)
    var offsets = Array(stride(from: 0, to: size, by: max(1, size / 150)))
    offsets.append(size - 1)
    var generator = SystemRandomNumberGenerator()
    for _ in 0..<40 { offsets.append(Int.random(in: 0..<size, using: &generator)) }
    for offset in offsets {
      try assertDamageDetected("bit flip at \(offset)") { path in
        try flipBit(path, offset: offset, bit: offset % 8)
      }
    }
  }

  func testZeroedBlocksAreDetected() throws {
    let dir = TemporaryDirectory()
    let probe = try CheckpointStore(directory: dir.path).save(Self.sample(step: 20, scale: 2))
    let size = fileSize(probe)
    let bytes = try Data(contentsOf: URL(fileURLWithPath: probe))
    // Only blocks holding some non-zero byte: zeroing zeros changes nothing.
    let offsets = stride(from: 0, to: size - 64, by: 32).filter { o in
      bytes[o..<(o + 64)].contains { $0 != 0 }
    }
    XCTAssertGreaterThan(offsets.count, 20)
    for offset in offsets.enumerated().filter({ $0.offset % max(1, offsets.count / 25) == 0 }).map(\.element)
    {
      try assertDamageDetected("zeroed block at \(offset)") { path in
        try zeroBlock(path, offset: offset, count: 64)
      }
    }
  }

  func testWrongFormatAndVersionAreRefused() throws {
    let dir = TemporaryDirectory()
    let path = dir.file("other.h5")
    // A sealed file, as checkpoints are made, whose format attribute is wrong.
    let file = try HDF5File.createInMemory(name: path, userBlock: FileSeal.userBlockSize)
    try file.root().setAttribute("format", "something-else")
    var bytes = try file.image(prefix: FileSeal.userBlockSize)
    try file.close()
    FileSeal.seal(&bytes)
    try FileSystem.writeNewFile(path, bytes: bytes)
    XCTAssertThrowsError(try Checkpoint.read(from: path)) { error in
      XCTAssertTrue("\(error)".contains("not an nnbatch checkpoint"), "\(error)")
    }
    let plain = dir.file("plain.h5")
    let other = try HDF5File.create(path: plain)
    try other.close()
    XCTAssertThrowsError(try Checkpoint.read(from: plain)) { error in
      XCTAssertTrue("\(error)".contains("no valid seal") || "\(error)".contains("too short"), "\(error)")
    }
    XCTAssertThrowsError(try Checkpoint.read(from: dir.file("missing.h5"))) { error in
      XCTAssertTrue("\(error)".contains("no such file"), "\(error)")
    }
  }

  func testAllDamagedMeansAClearError() throws {
    let dir = TemporaryDirectory()
    let store = CheckpointStore(directory: dir.path)
    let only = try store.save(Self.sample(step: 10))
    try truncate(only, to: 100)
    XCTAssertThrowsError(try store.newestValid()) { error in
      XCTAssertTrue("\(error)".contains("no checkpoint verifies"), "\(error)")
    }
    XCTAssertNil(try CheckpointStore(directory: dir.file("empty")).newestValid())
  }

  func testFailedSaveRemovesTheTemporaryFileAndKeepsOldCheckpoints() throws {
    let dir = TemporaryDirectory()
    let store = CheckpointStore(directory: dir.path)
    try store.save(Self.sample(step: 10))
    // A folder where the destination file should be makes the rename fail.
    try FileManager.default.createDirectory(
      atPath: dir.file("step-000000020.h5/x"), withIntermediateDirectories: true)
    XCTAssertThrowsError(try store.save(Self.sample(step: 20))) { error in
      XCTAssertTrue("\(error)".contains("rename"), "\(error)")
    }
    XCTAssertFalse(try FileSystem.list(dir.path).contains { $0.hasSuffix(".tmp") })
    XCTAssertEqual(try Checkpoint.read(from: dir.file("step-000000010.h5")).step, 10)
  }
}
