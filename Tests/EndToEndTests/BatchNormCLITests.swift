import Checkpoints
import Foundation
import TestSupport
import XCTest

/// Batch normalization through the command line: the same bits for any threads and across resume,
/// running statistics in checkpoints, and the shard sizes it refuses.
final class BatchNormCLITests: XCTestCase {
  /// conv → batch_norm relu → pool → dense softmax on 6×6 synthetic images: 3 shards of 4 per batch of 12.
  private func config(
    _ dir: TemporaryDirectory, name: String, every: String = "\"every_epochs\": 1", samples: Int = 72,
    training: String = "\"batch_size\": 12, \"shard_size\": 4", layers: String? = nil
  ) -> String {
    let cnn = """
      { "type": "conv2d", "filters": 3, "kernel": 3, "padding": "same", "bias": false },
      { "type": "batch_norm", "activation": "relu", "momentum": 0.2 },
      { "type": "max_pool2d", "size": 2 },
      { "units": 3, "activation": "softmax" }
      """
    return dir.write(
      "\(name).json",
      """
      { "name": "\(name)", "seed": 7,
        "data": { "source": "synthetic", "samples": \(samples), "features": 36, "classes": 3, "seed": 4,
                  "shape": [1, 6, 6], "validation_split": 0.25 },
        "model": { "layers": [\(layers ?? cnn)] },
        "loss": "cross_entropy", "optimizer": { "kind": "sgd", "learning_rate": 0.05, "momentum": 0.9 },
        "training": { "epochs": 3, \(training) },
        "checkpoint": { "dir": "\(dir.file(name))", \(every), "keep": 10 } }
      """)
  }

  private func newest(_ folder: String) throws -> String {
    let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".h5") }
      .sorted()
    return "\(folder)/\(try XCTUnwrap(files.last))"
  }

  func testTrainsTheSameBitsForAnyThreadsAndAcrossAMidEpochResume() throws {
    let dir = TemporaryDirectory()
    var finals: [[Float]] = []
    for threads in ["1", "2", "3", "8"] {
      let run = try nnbatch(["--config", config(dir, name: "t\(threads)"), "--threads", threads, "--quiet"])
      XCTAssertEqual(run.status, 0, run.stderr)
      finals.append(try Checkpoint.read(from: try newest(dir.file("t\(threads)"))).parameters)
    }
    for (k, threads) in ["2", "3", "8"].enumerated() {
      XCTAssertEqual(finals[0], finals[k + 1], "threads 1 and \(threads)")
    }

    // 54 training rows: 5 batches an epoch (the last of 6 rows); resume from step 7, inside epoch 2.
    let steps = config(dir, name: "r", every: "\"every_steps\": 7")
    let first = try nnbatch(["--config", steps, "--epochs", "2", "--threads", "2", "--quiet"])
    XCTAssertEqual(first.status, 0, first.stderr)
    let middle = dir.file("r/step-000000007.h5")
    XCTAssertTrue(FileManager.default.fileExists(atPath: middle))
    let resumed = try nnbatch(["--config", steps, "--resume", middle, "--threads", "3", "--quiet"])
    XCTAssertEqual(resumed.status, 0, resumed.stderr)
    XCTAssertEqual(
      try Checkpoint.read(from: try newest(dir.file("r"))).parameters, finals[0], "mid-epoch resume")

    // Layout: conv kernel 27, then gamma, beta, running_mean, running_var (3 each).
    let final = finals[0]
    let mean = Array(final[(27 + 6)..<(27 + 9)])
    let variance = Array(final[(27 + 9)..<(27 + 12)])
    XCTAssertFalse(mean.allSatisfy { $0 == 0 }, "the running mean moved: \(mean)")
    XCTAssertFalse(variance.allSatisfy { $0 == 1 }, "the running variance moved: \(variance)")
    XCTAssertTrue(variance.allSatisfy { $0 > 0 }, "\(variance)")

    let checkpoint = try newest(dir.file("t1"))
    let inspect = try nnbatch(["inspect", checkpoint])
    XCTAssertEqual(inspect.status, 0, inspect.stderr)
    XCTAssertTrue(inspect.stdout.contains("batch_norm"), inspect.stdout)
    if let h5dump = tool("h5dump") {
      let state = try runProcess(h5dump, ["-a", "/model/layer_1/state", checkpoint])
      XCTAssertTrue(state.stdout.contains("\"running_mean,running_var\""), state.stdout)
      let dumped = try runProcess(h5dump, ["-d", "/model/layer_1/running_var", checkpoint])
      XCTAssertTrue(dumped.stdout.contains("DATASPACE  SIMPLE { ( 3 ) / ( 3 ) }"), dumped.stdout)
      for value in variance {
        XCTAssertTrue(dumped.stdout.contains("\(value)".prefix(6)), "\(value) in \(dumped.stdout)")
      }
    }
    // Inference uses the running averages: evaluate runs (exports: ExportInteropTests).
    let evaluate = try nnbatch(["evaluate", "--checkpoint", checkpoint])
    XCTAssertEqual(evaluate.status, 0, evaluate.stderr)
  }

  /// A flat batch_norm whose shard can hold one row is refused before training, naming the key.
  func testRefusesShardsOfOneRowOnFlatInputs() throws {
    let dir = TemporaryDirectory()
    let flat = """
      { "units": 4 }, { "type": "batch_norm", "activation": "tanh" }, { "units": 3, "activation": "softmax" }
      """
    // 72 samples: 54 training rows; 76: 57, a last batch of 9 rows whose last shard has 1.
    let cases: [(String, Int, String, String)] = [
      ("one", 72, "\"batch_size\": 12, \"shard_size\": 1", "$.training.shard_size"),
      (
        "mod", 72, "\"batch_size\": 9, \"shard_size\": 4",
        "$.training.batch_size: batches of 9 in shards of 4"
      ),
      ("tail", 76, "\"batch_size\": 12, \"shard_size\": 4", "57 training samples in batches of 12"),
    ]
    for (name, samples, training, fragment) in cases {
      let run = try nnbatch([
        "--config", config(dir, name: name, samples: samples, training: training, layers: flat), "--quiet",
      ])
      XCTAssertEqual(run.status, 2, "\(name): \(run.stderr)")
      XCTAssertTrue(run.stderr.contains(fragment), "\(name): \(run.stderr)")
      XCTAssertTrue(run.stderr.contains("batch_norm at $.model.layers[1]"), "\(name): \(run.stderr)")
      let saved = ((try? FileManager.default.contentsOfDirectory(atPath: dir.file(name))) ?? []).filter {
        $0.hasSuffix(".h5")
      }
      XCTAssertEqual(saved, [], "\(name): no checkpoint")
    }
    // drop_last removes the short batch; on images a one-row shard still has H·W values per channel.
    let dropped = try nnbatch([
      "--config",
      config(
        dir, name: "dropped", samples: 76,
        training: "\"batch_size\": 12, \"shard_size\": 4, \"drop_last\": true",
        layers: flat),
      "--quiet",
    ])
    XCTAssertEqual(dropped.status, 0, dropped.stderr)
    let images = try nnbatch([
      "--config", config(dir, name: "images", training: "\"batch_size\": 12, \"shard_size\": 1"), "--quiet",
    ])
    XCTAssertEqual(images.status, 0, images.stderr)
  }
}
