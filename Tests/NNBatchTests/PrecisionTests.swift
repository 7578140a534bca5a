import Checkpoints
import Foundation
import NNBatch
import NNBatchCore
import NeuralNet
import TestSupport
import XCTest

/// `training.precision`: parsing, bf16 determinism across resume and threads, refusal to switch on resume.
final class PrecisionTests: XCTestCase {
  /// A synthetic problem whose products exceed the small-product limit (so bf16 really runs).
  private func config(_ dir: TemporaryDirectory, precision: String?, name: String = "p.json") -> String {
    let key = precision.map { ", \"precision\": \"\($0)\"" } ?? ""
    return dir.write(
      name,
      """
      { "name": "precision", "seed": 4,
        "data": { "source": "synthetic", "samples": 256, "features": 32, "classes": 4, "seed": 2 },
        "model": { "layers": [ { "units": 64, "activation": "relu" }, { "units": 4, "activation": "softmax" } ] },
        "loss": "cross_entropy",
        "optimizer": { "kind": "sgd", "learning_rate": 0.05, "momentum": 0.9 },
        "training": { "epochs": 4, "batch_size": 64, "shard_size": 32\(key) },
        "checkpoint": { "dir": "\(dir.file("ck"))", "every_steps": 3, "keep": 100 } }
      """)
  }

  private func train(
    _ path: String, threads: Int, start: StartPoint = .fresh, dir: String
  ) throws -> Int32 {
    var options = TrainOptions(configPath: path, threads: threads)
    options.quiet = true
    options.start = start
    options.checkpointDir = dir
    return try Trainer(options: options, signals: nil).run()
  }

  private func newest(_ dir: String) throws -> Checkpoint {
    try XCTUnwrap(try CheckpointStore(directory: dir).newestValid()).checkpoint
  }

  func testPrecisionParsesWithF32DefaultAndRefusesOtherNames() throws {
    let dir = TemporaryDirectory()
    XCTAssertEqual(try Config.load(path: config(dir, precision: nil)).precision, .f32)
    XCTAssertEqual(try Config.load(path: config(dir, precision: "bf16")).precision, .bf16)
    do {
      _ = try Config.load(path: config(dir, precision: "fp16"))
      XCTFail("fp16 accepted")
    } catch {
      XCTAssertEqual(error.kind, .usage)
      let text = error.lines.joined(separator: "\n")
      XCTAssertTrue(text.contains("$.training.precision"), text)
      XCTAssertTrue(text.contains("unknown precision \"fp16\"; expected one of f32, bf16"), text)
    }
  }

  /// bf16 keeps the contract: threads 1 and 3 agree, and a resumed run ends where an uninterrupted one does.
  func testBF16ResumeAndThreadsAreBitIdentical() throws {
    let dir = TemporaryDirectory()
    let path = config(dir, precision: "bf16")
    XCTAssertEqual(try train(path, threads: 1, dir: dir.file("one")), 0)
    XCTAssertEqual(try train(path, threads: 3, dir: dir.file("three")), 0)
    let straight = try newest(dir.file("one"))
    XCTAssertEqual(straight.counters.step, 16)
    XCTAssertEqual(straight.bitwiseDifferences(from: try newest(dir.file("three"))), [])
    // Step 6 is mid-epoch (4 batches per epoch).
    let mid = dir.file("one/step-000000006.h5")
    XCTAssertNotEqual(try Checkpoint.read(from: mid).counters.batchInEpoch, 0)
    XCTAssertEqual(try train(path, threads: 2, start: .resume(mid), dir: dir.file("resumed")), 0)
    XCTAssertEqual(straight.bitwiseDifferences(from: try newest(dir.file("resumed"))), [])
    // And it is not the f32 run: the products really took bf16 operands.
    XCTAssertEqual(
      try train(config(dir, precision: "f32", name: "f.json"), threads: 1, dir: dir.file("f32")), 0)
    XCTAssertNotEqual(try newest(dir.file("f32")).parameters, straight.parameters)
  }

  func testResumeRefusesAChangeOfPrecisionNamingThePath() throws {
    let dir = TemporaryDirectory()
    XCTAssertEqual(try train(config(dir, precision: nil), threads: 1, dir: dir.file("a")), 0)
    let file = dir.file("a/step-000000006.h5")
    do {
      _ = try train(
        config(dir, precision: "bf16", name: "b.json"), threads: 1, start: .resume(file), dir: dir.file("b"))
      XCTFail("resumed with another precision")
    } catch let error as NNBatchError {
      XCTAssertEqual(error.kind, .usage)
      XCTAssertEqual(
        error.lines, ["cannot resume from \(file): $.training.precision: checkpoint has f32, config has bf16"]
      )
    }
  }

  func testCheckpointsRecordTheKernels() throws {
    let dir = TemporaryDirectory()
    XCTAssertEqual(try train(config(dir, precision: nil), threads: 1, dir: dir.file("a")), 0)
    let kernels = try XCTUnwrap(try newest(dir.file("a")).kernels)
    XCTAssertEqual(kernels, .current)
    XCTAssertTrue(kernels.library.hasPrefix("oneDNN "), kernels.library)
    XCTAssertFalse(kernels.cpu.isEmpty)
  }
}
