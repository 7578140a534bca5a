import Checkpoints
import Foundation
import TestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// `mpirun -np N nnbatch`: the same bits as one process, resume across rank counts, stops and faults.
///
/// Each test spawns Open MPI's `mpirun` on the built executable. Without
/// `mpirun` the tests fail under CI=true and are skipped elsewhere.
final class MPITrainingTests: XCTestCase {
  private var directory = TemporaryDirectory("nnbatch-mpi")

  /// 16,963 parameters: two chunks, so the ranks' parameter ranges differ (one rank of 3 or 4 has none).
  private func mlpConfig(
    _ name: String, optimizer: String, epochs: Int = 2, precision: String = "f32", training: String = ""
  ) -> String {
    directory.write(
      "\(name).json",
      """
      { "name": "\(name)", "seed": 5,
        "data": { "source": "synthetic", "samples": 120, "features": 16, "classes": 3, "seed": 2,
                  "validation": { "source": "synthetic", "samples": 30, "features": 16, "classes": 3, "seed": 9 } },
        "model": { "layers": [ { "units": 512, "activation": "relu" }, { "units": 16, "activation": "relu" },
                               { "units": 3, "activation": "softmax" } ], "init": "he_uniform", "bias": true },
        "loss": "cross_entropy", "optimizer": \(optimizer),
        "training": { "epochs": \(epochs), "batch_size": 50, "shard_size": 8, "shuffle": true,
                      "precision": "\(precision)" \(training) },
        "checkpoint": { "dir": "\(directory.file(name))", "every_epochs": 1, "keep": 100 } }
      """)
  }

  /// A small CNN (conv, pool, dropout, dense; 21,203 parameters) on 8×8 images.
  private func cnnConfig(_ name: String) -> String {
    directory.write(
      "\(name).json",
      """
      { "name": "\(name)", "seed": 3,
        "data": { "source": "synthetic", "samples": 90, "features": 64, "classes": 3, "seed": 4, "shape": [1, 8, 8] },
        "model": { "layers": [
          { "type": "conv2d", "filters": 8, "kernel": 3, "padding": "same", "activation": "relu" },
          { "type": "max_pool2d", "size": 2 }, { "type": "dropout", "rate": 0.2 },
          { "units": 160, "activation": "relu" }, { "units": 3, "activation": "softmax" } ],
          "init": "he_uniform" },
        "loss": "cross_entropy",
        "optimizer": { "kind": "sgd", "learning_rate": 0.05, "momentum": 0.9, "clip_norm": 1.0 },
        "training": { "epochs": 2, "batch_size": 40, "shard_size": 10, "shuffle": true },
        "checkpoint": { "dir": "\(directory.file(name))", "every_epochs": 1, "keep": 100 } }
      """)
  }

  private static let adam = #"{ "kind": "adam", "learning_rate": 0.01, "clip_norm": 0.5 }"#
  private static let momentum =
    #"{ "kind": "sgd", "learning_rate": 0.05, "momentum": 0.9, "nesterov": true }"#

  /// `mpirun`, or a skip (a failure under CI=true).
  private func mpirun() throws -> String {
    if let path = tool("mpirun") { return path }
    if ProcessInfo.processInfo.environment["CI"] == "true" {
      XCTFail("CI=true but mpirun is missing: install openmpi-bin")
    }
    throw XCTSkip("mpirun not installed (openmpi-bin)")
  }

  /// The launcher's options for this machine: root allowed, more ranks than cores, optionally TCP on loopback.
  private func launch(ranks: Int, tcp: Bool = false) throws -> [String] {
    var arguments = [try mpirun(), "--oversubscribe", "--allow-run-as-root", "-np", "\(ranks)"]
    if tcp { arguments += ["--mca", "btl", "tcp,self", "--mca", "btl_tcp_if_include", "lo"] }
    return arguments + [nnbatchExecutable]
  }

  private func train(
    ranks: Int?, _ config: String, dir: String, threads: Int, tcp: Bool = false, extra: [String] = [],
    stats: Bool = false
  ) throws -> ProcessResult {
    let arguments = ["--config", config, "--checkpoint-dir", dir, "--threads", "\(threads)"] + extra
    guard let ranks else { return try nnbatch(arguments) }
    var command = try launch(ranks: ranks, tcp: tcp)
    if stats { command.insert(contentsOf: ["-x", "NNBATCH_MPI_STATS=1"], at: command.count - 1) }
    return try runProcess(command[0], Array(command.dropFirst()) + arguments)
  }

  /// A copy of `config` (a file) with `"distributed": { "overlap": true }`, as `<name>-overlap.json`.
  private func overlapping(_ config: String) throws -> String {
    let text = try String(contentsOfFile: config, encoding: .utf8)
    let brace = try XCTUnwrap(text.firstIndex(of: "{"))
    let name = URL(fileURLWithPath: config).deletingPathExtension().lastPathComponent
    return directory.write(
      "\(name)-overlap.json",
      text.replacingCharacters(in: brace...brace, with: #"{ "distributed": { "overlap": true },"#))
  }

  /// Per rank, the percentage of its gradient bytes that `NNBATCH_MPI_STATS` says went out during backward.
  private func sentDuringBackward(_ stderr: String) -> [Int: Int] {
    var result: [Int: Int] = [:]
    for line in stderr.split(separator: "\n") where line.contains("of the gradient sent during backward") {
      let words = line.split(separator: " ")
      guard let rank = words.dropFirst().first.flatMap({ Int($0.dropLast()) }),
        let percent = words.firstIndex(of: "%").flatMap({ Int(words[$0 - 1]) })
      else { continue }
      result[rank] = percent
    }
    return result
  }

  func testOverlappedExchangeMatchesOneProcessAndReportsOnEveryRank() throws {
    // "distributed": { "overlap": true }: each layer's slices go out from the progress thread
    // as backward finishes them. A chain (Adam, clipping), a graph (a skip connection into an
    // add), a CNN with dropout; 1 or 2 local shards at once; ranks without shards. One process
    // reads the same config, where the key has nothing to overlap.
    let graph = directory.write(
      "graph.json",
      """
      { "name": "graph", "seed": 5,
        "data": { "source": "synthetic", "samples": 120, "features": 16, "classes": 3, "seed": 2 },
        "model": { "layers": [
          { "units": 256, "name": "h", "activation": "relu" },
          { "units": 256, "name": "g", "activation": "relu" },
          { "type": "add", "name": "s", "inputs": ["g", "h"] },
          { "units": 3, "activation": "softmax" } ], "init": "he_uniform" },
        "loss": "cross_entropy", "optimizer": { "kind": "adam", "learning_rate": 0.01, "clip_norm": 0.5 },
        "training": { "epochs": 2, "batch_size": 50, "shard_size": 8, "shuffle": true },
        "checkpoint": { "dir": "\(directory.file("graph"))", "every_epochs": 1, "keep": 100 } }
      """)
    let chain = mlpConfig("overlap", optimizer: Self.adam)
    let cases: [(name: String, config: String, runs: [(ranks: Int, threads: Int)])] = [
      ("chain", try overlapping(chain), [(2, 1), (3, 2)]),
      ("graph", try overlapping(graph), [(2, 2), (3, 1)]),
      ("cnn", try overlapping(cnnConfig("cnn-overlap")), [(2, 1)]),
      (
        "short",
        try overlapping(
          resized(
            "short-overlap", optimizer: Self.momentum, epochs: 2,
            training: #""batch_size": 64, "shard_size": 8"#)),
        [(5, 1)]
      ),
    ]
    for (name, config, runs) in cases {
      let one = try train(ranks: nil, config, dir: directory.file("\(name)-one"), threads: 2)
      XCTAssertEqual(one.status, 0, one.stderr)
      for (ranks, threads) in runs {
        let dir = directory.file("\(name)-\(ranks)x\(threads)")
        let run = try train(ranks: ranks, config, dir: dir, threads: threads, stats: true)
        XCTAssertEqual(run.status, 0, run.stderr)
        try assertSameRun(dir, as: directory.file("\(name)-one"))
        // Every rank ran the overlapped exchange (how much left during backward depends on timing).
        let shares = sentDuringBackward(run.stderr)
        XCTAssertEqual(shares.keys.sorted(), Array(0..<ranks), "\(name) \(ranks)x\(threads): \(run.stderr)")
        XCTAssertTrue(shares.values.allSatisfy { (0...100).contains($0) }, run.stderr)
      }
    }
    // Without the key the exchange is not overlapped and the statistics say nothing of it;
    // the bits are those of one process that read the key.
    let plain = try train(ranks: 2, graph, dir: directory.file("graph-plain"), threads: 1, stats: true)
    XCTAssertEqual(plain.status, 0, plain.stderr)
    XCTAssertTrue(plain.stderr.contains("ms in MPI calls"), plain.stderr)
    XCTAssertFalse(plain.stderr.contains("during backward"), plain.stderr)
    try assertSameRun(directory.file("graph-plain"), as: directory.file("graph-one"))
    // The setting may change on --resume, either way, with another rank count: the same bits.
    for (name, plainConfig, overlapFirst) in [("chain", chain, false), ("graph", graph, true)] {
      let overlapped = try overlapping(plainConfig)
      let dir = directory.file("\(name)-flip")
      let start = try train(
        ranks: 2, overlapFirst ? overlapped : plainConfig, dir: dir, threads: 1, extra: ["--epochs", "1"],
        stats: true)
      XCTAssertEqual(start.status, 0, start.stderr)
      let resumed = try train(
        ranks: 3, overlapFirst ? plainConfig : overlapped, dir: dir, threads: 1, extra: ["--resume"],
        stats: true)
      XCTAssertEqual(resumed.status, 0, resumed.stderr)
      XCTAssertTrue(resumed.stdout.contains("resumed from"), resumed.stdout)
      // Each half overlapped exactly when its own config said so.
      XCTAssertEqual(sentDuringBackward(start.stderr).count, overlapFirst ? 2 : 0, start.stderr)
      XCTAssertEqual(sentDuringBackward(resumed.stderr).count, overlapFirst ? 0 : 3, resumed.stderr)
      try assertSameRun(dir, as: directory.file("\(name)-one"))
    }
  }

  func testRankZerosOverlapSettingHoldsOnEveryRank() throws {
    // Each host reads its own copy of the config; the two exchanges cut their messages
    // differently, so a rank whose copy disagrees follows rank 0 instead of hanging.
    let plainConfig = mlpConfig("copies", optimizer: Self.adam)
    let overlapped = try overlapping(plainConfig)
    XCTAssertEqual(try train(ranks: nil, plainConfig, dir: directory.file("one"), threads: 1).status, 0)
    for rankZeroOverlaps in [true, false] {
      let dir = directory.file("copies-\(rankZeroOverlaps)")
      // One app context per rank (`-x` holds for its own context only).
      func rank(_ config: String) -> [String] {
        ["-np", "1", "-x", "NNBATCH_MPI_STATS=1", nnbatchExecutable]
          + ["--config", config, "--checkpoint-dir", dir, "--threads", "1"]
      }
      let run = try runProcess(
        try mpirun(),
        ["--oversubscribe", "--allow-run-as-root"] + rank(rankZeroOverlaps ? overlapped : plainConfig) + [":"]
          + rank(rankZeroOverlaps ? plainConfig : overlapped))
      XCTAssertEqual(run.status, 0, run.stderr)
      XCTAssertEqual(
        sentDuringBackward(run.stderr).keys.sorted(), rankZeroOverlaps ? [0, 1] : [], run.stderr)
      try assertSameRun(dir, as: directory.file("one"))
    }
  }

  /// Every checkpoint of `dir` equals `reference`'s of the same step, bit for bit (and there are as many).
  private func assertSameRun(
    _ dir: String, as reference: String, file: StaticString = #filePath, line: UInt = #line
  )
    throws
  {
    let expected = try CheckpointStore(directory: reference).checkpointFiles()
    let found = try CheckpointStore(directory: dir).checkpointFiles()
    XCTAssertFalse(expected.isEmpty, "no reference checkpoints", file: file, line: line)
    XCTAssertEqual(found.map(\.step), expected.map(\.step), dir, file: file, line: line)
    for (a, b) in zip(expected, found) where a.step == b.step {
      let differences = try Checkpoint.read(from: b.path).bitwiseDifferences(
        from: Checkpoint.read(from: a.path))
      XCTAssertEqual(differences, [], "\(b.path) differs from \(a.path)", file: file, line: line)
    }
  }

  func testBF16MixedPrecisionMatchesOneProcessOn2And3Ranks() throws {
    // The bf16 copy of the weights is made by each rank from the all-gathered
    // parameters: the same bits as the single process's copy, refreshed by its apply.
    let config = mlpConfig("bf16", optimizer: Self.adam, precision: "bf16")
    let one = try train(ranks: nil, config, dir: directory.file("one16"), threads: 2)
    XCTAssertEqual(one.status, 0, one.stderr)
    for (ranks, threads) in [(2, 1), (3, 2)] {
      let run = try train(ranks: ranks, config, dir: directory.file("bf16-\(ranks)"), threads: threads)
      XCTAssertEqual(run.status, 0, run.stderr)
      try assertSameRun(directory.file("bf16-\(ranks)"), as: directory.file("one16"))
    }
  }

  func testMLPWithAdamClippingAndValidationMatchesOneProcessOn2And3Ranks() throws {
    let config = mlpConfig("adam", optimizer: Self.adam)
    let one = try train(ranks: nil, config, dir: directory.file("one"), threads: 2)
    XCTAssertEqual(one.status, 0, one.stderr)
    let two = try train(ranks: 2, config, dir: directory.file("two"), threads: 1)
    XCTAssertEqual(two.status, 0, two.stderr)
    // Progress from rank 0 only; the start line names ranks and threads.
    XCTAssertEqual(two.stdout.components(separatedBy: "training adam:").count, 2, two.stdout)
    XCTAssertTrue(two.stdout.contains("2 ranks × 1 thread"), two.stdout)
    try assertSameRun(directory.file("two"), as: directory.file("one"))
    let three = try train(ranks: 3, config, dir: directory.file("three"), threads: 2)
    XCTAssertEqual(three.status, 0, three.stderr)
    try assertSameRun(directory.file("three"), as: directory.file("one"))
  }

  /// Class weights: the shards' weight sums travel with their losses, so every rank divides by the same Σ w.
  func testClassWeightsMatchOneProcessOn2And3Ranks() throws {
    let config = mlpConfig(
      "weighted", optimizer: Self.adam, training: #", "class_weight": { "0": 0.5, "2": 4 }"#)
    let one = try train(ranks: nil, config, dir: directory.file("weighted-one"), threads: 2)
    XCTAssertEqual(one.status, 0, one.stderr)
    for ranks in [2, 3] {
      let run = try train(ranks: ranks, config, dir: directory.file("weighted-\(ranks)"), threads: 1)
      XCTAssertEqual(run.status, 0, run.stderr)
      try assertSameRun(directory.file("weighted-\(ranks)"), as: directory.file("weighted-one"))
    }
  }

  func testMomentumOverTCPLoopbackMatchesOneProcessOn3And4Ranks() throws {
    // The last batch (20 rows, 3 shards) leaves one of 4 ranks without a shard.
    let config = mlpConfig("momentum", optimizer: Self.momentum)
    XCTAssertEqual(try train(ranks: nil, config, dir: directory.file("one"), threads: 1).status, 0)
    for ranks in [3, 4] {
      let run = try train(ranks: ranks, config, dir: directory.file("tcp\(ranks)"), threads: 1, tcp: true)
      XCTAssertEqual(run.status, 0, run.stderr)
      try assertSameRun(directory.file("tcp\(ranks)"), as: directory.file("one"))
    }
  }

  func testCNNWithDropoutMatchesOneProcessOn2And3Ranks() throws {
    let config = cnnConfig("cnn")
    XCTAssertEqual(try train(ranks: nil, config, dir: directory.file("one"), threads: 2).status, 0)
    for ranks in [2, 3] {
      let run = try train(ranks: ranks, config, dir: directory.file("np\(ranks)"), threads: 1)
      XCTAssertEqual(run.status, 0, run.stderr)
      try assertSameRun(directory.file("np\(ranks)"), as: directory.file("one"))
    }
  }

  func testAugmentedCNNMatchesOneProcessOn2Ranks() throws {
    // data.augment: each rank augments its shards' rows keyed by their positions in the epoch.
    let path = cnnConfig("aug")
    let text = try String(contentsOfFile: path, encoding: .utf8).replacingOccurrences(
      of: #""shape": [1, 8, 8] }"#,
      with:
        #""shape": [1, 8, 8], "augment": { "horizontal_flip": true, "shift": 2, "brightness": 0.2, "contrast": 0.2 } }"#
    )
    XCTAssertTrue(text.contains("augment"))
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    XCTAssertEqual(try train(ranks: nil, path, dir: directory.file("aug-one"), threads: 2).status, 0)
    let run = try train(ranks: 2, path, dir: directory.file("aug2"), threads: 1)
    XCTAssertEqual(run.status, 0, run.stderr)
    try assertSameRun(directory.file("aug2"), as: directory.file("aug-one"))
  }

  func testBatchNormMatchesOneProcessOn2And3Ranks() throws {
    // conv → batch_norm relu → pool → dense, then a flat batch_norm: 4 shards a batch, the
    // last batch (10 rows) 1 shard; the running statistics are state summed in shard order.
    let config = directory.write(
      "bn.json",
      """
      { "name": "bn", "seed": 3,
        "data": { "source": "synthetic", "samples": 90, "features": 64, "classes": 3, "seed": 4, "shape": [1, 8, 8] },
        "model": { "layers": [
          { "type": "conv2d", "filters": 4, "kernel": 3, "padding": "same", "bias": false },
          { "type": "batch_norm", "activation": "relu" }, { "type": "max_pool2d", "size": 2 },
          { "units": 16 }, { "type": "batch_norm", "activation": "tanh", "momentum": 0.3 },
          { "units": 3, "activation": "softmax" } ], "init": "he_uniform" },
        "loss": "cross_entropy", "optimizer": { "kind": "adam", "learning_rate": 0.01 },
        "training": { "epochs": 2, "batch_size": 40, "shard_size": 10, "shuffle": true },
        "checkpoint": { "dir": "\(directory.file("bn"))", "every_epochs": 1, "keep": 100 } }
      """)
    XCTAssertEqual(try train(ranks: nil, config, dir: directory.file("one"), threads: 2).status, 0)
    for ranks in [2, 3] {
      let run = try train(ranks: ranks, config, dir: directory.file("bn\(ranks)"), threads: 1)
      XCTAssertEqual(run.status, 0, run.stderr)
      try assertSameRun(directory.file("bn\(ranks)"), as: directory.file("one"))
    }
  }

  func testResumeWithAnotherRankCount() throws {
    let config = mlpConfig("resume", optimizer: Self.adam, epochs: 3)
    XCTAssertEqual(try train(ranks: nil, config, dir: directory.file("one"), threads: 1).status, 0)
    // 3 ranks for the first epoch, 2 for the second, 1 process for the last.
    let first = try train(
      ranks: 3, config, dir: directory.file("mixed"), threads: 1, extra: ["--epochs", "1"])
    XCTAssertEqual(first.status, 0, first.stderr)
    let second = try train(
      ranks: 2, config, dir: directory.file("mixed"), threads: 2, extra: ["--epochs", "2", "--resume"])
    XCTAssertEqual(second.status, 0, second.stderr)
    XCTAssertTrue(second.stdout.contains("resumed from"), second.stdout)
    let third = try train(ranks: nil, config, dir: directory.file("mixed"), threads: 1, extra: ["--resume"])
    XCTAssertEqual(third.status, 0, third.stderr)
    try assertSameRun(directory.file("mixed"), as: directory.file("one"))
  }

  /// `mlpConfig` with other training sizes (`"batch_size": 50, "shard_size": 8` replaced by `training`).
  private func resized(_ name: String, optimizer: String, epochs: Int, training: String, samples: Int = 120)
    throws -> String
  {
    let text =
      (try String(contentsOfFile: mlpConfig(name, optimizer: optimizer, epochs: epochs), encoding: .utf8))
      .replacingOccurrences(of: #""batch_size": 50, "shard_size": 8"#, with: training)
      .replacingOccurrences(of: #""samples": 120"#, with: #""samples": \#(samples)"#)
      .replacingOccurrences(of: #""every_epochs": 1"#, with: #""every_steps": 2"#)
    XCTAssertTrue(
      text.contains(training) && text.contains(#""samples": \#(samples)"#) && text.contains("every_steps"),
      text)
    return directory.write("\(name)-sized.json", text)
  }

  func testDefaultShardSizeOnThreeRanksMatchesOneProcessAndResumes() throws {
    // batch_size 32 without shard_size: shards of 16, 2 per batch; 106
    // samples leave a last batch of 10 rows, 1 shard. Rank 0 of 3 computes no
    // shard and (2 chunks) owns no parameters; rank 1 has no shard of the last batch.
    let config = try resized(
      "default", optimizer: Self.adam, epochs: 3, training: #""batch_size": 32"#, samples: 106)
    let one = try train(ranks: nil, config, dir: directory.file("one"), threads: 2)
    XCTAssertEqual(one.status, 0, one.stderr)
    // 4 steps an epoch, a checkpoint every 2: epoch ends and the middle of each epoch.
    XCTAssertEqual(
      try CheckpointStore(directory: directory.file("one")).checkpointFiles().map(\.step),
      [2, 4, 6, 8, 10, 12])
    let three = try train(ranks: 3, config, dir: directory.file("three"), threads: 1)
    XCTAssertEqual(three.status, 0, three.stderr)
    XCTAssertTrue(three.stdout.contains("3 ranks × 1 thread"), three.stdout)
    try assertSameRun(directory.file("three"), as: directory.file("one"))
    // Resumed on 3 ranks from the middle of epoch 2 (step 6): the same bits to the end.
    try FileManager.default.createDirectory(
      atPath: directory.file("resumed"), withIntermediateDirectories: true)
    for step in [2, 4, 6] {
      let name = CheckpointStore.fileName(step: step)
      try FileManager.default.copyItem(
        atPath: directory.file("three/\(name)"), toPath: directory.file("resumed/\(name)"))
    }
    let resumed = try train(ranks: 3, config, dir: directory.file("resumed"), threads: 1, extra: ["--resume"])
    XCTAssertEqual(resumed.status, 0, resumed.stderr)
    XCTAssertTrue(resumed.stdout.contains("resumed from"), resumed.stdout)
    try assertSameRun(directory.file("resumed"), as: directory.file("one"))
  }

  func testRanksWithMoreShardsOfAShortBatchThanOfAFullOneMatchOneProcess() throws {
    // 120 samples on 5 ranks. Batch 48 in shards of 16: rank 2 has none of a
    // full batch's 3 shards but one of the last batch's 2. Batch 64 in shards
    // of 8: rank 2 has 1 of a full batch's 8 shards but 2 of the last batch's 7.
    for (batch, shard) in [(48, 16), (64, 8)] {
      let name = "short\(batch)"
      let config = try resized(
        name, optimizer: Self.momentum, epochs: 2,
        training: #""batch_size": \#(batch), "shard_size": \#(shard)"#)
      let one = try train(ranks: nil, config, dir: directory.file("\(name)-one"), threads: 1)
      XCTAssertEqual(one.status, 0, one.stderr)
      let five = try train(ranks: 5, config, dir: directory.file("\(name)-five"), threads: 1)
      XCTAssertEqual(five.status, 0, five.stderr)
      try assertSameRun(directory.file("\(name)-five"), as: directory.file("\(name)-one"))
    }
  }

  /// Runs `mpirun` in the background on a long run; `action(mpirun PID, rank PIDs)` once a checkpoint exists.
  private func interrupt(
    ranks: Int, _ config: String, dir: String, _ action: (Int32, [Int32]) -> Void
  ) throws -> (status: Int32, stdout: String, stderr: String, seconds: Double) {
    let command = try launch(ranks: ranks)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: command[0])
    process.arguments =
      Array(command.dropFirst()) + ["--config", config, "--checkpoint-dir", dir, "--threads", "1", "--quiet"]
    // Both outputs are a few lines (--quiet): the pipes cannot fill up.
    let errors = Pipe()
    let output = Pipe()
    process.standardError = errors
    process.standardOutput = output
    try process.run()
    let deadline = Date().addingTimeInterval(60)
    while try CheckpointStore(directory: dir).checkpointFiles().isEmpty && Date() < deadline
      && process.isRunning
    {
      usleep(50_000)
    }
    let children = try String(
      contentsOfFile: "/proc/\(process.processIdentifier)/task/\(process.processIdentifier)/children",
      encoding: .utf8
    )
    .split(separator: " ").compactMap { Int32($0) }
    let acted = Date()
    action(process.processIdentifier, children)
    process.waitUntilExit()
    let seconds = Date().timeIntervalSince(acted)
    let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    let stdout = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    return (process.terminationStatus, stdout, stderr, seconds)
  }

  /// `--resume` on `ranks` ranks to two epochs past `dir`'s newest checkpoint equals one process's run to there.
  ///
  /// (Both stop early, with the same `--epochs`, to keep the test short; an epoch is 3 steps.)
  private func assertResumeMatches(_ config: String, dir: String, ranks: Int) throws {
    let newest = try XCTUnwrap(try CheckpointStore(directory: dir).checkpointFiles().last)
    let epochs = "\(newest.step / 3 + 2)"
    let resumed = try train(
      ranks: ranks, config, dir: dir, threads: 1, extra: ["--resume", "--quiet", "--epochs", epochs])
    XCTAssertEqual(resumed.status, 0, resumed.stderr)
    let one = directory.file("one-\(epochs)")
    XCTAssertEqual(
      try train(ranks: nil, config, dir: one, threads: 2, extra: ["--quiet", "--epochs", epochs]).status, 0)
    let last = try XCTUnwrap(try CheckpointStore(directory: one).checkpointFiles().last)
    let differences = try Checkpoint.read(from: "\(dir)/\(CheckpointStore.fileName(step: last.step))")
      .bitwiseDifferences(from: Checkpoint.read(from: last.path))
    XCTAssertEqual(differences, [])
  }

  func testSIGTERMToMpirunStopsCleanlyAndResumesBitwise() throws {
    // Far more epochs than the test waits for: on a fast CPU 40 epochs ended before the signal came.
    let config = mlpConfig("stop", optimizer: Self.momentum, epochs: 4000)
    let stopped = try interrupt(ranks: 3, config, dir: directory.file("stop")) { mpirun, _ in
      kill(mpirun, SIGTERM)
    }
    // mpirun forwards SIGTERM; the ranks agree on the next step, rank 0 saves, all leave: mpirun exits 1.
    XCTAssertEqual(stopped.status, 1, stopped.stderr)
    XCTAssertLessThan(stopped.seconds, 5, stopped.stderr)
    XCTAssertTrue(stopped.stdout.contains("stopped by signal at step"), stopped.stdout + stopped.stderr)
    XCTAssertEqual(
      try FileManager.default.contentsOfDirectory(atPath: directory.file("stop")).filter {
        $0.hasSuffix(".tmp")
      }, [])
    try assertResumeMatches(config, dir: directory.file("stop"), ranks: 2)
  }

  func testKilledRankEndsTheJobAndResumeContinuesBitwise() throws {
    let config = mlpConfig("kill", optimizer: Self.adam, epochs: 4000)
    let killed = try interrupt(ranks: 3, config, dir: directory.file("kill")) { _, ranks in
      XCTAssertEqual(ranks.count, 3)
      if ranks.count > 1 { kill(ranks[1], SIGKILL) }
    }
    XCTAssertNotEqual(killed.status, 0)
    XCTAssertLessThan(killed.seconds, 10, killed.stderr)
    XCTAssertTrue(killed.stderr.contains("rank 1"), killed.stderr)
    XCTAssertEqual(
      try FileManager.default.contentsOfDirectory(atPath: directory.file("kill")).filter {
        $0.hasSuffix(".tmp")
      }, [])
    try assertResumeMatches(config, dir: directory.file("kill"), ranks: 2)
  }
  func testARankThatCannotReadItsDataEndsTheJobNamingIt() throws {
    // Two configs alike but for the data file, one per rank (an MPMD launch):
    // rank 1's copy of the data has a damaged row, as if its host's copy were bad.
    let rows = (0..<40).map { "\(Double($0) / 40),\(Double($0 % 7) / 7),\($0 % 2 == 0 ? "a" : "b")" }
    let good = directory.write("good.csv", "x,y,label\n" + rows.joined(separator: "\n") + "\n")
    let bad = directory.write(
      "bad.csv", "x,y,label\n" + rows.prefix(20).joined(separator: "\n") + "\n0.5,oops,a\n")
    func config(_ name: String, data: String) -> String {
      directory.write(
        "\(name).json",
        """
        { "name": "csv", "seed": 1, "data": { "source": "csv", "path": "\(data)", "targets": "label" },
          "model": { "layers": [ { "units": 4, "activation": "relu" }, { "units": 2, "activation": "softmax" } ] },
          "loss": "cross_entropy", "optimizer": { "kind": "sgd", "learning_rate": 0.1 },
          "training": { "epochs": 2, "batch_size": 8, "shard_size": 4 },
          "checkpoint": { "dir": "\(directory.file("csv"))" } }
        """)
    }
    let arguments = { (config: String) in ["-np", "1", nnbatchExecutable, "--config", config, "--quiet"] }
    let started = Date()
    let run = try runProcess(
      try mpirun(),
      ["--oversubscribe", "--allow-run-as-root"] + arguments(config("good", data: good)) + [":"]
        + arguments(config("bad", data: bad)))
    XCTAssertEqual(run.status, 2, run.stderr)
    XCTAssertLessThan(Date().timeIntervalSince(started), 20)
    XCTAssertTrue(run.stderr.contains("error: rank 1: "), run.stderr)
    XCTAssertTrue(run.stderr.contains("oops"), run.stderr)
    XCTAssertEqual(try CheckpointStore(directory: directory.file("csv")).checkpointFiles().map(\.step), [])
  }
  func testAConfigErrorIsReportedOnceByRankZero() throws {
    let config = directory.write(
      "typo.json",
      """
      { "name": "typo", "data": { "source": "synthetic", "samples": 64, "features": 4, "classes": 2 },
        "model": { "layers": [ { "type": "Dense", "units": 2, "activation": "softmax" } ] },
        "loss": "cross_entropy", "optimizer": { "kind": "sgd" } }
      """)
    let run = try train(ranks: 3, config, dir: directory.file("typo"), threads: 1)
    XCTAssertEqual(run.status, 2, run.stderr)
    let errors = run.stderr.split(separator: "\n").filter { $0.hasPrefix("error: ") }
    XCTAssertEqual(errors.count, 1, run.stderr)
    XCTAssertTrue(errors.first?.hasPrefix("error: rank 0: \(config):2:") ?? false, run.stderr)
    XCTAssertTrue(
      errors.first?.contains("$.model.layers[0].type: unknown layer type \"Dense\"") ?? false, run.stderr)
    // So is a data file that is not there (every rank opens the same path).
    let missing = directory.write(
      "missing.json",
      """
      { "name": "missing", "data": { "source": "csv", "path": "no/such.csv", "targets": "y" },
        "model": { "layers": [ { "units": 1 } ] }, "loss": "mse", "optimizer": { "kind": "sgd" } }
      """)
    let absent = try train(ranks: 3, missing, dir: directory.file("missing"), threads: 1)
    XCTAssertEqual(absent.status, 2, absent.stderr)
    XCTAssertEqual(
      absent.stderr.split(separator: "\n").filter { $0.hasPrefix("error: ") },
      [
        "error: rank 0: \(missing): $.data.path: no/such.csv: no such file (resolved against \(FileManager.default.currentDirectoryPath))"
      ],
      absent.stderr)
    // An error that only one rank meets (its own copy of the config) is reported by that rank alone.
    let good = directory.write(
      "good.json",
      try String(contentsOfFile: config, encoding: .utf8).replacingOccurrences(of: "Dense", with: "dense"))
    let arguments = { (file: String) in ["-np", "1", nnbatchExecutable, "--config", file, "--quiet"] }
    let mixed = try runProcess(
      try mpirun(),
      ["--oversubscribe", "--allow-run-as-root"] + arguments(good) + [":"] + arguments(config) + [":"]
        + arguments(good))
    XCTAssertEqual(mixed.status, 2, mixed.stderr)
    let mixedErrors = mixed.stderr.split(separator: "\n").filter { $0.hasPrefix("error: ") }
    XCTAssertEqual(mixedErrors.count, 1, mixed.stderr)
    XCTAssertTrue(mixedErrors.first?.hasPrefix("error: rank 1: \(config):2:") ?? false, mixed.stderr)
  }

  func testInitFromIsSentByRankZeroAndMatchesOneProcess() throws {
    let config = mlpConfig("warm", optimizer: Self.momentum, epochs: 1)
    XCTAssertEqual(try train(ranks: nil, config, dir: directory.file("source"), threads: 1).status, 0)
    let start = try XCTUnwrap(try CheckpointStore(directory: directory.file("source")).checkpointFiles().last)
    let one = try train(
      ranks: nil, config, dir: directory.file("one"), threads: 1, extra: ["--init-from", start.path])
    XCTAssertEqual(one.status, 0, one.stderr)
    let three = try train(
      ranks: 3, config, dir: directory.file("three"), threads: 1, extra: ["--init-from", start.path])
    XCTAssertEqual(three.status, 0, three.stderr)
    try assertSameRun(directory.file("three"), as: directory.file("one"))
  }
}
