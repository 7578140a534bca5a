import NNBatch
import NNBatchCore
import NeuralNet
import XCTest

/// Strict config parsing: every malformed config names file, JSON path, position, expected and found.
final class ConfigTests: XCTestCase {
  static let valid = """
    {
      "name": "t",
      "seed": 3,
      "data": { "source": "inline", "inputs": [[0, 1], [1, 0]], "targets": [[1], [0]] },
      "model": { "layers": [ { "units": 4, "activation": "tanh" }, { "units": 1, "activation": "sigmoid" } ] },
      "loss": "binary_cross_entropy",
      "optimizer": { "kind": "adam", "learning_rate": 0.01 },
      "training": { "epochs": 5, "batch_size": 2 },
      "checkpoint": { "dir": "/tmp/x" }
    }
    """

  private func errors(_ text: String) -> [String] {
    do {
      _ = try Config.parse(text: text, file: "bad.json")
      return []
    } catch {
      return error.lines
    }
  }

  func testValidConfigAndDefaults() throws {
    let config = try Config.parse(text: Self.valid, file: "t.json")
    XCTAssertEqual(config.name, "t")
    XCTAssertEqual(config.seed, 3)
    XCTAssertEqual(config.layers.count, 2)
    XCTAssertEqual(config.loss, .binaryCrossEntropy)
    XCTAssertEqual(config.optimizer.number("beta2"), 0.999)
    XCTAssertEqual(config.shardSize, 2)
    XCTAssertTrue(config.shuffle)
    XCTAssertTrue(config.bias)
    XCTAssertEqual(config.initializer, .xavierUniform)
    XCTAssertEqual(config.checkpointEveryEpochs, 1)
    XCTAssertEqual(config.keep, 3)
    XCTAssertEqual(config.task, .classification)
    XCTAssertEqual(Config.defaultShardSize(batchSize: 256), 128)
    XCTAssertEqual(Config.defaultShardSize(batchSize: 64), 32)
    XCTAssertEqual(Config.defaultShardSize(batchSize: 4), 4)
  }

  func testLayerTypeDefaultsToDenseAndBiasCanBeSetPerLayer() throws {
    let text = Self.valid.replacingOccurrences(
      of: "{ \"units\": 4, \"activation\": \"tanh\" }",
      with: "{ \"type\": \"dense\", \"units\": 4, \"activation\": \"tanh\", \"bias\": false }")
    let config = try Config.parse(text: text, file: "t.json")
    let first = try XCTUnwrap(config.layers.first as? Dense.Spec)
    let second = try XCTUnwrap(config.layers.last as? Dense.Spec)
    XCTAssertEqual(first, Dense.Spec(units: 4, activation: .tanh, bias: false))
    XCTAssertEqual(second, Dense.Spec(units: 1, activation: .sigmoid, bias: true))
  }

  /// Malformed configs: (text to replace, replacement, substrings the message must contain).
  static let corpus: [(String, String, [String])] = [
    (
      "{ \"units\": 4, \"activation\": \"tanh\" }", "{ \"type\": \"dnse\", \"units\": 4 }",
      ["bad.json:5:", "$.model.layers[0].type", "unknown layer type \"dnse\"", "did you mean \"dense\""]
    ),
    (
      "\"source\": \"inline\",", "\"source\": \"inline\", \"scale_targets\": \"standardize\",",
      ["$.data.scale_targets", "target scaling is for regression"]
    ),
    (
      "{ \"units\": 1, \"activation\": \"sigmoid\" }", "{ \"units\": 1, \"activation\": \"softmax\" }",
      ["$.model.layers[1].units", "a softmax layer needs at least 2 units, found 1"]
    ),
    (
      "\"dir\": \"/tmp/x\"", "\"dir\": \"/tmp/x\", \"keep_best\": true",
      ["$.checkpoint.keep_best", "needs validation data"]
    ),
    (
      "\"dir\": \"/tmp/x\"", "\"dir\": \"/tmp/x\", \"monitor\": \"val_acuracy\"",
      ["$.checkpoint.monitor", "did you mean \"val_accuracy\""]
    ),
    ("\"seed\": 3", "\"seed\": 3, \"sed\": 4", ["$.sed", "unknown key \"sed\"", "did you mean \"seed\""]),
    (
      "\"name\": \"t\",", "\"name\": \"t\", \"name\": \"u\",",
      ["duplicate key \"name\"", "first defined at 2:3", "bad.json:2:16:"]
    ),
    ("\"seed\": 3", "\"seed\": \"three\"", ["$.seed", "expected an integer", "\"three\""]),
    ("\"seed\": 3", "\"seed\": -1", ["$.seed", "expected an integer ≥ 0, found -1"]),
    ("\"batch_size\": 2", "\"batch_size\": 0", ["$.training.batch_size", "≥ 1, found 0"]),
    (
      "\"batch_size\": 2", "\"batch_size\": 2.5", ["$.training.batch_size", "expected an integer, found 2.5"]
    ),
    (
      "\"batch_size\": 2", "\"batch_size\": 2, \"shard_size\": 3",
      ["$.training.shard_size", "≤ batch_size 2, found 3"]
    ),
    (
      "\"learning_rate\": 0.01", "\"learning_rate\": -0.01",
      ["$.optimizer.learning_rate", "> 0.0, found -0.01"]
    ),
    (
      "\"learning_rate\": 0.01", "\"learning_rate\": \"fast\"",
      ["$.optimizer.learning_rate", "expected a number"]
    ),
    (
      "\"activation\": \"tanh\"", "\"activation\": \"tnah\"",
      ["$.model.layers[0].activation", "unknown activation \"tnah\"", "did you mean \"tanh\""]
    ),
    (
      "\"activation\": \"tanh\"", "\"activation\": \"softmax\"",
      ["$.model.layers[0].activation", "softmax is only allowed on the last layer"]
    ),
    (
      "\"loss\": \"binary_cross_entropy\"", "\"loss\": \"cross_entropy\"",
      ["$.loss", "needs a softmax output layer, found sigmoid"]
    ),
    (
      "\"loss\": \"binary_cross_entropy\"", "\"loss\": \"hinge\"",
      ["$.loss", "unknown loss \"hinge\"", "expected one of sse, mse"]
    ),
    ("\"kind\": \"adam\"", "\"kind\": \"adma\"", ["$.optimizer.kind", "did you mean \"adam\""]),
    (
      "\"kind\": \"adam\", \"learning_rate\": 0.01",
      "\"kind\": \"sgd\", \"learning_rate\": 0.01, \"momentum\": 1.5",
      ["$.optimizer.momentum", "< 1.0, found 1.5"]
    ),
    (
      "\"kind\": \"adam\", \"learning_rate\": 0.01",
      "\"kind\": \"sgd\", \"learning_rate\": 0.01, \"nesterov\": true",
      ["$.optimizer.nesterov", "needs momentum > 0"]
    ),
    (
      "\"kind\": \"adam\", \"learning_rate\": 0.01",
      "\"kind\": \"adam\", \"learning_rate\": 0.01, \"momentum\": 0.9",
      ["$.optimizer.momentum", "unknown key"]
    ),
    ("\"units\": 4,", "\"units\": 0,", ["$.model.layers[0].units", "≥ 1, found 0"]),
    (
      "{ \"units\": 4, \"activation\": \"tanh\" }", "{ \"activation\": \"tanh\" }",
      ["$.model.layers[0].units", "missing required key"]
    ),
    (
      "\"source\": \"inline\"", "\"source\": \"csvv\"",
      ["$.data.source", "unknown data source \"csvv\"", "did you mean \"csv\""]
    ),
    ("\"targets\": [[1], [0]]", "\"targets\": [[1]]", ["$.data.targets", "expected 2 targets"]),
    (
      "\"inputs\": [[0, 1], [1, 0]]", "\"inputs\": [[0, 1], [1]]",
      ["$.data.inputs[1]", "expected a row of 2 numbers, found 1"]
    ),
    (
      "\"inputs\": [[0, 1], [1, 0]]", "\"inputs\": [[0, \"x\"], [1, 0]]",
      ["$.data.inputs[0][1]", "expected a number, found \"x\""]
    ),
    ("\"loss\": \"binary_cross_entropy\",", "", ["$.loss", "missing required key"]),
    (
      "\"epochs\": 5", "\"epochs\": 5, \"early_stopping\": { \"monitor\": \"val_los\" }",
      ["$.training.early_stopping.monitor", "did you mean \"val_loss\""]
    ),
    ("\"epochs\": 5", "\"epochs\": 5, \"early_stopping\": { \"patience\": 2 }", ["needs validation data"]),
    ("\"dir\": \"/tmp/x\"", "\"dir\": \"/tmp/x\", \"keep\": 0", ["$.checkpoint.keep", "≥ 1, found 0"]),
    ("\"dir\": \"/tmp/x\"", "\"dir\": 5", ["$.checkpoint.dir", "expected a string, found an integer"]),
    (
      "\"source\": \"inline\", \"inputs\": [[0, 1], [1, 0]], \"targets\": [[1], [0]]",
      "\"source\": \"csv\", \"delimiter\": \";;\"",
      ["$.data.path", "missing required key", "$.data.delimiter"]
    ),
    (
      "\"source\": \"inline\", \"inputs\": [[0, 1], [1, 0]], \"targets\": [[1], [0]]",
      "\"source\": \"idx\", \"images\": \"i\", \"lables\": \"l\"",
      ["$.data.labels", "missing required key", "$.data.lables", "did you mean \"labels\""]
    ),
    (
      "\"source\": \"inline\", \"inputs\": [[0, 1], [1, 0]], \"targets\": [[1], [0]]",
      "\"source\": \"synthetic\", \"samples\": 10, \"features\": 2, \"classes\": 1",
      ["$.data.classes", "expected an integer ≥ 2, found 1"]
    ),
    (
      "\"source\": \"inline\", \"inputs\": [[0, 1], [1, 0]], \"targets\": [[1], [0]]",
      "\"source\": \"hdf5\", \"path\": 5, \"inputs\": \"x\", \"targets\": \"y\"",
      ["$.data.path", "expected a string, found an integer"]
    ),
    (
      "\"source\": \"inline\", \"inputs\": [[0, 1], [1, 0]], \"targets\": [[1], [0]]",
      "\"source\": \"csv\", \"path\": \"d.csv\", \"header\": false, \"targets\": \"label\"",
      ["$.data.targets", "a column name needs header: true"]
    ),
    (
      "\"source\": \"inline\", ", "",
      [
        "$.data.source",
        "missing required key; expected one of inline, csv, idx, hdf5, npy, images, synthetic, memory",
      ]
    ),
    ("\"model\": {", "\"model\": [", ["invalid JSON"]),
    ("\"seed\": 3,", "\"seed\": 3,,", ["invalid JSON", "bad.json:3:13:", "expected a string key"]),
    ("\"seed\": 3", "\"seed\": 03", ["invalid JSON", "leading zeros"]),
    (
      "\"training\": {", "\"training\": true, \"x\": {",
      ["$.training", "expected an object, found a boolean"]
    ),
  ]

  func testMalformedConfigCorpus() {
    XCTAssertGreaterThanOrEqual(Self.corpus.count, 25)
    for (old, new, expected) in Self.corpus {
      XCTAssertTrue(Self.valid.contains(old), "corpus entry does not apply: \(old)")
      let text = Self.valid.replacingOccurrences(of: old, with: new)
      let lines = errors(text)
      XCTAssertFalse(lines.isEmpty, "no error for \(new)")
      let joined = lines.joined(separator: "\n")
      for fragment in expected {
        XCTAssertTrue(joined.contains(fragment), "for \(new): expected \"\(fragment)\" in:\n\(joined)")
      }
      for line in lines {
        XCTAssertTrue(line.hasPrefix("bad.json:"), "every line names the file: \(line)")
        XCTAssertFalse(line.contains("\n"))
      }
    }
  }

  /// `distributed.timeout_s`: 30 s by default, a positive number of seconds up to a day, nothing else.
  func testDistributedTimeout() throws {
    XCTAssertEqual(try Config.parse(text: Self.valid, file: "t.json").distributedTimeout, 30)
    let checkpoint = "\"checkpoint\": { \"dir\": \"/tmp/x\" }"
    let set = Self.valid.replacingOccurrences(
      of: checkpoint, with: checkpoint + ", \"distributed\": { \"timeout_s\": 2.5 }")
    XCTAssertEqual(try Config.parse(text: set, file: "t.json").distributedTimeout, 2.5)
    for (value, expected) in [
      ("0", "$.distributed.timeout_s"), ("-1", "$.distributed.timeout_s"),
      ("86401", "$.distributed.timeout_s"),
      ("\"30\"", "expected a number"), ("30, \"timeout\": 1", "$.distributed.timeout"),
    ] {
      let text = Self.valid.replacingOccurrences(
        of: checkpoint, with: checkpoint + ", \"distributed\": { \"timeout_s\": \(value) }")
      let joined = errors(text).joined(separator: "\n")
      XCTAssertTrue(joined.contains(expected), "timeout_s \(value): \(joined)")
      XCTAssertTrue(joined.hasPrefix("bad.json:"), joined)
    }
  }

  /// `distributed.overlap`: false by default, true or false, nothing else (a usage error, exit 2).
  func testDistributedOverlap() throws {
    XCTAssertFalse(try Config.parse(text: Self.valid, file: "t.json").distributedOverlap)
    let checkpoint = "\"checkpoint\": { \"dir\": \"/tmp/x\" }"
    func with(_ distributed: String) -> String {
      Self.valid.replacingOccurrences(
        of: checkpoint, with: checkpoint + ", \"distributed\": { \(distributed) }")
    }
    XCTAssertTrue(try Config.parse(text: with(#""overlap": true"#), file: "t.json").distributedOverlap)
    XCTAssertFalse(try Config.parse(text: with(#""overlap": false"#), file: "t.json").distributedOverlap)
    // null is the default, as for every key.
    XCTAssertFalse(try Config.parse(text: with(#""overlap": null"#), file: "t.json").distributedOverlap)
    // Beside timeout_s, each keeps its value.
    let both = try Config.parse(text: with(#""timeout_s": 5, "overlap": true"#), file: "t.json")
    XCTAssertEqual(both.distributedTimeout, 5)
    XCTAssertTrue(both.distributedOverlap)
    for (value, found) in [
      ("\"true\"", "found \"true\""), ("1", "found 1"), ("[true]", "found an array of 1"),
    ] {
      let text = with("\"overlap\": \(value)")
      do {
        _ = try Config.parse(text: text, file: "bad.json")
        XCTFail("overlap \(value) was accepted")
      } catch {
        XCTAssertEqual(error.kind, .usage, "overlap \(value)")
        XCTAssertEqual(error.lines.count, 1, "overlap \(value): \(error.lines)")
        let line = error.lines.first ?? ""
        XCTAssertTrue(line.hasPrefix("bad.json:"), line)
        XCTAssertTrue(line.contains("$.distributed.overlap: expected true or false, \(found)"), line)
      }
    }
    // A misspelt key is refused with a suggestion, not ignored.
    let joined = errors(with(#""overlapp": true"#)).joined(separator: "\n")
    XCTAssertTrue(joined.contains("$.distributed.overlapp"), joined)
    XCTAssertTrue(joined.contains("did you mean \"overlap\""), joined)
  }

  func testAllProblemsAreReportedAtOnce() {
    let text = Self.valid
      .replacingOccurrences(of: "\"seed\": 3", with: "\"seed\": -3, \"colour\": 1")
      .replacingOccurrences(of: "\"batch_size\": 2", with: "\"batch_size\": 0")
      .replacingOccurrences(of: "\"activation\": \"tanh\"", with: "\"activation\": \"relux\"")
    let lines = errors(text)
    XCTAssertEqual(lines.count, 4, lines.joined(separator: "\n"))
    XCTAssertTrue(lines.contains { $0.contains("$.seed") && $0.contains(":3:") })
  }

  func testLineAndColumnOfSyntaxErrors() {
    let lines = errors("{\n  \"a\": 1,\n  \"b\": tru\n}")
    XCTAssertEqual(lines, ["bad.json:3:8: invalid JSON: expected 'true'"])
    XCTAssertEqual(errors("{\"a\": \"x"), ["bad.json:1:7: invalid JSON: unterminated string"])
    XCTAssertEqual(errors(""), ["bad.json:1:1: invalid JSON: expected a value, found end of input"])
  }

  func testMissingAndUnreadableFiles() {
    XCTAssertThrowsError(try Config.load(path: "/nonexistent/config.json")) { error in
      XCTAssertEqual("\(error)", "/nonexistent/config.json: no such config file")
      XCTAssertEqual((error as? NNBatchError)?.kind, .usage)
    }
  }

  /// An integer key takes a number whose text is an integer, decided on the text (issue 23):
  /// `1e-400` underflows to the Double 0 but is no integer, like `4.9e-324`.
  func testIntegerKeysAreDecidedByTheNumbersText() throws {
    for text in ["1e-400", "4.9e-324", "1.25e1", "10e-2", "-0.1e-99999999999999999999"] {
      let lines = errors(Self.valid.replacingOccurrences(of: "\"epochs\": 5", with: "\"epochs\": \(text)"))
      XCTAssertEqual(
        lines.filter { $0.contains("$.training.epochs: expected an integer, found \(text)") }.count, 1,
        "\(text): \(lines)")
    }
    for (text, epochs) in [("5.0", 5), ("1e1", 10), ("0.5e2", 50), ("250e-1", 25), ("0e-400", 0), ("0.0", 0)]
    {
      let config = try Config.parse(
        text: Self.valid.replacingOccurrences(of: "\"epochs\": 5", with: "\"epochs\": \(text)"),
        file: "t.json")
      XCTAssertEqual(config.epochs, epochs, text)
    }
  }

  func testJSONParserDetails() throws {
    let value = try JSONParser.parse("[1, -2.5e3, \"a\\u00e9\\ud83d\\ude00\", true, null, {}]")
    guard case .array(let items, _) = value else { return XCTFail("not an array") }
    XCTAssertEqual(items.count, 6)
    if case .string(let s, _) = items[2] { XCTAssertEqual(s, "aé😀") } else { XCTFail("string") }
    if case .number(let v, _, let location) = items[1] {
      XCTAssertEqual(v, -2500)
      XCTAssertEqual(location, SourceLocation(line: 1, column: 5))
    } else {
      XCTFail("number")
    }
  }
}
