import Checkpoints
import Foundation
import TestSupport
import XCTest

/// A tiny CNN through the command line: train, resume, threads, predict, evaluate, inspect, h5dump, warm start.
final class CNNCLITests: XCTestCase {
  /// Writes 6×6 one-channel images (IDX) of a vertical (class 0) or horizontal (class 1) bar with noise.
  private func images(_ dir: TemporaryDirectory, count: Int) throws -> (images: String, labels: String) {
    var pixels: [UInt8] = []
    var labels: [UInt8] = []
    var state: UInt32 = 12345
    func next() -> UInt32 {
      state = state &* 1_103_515_245 &+ 12345
      return state >> 16
    }
    for i in 0..<count {
      let label = UInt8(i % 2)
      let at = Int(next() % 6)
      for y in 0..<6 {
        for x in 0..<6 {
          let on = label == 0 ? x == at : y == at
          pixels.append(on ? 200 + UInt8(next() % 56) : UInt8(next() % 40))
        }
      }
      labels.append(label)
    }
    func header(_ shape: [Int]) -> [UInt8] {
      [0, 0, 8, UInt8(shape.count)] + shape.flatMap { d in [24, 16, 8, 0].map { UInt8(d >> $0 & 255) } }
    }
    let imagePath = dir.file("images.idx")
    let labelPath = dir.file("labels.idx")
    try Data(header([count, 6, 6]) + pixels).write(to: URL(fileURLWithPath: imagePath))
    try Data(header([count]) + labels).write(to: URL(fileURLWithPath: labelPath))
    return (imagePath, labelPath)
  }

  private func config(_ dir: TemporaryDirectory, _ files: (images: String, labels: String), name: String)
    -> String
  {
    dir.write(
      "\(name).json",
      """
      { "name": "\(name)", "seed": 5,
        "data": { "source": "idx", "images": "\(files.images)", "labels": "\(files.labels)",
                  "validation_split": 0.25 },
        "model": { "layers": [
          { "type": "conv2d", "filters": 2, "kernel": 3, "padding": "same", "activation": "relu" },
          { "type": "max_pool2d", "size": 2 },
          { "type": "dropout", "rate": 0.25 },
          { "units": 2, "activation": "softmax" } ] },
        "loss": "cross_entropy", "optimizer": { "kind": "sgd", "learning_rate": 0.1, "momentum": 0.9 },
        "training": { "epochs": 4, "batch_size": 8, "shard_size": 4 },
        "checkpoint": { "dir": "\(dir.file(name))", "every_epochs": 1, "keep": 4 } }
      """)
  }

  private func parameters(_ path: String) throws -> [Float] {
    try Checkpoint.read(from: path).parameters
  }

  func testTrainResumeThreadsPredictEvaluateInspectAndWarmStart() throws {
    let dir = TemporaryDirectory()
    let files = try images(dir, count: 48)

    // Straight run at 1 thread, the same at 3 threads, and 2 epochs + a resume to 4.
    let straight = try nnbatch(["--config", config(dir, files, name: "a"), "--threads", "1", "--quiet"])
    XCTAssertEqual(straight.status, 0, straight.stderr)
    let threaded = try nnbatch(["--config", config(dir, files, name: "b"), "--threads", "3", "--quiet"])
    XCTAssertEqual(threaded.status, 0, threaded.stderr)
    let resumedConfig = config(dir, files, name: "c")
    let half = try nnbatch(["--config", resumedConfig, "--epochs", "2", "--threads", "2", "--quiet"])
    XCTAssertEqual(half.status, 0, half.stderr)
    let resumed = try nnbatch(["--config", resumedConfig, "--resume", "--threads", "2", "--quiet"])
    XCTAssertEqual(resumed.status, 0, resumed.stderr)
    let eight = try nnbatch(["--config", config(dir, files, name: "e"), "--threads", "8", "--quiet"])
    XCTAssertEqual(eight.status, 0, eight.stderr)
    // Checkpoints every 3 steps (5 per epoch): step 12 is inside epoch 3; resume from it.
    let midEpoch = try String(contentsOfFile: config(dir, files, name: "f"), encoding: .utf8)
      .replacingOccurrences(of: "\"every_epochs\": 1", with: "\"every_steps\": 3")
    let midConfig = dir.write("f.json", midEpoch)
    XCTAssertEqual(try nnbatch(["--config", midConfig, "--epochs", "3", "--quiet"]).status, 0)
    XCTAssertFalse(FileManager.default.fileExists(atPath: dir.file("f/step-000000020.h5")))
    let fromMiddle = try nnbatch([
      "--config", midConfig, "--resume", dir.file("f/step-000000012.h5"), "--quiet",
    ])
    XCTAssertEqual(fromMiddle.status, 0, fromMiddle.stderr)
    let final = "step-000000020.h5"
    let reference = try parameters(dir.file("a/\(final)"))
    XCTAssertEqual(try parameters(dir.file("b/\(final)")), reference, "--threads 3 differs from 1")
    XCTAssertEqual(try parameters(dir.file("e/\(final)")), reference, "--threads 8 differs from 1")
    XCTAssertEqual(try parameters(dir.file("c/\(final)")), reference, "2 epochs + resume differs")
    XCTAssertEqual(try parameters(dir.file("f/\(final)")), reference, "a resume from mid-epoch differs")
    let checkpoint = dir.file("a/\(final)")

    // h5dump prints the kernel as [filters, channels, kh, kw].
    let h5dump = try XCTUnwrap(tool("h5dump"))
    let kernel = try runProcess(h5dump, ["-d", "/model/layer_0/kernel", checkpoint])
    XCTAssertEqual(kernel.status, 0, kernel.stderr)
    XCTAssertTrue(kernel.stdout.contains("( 2, 1, 3, 3 )"), kernel.stdout)
    let dumped = h5dumpValues(kernel.stdout)
    XCTAssertEqual(dumped.count, 18)
    // h5dump prints 6 significant digits.
    for (value, expected) in zip(dumped, reference[0..<18]) {
      XCTAssertEqual(value, Double(expected), accuracy: 1e-5)
    }

    let inspect = try nnbatch(["inspect", checkpoint])
    XCTAssertEqual(inspect.status, 0, inspect.stderr)
    for fragment in [
      "input [1, 6, 6]", "layer_0  conv2d      [2, 6, 6]", "3×3×1 → 2 same  relu",
      "layer_1  max_pool2d  [2, 3, 3]",
      "layer_3  flatten     [18]", "layer_4  dense       [2]", " 58  all trainable",
    ] {
      XCTAssertTrue(inspect.stdout.contains(fragment), "inspect lacks \(fragment):\n\(inspect.stdout)")
    }
    let json = try nnbatch(["inspect", checkpoint, "--json"])
    let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
    let layers = try XCTUnwrap(object["layers"] as? [[String: Any]])
    XCTAssertEqual(
      layers.map { $0["kind"] as? String }, ["conv2d", "max_pool2d", "dropout", "flatten", "dense"])
    XCTAssertEqual(layers.map { $0["parameters"] as? Int }, [20, 0, 0, 0, 38])
    XCTAssertEqual(layers[0]["output_shape"] as? [Int], [2, 6, 6])
    XCTAssertEqual(object["parameters"] as? Int, 58)

    // predict reads the images file; evaluate the held-out samples.
    let predict = try nnbatch(["predict", "--checkpoint", checkpoint, "--input", files.images])
    XCTAssertEqual(predict.status, 0, predict.stderr)
    XCTAssertEqual(predict.stdout.split(separator: "\n").count, 1 + 48, predict.stdout)
    // As many pixels in another shape (4×9 instead of 6×6) are refused, not misread.
    let reshaped = dir.file("reshaped.idx")
    let original = try Data(contentsOf: URL(fileURLWithPath: files.images))
    var bytes = [UInt8](original)
    bytes.replaceSubrange(8..<16, with: [0, 0, 0, 4, 0, 0, 0, 9])
    try Data(bytes).write(to: URL(fileURLWithPath: reshaped))
    let wrongShape = try nnbatch(["predict", "--checkpoint", checkpoint, "--input", reshaped])
    XCTAssertEqual(wrongShape.status, 2, wrongShape.stderr)
    XCTAssertTrue(
      wrongShape.stderr.contains("expected samples of shape [1, 6, 6] (the model's input), found [1, 4, 9]"),
      wrongShape.stderr)
    let evaluate = try nnbatch(["evaluate", "--checkpoint", checkpoint])
    XCTAssertEqual(evaluate.status, 0, evaluate.stderr)
    XCTAssertTrue(evaluate.stdout.contains("12 samples"), evaluate.stdout)
    XCTAssertTrue(evaluate.stdout.contains("accuracy"), evaluate.stdout)

    // A resume with other layer settings is refused in config terms; the paths are the config's
    // even after the implied flatten (built layer 4 is $.model.layers[3]).
    let changed = try String(contentsOfFile: config(dir, files, name: "a"), encoding: .utf8)
      .replacingOccurrences(of: "\"filters\": 2", with: "\"filters\": 3")
      .replacingOccurrences(
        of: "{ \"units\": 2, \"activation\": \"softmax\" }",
        with: "{ \"units\": 3, \"activation\": \"softmax\" }")
    let refused = try nnbatch(["--config", dir.write("changed.json", changed), "--resume", "--epochs", "5"])
    XCTAssertEqual(refused.status, 2, refused.stderr)
    for line in [
      "$.model.layers[0].filters: checkpoint has 2, config has 3",
      "$.model.layers[3].units: checkpoint has 2, config has 3",
    ] {
      XCTAssertTrue(refused.stderr.contains(line), "lacks \(line):\n\(refused.stderr)")
    }

    // A warm start copies the kernel and trains on.
    let warm = try nnbatch([
      "--config", config(dir, files, name: "d"), "--init-from", checkpoint, "--epochs", "1", "--quiet",
    ])
    XCTAssertEqual(warm.status, 0, warm.stderr)
  }

  /// conv → global pooling → dense: trains, bit-identical at 1 and 3 threads, and `inspect` shows the pooling.
  func testGlobalPoolingTrainsTheSameAtOneAndThreeThreadsAndInspectShowsIt() throws {
    let dir = TemporaryDirectory()
    let files = try images(dir, count: 48)
    for pool in ["global_avg_pool2d", "global_max_pool2d"] {
      func config(_ name: String) -> String {
        dir.write(
          "\(name).json",
          """
          { "name": "\(name)", "seed": 5,
            "data": { "source": "idx", "images": "\(files.images)", "labels": "\(files.labels)",
                      "validation_split": 0.25 },
            "model": { "layers": [
              { "type": "conv2d", "filters": 3, "kernel": 3, "padding": "same", "activation": "relu" },
              { "type": "\(pool)" },
              { "units": 2, "activation": "softmax" } ] },
            "loss": "cross_entropy", "optimizer": { "kind": "adam", "learning_rate": 0.05 },
            "training": { "epochs": 4, "batch_size": 8, "shard_size": 3 },
            "checkpoint": { "dir": "\(dir.file(name))", "every_epochs": 4, "keep": 1 } }
          """)
      }
      let one = try nnbatch(["--config", config("\(pool)-1"), "--threads", "1"])
      XCTAssertEqual(one.status, 0, one.stderr)
      // It learns: the validation loss falls from the first epoch to the last.
      let losses = one.stdout.split(separator: "\n").filter { $0.hasPrefix("epoch ") }.compactMap { line in
        line.split(separator: " ").drop { $0 != "val_loss" }.dropFirst().first.flatMap { Double($0) }
      }
      XCTAssertEqual(losses.count, 4, one.stdout)
      XCTAssertLessThan(
        losses.last ?? .nan, (losses.first ?? .nan) - 0.05, "\(pool) does not learn:\n\(one.stdout)")
      let three = try nnbatch(["--config", config("\(pool)-3"), "--threads", "3", "--quiet"])
      XCTAssertEqual(three.status, 0, three.stderr)
      let final = "step-000000020.h5"
      let reference = try parameters(dir.file("\(pool)-1/\(final)"))
      XCTAssertEqual(reference.count, 3 * 9 + 3 + 3 * 2 + 2, "conv 30 + dense 8: no flatten, no other tensor")
      XCTAssertEqual(
        try parameters(dir.file("\(pool)-3/\(final)")), reference, "\(pool): --threads 3 differs from 1")

      let checkpoint = dir.file("\(pool)-1/\(final)")
      let inspect = try nnbatch(["inspect", checkpoint])
      XCTAssertEqual(inspect.status, 0, inspect.stderr)
      let lines = inspect.stdout.split(separator: "\n").map(String.init)
      let layer1 = try XCTUnwrap(lines.first { $0.contains("layer_1") }, inspect.stdout)
      XCTAssertTrue(layer1.contains("\(pool)  [3]"), layer1)
      XCTAssertFalse(inspect.stdout.contains("flatten"), inspect.stdout)
      XCTAssertTrue(inspect.stdout.contains("conv2d/dense/\(pool) layers"), inspect.stdout)
      let json = try nnbatch(["inspect", checkpoint, "--json"])
      let object = try XCTUnwrap(
        JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
      let layers = try XCTUnwrap(object["layers"] as? [[String: Any]])
      XCTAssertEqual(layers.map { $0["kind"] as? String }, ["conv2d", pool, "dense"])
      XCTAssertEqual(layers[1]["output_shape"] as? [Int], [3])
      XCTAssertEqual(layers.map { $0["parameters"] as? Int }, [30, 0, 8])

      // predict and evaluate run the pooled model on the images.
      let predict = try nnbatch(["predict", "--checkpoint", checkpoint, "--input", files.images])
      XCTAssertEqual(predict.status, 0, predict.stderr)
      XCTAssertEqual(predict.stdout.split(separator: "\n").count, 1 + 48, predict.stdout)
      let evaluate = try nnbatch(["evaluate", "--checkpoint", checkpoint])
      XCTAssertEqual(evaluate.status, 0, evaluate.stderr)
    }
  }

  func testShapeErrorsStopBeforeTrainingWithExitCode2() throws {
    let dir = TemporaryDirectory()
    let files = try images(dir, count: 8)
    let path = dir.write(
      "bad.json",
      """
      { "data": { "source": "idx", "images": "\(files.images)", "labels": "\(files.labels)" },
        "model": { "layers": [ { "type": "conv2d", "filters": 2, "kernel": 7 },
                               { "units": 2, "activation": "softmax" } ] },
        "loss": "cross_entropy", "optimizer": { "kind": "sgd" },
        "checkpoint": { "dir": "\(dir.file("bad"))" } }
      """)
    let result = try nnbatch(["--config", path])
    XCTAssertEqual(result.status, 2, result.stderr)
    XCTAssertEqual(
      result.stderr.trimmingCharacters(in: .whitespacesAndNewlines),
      "error: \(path): $.model.layers[0]: conv2d layer cannot take input of shape [1, 6, 6]: expected a kernel no larger than the input's 6×6 (valid padding), found 7×7"
    )
    XCTAssertFalse(FileManager.default.fileExists(atPath: dir.file("bad")))
  }
}

/// `tools/make-example-data`'s digit images: deterministic, IDX, read as [1, 16, 16] samples.
final class ExampleImagesTests: XCTestCase {
  func testDigitImagesAreDeterministicAndReadAsOneChannelImages() throws {
    let python = try XCTUnwrap(tool("python3"), "python3 is needed by tools/make-example-data")
    let dir = TemporaryDirectory()
    var contents: [[Data]] = []
    for run in ["a", "b"] {
      let result = try runProcess(
        python,
        [
          "\(repositoryRoot)/tools/make-example-data", "--only-digits", "--train", "40", "--test", "10",
          "--out", dir.file(run),
        ])
      XCTAssertEqual(result.status, 0, result.stderr)
      contents.append(
        try ["train-images", "train-labels", "test-images", "test-labels"].map {
          try Data(contentsOf: URL(fileURLWithPath: dir.file("\(run)/digits-\($0).idx.gz")))
        })
    }
    XCTAssertEqual(contents[0], contents[1], "the same seed gives the same bytes")
    let config = dir.write(
      "d.json",
      """
      { "data": { "source": "idx", "images": "\(dir.file("a/digits-train-images.idx.gz"))",
                  "labels": "\(dir.file("a/digits-train-labels.idx.gz"))" },
        "model": { "layers": [ { "type": "conv2d", "filters": 2, "kernel": 3 }, { "type": "max_pool2d", "size": 2 },
                               { "units": 10, "activation": "softmax" } ] },
        "loss": "cross_entropy", "optimizer": { "kind": "sgd" },
        "training": { "epochs": 1, "batch_size": 20 }, "checkpoint": { "dir": "\(dir.file("ck"))" } }
      """)
    let train = try nnbatch(["--config", config, "--quiet"])
    XCTAssertEqual(train.status, 0, train.stderr)
    let summary = try nnbatch(["inspect", dir.file("ck/step-000000002.h5"), "--json"])
    let object = try XCTUnwrap(
      JSONSerialization.jsonObject(with: Data(summary.stdout.utf8)) as? [String: Any])
    XCTAssertEqual(object["input_shape"] as? [Int], [1, 16, 16])
  }
}
