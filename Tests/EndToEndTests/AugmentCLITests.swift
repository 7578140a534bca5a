import Checkpoints
import Foundation
import TestSupport
import XCTest

/// `data.augment` through the command line: the same bits for any threads and across a mid-epoch
/// resume (in memory and streamed), never in validation or evaluation, and the configs it refuses.
final class AugmentCLITests: XCTestCase {
  private static let augment =
    #"{ "horizontal_flip": true, "shift": 1, "brightness": 0.3, "contrast": [0.7, 1.2], "clip": [0, 1] }"#

  /// conv → pool → dense softmax on 6×6 synthetic images: 54 training rows, 5 batches of 12 (shards of 4).
  private func config(
    _ dir: TemporaryDirectory, name: String, augment: String? = AugmentCLITests.augment,
    every: String = "\"every_epochs\": 1", data: String? = nil,
    optimizer: String = #"{ "kind": "sgd", "learning_rate": 0.05, "momentum": 0.9 }"#
  ) -> String {
    let source =
      data
      ?? #""source": "synthetic", "samples": 72, "features": 36, "classes": 3, "seed": 4, "shape": [1, 6, 6], "validation_split": 0.25"#
    return dir.write(
      "\(name).json",
      """
      { "name": "\(name)", "seed": 7,
        "data": { \(source)\(augment.map { ", \"augment\": \($0)" } ?? "") },
        "model": { "layers": [
          { "type": "conv2d", "filters": 3, "kernel": 3, "padding": "same", "activation": "relu" },
          { "type": "max_pool2d", "size": 2 }, { "units": 3, "activation": "softmax" } ], "bias": false },
        "loss": "cross_entropy", "optimizer": \(optimizer),
        "training": { "epochs": 3, "batch_size": 12, "shard_size": 4 },
        "checkpoint": { "dir": "\(dir.file(name))", \(every), "keep": 10 } }
      """)
  }

  private func newest(_ folder: String) throws -> Checkpoint {
    let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".h5") }
      .sorted()
    return try Checkpoint.read(from: "\(folder)/\(try XCTUnwrap(files.last))")
  }

  /// Trains the config with each of `threads`, then again from its step-7 checkpoint (in epoch 2).
  ///
  /// Every run must end with the same parameters and loss history; returns the first run's final checkpoint.
  private func assertDeterministic(
    _ dir: TemporaryDirectory, name: String, data: String? = nil, threads: [String] = ["1", "2", "3", "8"],
    line: UInt = #line
  ) throws -> Checkpoint {
    var finals: [Checkpoint] = []
    for t in threads {
      let run = try nnbatch([
        "--config", config(dir, name: "\(name)\(t)", data: data), "--threads", t, "--quiet",
      ])
      XCTAssertEqual(run.status, 0, run.stderr, line: line)
      finals.append(try newest(dir.file("\(name)\(t)")))
    }
    for (k, final) in finals.enumerated().dropFirst() {
      XCTAssertEqual(
        final.parameters.map(\.bitPattern), finals[0].parameters.map(\.bitPattern), "threads \(threads[k])",
        line: line)
      XCTAssertEqual(final.lossHistory.map(\.bitPattern), finals[0].lossHistory.map(\.bitPattern), line: line)
    }
    let steps = config(dir, name: "\(name)r", every: "\"every_steps\": 7", data: data)
    let first = try nnbatch(["--config", steps, "--epochs", "2", "--threads", "2", "--quiet"])
    XCTAssertEqual(first.status, 0, first.stderr, line: line)
    let middle = dir.file("\(name)r/step-000000007.h5")
    XCTAssertTrue(FileManager.default.fileExists(atPath: middle), line: line)
    let resumed = try nnbatch(["--config", steps, "--resume", middle, "--threads", "3", "--quiet"])
    XCTAssertEqual(resumed.status, 0, resumed.stderr, line: line)
    let final = try newest(dir.file("\(name)r"))
    XCTAssertEqual(
      final.parameters.map(\.bitPattern), finals[0].parameters.map(\.bitPattern), "mid-epoch resume",
      line: line)
    XCTAssertEqual(final.lossHistory.map(\.bitPattern), finals[0].lossHistory.map(\.bitPattern), line: line)
    return finals[0]
  }

  func testInMemoryTrainsTheSameBitsForAnyThreadsAndAcrossAMidEpochResume() throws {
    let dir = TemporaryDirectory()
    let augmented = try assertDeterministic(dir, name: "m")
    let plain = try nnbatch(["--config", config(dir, name: "plain", augment: nil), "--quiet"])
    XCTAssertEqual(plain.status, 0, plain.stderr)
    XCTAssertNotEqual(
      try newest(dir.file("plain")).parameters, augmented.parameters, "augmentation trains on other rows")
    XCTAssertTrue(augmented.config.contains(#""augment": { "horizontal_flip": true"#), "the config is saved")
  }

  func testStreamedTrainsTheSameBitsForAnyThreadsAndAcrossAMidEpochResume() throws {
    let dir = TemporaryDirectory()
    // 54 images [1, 6, 6] as .npy, streamed in blocks of 5 rows and windows of 2 blocks.
    var state: UInt64 = 0x2545_F491_4F6C_DD1D
    var x: [Float] = []
    var y: [Float] = []
    for _ in 0..<54 {
      for _ in 0..<36 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        x.append(Float(state >> 40) * 0x1p-24)
      }
      y.append(Float(Int(x[x.count - 36] * 3)))
    }
    try writeNpy(dir.file("x.npy"), shape: [54, 1, 6, 6], values: x)
    try writeNpy(dir.file("y.npy"), shape: [54], values: y)
    let data = """
      "source": "npy", "features": "\(dir.file("x.npy"))", "targets": "\(dir.file("y.npy"))", "task": "classification",
      "stream": true, "stream_block_rows": 5, "stream_window": 2
      """
    let augmented = try assertDeterministic(dir, name: "s", data: data, threads: ["1", "3"])
    let plain = try nnbatch(["--config", config(dir, name: "plain", augment: nil, data: data), "--quiet"])
    XCTAssertEqual(plain.status, 0, plain.stderr)
    XCTAssertNotEqual(
      try newest(dir.file("plain")).parameters, augmented.parameters, "streamed rows are augmented")
  }

  private func writeNpy(_ path: String, shape: [Int], values: [Float]) throws {
    let tuple = shape.count == 1 ? "(\(shape[0]),)" : "(\(shape.map(String.init).joined(separator: ", ")))"
    var dict = "{'descr': '<f4', 'fortran_order': False, 'shape': \(tuple), }"
    while (10 + dict.utf8.count + 1) % 64 != 0 { dict += " " }
    dict += "\n"
    var bytes: [UInt8] =
      [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(dict.utf8.count & 0xFF), UInt8(dict.utf8.count >> 8)]
    bytes += Array(dict.utf8)
    for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 } }
    try Data(bytes).write(to: URL(fileURLWithPath: path))
  }

  /// With a learning rate too small to move any weight, runs with and without augmentation hold the
  /// same weights: their validation losses (and `evaluate`'s) are the same bits, their training losses not.
  func testValidationAndEvaluateSeeNoAugmentation() throws {
    let dir = TemporaryDirectory()
    let still = #"{ "kind": "sgd", "learning_rate": 1e-30 }"#
    var checkpoints: [Checkpoint] = []
    var evaluations: [String] = []
    for (name, augment) in [("on", AugmentCLITests.augment), ("off", nil)] {
      let run = try nnbatch([
        "--config", config(dir, name: name, augment: augment, optimizer: still), "--quiet",
      ])
      XCTAssertEqual(run.status, 0, run.stderr)
      let checkpoint = try newest(dir.file(name))
      checkpoints.append(checkpoint)
      let files = try FileManager.default.contentsOfDirectory(atPath: dir.file(name)).filter {
        $0.hasPrefix("step-")
      }
      let evaluate = try nnbatch([
        "evaluate", "--checkpoint", dir.file("\(name)/\(try XCTUnwrap(files.sorted().last))"),
      ])
      XCTAssertEqual(evaluate.status, 0, evaluate.stderr)
      evaluations.append(evaluate.stdout.replacingOccurrences(of: dir.file(name), with: "DIR"))
    }
    let (on, off) = (checkpoints[0], checkpoints[1])
    XCTAssertEqual(on.parameters, off.parameters, "the weights did not move")
    XCTAssertEqual(on.epochHistory.validationLoss.count, 3)
    XCTAssertEqual(
      on.epochHistory.validationLoss.map(\.bitPattern), off.epochHistory.validationLoss.map(\.bitPattern))
    XCTAssertEqual(on.epochHistory.validationAccuracy, off.epochHistory.validationAccuracy)
    XCTAssertNotEqual(on.lossHistory, off.lossHistory, "training saw augmented rows")
    XCTAssertEqual(evaluations[0], evaluations[1])
  }

  func testResumeRefusesAChangedAugmentation() throws {
    let dir = TemporaryDirectory()
    let first = try nnbatch(["--config", config(dir, name: "a"), "--epochs", "1", "--quiet"])
    XCTAssertEqual(first.status, 0, first.stderr)
    let changed = config(
      dir, name: "a",
      augment:
        #"{ "horizontal_flip": 0.25, "shift": 2, "brightness": 0.3, "contrast": [0.7, 1.2], "clip": [0, 1] }"#
    )
    let resumed = try nnbatch(["--config", changed, "--resume", "--quiet"])
    XCTAssertEqual(resumed.status, 2, resumed.stderr)
    XCTAssertTrue(
      resumed.stderr.contains("$.data.augment.horizontal_flip: checkpoint has 0.5, config has 0.25"),
      resumed.stderr)
    XCTAssertTrue(
      resumed.stderr.contains("$.data.augment.shift: checkpoint has 1, config has 2"), resumed.stderr)
    let none = try nnbatch(["--config", config(dir, name: "a", augment: nil), "--resume", "--quiet"])
    XCTAssertEqual(none.status, 2, none.stderr)
    XCTAssertTrue(
      none.stderr.contains("$.data.augment.brightness: checkpoint has [0.7, 1.3], config has none"),
      none.stderr)
  }

  func testBadAugmentConfigsAreRefusedNamingTheKey() throws {
    let dir = TemporaryDirectory()
    let cases: [(String, String)] = [
      (
        #"{ "horizontal_flp": true }"#,
        #"$.data.augment.horizontal_flp: unknown key "horizontal_flp" (did you mean "horizontal_flip"?)"#
      ),
      (
        #"{ "horizontal_flip": 1.5 }"#,
        "$.data.augment.horizontal_flip: expected true, false or a probability in [0, 1], found 1.5"
      ),
      (#"{ "horizontal_flip": "yes" }"#, #"expected true, false or a probability in [0, 1], found "yes""#),
      (
        #"{ "shift": -1 }"#,
        "$.data.augment.shift: expected whole pixels (an integer ≥ 0) or a fraction of the image's size (a number in (0, 1)), found -1"
      ),
      (#"{ "shift": 1.5 }"#, "$.data.augment.shift: expected whole pixels"),
      (
        #"{ "shift": 6 }"#,
        "$.data.augment.shift: expected a shift smaller than the image's height 6 and width 6, found 6 pixels"
      ),
      (
        #"{ "brightness": -0.1 }"#,
        "$.data.augment.brightness: expected a number β ≥ 0 (factors in [max(0, 1 − β), 1 + β]) or [low, high] with 0 ≤ low ≤ high, found -0.1"
      ),
      (#"{ "contrast": [1.2, 0.8] }"#, "$.data.augment.contrast: expected a number β ≥ 0"),
      (#"{ "contrast": [0.5] }"#, "found an array of 1"),
      (#"{ "shift": 1, "clip": [0, 1] }"#, "$.data.augment.clip: clips the jitter of brightness or contrast"),
      (
        #"{ "brightness": 0.2, "clip": [1, 0] }"#, "$.data.augment.clip: expected [low, high] with low < high"
      ),
      (#"[true]"#, "$.data.augment: expected an object, found an array"),
    ]
    for (k, (augment, fragment)) in cases.enumerated() {
      let run = try nnbatch(["--config", config(dir, name: "bad\(k)", augment: augment), "--quiet"])
      XCTAssertEqual(run.status, 2, "\(augment): \(run.stderr)")
      XCTAssertTrue(run.stderr.contains(fragment), "\(augment): \(run.stderr)")
      let saved = ((try? FileManager.default.contentsOfDirectory(atPath: dir.file("bad\(k)"))) ?? []).filter {
        $0.hasSuffix(".h5")
      }
      XCTAssertEqual(saved, [], "\(augment): no checkpoint")
    }
    // Flat samples have no height or width to flip or shift.
    let flat = config(
      dir, name: "flat",
      data: #""source": "synthetic", "samples": 40, "features": 36, "classes": 3"#)
    let text = try String(contentsOfFile: flat, encoding: .utf8).replacingOccurrences(
      of: #"{ "type": "conv2d", "filters": 3, "kernel": 3, "padding": "same", "activation": "relu" },"#,
      with: ""
    ).replacingOccurrences(of: #"{ "type": "max_pool2d", "size": 2 }, "#, with: "")
    try text.write(toFile: flat, atomically: true, encoding: .utf8)
    let run = try nnbatch(["--config", flat, "--quiet"])
    XCTAssertEqual(run.status, 2, run.stderr)
    XCTAssertTrue(
      run.stderr.contains(
        "$.data.augment: expected image samples [C, H, W] (from the source, or data.shape such as [1, 28, 28]), found [36]"
      ),
      run.stderr)
    // The validation data is never augmented: the key is not one of its own.
    let validation = config(
      dir, name: "val",
      data:
        #""source": "synthetic", "samples": 40, "features": 36, "classes": 3, "shape": [1, 6, 6], "validation": { "source": "synthetic", "samples": 10, "features": 36, "classes": 3, "augment": { "shift": 1 } }"#
    )
    let refused = try nnbatch(["--config", validation, "--quiet"])
    XCTAssertEqual(refused.status, 2, refused.stderr)
    XCTAssertTrue(
      refused.stderr.contains(#"$.data.validation.augment: unknown key "augment""#), refused.stderr)
  }
}
