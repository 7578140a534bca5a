import Foundation
import HDF5Store
import NNBatch
import NNBatchCore
import NNBatchData
import NeuralNet
import TestSupport
import XCTest

/// Every data source read from small files written here, compared value by value.
final class DataSourceTests: XCTestCase {
  private func csv(_ dir: TemporaryDirectory, _ name: String, _ text: String, extra: String = "") throws
    -> Config
  {
    let path = dir.write(name, text)
    let config = """
      { "data": { "source": "csv", "path": "\(path)" \(extra) },
        "model": { "layers": [ { "units": 3, "activation": "softmax" } ] },
        "loss": "cross_entropy", "optimizer": { "kind": "sgd", "learning_rate": 0.1 } }
      """
    return try Config.parse(text: config, file: dir.write("c.json", config))
  }

  func testCSVQuotesCRLFHeaderAndStringLabels() throws {
    let dir = TemporaryDirectory()
    let text = "a,\"b, quoted\",label\r\n1,2.5,\"cat\"\r\n\r\n-3,4e-1,dog\r\n5,\"6\",\"bird \"\"x\"\"\"\r\n"
    let config = try csv(dir, "d.csv", text, extra: ", \"targets\": \"label\"")
    let raw = try DataLoader.read(config.data, task: .classification)
    XCTAssertEqual(raw.inputs.nested, [[1, 2.5], [-3, 0.4], [5, 6]])
    XCTAssertEqual(raw.labels, ["bird \"x\"", "cat", "dog"])
    XCTAssertEqual(raw.targets.nested, [[1], [2], [0]])
  }

  func testCSVWithoutHeaderNumericLabelsByIndexAndDelimiter() throws {
    let dir = TemporaryDirectory()
    let config = try csv(
      dir, "d.csv", "10;0.5;1\n2;0.25;0\n7;1;2",
      extra: ", \"header\": false, \"delimiter\": \";\", \"targets\": 0")
    let raw = try DataLoader.read(config.data, task: .classification)
    XCTAssertEqual(raw.inputs.nested, [[0.5, 1], [0.25, 0], [1, 2]])
    XCTAssertEqual(raw.labels, ["2", "7", "10"], "numeric labels sort numerically")
    XCTAssertEqual(raw.targets.nested, [[2], [0], [1]])
  }

  func testCSVRegressionTargetsAndIgnoredColumns() throws {
    let dir = TemporaryDirectory()
    let config = try csv(
      dir, "d.csv", "id,x,y\n1,0.5,2.5\n2,1.5,3.5\n",
      extra: ", \"targets\": [\"y\"], \"ignore\": [\"id\"], \"task\": \"regression\"")
    let raw = try DataLoader.read(config.data, task: .regression)
    XCTAssertEqual(raw.inputs.nested, [[0.5], [1.5]])
    XCTAssertEqual(raw.targets.nested, [[2.5], [3.5]])
  }

  func testCSVErrorsNameFileLineColumnExpectedAndFound() throws {
    let dir = TemporaryDirectory()
    let cases: [(String, String, String)] = [
      ("a,b,label\n1,2,x\n3,4\n", ", \"targets\": \"label\"", ":3: expected 3 fields, found 2"),
      (
        "a,b,label\n1,2,y\n1,zz,x\n", ", \"targets\": \"label\"",
        ":3: column \"b\": expected a number, found \"zz\""
      ),
      (
        "a,b,label\n1,nan,x\n", ", \"targets\": \"label\"",
        ":2: column \"b\": expected a finite number, found nan"
      ),
      ("a,b,label\n1,inf,x\n", ", \"targets\": \"label\"", "expected a finite number, found inf"),
      ("", "", "no data rows"),
      ("a,b,label\n", ", \"targets\": \"label\"", "no data rows after the header"),
      (
        "a,b,label\n1,2,3\n", ", \"targets\": \"lable\"",
        "no target column named \"lable\" (did you mean \"label\"?)"
      ),
      ("a,b,label\n1,\"2,x\n", ", \"targets\": \"label\"", ":2: unterminated quoted field"),
    ]
    for (i, (text, extra, message)) in cases.enumerated() {
      let config = try csv(dir, "e\(i).csv", text, extra: extra)
      XCTAssertThrowsError(try DataLoader.read(config.data, task: .classification), message) { error in
        XCTAssertTrue("\(error)".contains(message), "expected \(message) in \(error)")
        XCTAssertTrue("\(error)".hasPrefix(dir.file("e\(i).csv")), "names the file: \(error)")
        XCTAssertEqual((error as? NNBatchError)?.kind, .usage)
      }
    }
  }

  private func idxBytes(magicType: UInt8 = 0x08, shape: [Int], values: [UInt8]) -> Data {
    var data = Data([0, 0, magicType, UInt8(shape.count)])
    for d in shape {
      data.append(contentsOf: [
        UInt8(d >> 24 & 255), UInt8(d >> 16 & 255), UInt8(d >> 8 & 255), UInt8(d & 255),
      ])
    }
    data.append(contentsOf: values)
    return data
  }

  func testIDXPlainAndGzipped() throws {
    let dir = TemporaryDirectory()
    let images = idxBytes(shape: [3, 2, 2], values: [0, 255, 51, 102, 1, 2, 3, 4, 255, 255, 0, 0])
    let labels = idxBytes(shape: [3], values: [7, 0, 3])
    try images.write(to: URL(fileURLWithPath: dir.file("img.idx")))
    try labels.write(to: URL(fileURLWithPath: dir.file("lab.idx")))
    let gzip = try XCTUnwrap(tool("gzip"))
    XCTAssertEqual(try runProcess(gzip, ["-k", dir.file("img.idx"), dir.file("lab.idx")]).status, 0)
    for suffix in ["", ".gz"] {
      let data = DataConfig(
        source: IDXSource(images: dir.file("img.idx" + suffix), labels: dir.file("lab.idx" + suffix)),
        task: .classification)
      let raw = try DataLoader.read(data, task: .classification)
      XCTAssertEqual(raw.inputs.rows, 3)
      XCTAssertEqual(raw.inputs.columns, 4)
      XCTAssertEqual(raw.inputs.nested[0], [0, 1, 0.2, 0.4])
      XCTAssertEqual(raw.inputs.nested[2], [1, 1, 0, 0])
      XCTAssertEqual(raw.targets.nested, [[7], [0], [3]])
      XCTAssertEqual(raw.classes, 8)
    }
  }

  func testIDXErrors() throws {
    let dir = TemporaryDirectory()
    try idxBytes(shape: [2, 1, 1], values: [1, 2]).write(to: URL(fileURLWithPath: dir.file("img")))
    try idxBytes(magicType: 0x0D, shape: [2], values: [0, 0, 0, 0, 0, 0, 0, 0]).write(
      to: URL(fileURLWithPath: dir.file("badmagic")))
    try idxBytes(shape: [3], values: [1, 2, 3]).write(to: URL(fileURLWithPath: dir.file("three")))
    try idxBytes(shape: [2], values: [1]).write(to: URL(fileURLWithPath: dir.file("short")))
    let cases: [(String, String)] = [
      ("badmagic", "wrong IDX magic number: expected 00 00 08 <rank> (unsigned bytes), found 0 0 d 1"),
      ("three", "expected 2 labels (one per image"),
      ("short", "IDX shape [2] needs 2 data bytes, found 1"),
    ]
    for (labels, message) in cases {
      let data = DataConfig(
        source: IDXSource(images: dir.file("img"), labels: dir.file(labels)), task: .classification)
      XCTAssertThrowsError(try DataLoader.read(data, task: .classification)) { error in
        XCTAssertTrue("\(error)".contains(message), "expected \(message) in \(error)")
      }
    }
  }

  func testHDF5SourceFloat32AndFloat64() throws {
    let dir = TemporaryDirectory()
    let path = dir.file("data.h5")
    let file = try HDF5File.create(path: path)
    let group = try file.root().createGroup("train")
    try group.write([Float(1), 2, 3, 4, 5, 6], shape: [3, 2], name: "x")
    try group.write([Double(0), 1, 2], shape: [3], name: "y")
    try group.write([Double(1)], shape: [1], name: "short")
    try file.close()
    let raw = try DataLoader.read(
      DataConfig(source: HDF5Source(path: path, inputs: "/train/x", targets: "train/y"), task: nil),
      task: .classification)
    XCTAssertEqual(raw.inputs.nested, [[1, 2], [3, 4], [5, 6]])
    XCTAssertEqual(raw.targets.nested, [[0], [1], [2]])
    XCTAssertThrowsError(
      try DataLoader.read(
        DataConfig(source: HDF5Source(path: path, inputs: "/train/x", targets: "/train/z"), task: nil),
        task: .classification)
    ) {
      XCTAssertTrue("\($0)".contains("no dataset /train/z"), "\($0)")
    }
    XCTAssertThrowsError(
      try DataLoader.read(
        DataConfig(source: HDF5Source(path: path, inputs: "/train/x", targets: "/train/short"), task: nil),
        task: .classification)
    ) {
      XCTAssertTrue("\($0)".contains("expected 3 rows"), "\($0)")
    }
    XCTAssertThrowsError(
      try DataLoader.read(
        DataConfig(source: HDF5Source(path: path, inputs: "/train/y", targets: "/train/y"), task: nil),
        task: .classification)
    ) {
      XCTAssertTrue("\($0)".contains("expected a 2-D dataset"), "\($0)")
    }
  }

  func testSyntheticDataIsSeededAndBalanced() {
    let a = SyntheticSource(samples: 65_536, features: 784, classes: 10, seed: 7).generate()
    let b = SyntheticSource(samples: 1000, features: 784, classes: 10, seed: 7).generate()
    XCTAssertEqual(Array(a.inputs.storage.buffer.prefix(1000 * 784)), b.inputs.storage.array)
    var counts = [Int](repeating: 0, count: 10)
    for r in 0..<a.targets.rows { counts[Int(a.targets[r, 0])] += 1 }
    XCTAssertTrue(counts.allSatisfy { $0 > 2000 }, "classes are roughly balanced: \(counts)")
  }

  func testLabelOutOfRangeAndWidthMismatchAreDataErrors() throws {
    let dir = TemporaryDirectory()
    let text = """
      { "data": { "source": "inline", "inputs": [[0], [1]], "targets": [[0], [5]] },
        "model": { "layers": [ { "units": 3, "activation": "softmax" } ] },
        "loss": "cross_entropy", "optimizer": { "kind": "sgd", "learning_rate": 0.1 } }
      """
    let config = try Config.parse(text: text, file: dir.write("c.json", text))
    XCTAssertThrowsError(try DataLoader.prepare(config)) { error in
      XCTAssertTrue(
        "\(error)".contains("training sample 2: expected a class index in 0...2, found 5.0"), "\(error)")
    }
    let wide = text.replacingOccurrences(of: "[[0], [5]]", with: "[[0, 1], [1, 0]]")
    let c2 = try Config.parse(text: wide, file: "c.json")
    XCTAssertThrowsError(try DataLoader.prepare(c2)) { error in
      XCTAssertTrue(
        "\(error)".contains("targets have 2 column(s) but the last layer has 3 units"), "\(error)")
    }
  }

  func testScalingStatisticsComeFromTheTrainingSplitOnly() throws {
    // Ten samples x = 0...9; the validation split holds some out. The scaler's
    // statistics must equal those of the training rows alone.
    let inputs = (0..<10).map { "[\($0)]" }.joined(separator: ",")
    let targets = (0..<10).map { "[\(Double($0) * 2)]" }.joined(separator: ",")
    let text = """
      { "seed": 4, "data": { "source": "inline", "inputs": [\(inputs)], "targets": [\(targets)],
                  "validation_split": 0.3, "scale": "standardize" },
        "model": { "layers": [ { "units": 1, "activation": "linear" } ] },
        "loss": "mse", "optimizer": { "kind": "sgd", "learning_rate": 0.1 } }
      """
    let config = try Config.parse(text: text, file: "c.json")
    let prepared = try DataLoader.prepare(config)
    XCTAssertEqual(prepared.train.count, 7)
    XCTAssertEqual(prepared.validation?.count, 3)
    // Recover the raw training x from the targets (t = 2x), then compare statistics.
    let rawTrain = (0..<7).map { Double(prepared.train.targets[$0, 0]) / 2 }
    let mean = rawTrain.reduce(0, +) / 7
    let std = (rawTrain.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 7).squareRoot()
    XCTAssertEqual(Double(prepared.scaler.shift[0]), mean, accuracy: 1e-5)
    XCTAssertEqual(Double(prepared.scaler.factor[0]), 1 / std, accuracy: 1e-5)
    let allMean = 4.5
    XCTAssertNotEqual(mean, allMean, "the split must change the statistics for this test to mean anything")
    let scaled = (0..<7).map { Double(prepared.train.inputs[$0, 0]) }
    XCTAssertEqual(scaled.reduce(0, +) / 7, 0, accuracy: 1e-5)
  }
}
