// Shared pieces of the export tests: tiny models trained through the CLI, and the test Python.
import Checkpoints
import Foundation
import TestSupport
import XCTest

/// A model trained for a test, with raw input rows to predict on.
struct TrainedModel {
  /// Case name in messages.
  var name: String
  /// The checkpoint file.
  var checkpoint: String
  /// A CSV of raw input rows (no header), one flattened sample per row.
  var inputs: String
  /// One sample's shape.
  var shape: [Int]
  /// Whether `inputs` is a raw CSV with a header (text categories, missing cells) for a model
  /// trained with data.categorical / data.missing.
  var tabular = false
}

/// Deterministic pseudo-random numbers for test inputs (a 64-bit LCG; no seeding from the clock).
struct TestNumbers {
  private var state: UInt64

  init(seed: UInt64) { state = seed }

  /// A value in [low, high).
  mutating func next(_ low: Double, _ high: Double) -> Double {
    state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
    return low + (high - low) * Double(state >> 11) / Double(1 << 53)
  }
}

enum ExportFixtures {
  /// Trains `config` (a path, run from the repository root) in `dir` for `epochs` and returns its newest step checkpoint.
  static func train(_ config: String, epochs: Int, in dir: TemporaryDirectory, name: String) throws -> String
  {
    let folder = dir.file("\(name)-checkpoints")
    let result = try nnbatch(
      ["train", "--config", config, "--epochs", String(epochs), "--checkpoint-dir", folder, "--quiet"],
      in: repositoryRoot)
    XCTAssertEqual(result.status, 0, "\(name): \(result.stderr)")
    let steps = try FileManager.default.contentsOfDirectory(atPath: folder)
      .filter { $0.hasPrefix("step-") && $0.hasSuffix(".h5") }.sorted()
    guard let last = steps.last else {
      throw XCTSkip("\(name): training wrote no checkpoint: \(result.stderr)")
    }
    return "\(folder)/\(last)"
  }

  /// The first `rows` rows of a CSV file in the repository, without its header and its last (target) column.
  static func features(ofRepositoryCSV path: String, rows: Int, in dir: TemporaryDirectory, name: String)
    throws
    -> String
  {
    let text = try String(contentsOfFile: "\(repositoryRoot)/\(path)", encoding: .utf8)
    let lines = text.split(whereSeparator: \.isNewline).dropFirst().prefix(rows).map { line in
      line.split(separator: ",", omittingEmptySubsequences: false).dropLast().joined(separator: ",")
    }
    return dir.write("\(name)-inputs.csv", lines.joined(separator: "\n") + "\n")
  }

  /// `rows` random rows of `columns` values in [low, high).
  static func randomRows(
    _ rows: Int, _ columns: Int, low: Double, high: Double, seed: UInt64, in dir: TemporaryDirectory,
    name: String
  ) -> String {
    var numbers = TestNumbers(seed: seed)
    let lines = (0..<rows).map { _ in
      (0..<columns).map { _ in String(format: "%.5f", numbers.next(low, high)) }.joined(separator: ",")
    }
    return dir.write(name, lines.joined(separator: "\n") + "\n")
  }

  /// A small CNN on [2, 6, 7] images using every layer kind and every hidden activation,
  /// with `same` padding that is uneven (0 rows above, 1 below) and a stride of 2.
  static func cnn(in dir: TemporaryDirectory) throws -> TrainedModel {
    let config = dir.write(
      "cnn.json",
      """
      {
        "name": "tiny-cnn", "seed": 5,
        "data": { "source": "synthetic", "samples": 96, "features": 84, "classes": 3, "seed": 9,
                  "shape": [2, 6, 7], "scale": "standardize" },
        "model": {
          "layers": [
            { "type": "conv2d", "filters": 3, "kernel": 3, "stride": 2, "padding": "same", "activation": "leaky_relu" },
            { "type": "avg_pool2d", "size": 2, "stride": 1 },
            { "type": "conv2d", "filters": 4, "kernel": [2, 1], "padding": "valid", "activation": "tanh", "bias": false },
            { "type": "max_pool2d", "size": [1, 2] },
            { "type": "flatten" },
            { "type": "dropout", "rate": 0.25 },
            { "units": 5, "activation": "sigmoid" },
            { "units": 6, "activation": "relu" },
            { "units": 3, "activation": "softmax" }
          ],
          "init": "he_uniform"
        },
        "loss": "cross_entropy",
        "optimizer": { "kind": "adam", "learning_rate": 0.01 },
        "training": { "epochs": 3, "batch_size": 16 },
        "checkpoint": { "dir": "cnn", "every_epochs": 3, "keep": 1 }
      }
      """)
    let checkpoint = try train(config, epochs: 3, in: dir, name: "cnn")
    let inputs = randomRows(30, 84, low: -3, high: 3, seed: 11, in: dir, name: "cnn-inputs.csv")
    return TrainedModel(name: "cnn", checkpoint: checkpoint, inputs: inputs, shape: [2, 6, 7])
  }

  /// A CNN ending in global pooling (`global_avg_pool2d` or `global_max_pool2d`, `pool`) on
  /// [3, 5, 6] images: the pooled [C] goes straight into dense layers, no flatten between.
  static func globalPooling(_ pool: String, in dir: TemporaryDirectory) throws -> TrainedModel {
    let name = pool.replacingOccurrences(of: "_", with: "-")
    let config = dir.write(
      "\(name).json",
      """
      {
        "name": "\(name)", "seed": 6,
        "data": { "source": "synthetic", "samples": 96, "features": 90, "classes": 3, "seed": 4,
                  "shape": [3, 5, 6], "scale": "standardize" },
        "model": {
          "layers": [
            { "type": "conv2d", "filters": 4, "kernel": 3, "padding": "same", "activation": "tanh" },
            { "type": "conv2d", "filters": 5, "kernel": 2, "stride": 2, "activation": "linear" },
            { "type": "\(pool)" },
            { "units": 4, "activation": "relu" },
            { "units": 3, "activation": "softmax" }
          ],
          "init": "he_uniform"
        },
        "loss": "cross_entropy",
        "optimizer": { "kind": "adam", "learning_rate": 0.01 },
        "training": { "epochs": 3, "batch_size": 16 },
        "checkpoint": { "dir": "\(name)", "every_epochs": 3, "keep": 1 }
      }
      """)
    let checkpoint = try train(config, epochs: 3, in: dir, name: name)
    let inputs = randomRows(30, 90, low: -3, high: 3, seed: 13, in: dir, name: "\(name)-inputs.csv")
    return TrainedModel(name: name, checkpoint: checkpoint, inputs: inputs, shape: [3, 5, 6])
  }

  /// A binary classifier with one sigmoid output and a leaky_relu hidden layer, on named classes.
  ///
  /// `layers` (JSON) default to a leaky_relu hidden layer and a sigmoid output; `name` names the files.
  static func binary(
    in dir: TemporaryDirectory, name: String = "binary",
    layers: String = #"{ "units": 4, "activation": "leaky_relu" }, { "units": 1, "activation": "sigmoid" }"#
  ) throws -> TrainedModel {
    var numbers = TestNumbers(seed: 3)
    var rows = ["a,b,kind"]
    var inputs: [String] = []
    for _ in 0..<64 {
      let a = numbers.next(-2, 3)
      let b = numbers.next(0, 10)
      let row = String(format: "%.3f,%.3f", a, b)
      rows.append(row + (2 * a + b > 6 ? ",yes" : ",no"))
      inputs.append(row)
    }
    let data = dir.write("\(name).csv", rows.joined(separator: "\n") + "\n")
    let config = dir.write(
      "\(name).json",
      """
      {
        "name": "\(name)", "seed": 2,
        "data": { "source": "csv", "path": "\(data)", "header": true, "targets": "kind",
                  "task": "classification", "scale": "minmax" },
        "model": { "layers": [ \(layers) ] },
        "loss": "binary_cross_entropy",
        "optimizer": { "kind": "adam", "learning_rate": 0.05 },
        "training": { "epochs": 10, "batch_size": 8 },
        "checkpoint": { "dir": "\(name)", "every_epochs": 10, "keep": 1 }
      }
      """)
    let checkpoint = try train(config, epochs: 10, in: dir, name: name)
    let input = dir.write("\(name)-inputs.csv", inputs.joined(separator: "\n") + "\n")
    return TrainedModel(name: name, checkpoint: checkpoint, inputs: input, shape: [2])
  }

  /// A classifier on a feature of order 1e20 (standardized: a factor of 1e-20, whose
  /// 1 / factor² is infinite in float32), a constant feature (shifted only) and a small one.
  static func extremeScales(in dir: TemporaryDirectory) throws -> TrainedModel {
    var numbers = TestNumbers(seed: 17)
    var rows = ["huge,constant,small,kind"]
    var inputs: [String] = []
    for _ in 0..<80 {
      let huge = numbers.next(-3e20, 3e20)
      let small = numbers.next(0, 1)
      let row = "\(huge),7.5,\(small)"
      rows.append(row + (huge / 1e20 + 2 * small > 1 ? ",high" : ",low"))
      inputs.append(row)
    }
    let data = dir.write("extreme.csv", rows.joined(separator: "\n") + "\n")
    let config = dir.write(
      "extreme.json",
      """
      {
        "name": "extreme", "seed": 4,
        "data": { "source": "csv", "path": "\(data)", "header": true, "targets": "kind",
                  "task": "classification", "scale": "standardize" },
        "model": { "layers": [ { "units": 6, "activation": "tanh" }, { "units": 2, "activation": "softmax" } ] },
        "loss": "cross_entropy",
        "optimizer": { "kind": "adam", "learning_rate": 0.05 },
        "training": { "epochs": 15, "batch_size": 16 },
        "checkpoint": { "dir": "extreme", "every_epochs": 15, "keep": 1 }
      }
      """)
    let checkpoint = try train(config, epochs: 15, in: dir, name: "extreme")
    let input = dir.write("extreme-inputs.csv", inputs.joined(separator: "\n") + "\n")
    return TrainedModel(name: "extreme", checkpoint: checkpoint, inputs: input, shape: [3])
  }

  /// `model` with the input scaling's factor of feature `feature` set to 0 (a crafted checkpoint).
  static func zeroFactor(_ model: TrainedModel, feature: Int, in dir: TemporaryDirectory) throws
    -> TrainedModel
  {
    var checkpoint = try Checkpoint.read(from: model.checkpoint)
    checkpoint.data.features.factor[feature] = 0
    let path = dir.file("\(model.name)-zero-factor.h5")
    try checkpoint.write(to: path)
    return TrainedModel(
      name: "\(model.name)-zero-factor", checkpoint: path, inputs: model.inputs, shape: model.shape)
  }

  /// A classifier on a feature spread over less than 1e-7 (a factor above 1e7), which the
  /// Keras export once refused: Normalization clamps sqrt(variance) at 1e-7.
  static func tinySpread(in dir: TemporaryDirectory) throws -> TrainedModel {
    var rows = ["tiny,big,y"]
    var inputs: [String] = []
    for i in 0..<16 {
      let row = "\(1e-9 * Double(i % 4)),\(i)"
      rows.append(row + (i % 2 == 0 ? ",a" : ",b"))
      inputs.append(row)
    }
    let data = dir.write("tiny.csv", rows.joined(separator: "\n") + "\n")
    let config = dir.write(
      "tiny.json",
      """
      {"name": "tiny", "seed": 1,
       "data": {"source": "csv", "path": "\(data)", "header": true, "targets": "y", "task": "classification",
                "scale": "standardize"},
       "model": {"layers": [{"units": 2, "activation": "softmax"}]},
       "loss": "cross_entropy", "optimizer": {"kind": "sgd", "learning_rate": 0.1},
       "training": {"epochs": 1, "batch_size": 8}, "checkpoint": {"dir": "tiny", "every_epochs": 1, "keep": 1}}
      """)
    let checkpoint = try train(config, epochs: 1, in: dir, name: "tiny")
    let input = dir.write("tiny-inputs.csv", inputs.joined(separator: "\n") + "\n")
    return TrainedModel(name: "tiny", checkpoint: checkpoint, inputs: input, shape: [2])
  }

  /// Tabular models on raw CSV rows with text categories and missing cells (empty, NA, null).
  ///
  /// A classifier on numeric and categorical columns (mean, median with an indicator, a refusing
  /// column; a categorical column filled by most_frequent, one refusing), a regression on numeric
  /// columns only (a constant fill with an indicator, targets scaled), and a binary classifier on
  /// categorical columns only. Each predicts rows with unseen categories and missing values.
  static func tabular(in dir: TemporaryDirectory) throws -> [TrainedModel] {
    var numbers = TestNumbers(seed: 23)
    let colors = ["red", "green", "Blue", "vert clair"]
    let sizes = ["S", "M", "L", "XL"]
    func pick(_ list: [String]) -> String {
      list[min(Int(numbers.next(0, Double(list.count))), list.count - 1)]
    }
    var mixed = ["a,color,b,size,c,y"]
    var numeric = ["p,q,r,price"]
    var categorical = ["shape,tone,kind"]
    for i in 0..<80 {
      let a = numbers.next(-2, 3)
      let b = numbers.next(0, 10)
      let c = numbers.next(-1, 1)
      let color = pick(colors)
      let size = pick(sizes)
      let score = a + (color == "red" ? 1 : 0) + b / 5 + (size.hasPrefix("L") || size == "XL" ? 0.5 : 0) + c
      let aText = i % 7 == 0 ? "" : String(format: "%.3f", a)
      let bText = i % 5 == 0 ? "NA" : String(format: "%.3f", b)
      let colorText = i % 11 == 0 ? "" : (i % 4 == 0 ? " \(color) " : color)
      mixed.append(
        "\(aText),\(colorText),\(bText),\(size),\(String(format: "%.3f", c)),\(score > 2 ? "yes" : "no")")
      let q = i % 6 == 0 ? "null" : String(format: "%.3f", b)
      let price = String(format: "%.2f", 100 + 20 * a + 3 * b - 7 * c)
      numeric.append("\(String(format: "%.3f", a)),\(q),\(String(format: "%.3f", c)),\(price)")
      let shape = pick(["round", "square", "star"])
      let tone = i % 9 == 0 ? "NA" : pick(["dark", "light"])
      categorical.append("\(shape),\(tone),\(shape == "star" || tone == "dark" ? "odd" : "even")")
    }
    func model(
      _ name: String, csv: [String], extra: String, layers: String, loss: String, predict: String
    ) throws -> TrainedModel {
      let data = dir.write("\(name).csv", csv.joined(separator: "\n") + "\n")
      let target = csv[0].split(separator: ",").last.map(String.init) ?? ""
      let config = dir.write(
        "\(name).json",
        """
        { "name": "\(name)", "seed": 3,
          "data": { "source": "csv", "path": "\(data)", "targets": ["\(target)"] \(extra) },
          "model": { "layers": [ \(layers) ] },
          "loss": "\(loss)", "optimizer": { "kind": "adam", "learning_rate": 0.02 },
          "training": { "epochs": 8, "batch_size": 8 },
          "checkpoint": { "dir": "\(name)", "every_epochs": 8, "keep": 1 } }
        """)
      let checkpoint = try train(config, epochs: 8, in: dir, name: name)
      let inputs = dir.write("\(name)-inputs.csv", predict)
      return TrainedModel(name: name, checkpoint: checkpoint, inputs: inputs, shape: [], tabular: true)
    }
    let first = try model(
      "tabular", csv: mixed,
      extra: """
        , "task": "classification", "scale": "standardize",
        "missing": { "default": "refuse", "columns": { "a": "mean", "b": { "strategy": "median", "indicator": true },
                     "color": "most_frequent" } }
        """,
      layers: #"{ "units": 6, "activation": "tanh" }, { "units": 2, "activation": "softmax" }"#,
      loss: "cross_entropy",
      predict: """
        a,color,b,size,c
        1.5,red,3,M,0.2
        ,Blue,NA,S,-0.5
        0.3,purple,7,XL,0.1
        2,,1,L,0
        -1, vert clair ,,XXL,0.9
        NaN,null,n/a,M,-0.25
        0.75,green,4.5,L,0.4

        """)
    let second = try model(
      "tabular-numeric", csv: numeric,
      extra: """
        , "task": "regression", "scale": "minmax", "scale_targets": "standardize",
        "missing": { "default": "refuse", "columns": { "q": { "constant": -1.5, "indicator": true } } }
        """,
      layers: #"{ "units": 5, "activation": "relu" }, { "units": 1 }"#, loss: "mse",
      predict: "p,q,r\n1,2,3\n-0.5,,0.25\n2.5,NA,-1\n0,7,0\n")
    let third = try model(
      "tabular-categories", csv: categorical,
      extra: #", "task": "classification", "missing": "most_frequent""#,
      layers: #"{ "units": 3, "activation": "leaky_relu" }, { "units": 1, "activation": "sigmoid" }"#,
      loss: "binary_cross_entropy",
      predict: "shape,tone\nround,dark\nstar,light\nhexagon,dark\nsquare,\nround,grey\nsquare,light\n")
    return [first, second, third]
  }

  /// The test environment's Python (`tools/setup --test`); without it, throws: an error under CI=true, a skip elsewhere.
  static func python() throws -> String {
    let path = "\(repositoryRoot)/.venv-test/bin/python3"
    if FileManager.default.isExecutableFile(atPath: path) { return path }
    let message = "\(path) is missing: run tools/setup --test"
    if ProcessInfo.processInfo.environment["CI"] == "true" { throw MissingEnvironment(message: message) }
    throw XCTSkip(message)
  }
}

/// CI must run the interop checks: a missing test environment fails there instead of skipping.
struct MissingEnvironment: Error, CustomStringConvertible {
  /// What is missing and how to get it.
  var message: String
  /// The message.
  var description: String { message }
}
