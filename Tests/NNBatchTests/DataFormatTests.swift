import Foundation
import HDF5Store
import NNBatch
import NNBatchCore
import NNBatchData
import NeuralNet
import TestSupport
import XCTest

/// The data-source registry, the row-block reading seam, and formats told apart by content.
final class DataFormatTests: XCTestCase {
  /// A version-1 checkpoint of configs/flowers.json: 4 features, 3 labelled classes.
  private let flowers = "\(repositoryRoot)/Tests/Fixtures/v1/step-000000060.h5"

  private func idxBytes(shape: [Int], values: [UInt8]) -> Data {
    var data = Data([0, 0, 0x08, UInt8(shape.count)])
    for d in shape {
      data.append(contentsOf: [
        UInt8(d >> 24 & 255), UInt8(d >> 16 & 255), UInt8(d >> 8 & 255), UInt8(d & 255),
      ])
    }
    data.append(contentsOf: values)
    return data
  }

  private func gzip(_ path: String) throws {
    let gzip = try XCTUnwrap(tool("gzip"))
    XCTAssertEqual(try runProcess(gzip, ["-k", "-f", path]).status, 0)
  }

  private func config(_ data: String, dir: TemporaryDirectory) throws -> Config {
    let text = """
      { "data": { \(data) },
        "model": { "layers": [ { "units": 3, "activation": "softmax" } ] },
        "loss": "cross_entropy", "optimizer": { "kind": "sgd", "learning_rate": 0.1 } }
      """
    return try Config.parse(text: text, file: dir.write("c.json", text))
  }

  // MARK: Registry

  func testRegistryNamesEveryKindOnceAndItsFileFormats() {
    XCTAssertEqual(
      DataSources.names, ["inline", "csv", "idx", "hdf5", "npy", "images", "synthetic", "memory"])
    XCTAssertEqual(Set(DataSources.names).count, DataSources.names.count)
    XCTAssertEqual(DataSources.formatNames, ["csv", "idx", "hdf5", "npy", "images"])
    XCTAssertEqual(DataSources.fileFormats.map { $0.formatName }, ["CSV", "IDX", "HDF5", "NPY", "PNG/JPEG"])
  }

  func testEverySourceDecodesAndReadsThroughTheRegistry() throws {
    let dir = TemporaryDirectory()
    dir.write("d.csv", "a,b,y\n1,2,0\n3,4,1\n")
    try idxBytes(shape: [2, 1, 2], values: [0, 255, 51, 102]).write(to: URL(fileURLWithPath: dir.file("i")))
    try idxBytes(shape: [2], values: [0, 1]).write(to: URL(fileURLWithPath: dir.file("l")))
    let file = try HDF5File.create(path: dir.file("d.h5"))
    try file.root().write([Float(1), 2, 3, 4], shape: [2, 2], name: "x")
    try file.root().write([Float(0), 1], shape: [2], name: "y")
    try file.close()
    try StreamingTests.npy(dir.file("x.npy"), shape: [2, 2], bytes: StreamingTests.floatBytes([1, 2, 3, 4]))
    try StreamingTests.npy(dir.file("y.npy"), descr: "|u1", shape: [2], bytes: [0, 1])
    for (label, pixels) in [("0", [UInt8(0), 255]), ("1", [51, 102])] {
      try FileManager.default.createDirectory(
        atPath: dir.file("png/\(label)"), withIntermediateDirectories: true)
      try Data(pngBytes(width: 2, height: 1, channels: 1, pixels: pixels))
        .write(to: URL(fileURLWithPath: dir.file("png/\(label)/a.png")))
    }
    // The Swift API's samples, found by fingerprint while registered.
    let memory = MemoryData(rows: 2, features: 2, inputs: [1, 2, 3, 4], targets: .values([0, 1]))
    MemoryDataStore.register(memory)
    defer { MemoryDataStore.release(memory.fingerprint) }
    // Each kind's keys, and the inputs it must read.
    let cases: [String: (String, [[Float]]?)] = [
      "inline": ("\"inputs\": [[1, 2], [3, 4]], \"targets\": [0, 1]", [[1, 2], [3, 4]]),
      "csv": ("\"path\": \"\(dir.file("d.csv"))\", \"targets\": \"y\"", [[1, 2], [3, 4]]),
      "idx": ("\"images\": \"\(dir.file("i"))\", \"labels\": \"\(dir.file("l"))\"", [[0, 1], [0.2, 0.4]]),
      "hdf5": (
        "\"path\": \"\(dir.file("d.h5"))\", \"inputs\": \"x\", \"targets\": \"y\"", [[1, 2], [3, 4]]
      ),
      "npy": (
        "\"features\": \"\(dir.file("x.npy"))\", \"targets\": \"\(dir.file("y.npy"))\", \"task\": \"classification\"",
        [[1, 2], [3, 4]]
      ),
      "images": (
        "\"path\": \"\(dir.file("png"))\", \"image_size\": [1, 2], \"channels\": 1", [[0, 1], [0.2, 0.4]]
      ),
      "synthetic": ("\"samples\": 5, \"features\": 3, \"classes\": 3", nil),
      "memory": (
        "\"fingerprint\": \"\(memory.fingerprint)\", \"rows\": 2, \"features\": 2, \"target_columns\": 1",
        [[1, 2], [3, 4]]
      ),
    ]
    for name in DataSources.names {
      guard let (keys, inputs) = cases[name] else {
        XCTFail("no test case for data source \(name)")
        continue
      }
      let config = try config("\"source\": \"\(name)\", \(keys)", dir: dir)
      XCTAssertEqual(config.data.sourceName, name)
      XCTAssertEqual(config.task, .classification)
      let raw = try DataLoader.read(config.data, task: config.task)
      if let inputs {
        XCTAssertEqual(raw.inputs.nested, inputs, name)
        XCTAssertEqual(raw.targets.nested, [[0], [1]], name)
      } else {
        XCTAssertEqual([raw.inputs.rows, raw.inputs.columns, raw.targets.columns], [5, 3, 1])
      }
      // A misspelt key of this kind is reported with its position and a guess from the kind's own keys.
      let first = keys.split(separator: "\"")[0]
      let typo = keys.replacingOccurrences(of: "\"\(first)\"", with: "\"\(first)x\"")
      XCTAssertThrowsError(try self.config("\"source\": \"\(name)\", \(typo)", dir: dir)) { error in
        let text = "\(error)"
        XCTAssertTrue(text.contains("c.json:1:"), text)
        XCTAssertTrue(
          text.contains("$.data.\(first)x: unknown key \"\(first)x\" (did you mean \"\(first)\"?)"), text)
      }
    }
  }

  func testUnknownAndMissingSourcesComeFromTheRegistry() throws {
    let dir = TemporaryDirectory()
    XCTAssertThrowsError(try config("\"source\": \"hdf\", \"path\": \"x\"", dir: dir)) { error in
      XCTAssertTrue(
        "\(error)".contains(
          "$.data.source: unknown data source \"hdf\"; expected one of inline, csv, idx, hdf5, npy, images, synthetic, memory (did you mean \"hdf5\"?)"
        ), "\(error)")
    }
    XCTAssertThrowsError(try config("\"path\": \"x\"", dir: dir)) { error in
      XCTAssertTrue(
        "\(error)".contains(
          "$.data.source: missing required key; expected one of inline, csv, idx, hdf5, npy, images, synthetic, memory"
        ),
        "\(error)")
    }
  }

  // MARK: Reading seam

  func testReadersHandOutRowBlocksInOrder() throws {
    let dir = TemporaryDirectory()
    let config = try config(
      "\"source\": \"csv\", \"path\": \"\(dir.write("d.csv", "x,y\n0,0\n1,1\n2,2\n3,0\n4,1\n"))\"", dir: dir)
    let reader = try config.data.source.open(task: .classification, labels: [])
    XCTAssertEqual([reader.features, reader.targetColumns], [1, 1])
    var sizes: [Int] = []
    var rows: [[Float]] = []
    while let block = try reader.next(maxRows: 2) {
      sizes.append(block.inputs.rows)
      rows += block.inputs.nested
      XCTAssertEqual(block.targets?.rows, block.inputs.rows)
    }
    XCTAssertEqual(sizes, [2, 2, 1])
    XCTAssertEqual(rows, [[0], [1], [2], [3], [4]])
    XCTAssertNil(try reader.next(maxRows: 2), "a finished reader stays finished")
  }

  /// A reader that only knows how to hand out blocks, as a streamed one would.
  private final class BlockOnlyReader: SampleReader {
    var position = 0
    let features = 2
    let targetColumns = 1
    let labels = ["a", "b"]
    let classes: Int? = 2
    func next(maxRows: Int) throws(NNBatchError) -> SampleBlock? {
      guard position < 5 else { return nil }
      let rows = min(maxRows, 5 - position, 3)
      let x = Matrix((position..<(position + rows)).map { [Float($0), Float(-$0)] })
      let t = Matrix((position..<(position + rows)).map { [Float($0 % 2)] })
      position += rows
      return SampleBlock(inputs: x, targets: t)
    }
  }

  func testAReaderThatOnlyStreamsBlocksIsGatheredWhole() throws {
    let raw = try BlockOnlyReader().readAll()
    XCTAssertEqual(raw.inputs.nested, (0..<5).map { [Float($0), Float(-$0)] })
    XCTAssertEqual(raw.targets.nested, (0..<5).map { [Float($0 % 2)] })
    XCTAssertEqual(raw.labels, ["a", "b"])
    XCTAssertEqual(raw.classes, 2)
  }

  // MARK: Hold-out

  func testTrainingAndEvaluateHoldOutTheSameRows() throws {
    // Inputs are the row numbers, so every row can be recognised after the split.
    let n = 23
    let inputs = (0..<n).map { "[\($0)]" }.joined(separator: ",")
    let targets = (0..<n).map { "\($0 % 2)" }.joined(separator: ",")
    let text = """
      { "seed": 11, "data": { "source": "inline", "inputs": [\(inputs)], "targets": [\(targets)],
                              "validation_split": 0.3 },
        "model": { "layers": [ { "units": 2, "activation": "softmax" } ] },
        "loss": "cross_entropy", "optimizer": { "kind": "sgd", "learning_rate": 0.1 } }
      """
    let config = try Config.parse(text: text, file: "c.json")
    let prepared = try DataLoader.prepare(config)
    let trainRows = prepared.train.inputs.nested.map { Int($0[0]) }
    let validationRows = try XCTUnwrap(prepared.validation).inputs.nested.map { Int($0[0]) }
    XCTAssertEqual(validationRows.count, 7, "round(23 × 0.3)")
    XCTAssertEqual(Set(trainRows + validationRows), Set(0..<n))
    XCTAssertEqual(validationRows, validationRows.sorted(), "file order")
    XCTAssertNotEqual(validationRows, Array(0..<7), "a seeded shuffle, not the first rows")

    let (dataset, _, source) = try Evaluate.samples(config: config, data: nil, format: nil, labels: [])
    XCTAssertEqual(source, "the checkpoint's validation data")
    XCTAssertEqual(dataset.inputs.nested.map { Int($0[0]) }, validationRows)
    XCTAssertEqual(dataset.targets.nested, try XCTUnwrap(prepared.validation).targets.nested)

    var other = config
    other.seed = 12
    let (moved, _, _) = try Evaluate.samples(config: other, data: nil, format: nil, labels: [])
    XCTAssertNotEqual(moved.inputs.nested.map { Int($0[0]) }, validationRows, "the seed picks the rows")
  }

  func testEvaluateTellsAConfigFromADataFileByContentNotName() throws {
    let dir = TemporaryDirectory()
    let text = """
      { "data": { "source": "inline", "inputs": [[0], [1], [2]], "targets": [0, 1, 0] },
        "model": { "layers": [ { "units": 2, "activation": "softmax" } ] },
        "loss": "cross_entropy", "optimizer": { "kind": "sgd", "learning_rate": 0.1 } }
      """
    let config = try Config.parse(text: text, file: "c.json")
    // A config whose name does not end in .json (after blank lines).
    let other = dir.write(
      "other.cfg",
      "\n  "
        + text.replacingOccurrences(of: "[2]]", with: "[2], [3]]")
        .replacingOccurrences(of: "[0, 1, 0]", with: "[0, 1, 0, 1]"))
    let (fromConfig, _, _) = try Evaluate.samples(config: config, data: other, format: nil, labels: [])
    XCTAssertEqual(fromConfig.count, 4)
    // A data file named like a config is still data: it is not a JSON object.
    let csvConfig = try Config.parse(
      text: text.replacingOccurrences(
        of: "\"source\": \"inline\", \"inputs\": [[0], [1], [2]], \"targets\": [0, 1, 0]",
        with:
          "\"source\": \"csv\", \"path\": \"\(dir.write("train.csv", "x,y\n0,0\n1,1\n"))\", \"targets\": \"y\""
      ),
      file: "c.json")
    let named = dir.write("data.json", "x,y\n5,1\n6,0\n7,1\n")
    let (fromData, _, _) = try Evaluate.samples(config: csvConfig, data: named, format: nil, labels: [])
    XCTAssertEqual(fromData.inputs.nested, [[5], [6], [7]])
  }

  func testAHoldOutThatLeavesNoRowsIsAnErrorForEvaluateToo() throws {
    let text = """
      { "data": { "source": "inline", "inputs": [[0], [1]], "targets": [0, 1], "validation_split": 0.1 },
        "model": { "layers": [ { "units": 2, "activation": "softmax" } ] },
        "loss": "cross_entropy", "optimizer": { "kind": "sgd", "learning_rate": 0.1 } }
      """
    let config = try Config.parse(text: text, file: "c.json")
    let message = "c.json: data.validation_split 0.1 of 2 samples leaves 0 for validation and 2 for training"
    XCTAssertThrowsError(try DataLoader.prepare(config)) { XCTAssertTrue("\($0)".contains(message), "\($0)") }
    XCTAssertThrowsError(try Evaluate.samples(config: config, data: nil, format: nil, labels: [])) {
      XCTAssertTrue("\($0)".contains(message), "\($0)")
    }
  }

  // MARK: Locations

  func testALocationIsAFolderOnlyWhenItsPathIsADirectory() {
    let dir = TemporaryDirectory()
    let file = dir.write("a.csv", "1,2\n")
    XCTAssertEqual(DataLocation(dir.path), .folder(dir.path))
    XCTAssertEqual(DataLocation(file), .file(file))
    XCTAssertEqual(
      DataLocation(dir.file("nope.csv")), .file(dir.file("nope.csv")), "reading it says it is missing")
    XCTAssertEqual(DataLocation(dir.path).path, dir.path)
  }

  func testAFolderNoSourceKindReadsIsRefusedAsAFileIs() throws {
    let dir = TemporaryDirectory()
    dir.write("a.csv", "1,2\n")
    XCTAssertNil(try DataSources.folderFormat(.folder(dir.path)), "no registered kind reads folders yet")
    var asFile = ""
    XCTAssertThrowsError(try DataSources.format(of: .file(dir.path))) { asFile = "\($0)" }
    XCTAssertEqual(asFile, "\(dir.path): expected a regular file, found a directory")
    XCTAssertThrowsError(try DataSources.format(of: .folder(dir.path))) { XCTAssertEqual("\($0)", asFile) }
    // evaluate --data DIR: a folder is never taken for a config; it is refused naming the folder.
    XCTAssertThrowsError(try Evaluate.run(checkpoint: flowers, dataConfig: dir.path, threads: 1)) { error in
      XCTAssertEqual((error as? NNBatchError)?.kind, .usage, "\(error)")
      XCTAssertTrue("\(error)".contains(asFile), "\(error)")
    }
  }

  // MARK: Formats by content

  private func format(_ path: String) throws -> String {
    try DataSources.format(of: DataLocation(path)).name
  }

  func testFormatsAreToldApartByContentNotByName() throws {
    let dir = TemporaryDirectory()
    // Names that point the wrong way: content decides.
    let csv = dir.write("images-idx3-ubyte", "a,b\n1,2\n")
    try idxBytes(shape: [2, 2], values: [1, 2, 3, 4]).write(to: URL(fileURLWithPath: dir.file("data.csv")))
    try gzip(dir.file("data.csv"))
    try gzip(csv)
    let h5 = try HDF5File.create(path: dir.file("inputs.idx"))
    try h5.root().write([Float(1)], shape: [1, 1], name: "x")
    try h5.close()
    // The signature after a 512-byte user block (detection only; nothing reads this file).
    var blocked = Data(count: 512)
    blocked.append(try Data(contentsOf: URL(fileURLWithPath: dir.file("inputs.idx"))))
    try blocked.write(to: URL(fileURLWithPath: dir.file("blocked")))
    dir.write("empty", "")
    dir.write("utf8.txt", "größe,höhe\n1,2\n")

    XCTAssertEqual(try format(csv), "csv")
    XCTAssertEqual(try format(csv + ".gz"), "csv", "gzipped text")
    XCTAssertEqual(try format(dir.file("data.csv")), "idx")
    XCTAssertEqual(try format(dir.file("data.csv.gz")), "idx", "gzipped IDX")
    XCTAssertEqual(try format(dir.file("inputs.idx")), "hdf5")
    XCTAssertEqual(try format(dir.file("blocked")), "hdf5")
    XCTAssertEqual(try format(dir.file("empty")), "csv")
    XCTAssertEqual(try format(dir.file("utf8.txt")), "csv")
  }

  func testGarbageIsNamedWithItsFirstBytes() throws {
    let dir = TemporaryDirectory()
    let elf = dir.file("new.bin")
    try Data([0x7F, 0x45, 0x4C, 0x46, 0x02, 0x01, 0x01, 0x00]).write(to: URL(fileURLWithPath: elf))
    XCTAssertThrowsError(try format(elf)) { error in
      XCTAssertEqual(
        "\(error)", "\(elf): not CSV, IDX, HDF5, NPY or PNG/JPEG (first bytes 7f 45 4c 46); pass --format")
      XCTAssertEqual((error as? NNBatchError)?.kind, .usage)
    }
    try gzip(elf)
    XCTAssertThrowsError(try format(elf + ".gz")) { error in
      XCTAssertTrue("\(error)".contains("(first bytes 1f 8b 08"), "\(error)")
      XCTAssertTrue("\(error)".contains("gunzipped 7f 45 4c 46); pass --format"), "\(error)")
    }
    XCTAssertThrowsError(try format(dir.file("missing"))) { error in
      XCTAssertEqual("\(error)", "\(dir.file("missing")): no such file")
    }
  }

  // MARK: predict and evaluate

  private func predict(_ input: String, format: String? = nil, dataset: String? = nil) throws -> [String] {
    try Predict.run(checkpoint: flowers, input: input, dataset: dataset, header: nil, format: format)
      .split(separator: "\n").map(String.init)
  }

  func testPredictReadsEachFormatByContentAndAgrees() throws {
    let dir = TemporaryDirectory()
    // The same four samples as IDX bytes, as CSV (b / 255, exactly as IDX scales them) and as HDF5.
    let bytes: [UInt8] = [10, 200, 30, 40, 255, 0, 128, 64, 1, 2, 3, 4]
    let values = bytes.map { Float($0) / 255 }
    try idxBytes(shape: [3, 2, 2], values: bytes).write(to: URL(fileURLWithPath: dir.file("a")))
    try gzip(dir.file("a"))
    let rows = (0..<3).map { r in (0..<4).map { "\(values[r * 4 + $0])" }.joined(separator: ",") }
    dir.write("b", "sl,sw,pl,pw\n" + rows.joined(separator: "\n") + "\n")
    let file = try HDF5File.create(path: dir.file("c"))
    try file.root().write(values, shape: [3, 4], name: "x")
    try file.close()

    let fromIDX = try predict(dir.file("a"))
    XCTAssertEqual(fromIDX.count, 4)
    XCTAssertEqual(fromIDX[0], "label,p_setosa,p_versicolor,p_virginica")
    XCTAssertEqual(try predict(dir.file("a.gz")), fromIDX)
    XCTAssertEqual(try predict(dir.file("b")), fromIDX)
    XCTAssertEqual(try predict(dir.file("c"), dataset: "x"), fromIDX)
    XCTAssertEqual(try predict(dir.file("b"), format: "csv"), fromIDX)
    XCTAssertThrowsError(try predict(dir.file("c"))) { error in
      XCTAssertEqual(
        "\(error)",
        "\(dir.file("c")): give the inputs' dataset with --dataset NAME (read as HDF5, detected from the file's content; pass --format to override)"
      )
    }
  }

  func testFormatOverridesDetection() throws {
    let dir = TemporaryDirectory()
    // A control byte in the header makes the file look binary; --format csv reads it anyway.
    let odd = dir.write("odd", "a\u{1},b,c,d\n5.1,3.5,1.4,0.2\n")
    XCTAssertThrowsError(try predict(odd)) { error in
      XCTAssertTrue(
        "\(error)".contains("not CSV, IDX, HDF5, NPY or PNG/JPEG (first bytes 61 01 2c 62); pass --format"),
        "\(error)")
    }
    let forced = try predict(odd, format: "csv")
    XCTAssertEqual(forced.count, 2)
    XCTAssertTrue(forced[1].hasPrefix("setosa,"), forced[1])

    // Forcing the wrong format reads the file as that format, and says so.
    let csv = dir.write("x.csv", "5.1,3.5,1.4,0.2\n")
    XCTAssertThrowsError(try predict(csv, format: "idx")) { error in
      let text = "\(error)"
      XCTAssertTrue(text.hasPrefix("\(csv): wrong IDX magic number"), text)
      XCTAssertTrue(text.hasSuffix("(read as IDX, as --format idx says)"), text)
    }
    XCTAssertThrowsError(try predict(csv, format: "hdf5", dataset: "x")) { error in
      XCTAssertTrue("\(error)".hasSuffix("(read as HDF5, as --format hdf5 says)"), "\(error)")
    }
    XCTAssertThrowsError(try predict(csv, format: "cvs")) { error in
      XCTAssertEqual(
        "\(error)",
        "--format: unknown format \"cvs\"; expected one of csv, idx, hdf5, npy, images (did you mean \"csv\"?)"
      )
    }
    // A detected format is named in reading errors too.
    let short = dir.write("short", "1,2,3\n")
    XCTAssertThrowsError(try predict(short)) { error in
      XCTAssertEqual(
        "\(error)",
        "\(short): expected 4 features per sample (the model's inputs), found 3 (read as CSV, detected from the file's content; pass --format to override)"
      )
    }
  }

  func testEvaluateReadsADataFileLikeTheTrainingData() throws {
    let dir = TemporaryDirectory()
    let lines = try String(contentsOfFile: "\(repositoryRoot)/configs/data/flowers.csv", encoding: .utf8)
      .split(whereSeparator: \.isNewline).prefix(41)
    let data = dir.write("flowers.data", lines.joined(separator: "\n") + "\n")
    let model = try SavedModel.load(flowers)
    let (dataset, config, source) = try Evaluate.samples(
      config: model.config, data: data, format: nil, labels: model.checkpoint.data.labels)
    XCTAssertEqual(dataset.count, 40)
    XCTAssertEqual(dataset.features, 4)
    XCTAssertEqual(source, data)
    XCTAssertEqual(config.data.sourceName, "csv")
    XCTAssertEqual(
      try Evaluate.samples(config: model.config, data: data, format: "csv", labels: []).0.count, 40)

    try idxBytes(shape: [1, 4], values: [1, 2, 3, 4]).write(to: URL(fileURLWithPath: dir.file("images")))
    XCTAssertThrowsError(
      try Evaluate.samples(config: model.config, data: dir.file("images"), format: nil, labels: [])
    ) { error in
      XCTAssertEqual(
        "\(error)",
        "\(dir.file("images")): IDX data (detected from the file's content), but the model was trained on csv data, so nnbatch cannot tell how to read it; pass a config (.json) whose data section describes it"
      )
    }
  }
}
