import Checkpoints
import Foundation
import TestSupport
import XCTest

/// Image folders through the command line: training (threads, streaming), predict, evaluate, bad files.
final class ImageFolderCLITests: XCTestCase {
  /// Class names: upper case sorts first by code point, so "Vertical" is class 0.
  private let classes = ["horizontal", "Vertical"]

  /// Writes `perClass` 6×6 grey PNGs per class into `folder`/<class>/: a bright bar (vertical or horizontal) on noise.
  private func images(_ folder: String, perClass: Int, seed: UInt32) throws {
    var state = seed
    func next() -> UInt32 {
      state = state &* 1_103_515_245 &+ 12345
      return state >> 16
    }
    for name in classes {
      try FileManager.default.createDirectory(atPath: "\(folder)/\(name)", withIntermediateDirectories: true)
      for i in 0..<perClass {
        let at = Int(next() % 6)
        var pixels: [UInt8] = []
        for y in 0..<6 {
          for x in 0..<6 {
            let on = name == "Vertical" ? x == at : y == at
            pixels.append(on ? 200 + UInt8(next() % 56) : UInt8(next() % 40))
          }
        }
        try Data(pngBytes(width: 6, height: 6, channels: 1, pixels: pixels))
          .write(to: URL(fileURLWithPath: "\(folder)/\(name)/\(String(format: "%03d", i)).png"))
      }
    }
  }

  private func config(
    _ dir: TemporaryDirectory, name: String, data extra: String = "", channels: Int = 1, size: Int = 6,
    epochs: Int = 6
  ) -> String {
    dir.write(
      "\(name).json",
      """
      { "name": "\(name)", "seed": 5,
        "data": { "source": "images", "path": "\(dir.file("train"))", "image_size": [\(size), \(size)],
                  "channels": \(channels)\(extra),
                  "validation": { "source": "images", "path": "\(dir.file("test"))",
                                  "image_size": [\(size), \(size)], "channels": \(channels) } },
        "model": { "layers": [
          { "type": "conv2d", "filters": 2, "kernel": 3, "padding": "same", "activation": "relu" },
          { "type": "max_pool2d", "size": 2 },
          { "units": 2, "activation": "softmax" } ] },
        "loss": "cross_entropy", "optimizer": { "kind": "adam", "learning_rate": 0.05 },
        "training": { "epochs": \(epochs), "batch_size": 8, "shard_size": 4 },
        "checkpoint": { "dir": "\(dir.file(name))", "every_epochs": \(epochs), "keep": 1 } }
      """)
  }

  private func parameters(_ path: String) throws -> [Float] {
    try Checkpoint.read(from: path).parameters
  }

  func testTrainingFromAFolderIsTheSameForAnyThreadCountAndPredictsAndEvaluates() throws {
    let dir = TemporaryDirectory()
    try images(dir.file("train"), perClass: 24, seed: 1)
    try images(dir.file("test"), perClass: 8, seed: 2)

    // In memory and streamed (decoded in the prefetch ring), each at 1 and 3 threads.
    let stream = #", "stream": true, "stream_block_rows": 5, "stream_window": 2"#
    for (name, extra) in [("memory", ""), ("stream", stream)] {
      for threads in ["1", "3"] {
        let run = try nnbatch([
          "--config", config(dir, name: "\(name)\(threads)", data: extra), "--threads", threads, "--quiet",
        ])
        XCTAssertEqual(run.status, 0, run.stderr)
      }
      let final = "step-000000036.h5"
      XCTAssertEqual(
        try parameters(dir.file("\(name)3/\(final)")), try parameters(dir.file("\(name)1/\(final)")),
        "\(name): --threads 3 differs from --threads 1")
    }
    // Interrupted after 3 epochs and resumed: the same bits as the straight run.
    let resumedConfig = config(dir, name: "resumed")
    XCTAssertEqual(try nnbatch(["--config", resumedConfig, "--epochs", "3", "--quiet"]).status, 0)
    let resumed = try nnbatch(["--config", resumedConfig, "--resume", "--quiet"])
    XCTAssertEqual(resumed.status, 0, resumed.stderr)
    XCTAssertEqual(
      try parameters(dir.file("resumed/step-000000036.h5")),
      try parameters(dir.file("memory1/step-000000036.h5")),
      "3 epochs + resume differs")
    let checkpoint = dir.file("memory1/step-000000036.h5")
    let inspect = try nnbatch(["inspect", checkpoint])
    XCTAssertTrue(inspect.stdout.contains("input [1, 6, 6]"), inspect.stdout)

    // One file: its path, its label and one probability per class, named by the class folders.
    let file = dir.file("test/Vertical/003.png")
    let one = try nnbatch(["predict", "--checkpoint", checkpoint, "--input", file])
    XCTAssertEqual(one.status, 0, one.stderr)
    let lines = one.stdout.split(separator: "\n").map(String.init)
    XCTAssertEqual(lines.first, "path,label,p_Vertical,p_horizontal")
    XCTAssertEqual(lines.count, 2, one.stdout)
    XCTAssertTrue(lines[1].hasPrefix("\(file),Vertical,"), one.stdout)

    // A folder: every image in it and its sub-folders, in code-point order.
    let all = try nnbatch(["predict", "--checkpoint", checkpoint, "--input", dir.file("test")])
    XCTAssertEqual(all.status, 0, all.stderr)
    let rows = all.stdout.split(separator: "\n").dropFirst().map { $0.split(separator: ",").map(String.init) }
    XCTAssertEqual(rows.count, 16)
    XCTAssertEqual(rows.first?.first, dir.file("test/Vertical/000.png"))
    XCTAssertEqual(rows.last?.first, dir.file("test/horizontal/007.png"))
    let right = rows.filter { $0[0].contains("/\($0[1])/") }.count
    XCTAssertGreaterThanOrEqual(right, 14, "bars are easy: \(all.stdout)")

    // evaluate reads a labelled folder (--input is another name for --data).
    let evaluated = try nnbatch(["evaluate", "--checkpoint", checkpoint, "--input", dir.file("test")])
    XCTAssertEqual(evaluated.status, 0, evaluated.stderr)
    XCTAssertTrue(evaluated.stdout.contains("on \(dir.file("test")): 16 samples"), evaluated.stdout)
    XCTAssertTrue(
      evaluated.stdout.contains("accuracy   \(String(format: "%.4f", Double(right) / 16)) (\(right)/16)"),
      evaluated.stdout)
    // A folder with fewer classes keeps the model's class numbers (here "horizontal" stays class 1).
    try FileManager.default.createDirectory(atPath: dir.file("partial"), withIntermediateDirectories: true)
    try FileManager.default.copyItem(
      atPath: dir.file("test/horizontal"), toPath: dir.file("partial/horizontal"))
    let horizontal = rows.filter { $0[0].contains("/horizontal/") }
    let partial = try nnbatch(["evaluate", "--checkpoint", checkpoint, "--input", dir.file("partial")])
    XCTAssertEqual(partial.status, 0, partial.stderr)
    let correct = horizontal.filter { $0[1] == "horizontal" }.count
    XCTAssertTrue(partial.stdout.contains("(\(correct)/8)"), partial.stdout)
    // A single file has no label to evaluate against.
    let single = try nnbatch(["evaluate", "--checkpoint", checkpoint, "--data", file])
    XCTAssertEqual(single.status, 2)
    XCTAssertTrue(single.stderr.contains("give a folder with one sub-folder per class"), single.stderr)
  }

  func testRGBAndResize() throws {
    let dir = TemporaryDirectory()
    try images(dir.file("train"), perClass: 6, seed: 3)
    try images(dir.file("test"), perClass: 2, seed: 4)
    let run = try nnbatch(["--config", config(dir, name: "rgb", channels: 3, size: 4, epochs: 1), "--quiet"])
    XCTAssertEqual(run.status, 0, run.stderr)
    let checkpoint = dir.file("rgb/step-000000002.h5")
    XCTAssertTrue(try nnbatch(["inspect", checkpoint]).stdout.contains("input [3, 4, 4]"))
    // An image of another size is resized to the training size; a JPEG reads as well as a PNG.
    let jpeg = "\(repositoryRoot)/Tests/Fixtures/images/rgb.jpg"
    let predicted = try nnbatch(["predict", "--checkpoint", checkpoint, "--input", jpeg])
    XCTAssertEqual(predicted.status, 0, predicted.stderr)
    XCTAssertTrue(
      predicted.stdout.hasPrefix("path,label,p_Vertical,p_horizontal\n\(jpeg),"), predicted.stdout)
  }

  func testBadFilesStopTheRunNamingTheFileUnlessSkipped() throws {
    let dir = TemporaryDirectory()
    try images(dir.file("train"), perClass: 8, seed: 5)
    try images(dir.file("test"), perClass: 2, seed: 6)
    let fixtures = "\(repositoryRoot)/Tests/Fixtures/images"
    let jpeg = [UInt8](try Data(contentsOf: URL(fileURLWithPath: "\(fixtures)/rgb.jpg")))
    let png = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir.file("train/Vertical/000.png"))))
    let bad: [(String, [UInt8], String)] = [
      ("train/Vertical/cut.png", Array(png.prefix(png.count - 20)), "not a readable PNG image"),
      ("train/Vertical/notes.txt", Array("not an image\n".utf8), "expected a PNG or JPEG image"),
      ("train/horizontal/cut.jpg", Array(jpeg.prefix(300)), "not a readable JPEG image"),
      (
        "train/horizontal/x.gif", Array("GIF89a\u{1}\u{0}\u{1}\u{0}".utf8),
        "expected a PNG or JPEG image, found GIF"
      ),
    ]
    for (name, bytes, fragment) in bad {
      let path = dir.file(name)
      try Data(bytes).write(to: URL(fileURLWithPath: path))
      for extra in ["", #", "stream": true"#] {
        let run = try nnbatch(["--config", config(dir, name: "bad", data: extra, epochs: 1), "--quiet"])
        XCTAssertEqual(run.status, 2, "\(name) \(extra): \(run.stderr)")
        XCTAssertTrue(run.stderr.contains("\(path): \(fragment)"), "\(name) \(extra): \(run.stderr)")
        XCTAssertFalse(
          FileManager.default.fileExists(atPath: dir.file("bad")), "no checkpoint from a bad run")
      }
      try FileManager.default.removeItem(atPath: path)
    }
    for (name, bytes, _) in bad { try Data(bytes).write(to: URL(fileURLWithPath: dir.file(name))) }
    for (run, extra) in [
      ("skip", #", "skip_bad_files": true"#), ("skipstream", #", "skip_bad_files": true, "stream": true"#),
    ] {
      let result = try nnbatch(["--config", config(dir, name: run, data: extra, epochs: 1)])
      XCTAssertEqual(result.status, 0, result.stderr)
      for (name, _, fragment) in bad {
        XCTAssertTrue(
          result.stderr.contains("warning: \(dir.file(name)): \(fragment)"), "\(run): \(result.stderr)")
      }
      XCTAssertTrue(
        result.stderr.contains(
          "warning: \(dir.file("train")): skipped 4 of 20 files that are not readable images (data.skip_bad_files)"
        ),
        result.stderr)
      XCTAssertEqual(
        result.stderr.components(separatedBy: "skipped (data.skip_bad_files)").count, 5, result.stderr)
      XCTAssertTrue(result.stdout.contains("16 samples"), result.stdout)
    }
  }

  func testConfigErrorsNameTheKey() throws {
    let dir = TemporaryDirectory()
    let bad = dir.write(
      "bad.json",
      """
      { "data": { "source": "images", "path": "\(dir.file("none"))", "channels": 2 },
        "model": { "layers": [ { "units": 2, "activation": "softmax" } ] },
        "loss": "cross_entropy", "optimizer": { "kind": "sgd", "learning_rate": 0.1 } }
      """)
    let run = try nnbatch(["--config", bad])
    XCTAssertEqual(run.status, 2)
    XCTAssertTrue(run.stderr.contains("$.data.channels: expected 1 (grey) or 3 (RGB), found 2"), run.stderr)
    XCTAssertTrue(run.stderr.contains("$.data.image_size"), run.stderr)
    let missing = dir.write(
      "missing.json",
      """
      { "data": { "source": "images", "path": "\(dir.file("none"))", "image_size": [4, 4] },
        "model": { "layers": [ { "units": 2, "activation": "softmax" } ] },
        "loss": "cross_entropy", "optimizer": { "kind": "sgd", "learning_rate": 0.1 } }
      """)
    let absent = try nnbatch(["--config", missing])
    XCTAssertEqual(absent.status, 2)
    XCTAssertTrue(absent.stderr.contains("\(dir.file("none")): no such folder"), absent.stderr)
  }
}
