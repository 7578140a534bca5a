import Checkpoints
import Foundation
import HDF5Store
import NNBatch
import NNBatchCore
import NeuralNet
import TestSupport
import XCTest

/// The training loop in-process: resume, schedules, early stopping, best checkpoints, failures.
final class TrainerTests: XCTestCase {
  /// A small two-class problem: label = x0 + x1 > 1 (separable).
  static func separableConfig(
    _ dir: TemporaryDirectory, extra: String = "", epochs: Int = 6, optimizer: String? = nil
  ) -> String {
    var g = SeededGenerator(seed: 99)
    var inputs: [String] = []
    var targets: [String] = []
    while inputs.count < 96 {
      let a = g.nextFloat()
      let b = g.nextFloat()
      if abs(a + b - 1) < 0.1 { continue }  // a margin keeps the classes separable
      inputs.append("[\(a), \(b)]")
      targets.append(a + b > 1 ? "[1]" : "[0]")
    }
    let text = """
      { "name": "sep", "seed": 5,
        "data": { "source": "inline", "inputs": [\(inputs.joined(separator: ","))],
                  "targets": [\(targets.joined(separator: ","))], "validation_split": 0.25, "task": "classification" },
        "model": { "layers": [ { "units": 16, "activation": "tanh" }, { "units": 2, "activation": "softmax" } ] },
        "loss": "cross_entropy",
        "optimizer": \(optimizer ?? "{ \"kind\": \"adam\", \"learning_rate\": 0.05, \"schedule\": { \"kind\": \"step\", \"every_epochs\": 2, \"factor\": 0.5, \"warmup_steps\": 3 } }"),
        "training": { "epochs": \(epochs), "batch_size": 16, "shard_size": 8 \(extra) },
        "checkpoint": { "dir": "\(dir.file("ck"))", "every_steps": 5, "keep": 100 } }
      """
    return dir.write("sep.json", text)
  }

  private func train(
    _ path: String, threads: Int = 2, start: StartPoint = .fresh, epochs: Int? = nil, dir: String? = nil
  ) throws -> Int32 {
    var options = TrainOptions(configPath: path, threads: threads)
    options.quiet = true
    options.start = start
    options.epochs = epochs
    options.checkpointDir = dir
    return try Trainer(options: options, signals: nil).run()
  }

  private func newest(_ dir: String) throws -> Checkpoint {
    try XCTUnwrap(try CheckpointStore(directory: dir).newestValid()).checkpoint
  }

  /// Everything that must match bit for bit between two runs.
  static func assertSameRun(
    _ a: Checkpoint, _ b: Checkpoint, file: StaticString = #filePath, line: UInt = #line
  ) {
    XCTAssertEqual(a.bitwiseDifferences(from: b), [], file: file, line: line)
  }

  func testResumeIsBitIdenticalToAnUninterruptedRun() throws {
    let dir = TemporaryDirectory()
    let config = Self.separableConfig(dir)
    XCTAssertEqual(try train(config, dir: dir.file("straight")), 0)
    let straight = try newest(dir.file("straight"))
    XCTAssertEqual(straight.counters.epoch, 6)
    // Half the epochs, then resume to the end; and resume from a mid-epoch step file.
    XCTAssertEqual(try train(config, epochs: 3, dir: dir.file("halves")), 0)
    XCTAssertEqual(try train(config, start: .resumeLatest, dir: dir.file("halves")), 0)
    Self.assertSameRun(straight, try newest(dir.file("halves")))
    XCTAssertEqual(
      try train(
        config, threads: 3, start: .resume(dir.file("straight/step-000000015.h5")), dir: dir.file("fromfile")),
      0)
    Self.assertSameRun(straight, try newest(dir.file("fromfile")))
  }

  func testResumeMidEpochWithShuffle() throws {
    let dir = TemporaryDirectory()
    // every_steps 5 with 5 batches per epoch lands on boundaries; use 7 to land mid-epoch.
    let config = Self.separableConfig(dir).replacingOccurrences(of: "", with: "")
    let text = try String(contentsOfFile: config, encoding: .utf8).replacingOccurrences(
      of: "\"every_steps\": 5", with: "\"every_steps\": 7")
    let path = dir.write("sep7.json", text)
    XCTAssertEqual(try train(path, dir: dir.file("a")), 0)
    let straight = try newest(dir.file("a"))
    let mid = try Checkpoint.read(from: dir.file("a/step-000000014.h5"))
    XCTAssertNotEqual(mid.counters.batchInEpoch, 0, "step 14 is inside an epoch")
    XCTAssertEqual(try train(path, start: .resume(dir.file("a/step-000000014.h5")), dir: dir.file("b")), 0)
    Self.assertSameRun(straight, try newest(dir.file("b")))
  }

  func testScheduleLearningRateAfterResumeFollowsTheFormula() throws {
    // Cosine decay with warm-up over the whole run; resumed from step 15 of 30.
    let dir = TemporaryDirectory()
    let config = Self.separableConfig(
      dir,
      optimizer:
        "{ \"kind\": \"adam\", \"learning_rate\": 0.05, \"schedule\": { \"kind\": \"cosine\", \"warmup_steps\": 3, \"floor\": 0.001 } }"
    )
    XCTAssertEqual(try train(config, dir: dir.file("full")), 0)
    XCTAssertEqual(
      try train(config, start: .resume(dir.file("full/step-000000015.h5")), dir: dir.file("r")), 0)
    let full = try newest(dir.file("full"))
    let resumed = try newest(dir.file("r"))
    Self.assertSameRun(full, resumed)
    let rates = try XCTUnwrap(resumed.epochHistory.series["learning_rate"])
    XCTAssertEqual(rates.count, 6)
    let schedule = LearningRateSchedule(kind: .cosine, warmupSteps: 3, floor: 0.001, totalSteps: 30)
    for (epoch, rate) in rates.enumerated() {
      // The rate of the last step of each epoch (72 samples / 16 = 5 steps per epoch).
      let lastStep = (epoch + 1) * 5 - 1
      XCTAssertEqual(
        rate, schedule.learningRate(base: 0.05, step: lastStep, epoch: epoch), accuracy: 1e-12,
        "epoch \(epoch + 1)")
    }
  }

  func testValidationAccuracyReachesOneHundredPercent() throws {
    let dir = TemporaryDirectory()
    let config = Self.separableConfig(
      dir, epochs: 60, optimizer: "{ \"kind\": \"adam\", \"learning_rate\": 0.03 }")
    XCTAssertEqual(try train(config, dir: dir.file("v")), 0)
    let c = try newest(dir.file("v"))
    XCTAssertEqual(c.epochHistory.validationAccuracy.last, 1.0)
    XCTAssertLessThan(
      try XCTUnwrap(c.epochHistory.validationLoss.last), try XCTUnwrap(c.epochHistory.validationLoss.first))
  }

  func testEarlyStoppingStopsAtTheExpectedEpochAndKeepBestKeepsTheBest() throws {
    // A learning rate of zero never improves val_loss after epoch 1: with
    // patience 2 the run must stop after epoch 3, and best.h5 is epoch 1's.
    let dir = TemporaryDirectory()
    let path = Self.separableConfig(
      dir, extra: ", \"early_stopping\": { \"monitor\": \"val_loss\", \"patience\": 2 }", epochs: 20,
      optimizer: "{ \"kind\": \"sgd\", \"learning_rate\": 1e-30 }")
    let text = try String(contentsOfFile: path, encoding: .utf8)
      .replacingOccurrences(of: "\"keep\": 100", with: "\"keep\": 100, \"keep_best\": true")
    let config = dir.write("es.json", text)
    XCTAssertEqual(try train(config, dir: dir.file("es")), 0)
    let c = try newest(dir.file("es"))
    XCTAssertEqual(c.counters.epoch, 3)
    let best = try Checkpoint.read(from: dir.file("es/best.h5"))
    XCTAssertEqual(best.counters.epoch, 1)
    XCTAssertEqual(c.counters.best?.epoch, 1)
    XCTAssertEqual(c.counters.best?.staleEpochs, 2)

    // A real run: best.h5 holds the epoch with the lowest val_loss.
    let real = Self.separableConfig(dir, epochs: 8)
    let text2 = try String(contentsOfFile: real, encoding: .utf8)
      .replacingOccurrences(of: "\"keep\": 100", with: "\"keep\": 100, \"keep_best\": true")
    XCTAssertEqual(try train(dir.write("kb.json", text2), dir: dir.file("kb")), 0)
    let last = try newest(dir.file("kb"))
    let losses = last.epochHistory.validationLoss
    let bestEpoch = losses.indices.min { losses[$0] < losses[$1] }! + 1
    XCTAssertEqual(try Checkpoint.read(from: dir.file("kb/best.h5")).counters.epoch, bestEpoch)
  }

  func testDivergenceStopsWithExitOneAndKeepsTheLastGoodCheckpoint() throws {
    let dir = TemporaryDirectory()
    let inputs = (0..<32).map { "[\(Double($0) / 8), \(Double($0 % 5))]" }.joined(separator: ",")
    let targets = (0..<32).map { "[\(Double($0) * 3)]" }.joined(separator: ",")
    func config(_ rate: String, _ epochs: Int) -> String {
      dir.write(
        "r\(rate).json",
        """
        { "name": "reg", "data": { "source": "inline", "inputs": [\(inputs)], "targets": [\(targets)] },
          "model": { "layers": [ { "units": 8, "activation": "relu" }, { "units": 1, "activation": "linear" } ] },
          "loss": "mse", "optimizer": { "kind": "sgd", "learning_rate": \(rate) },
          "training": { "epochs": \(epochs), "batch_size": 8 },
          "checkpoint": { "dir": "\(dir.file("d"))", "every_steps": 1, "keep": 3 } }
        """)
    }
    XCTAssertEqual(try train(config("0.001", 2)), 0)
    let good = try CheckpointStore(directory: dir.file("d")).checkpointFiles().map(\.path)
    XCTAssertEqual(good.count, 3)
    // A learning rate of 1e6 from the same start must diverge within a few steps.
    XCTAssertThrowsError(try train(config("1e6", 50), dir: dir.file("d2"))) { error in
      let e = error as? NNBatchError
      XCTAssertEqual(e?.kind, .failure)
      XCTAssertTrue("\(error)".contains("training diverged at step"), "\(error)")
      XCTAssertTrue("\(error)".contains("smaller learning rate (now 1000000.0)"), "\(error)")
    }
    // Every checkpoint written before the divergence is finite and loads.
    for file in try CheckpointStore(directory: dir.file("d2")).checkpointFiles().map(\.path) {
      let c = try Checkpoint.read(from: file)
      XCTAssertTrue(c.parameters.allSatisfy(\.isFinite), file)
      XCTAssertTrue(c.lossHistory.allSatisfy(\.isFinite), file)
    }
    // Resuming the good run with lr 1e6 diverges too, and leaves its checkpoints loadable.
    XCTAssertThrowsError(try train(config("1e6", 50), dir: dir.file("d")))
    for file in try CheckpointStore(directory: dir.file("d")).checkpointFiles().map(\.path) {
      XCTAssertTrue(try Checkpoint.read(from: file).parameters.allSatisfy(\.isFinite))
    }
  }

  func testResumeRefusesADifferentModelAndNamesTheField() throws {
    let dir = TemporaryDirectory()
    let config = Self.separableConfig(dir, epochs: 1)
    XCTAssertEqual(try train(config, dir: dir.file("m")), 0)
    let text = try String(contentsOfFile: config, encoding: .utf8)
    let changed = dir.write("m2.json", text.replacingOccurrences(of: "\"units\": 16", with: "\"units\": 8"))
    XCTAssertThrowsError(try train(changed, start: .resumeLatest, dir: dir.file("m"))) { error in
      let file = dir.file("m/step-000000005.h5")
      XCTAssertEqual(
        (error as? NNBatchError)?.lines,
        ["cannot resume from \(file): $.model.layers[0].units: checkpoint has 16, config has 8"])
    }
    // More epochs and other checkpoint settings are fine.
    XCTAssertEqual(try train(config, start: .resumeLatest, epochs: 2, dir: dir.file("m")), 0)
    XCTAssertEqual(try newest(dir.file("m")).counters.epoch, 2)
  }

  func testResumeRefusesDataFilesThatChangedBehindAnUnchangedConfig() throws {
    let dir = TemporaryDirectory()
    var g = SeededGenerator(seed: 3)
    var rows = ["a,b,label"]
    for _ in 0..<40 {
      let (a, b) = (g.nextFloat(), g.nextFloat())
      rows.append("\(a),\(b),\(a + b > 1 ? "yes" : "no")")
    }
    let csv = dir.write("d.csv", rows.joined(separator: "\n") + "\n")
    let config = dir.write(
      "d.json",
      """
      { "data": { "source": "csv", "path": "\(csv)", "targets": "label" },
        "model": { "layers": [ { "units": 2, "activation": "softmax" } ] },
        "loss": "cross_entropy", "optimizer": { "kind": "sgd", "learning_rate": 0.1 },
        "training": { "epochs": 1, "batch_size": 8 } }
      """)
    XCTAssertEqual(try train(config, dir: dir.file("ck")), 0)
    // The same samples resume; one changed value in the file does not.
    XCTAssertEqual(try train(config, start: .resumeLatest, epochs: 2, dir: dir.file("ck")), 0)
    rows[7] = "0.5,0.25,no"
    dir.write("d.csv", rows.joined(separator: "\n") + "\n")
    XCTAssertThrowsError(try train(config, start: .resumeLatest, epochs: 3, dir: dir.file("ck"))) { error in
      let lines = (error as? NNBatchError)?.lines ?? []
      XCTAssertEqual(lines.count, 1, "\(lines)")
      XCTAssertTrue(
        lines.first?.contains("$.data: the samples differ from the ones the checkpoint was trained on")
          ?? false,
        "\(lines)")
    }
    // Labels that are no longer the same classes are named as such.
    dir.write("d.csv", rows.joined(separator: "\n").replacingOccurrences(of: ",yes", with: ",oui") + "\n")
    XCTAssertThrowsError(try train(config, start: .resumeLatest, epochs: 3, dir: dir.file("ck"))) { error in
      let lines = (error as? NNBatchError)?.lines ?? []
      XCTAssertTrue(
        lines.contains {
          $0.contains("$.data (class labels): checkpoint has [\"no\",\"yes\"], config has [\"no\",\"oui\"]")
        },
        "\(lines)")
    }
  }

  func testAResumedRunScalesWithTheStatisticsItsCheckpointHolds() throws {
    let dir = TemporaryDirectory()
    let config = Self.separableConfig(dir, extra: "", epochs: 1)
    let scaled = dir.write(
      "s.json",
      try String(contentsOfFile: config, encoding: .utf8).replacingOccurrences(
        of: "\"task\": \"classification\" }", with: "\"task\": \"classification\", \"scale\": \"minmax\" }"))
    XCTAssertEqual(try train(scaled, dir: dir.file("s")), 0)
    // Statistics as a different fitting method (or version) might have computed them.
    let file = dir.file("s/step-000000005.h5")
    var checkpoint = try Checkpoint.read(from: file)
    let fitted = checkpoint.data.features
    checkpoint.data.features = AffineScaler(
      kind: .minmax, shift: fitted.shift.map { $0 - 0.125 }, factor: fitted.factor.map { $0 * 0.5 })
    try checkpoint.write(to: file)
    for later in try CheckpointStore(directory: dir.file("s")).checkpointFiles() where later.step > 5 {
      try FileManager.default.removeItem(atPath: later.path)
    }
    XCTAssertEqual(try train(scaled, start: .resume(file), epochs: 2, dir: dir.file("s")), 0)
    XCTAssertEqual(try newest(dir.file("s")).data.features, checkpoint.data.features)
  }

  func testResumeRefusesAnotherMonitoredMetricOnceABestValueIsKept() throws {
    let dir = TemporaryDirectory()
    let stopping = ", \"early_stopping\": { \"monitor\": \"val_loss\", \"patience\": 50 }"
    let config = Self.separableConfig(dir, extra: stopping, epochs: 1)
    XCTAssertEqual(try train(config, dir: dir.file("b")), 0)
    let text = try String(contentsOfFile: config, encoding: .utf8)
    let other = dir.write("b2.json", text.replacingOccurrences(of: "\"val_loss\"", with: "\"val_accuracy\""))
    XCTAssertThrowsError(try train(other, start: .resumeLatest, epochs: 2, dir: dir.file("b"))) { error in
      XCTAssertEqual(
        (error as? NNBatchError)?.lines.map { String($0.drop { $0 != "$" }) },
        ["$.training.early_stopping.monitor: checkpoint has val_loss, config has val_accuracy"])
    }
  }

  func testResumeMismatchesAreOneLineEachWithJSONPathsAndPlainValues() throws {
    let dir = TemporaryDirectory()
    let sgd = "{ \"kind\": \"sgd\", \"learning_rate\": 0.05, \"momentum\": 0.9 }"
    let config = Self.separableConfig(dir, epochs: 1, optimizer: sgd)
    XCTAssertEqual(try train(config, dir: dir.file("r")), 0)
    let text = try String(contentsOfFile: config, encoding: .utf8)
    let changed = dir.write(
      "r2.json",
      text.replacingOccurrences(of: "\"units\": 16", with: "\"units\": 32")
        .replacingOccurrences(of: "\"momentum\": 0.9", with: "\"momentum\": 0.5, \"nesterov\": true")
        .replacingOccurrences(of: "\"batch_size\": 16", with: "\"batch_size\": 8")
        .replacingOccurrences(of: "\"validation_split\": 0.25", with: "\"validation_split\": 0.2")
        .replacingOccurrences(of: "\"seed\": 5", with: "\"seed\": 6"))
    XCTAssertThrowsError(try train(changed, start: .resumeLatest, dir: dir.file("r"))) { error in
      let prefix = "cannot resume from \(dir.file("r/step-000000005.h5")): "
      XCTAssertEqual(
        (error as? NNBatchError)?.lines,
        [
          "$.model.layers[0].units: checkpoint has 16, config has 32",
          "$.optimizer.momentum: checkpoint has 0.9, config has 0.5",
          "$.optimizer.nesterov: checkpoint has false, config has true",
          "$.seed: checkpoint has 5, config has 6",
          "$.data.validation_split: checkpoint has 0.25, config has 0.2",
          "$.training.batch_size: checkpoint has 16, config has 8",
        ].map { prefix + $0 })
      XCTAssertEqual((error as? NNBatchError)?.kind, .usage)
    }
    // Other kinds of change: optimizer kind, inline data, data scaling, activation, bias.
    var edited = text
    let first = try XCTUnwrap(text.range(of: "\"inputs\": [[")).upperBound
    edited.replaceSubrange(first..<(try XCTUnwrap(text[first...].firstIndex(of: ","))), with: "0.5")
    let other = dir.write(
      "r3.json",
      edited.replacingOccurrences(of: sgd, with: "{ \"kind\": \"adam\", \"learning_rate\": 0.05 }")
        .replacingOccurrences(of: "\"activation\": \"tanh\"", with: "\"activation\": \"relu\"")
        .replacingOccurrences(
          of: "\"task\": \"classification\" }", with: "\"task\": \"classification\", \"scale\": \"minmax\" }"
        )
        .replacingOccurrences(of: "\"layers\": [", with: "\"bias\": false, \"layers\": ["))
    XCTAssertThrowsError(try train(other, start: .resumeLatest, dir: dir.file("r"))) { error in
      XCTAssertEqual(
        (error as? NNBatchError)?.lines.map { String($0.drop { $0 != "$" }) },
        [
          "$.model.layers[0].activation: checkpoint has tanh, config has relu",
          "$.model.layers[0].bias: checkpoint has true, config has false",
          "$.model.layers[1].bias: checkpoint has true, config has false",
          "$.optimizer.kind: checkpoint has sgd, config has adam",
          "$.data.inputs: checkpoint and config have different values (96 rows each)",
          "$.data.scale: checkpoint has none, config has minmax",
        ])
    }
  }

  func testShortLastBatchIsTrainedOrDropped() throws {
    // 72 training samples in batches of 16: four full batches and one of 8.
    let dir = TemporaryDirectory()
    XCTAssertEqual(try train(Self.separableConfig(dir, epochs: 2), dir: dir.file("keep")), 0)
    let kept = try newest(dir.file("keep"))
    XCTAssertEqual(kept.counters.step, 10)
    XCTAssertEqual(kept.counters.samplesSeen, 144)
    XCTAssertEqual(
      try train(Self.separableConfig(dir, extra: ", \"drop_last\": true", epochs: 2), dir: dir.file("drop")),
      0)
    let dropped = try newest(dir.file("drop"))
    XCTAssertEqual(dropped.counters.step, 8)
    XCTAssertEqual(dropped.counters.samplesSeen, 128)
  }

  func testEpochsZeroWritesTheInitialModelAndWarmStartChecksShapes() throws {
    let dir = TemporaryDirectory()
    let config = Self.separableConfig(dir)
    XCTAssertEqual(try train(config, epochs: 0, dir: dir.file("z")), 0)
    let initial = try Checkpoint.read(from: dir.file("z/step-000000000.h5"))
    XCTAssertEqual(initial.counters.step, 0)
    XCTAssertEqual(initial.lossHistory, [])
    // Warm start: weights from a checkpoint, fresh optimizer and counters.
    XCTAssertEqual(
      try train(config, start: .initFrom(dir.file("z/step-000000000.h5")), epochs: 1, dir: dir.file("w")), 0)
    XCTAssertEqual(try newest(dir.file("w")).counters.step, 5)
    let text = try String(contentsOfFile: config, encoding: .utf8)
    let other = dir.write("o.json", text.replacingOccurrences(of: "\"units\": 16", with: "\"units\": 4"))
    XCTAssertThrowsError(
      try train(other, start: .initFrom(dir.file("z/step-000000000.h5")), dir: dir.file("w2"))
    ) { error in
      XCTAssertEqual(
        "\(error)",
        "cannot initialise from \(dir.file("z/step-000000000.h5")): layer shapes differ: $.model.layers[0].units: checkpoint has 16, config has 4"
      )
    }
    // Activations may change in a warm start; shapes may not.
    let relu = dir.write("relu.json", text.replacingOccurrences(of: "\"tanh\"", with: "\"relu\""))
    XCTAssertEqual(
      try train(relu, start: .initFrom(dir.file("z/step-000000000.h5")), epochs: 1, dir: dir.file("w3")), 0)
  }
}

/// A run started in a folder that holds another run's checkpoints.
final class TimelineTests: XCTestCase {
  private func train(_ path: String, start: StartPoint = .fresh, epochs: Int? = nil, dir: String) throws
    -> Int32
  {
    var options = TrainOptions(configPath: path, threads: 2)
    options.quiet = true
    options.start = start
    options.epochs = epochs
    options.checkpointDir = dir
    return try Trainer(options: options, signals: nil).run()
  }

  func testResumingFromAnOlderFileRetiresTheAbandonedNewerFiles() throws {
    let dir = TemporaryDirectory()
    let config = TrainerTests.separableConfig(dir, epochs: 6)
    XCTAssertEqual(try train(config, dir: dir.file("ck")), 0)
    let store = CheckpointStore(directory: dir.file("ck"))
    XCTAssertEqual(try store.checkpointFiles().map(\.step).suffix(2), [25, 30])
    // Copy step 10 aside, then resume from it with fewer epochs: the files of
    // the abandoned timeline (steps 15...30) must not survive to be resumed.
    try FileManager.default.copyItem(atPath: dir.file("ck/step-000000010.h5"), toPath: dir.file("ten.h5"))
    XCTAssertEqual(try train(config, start: .resume(dir.file("ten.h5")), epochs: 3, dir: dir.file("ck")), 0)
    XCTAssertEqual(try store.checkpointFiles().map(\.step).last, 15)
    XCTAssertEqual(try store.newestValid()?.checkpoint.counters.epoch, 3)
  }

  func testAFreshRunReplacesAnEarlierRunOnlyOnceItHasSaved() throws {
    let dir = TemporaryDirectory()
    let config = TrainerTests.separableConfig(dir, epochs: 6)
    XCTAssertEqual(try train(config, dir: dir.file("ck")), 0)
    let before = try CheckpointStore(directory: dir.file("ck")).checkpointFiles().map(\.step)
    // A fresh run that fails before saving leaves the earlier files alone.
    let text = try String(contentsOfFile: config, encoding: .utf8)
    let broken = dir.write(
      "broken.json", text.replacingOccurrences(of: "\"units\": 2,", with: "\"units\": 1,"))
    XCTAssertThrowsError(try train(broken, dir: dir.file("ck")))
    XCTAssertEqual(try CheckpointStore(directory: dir.file("ck")).checkpointFiles().map(\.step), before)
    // A fresh run that saves replaces them: only its own files remain.
    XCTAssertEqual(try train(config, epochs: 2, dir: dir.file("ck")), 0)
    let after = try CheckpointStore(directory: dir.file("ck")).checkpointFiles()
    XCTAssertEqual(after.map(\.step), [5, 10])
  }
}
