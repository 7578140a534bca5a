import Checkpoints
import Foundation
import HDF5Store
import TestSupport
import XCTest

/// `mpirun -np N` on streamed data: the same bits as one streamed process, each rank reading only its shards' rows.
final class MPIStreamingTests: XCTestCase {
  private var directory = TemporaryDirectory("nnbatch-mpi-stream")

  private static let samples = 203
  private static let features = 6
  private static let batchSize = 50
  private static let shardSize = 8
  private static let epochs = 2

  /// 203 samples (x.npy, y.npy and the same in d.h5), labels 0...2.
  private func writeData() throws {
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    func next() -> Float {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return Float(state >> 40) / Float(1 << 24)
    }
    var x: [Float] = []
    var y: [Float] = []
    for _ in 0..<Self.samples {
      let row = (0..<Self.features).map { j in next() * Float(j + 1) + 2 }
      x += row
      y.append(Float(Int((row[0] - 2) * 3) % 3))
    }
    try npy(directory.file("x.npy"), descr: "<f4", shape: [Self.samples, Self.features], values: x)
    try npy(directory.file("y.npy"), descr: "<f4", shape: [Self.samples], values: y)
    let file = try HDF5File.create(path: directory.file("d.h5"))
    try file.root().write(x, shape: [Self.samples, Self.features], name: "x")
    try file.root().write(y, shape: [Self.samples], name: "y")
    try file.close()
  }

  private func npy(_ path: String, descr: String, shape: [Int], values: [Float]) throws {
    let tuple = shape.count == 1 ? "(\(shape[0]),)" : "(\(shape.map(String.init).joined(separator: ", ")))"
    var dict = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(tuple), }"
    while (10 + dict.utf8.count + 1) % 64 != 0 { dict += " " }
    dict += "\n"
    var bytes: [UInt8] =
      [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(dict.utf8.count & 0xFF), UInt8(dict.utf8.count >> 8)]
    bytes += Array(dict.utf8)
    for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 } }
    try Data(bytes).write(to: URL(fileURLWithPath: path))
  }

  /// Shuffled, streamed in blocks of 7 rows and windows of 3 blocks (10 windows); the last batch has 3 rows (1 shard).
  ///
  /// `training` replaces the batch and shard sizes.
  private func config(
    _ name: String, data: String,
    training: String =
      #""batch_size": \#(MPIStreamingTests.batchSize), "shard_size": \#(MPIStreamingTests.shardSize)"#
  ) -> String {
    directory.write(
      "\(name).json",
      """
      { "name": "\(name)", "seed": 7,
        "data": { \(data), "task": "classification", "scale": "standardize",
                  "stream": true, "stream_block_rows": 7, "stream_window": 3 },
        "model": { "layers": [ { "units": 24, "activation": "relu" }, { "units": 3, "activation": "softmax" } ] },
        "loss": "cross_entropy", "optimizer": { "kind": "adam", "learning_rate": 0.01, "clip_norm": 1.0 },
        "training": { "epochs": \(Self.epochs), \(training), "shuffle": true },
        "checkpoint": { "dir": "\(directory.file(name))", "every_epochs": 1, "keep": 100 } }
      """)
  }

  private func mpirun() throws -> String {
    if let path = tool("mpirun") { return path }
    if ProcessInfo.processInfo.environment["CI"] == "true" {
      XCTFail("CI=true but mpirun is missing: install openmpi-bin")
    }
    throw XCTSkip("mpirun not installed (openmpi-bin)")
  }

  /// Trains `config` (with `NNBATCH_STREAM_STATS`) in one process or under `mpirun -np ranks`.
  private func train(ranks: Int?, _ config: String, dir: String, extra: [String] = []) throws -> ProcessResult
  {
    var environment = ProcessInfo.processInfo.environment
    environment["NNBATCH_STREAM_STATS"] = "1"
    let arguments = ["--config", config, "--checkpoint-dir", dir, "--threads", "1"] + extra
    guard let ranks else { return try runProcess(nnbatchExecutable, arguments, environment: environment) }
    let launcher = [
      "--oversubscribe", "--allow-run-as-root", "-np", "\(ranks)", "-x", "NNBATCH_STREAM_STATS",
      nnbatchExecutable,
    ]
    return try runProcess(try mpirun(), launcher + arguments, environment: environment)
  }

  /// Rows read by each rank, from the `stream reads: rank R: N rows, ...` lines.
  private func rowsRead(_ stderr: String) -> [Int: Int] {
    var rows: [Int: Int] = [:]
    for line in stderr.split(separator: "\n") where line.hasPrefix("stream reads: rank ") {
      let words = line.dropFirst("stream reads: rank ".count).split(separator: " ")
      if words.count > 1, let rank = Int(words[0].dropLast()), let count = Int(words[1]) {
        rows[rank] = count
      }
    }
    return rows
  }

  /// Rows each rank read in the statistics pass (`...; statistics pass N rows`).
  private func passRowsRead(_ stderr: String) -> [Int: Int] {
    var rows: [Int: Int] = [:]
    for line in stderr.split(separator: "\n") where line.hasPrefix("stream reads: rank ") {
      let words = line.dropFirst("stream reads: rank ".count).split(separator: " ")
      if let rank = Int(words[0].dropLast()), words.count > 2, let count = Int(words[words.count - 2]) {
        rows[rank] = count
      }
    }
    return rows
  }

  /// Rows of the epoch's batches that rank `rank` of `ranks` computes: its contiguous shards of each batch.
  private func expectedRows(
    rank: Int, ranks: Int, batchSize: Int = MPIStreamingTests.batchSize,
    shardSize: Int = MPIStreamingTests.shardSize
  ) -> Int {
    var total = 0
    var start = 0
    while start < Self.samples {
      let rows = min(batchSize, Self.samples - start)
      let shards = (rows + shardSize - 1) / shardSize
      let mine = (rank * shards / ranks)..<((rank + 1) * shards / ranks)
      for s in mine { total += min((s + 1) * shardSize, rows) - s * shardSize }
      start += rows
    }
    return total
  }

  private func assertSameRun(_ dir: String, as reference: String, line: UInt = #line) throws {
    let expected = try CheckpointStore(directory: reference).checkpointFiles()
    let found = try CheckpointStore(directory: dir).checkpointFiles()
    XCTAssertEqual(expected.count, Self.epochs, line: line)
    XCTAssertEqual(found.map(\.step), expected.map(\.step), dir, line: line)
    for (a, b) in zip(expected, found) where a.step == b.step {
      let differences = try Checkpoint.read(from: b.path).bitwiseDifferences(
        from: Checkpoint.read(from: a.path))
      XCTAssertEqual(differences, [], "\(b.path) differs from \(a.path)", line: line)
    }
  }

  func testStreamedRanksReadOnlyTheirShardsRowsAndMatchOneProcess() throws {
    _ = try mpirun()
    try writeData()
    let sources = [
      (
        "npy",
        #""source": "npy", "features": "\#(directory.file("x.npy"))", "targets": "\#(directory.file("y.npy"))""#,
        [2, 3]
      ),
      (
        "h5", #""source": "hdf5", "path": "\#(directory.file("d.h5"))", "inputs": "/x", "targets": "/y""#, [3]
      ),
    ]
    for (name, data, rankCounts) in sources {
      let config = config(name, data: data)
      let one = try train(ranks: nil, config, dir: directory.file("\(name)-one"))
      XCTAssertEqual(one.status, 0, one.stderr)
      // One process reads every row of every epoch, in whole blocks.
      XCTAssertEqual(rowsRead(one.stderr), [0: Self.epochs * Self.samples], one.stderr)
      for ranks in rankCounts {
        let run = try train(ranks: ranks, config, dir: directory.file("\(name)-\(ranks)"))
        XCTAssertEqual(run.status, 0, run.stderr)
        try assertSameRun(directory.file("\(name)-\(ranks)"), as: directory.file("\(name)-one"))
        let read = rowsRead(run.stderr)
        XCTAssertEqual(read.keys.sorted(), Array(0..<ranks), run.stderr)
        for rank in 0..<ranks {
          let expected = Self.epochs * expectedRows(rank: rank, ranks: ranks)
          XCTAssertEqual(read[rank], expected, "\(name) rank \(rank) of \(ranks)")
          XCTAssertLessThan(expected, Self.epochs * Self.samples)
        }
        XCTAssertEqual(read.values.reduce(0, +), Self.epochs * Self.samples, "\(name) on \(ranks) ranks")
        // Only rank 0 reads the file for the statistics (standardize: two passes).
        var pass = [0: 2 * Self.samples]
        for rank in 1..<ranks { pass[rank] = 0 }
        XCTAssertEqual(passRowsRead(run.stderr), pass, run.stderr)
      }
    }
    // Streamed resume with another rank count: 3 ranks for the first epoch, 2 for the second.
    let config = directory.file("npy.json")
    let first = try train(ranks: 3, config, dir: directory.file("mixed"), extra: ["--epochs", "1"])
    XCTAssertEqual(first.status, 0, first.stderr)
    let second = try train(ranks: 2, config, dir: directory.file("mixed"), extra: ["--resume"])
    XCTAssertEqual(second.status, 0, second.stderr)
    try assertSameRun(directory.file("mixed"), as: directory.file("npy-one"))
  }

  func testStreamedAugmentedRanksMatchOneProcess() throws {
    // Samples as [1, 2, 3] images, flipped, shifted and jittered as each rank gathers its shards' rows.
    _ = try mpirun()
    try writeData()
    let config = config(
      "aug",
      data:
        #""source": "npy", "features": "\#(directory.file("x.npy"))", "targets": "\#(directory.file("y.npy"))", "shape": [1, 2, 3], "augment": { "horizontal_flip": 0.5, "shift": 1, "contrast": 0.3 }"#
    )
    let one = try train(ranks: nil, config, dir: directory.file("aug-one"))
    XCTAssertEqual(one.status, 0, one.stderr)
    let run = try train(ranks: 2, config, dir: directory.file("aug-2"))
    XCTAssertEqual(run.status, 0, run.stderr)
    try assertSameRun(directory.file("aug-2"), as: directory.file("aug-one"))
  }

  func testDefaultShardSizeOnThreeRanksMatchesOneProcessWithAnIdleRank() throws {
    // batch_size 32 without shard_size: shards of 16, 2 per batch, and 1 in
    // the last batch (11 rows). Rank 0 of 3 computes no shard of any batch,
    // so it reads no training row, yet it reduces and updates its range.
    _ = try mpirun()
    try writeData()
    let config = config(
      "default",
      data:
        #""source": "npy", "features": "\#(directory.file("x.npy"))", "targets": "\#(directory.file("y.npy"))""#,
      training: #""batch_size": 32"#)
    let one = try train(ranks: nil, config, dir: directory.file("default-one"))
    XCTAssertEqual(one.status, 0, one.stderr)
    let run = try train(ranks: 3, config, dir: directory.file("default-3"))
    XCTAssertEqual(run.status, 0, run.stderr)
    try assertSameRun(directory.file("default-3"), as: directory.file("default-one"))
    let expected = (0..<3).map {
      Self.epochs * expectedRows(rank: $0, ranks: 3, batchSize: 32, shardSize: 16)
    }
    XCTAssertEqual(expected, [0, Self.epochs * 96, Self.epochs * 107])
    XCTAssertEqual(rowsRead(run.stderr), [0: expected[0], 1: expected[1], 2: expected[2]], run.stderr)
    // Resumed on 3 ranks after the first epoch: the same bits.
    let first = try train(ranks: 3, config, dir: directory.file("default-resumed"), extra: ["--epochs", "1"])
    XCTAssertEqual(first.status, 0, first.stderr)
    let second = try train(ranks: 3, config, dir: directory.file("default-resumed"), extra: ["--resume"])
    XCTAssertEqual(second.status, 0, second.stderr)
    XCTAssertTrue(second.stdout.contains("resumed from"), second.stdout)
    try assertSameRun(directory.file("default-resumed"), as: directory.file("default-one"))
  }

  func testRankZeroFailingTheStatisticsPassEndsTheJob() throws {
    _ = try mpirun()
    try writeData()
    // A NaN in sample 150: rank 0 alone reads it (the pass), the others wait for its results.
    var values = [Float](repeating: 1, count: Self.samples * Self.features)
    values[149 * Self.features + 2] = .nan
    try npy(directory.file("nan.npy"), descr: "<f4", shape: [Self.samples, Self.features], values: values)
    let config = config(
      "nan",
      data:
        #""source": "npy", "features": "\#(directory.file("nan.npy"))", "targets": "\#(directory.file("y.npy"))""#
    )
    let run = try train(ranks: 2, config, dir: directory.file("nan"))
    XCTAssertNotEqual(run.status, 0, run.stderr)
    XCTAssertTrue(run.stderr.contains("rank 0:"), run.stderr)
    XCTAssertTrue(run.stderr.contains("training sample 150, feature 2: expected a finite number"), run.stderr)
  }
}
