import Foundation
import HDF5Store
import NNBatch
import NNBatchCore
import NNBatchData
import NeuralNet
import TestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Issue 14's hostile inputs: each is refused with a one-line message (file, position,
/// expected vs found) or read correctly, never a trap or a silent misread.
final class HostileInputTests: XCTestCase {
  func testTheMemoryBudgetTakesTheLeastRoomOfTheCgroupAndItsAncestors() throws {
    // A cgroup tree as /proc/self/cgroup and /sys/fs/cgroup show it: a limit on the
    // service two levels below the root, a looser one above it, none at the root.
    let dir = TemporaryDirectory()
    func put(_ folder: String, limit: String, usage: Int) throws {
      try FileManager.default.createDirectory(atPath: dir.file(folder), withIntermediateDirectories: true)
      dir.write("\(folder)/memory.max", limit + "\n")
      dir.write("\(folder)/memory.current", "\(usage)\n")
    }
    try put(".", limit: "max", usage: 5_000)
    try put("system.slice", limit: "\(1 << 30)", usage: 1_000)
    try put("system.slice/train.service", limit: "\(1 << 20)", usage: 24_576)
    XCTAssertEqual(
      MemoryBudget.leastRoom(
        mount: dir.path, path: "/system.slice/train.service", limit: "memory.max", usage: "memory.current"),
      (1 << 20) - 24_576)
    XCTAssertEqual(
      MemoryBudget.leastRoom(
        mount: dir.path, path: "/system.slice", limit: "memory.max", usage: "memory.current"),
      (1 << 30) - 1_000)
    XCTAssertNil(
      MemoryBudget.leastRoom(mount: dir.path, path: "/", limit: "memory.max", usage: "memory.current"))
  }

  private func idx(_ header: [UInt8], dims: [UInt32], values: [UInt8] = []) -> Data {
    var data = Data(header)
    for d in dims {
      data.append(contentsOf: [UInt8(d >> 24), UInt8(d >> 16 & 255), UInt8(d >> 8 & 255), UInt8(d & 255)])
    }
    data.append(contentsOf: values)
    return data
  }

  private func readIDX(_ dir: TemporaryDirectory, images: String, labels: String = "labels") throws -> RawData
  {
    try DataLoader.read(
      DataConfig(
        source: IDXSource(images: dir.file(images), labels: dir.file(labels)), task: .classification),
      task: .classification)
  }

  private func assertRefused(
    _ body: @autoclosure () throws -> some Any, _ fragments: [String], file: StaticString = #filePath,
    line: UInt = #line
  ) {
    XCTAssertThrowsError(try body(), file: file, line: line) { error in
      guard let error = error as? NNBatchError else { return XCTFail("not an NNBatchError: \(error)") }
      XCTAssertEqual(error.kind, .usage, file: file, line: line)
      XCTAssertEqual(error.lines.count, 1, "\(error)", file: file, line: line)
      for fragment in fragments {
        XCTAssertTrue(
          "\(error)".contains(fragment), "expected \"\(fragment)\" in: \(error)", file: file, line: line)
      }
    }
  }

  // MARK: Sizes

  func testIDXHeadersWhoseDimensionsOverflowOrOfRank255AreRefused() throws {
    let dir = TemporaryDirectory()
    try idx([0, 0, 8, 1], dims: [2], values: [0, 1]).write(to: URL(fileURLWithPath: dir.file("labels")))
    try idx([0, 0, 8, 4], dims: [0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF], values: [1, 2, 3])
      .write(to: URL(fileURLWithPath: dir.file("overflow")))
    assertRefused(
      try readIDX(dir, images: "overflow"), [dir.file("overflow"), "byte 4", "product overflows"])
    // Rank 255 with a full header of large dimensions, and with a header cut short.
    try idx([0, 0, 8, 255], dims: Array(repeating: 0x0001_0000, count: 255), values: [7])
      .write(to: URL(fileURLWithPath: dir.file("rank255")))
    assertRefused(try readIDX(dir, images: "rank255"), [dir.file("rank255"), "product overflows"])
    try idx([0, 0, 8, 255], dims: [2, 2]).write(to: URL(fileURLWithPath: dir.file("rank255short")))
    assertRefused(try readIDX(dir, images: "rank255short"), ["IDX header truncated (rank 255"])
  }

  /// Found by tools/fuzz (idx): a count of 0 passes the header's size check
  /// (the product of all dimensions is 0), then the pixel count overflowed.
  func testIDXImagesOfZeroCountWhosePixelCountOverflowsAreRefused() throws {
    let dir = TemporaryDirectory()
    try idx([0, 0, 8, 1], dims: [0]).write(to: URL(fileURLWithPath: dir.file("labels")))
    try idx([0, 0, 8, 3], dims: [0, 0xFCFF_FFFB, 0xFEFF_FFFF]).write(
      to: URL(fileURLWithPath: dir.file("images")))
    let fragments = [dir.file("images"), "byte 8", "[4244635643, 4278190079]", "the product overflows"]
    assertRefused(try readIDX(dir, images: "images"), fragments)
    assertRefused(try IDXSource.openInputs(.file(dir.file("images")), InputRequest()).readAll(), fragments)
  }

  func testDataWithZeroFeaturesIsRefused() throws {
    let dir = TemporaryDirectory()
    try idx([0, 0, 8, 1], dims: [64], values: [UInt8](repeating: 0, count: 64))
      .write(to: URL(fileURLWithPath: dir.file("labels")))
    try idx([0, 0, 8, 2], dims: [64, 0]).write(to: URL(fileURLWithPath: dir.file("empty")))
    assertRefused(try readIDX(dir, images: "empty"), [dir.file("empty"), "[64, 0]", "zero features"])

    let path = dir.file("empty.h5")
    let file = try HDF5File.create(path: path)
    try file.root().write([Float](), shape: [64, 0], name: "x")
    try file.root().write([Float](repeating: 0, count: 64), shape: [64], name: "y")
    try file.close()
    assertRefused(
      try DataLoader.read(
        DataConfig(source: HDF5Source(path: path, inputs: "x", targets: "y"), task: nil), task: .regression),
      [path, "x", "found shape [64, 0]"])

    let config = """
      { "data": { "source": "inline", "inputs": [[], []], "targets": [1, 2] },
        "model": { "layers": [ { "units": 1, "activation": "linear" } ] },
        "loss": "mse", "optimizer": { "kind": "sgd" } }
      """
    XCTAssertThrowsError(try Config.parse(text: config, file: "empty.json")) { error in
      XCTAssertTrue("\(error)".contains("empty.json:1:"), "\(error)")
      XCTAssertTrue("\(error)".contains("$.data.inputs: expected rows of at least one number"), "\(error)")
    }
  }

  func testAnHDF5DatasetDeclaredHugeButStoredSparselyIsRefusedBeforeReading() throws {
    let dir = TemporaryDirectory()
    let path = dir.file("sparse.h5")
    let file = try HDF5File.create(path: path)
    // 10^15 floats declared (4 PB), nothing stored: the file is a few KB.
    try file.root().declareForTesting(shape: [1_000_000_000, 1_000_000], name: "x")
    try file.root().declareForTesting(shape: [1_000_000_000], name: "y")
    try file.close()
    XCTAssertLessThan(fileSize(path), 100_000)
    assertRefused(
      try DataLoader.read(
        DataConfig(source: HDF5Source(path: path, inputs: "x", targets: "y"), task: nil), task: .regression),
      [path, "dataset x of shape [1000000000, 1000000] needs", "more than nnbatch may use"])
    // Past Int.max when counted in bytes: still a message, not a trap.
    let wide = dir.file("wide.h5")
    let wideFile = try HDF5File.create(path: wide)
    try wideFile.root().declareForTesting(shape: [1 << 31, 1 << 31], name: "x")
    try wideFile.close()
    assertRefused(
      try HDF5Source.openInputs(.file(wide), InputRequest(dataset: "x")), [wide, "needs more than"])
  }

  func testNonRegularFilesAreRefused() throws {
    let dir = TemporaryDirectory()
    let fifo = dir.file("fifo")
    XCTAssertEqual(mkfifo(fifo, 0o600), 0)
    for path in ["/dev/zero", fifo, dir.path] {
      let expected = path == dir.path ? "a directory" : path == fifo ? "a FIFO" : "a character device"
      assertRefused(try FileHead(path: path), [path, "expected a regular file, found \(expected)"])
      assertRefused(
        try CSVSource(path: path, header: nil, delimiter: ",", targets: [], ignore: []).open(
          task: .regression, labels: []), [path, "expected a regular file"])
      assertRefused(
        try IDXSource(images: path, labels: path).open(task: .classification, labels: []),
        ["expected a regular file"])
      assertRefused(
        try HDF5Source.openInputs(.file(path), InputRequest(dataset: "x")), ["expected a regular file"])
    }
  }

  // MARK: Reading correctly

  private func csvRead(_ path: String, targets: [ColumnRef] = [.index(-1)], task: LearningTask = .regression)
    throws -> RawData
  {
    try CSVSource(path: path, header: nil, delimiter: ",", targets: targets, ignore: []).open(
      task: task, labels: []
    )
    .readAll()
  }

  func testTruncatedOrTrailingGarbageGzipIsAnErrorAndConcatenatedMembersAreRead() throws {
    let dir = TemporaryDirectory()
    let gzip = try XCTUnwrap(tool("gzip"))
    var text = "a,b,y\n"
    for i in 0..<5000 { text += "\(i % 7),\(i % 11),\(i % 3)\n" }
    _ = dir.write("d.csv", text)
    XCTAssertEqual(try runProcess(gzip, ["-k", dir.file("d.csv")]).status, 0)
    let whole = try Data(contentsOf: URL(fileURLWithPath: dir.file("d.csv.gz")))
    XCTAssertEqual(try csvRead(dir.file("d.csv.gz")).inputs.rows, 5000)

    // Cut before the 8-byte trailer (CRC and length), and in the middle.
    for cut in [whole.count - 4, whole.count / 2] {
      try whole.prefix(cut).write(to: URL(fileURLWithPath: dir.file("cut.csv.gz")))
      assertRefused(try csvRead(dir.file("cut.csv.gz")), [dir.file("cut.csv.gz"), "byte", "truncated"])
    }
    try (whole + Data("garbage".utf8)).write(to: URL(fileURLWithPath: dir.file("trailing.csv.gz")))
    assertRefused(
      try csvRead(dir.file("trailing.csv.gz")),
      [dir.file("trailing.csv.gz"), "byte \(whole.count)", "found 7 more bytes"])
    // Two members one after another are one stream (gzip's own rule).
    _ = dir.write("tail.csv", "1,2,0\n")
    XCTAssertEqual(try runProcess(gzip, ["-k", dir.file("tail.csv")]).status, 0)
    let tail = try Data(contentsOf: URL(fileURLWithPath: dir.file("tail.csv.gz")))
    try (whole + tail).write(to: URL(fileURLWithPath: dir.file("two.csv.gz")))
    XCTAssertEqual(try csvRead(dir.file("two.csv.gz")).inputs.rows, 5001)
  }

  func testDuplicateCSVColumnNamesAreAnErrorWhenUsedAndAWarningOtherwise() throws {
    let dir = TemporaryDirectory()
    let path = dir.write("dup.csv", "x,y,x,z\n1,2,3,4\n5,6,7,8\n")
    assertRefused(
      try csvRead(path, targets: [.name("x")]),
      [path + ":1:", "target column \"x\" is ambiguous", "columns 0 and 2"])
    let source = CSVSource(
      path: path, header: true, delimiter: ",", targets: [.name("z")], ignore: [.name("x")])
    assertRefused(try source.open(task: .regression, labels: []), ["ignored column \"x\" is ambiguous"])
    let (raw, warnings) = try Warnings.recording { try csvRead(path, targets: [.name("z")]) }
    XCTAssertEqual(raw.targets.nested, [[4], [8]])
    XCTAssertEqual(raw.inputs.nested, [[1, 2, 3], [5, 6, 7]])
    XCTAssertEqual(warnings.count, 1)
    XCTAssertTrue(
      warnings[0].contains("column name \"x\" occurs more than once (columns 0 and 2"), "\(warnings)")
  }

  func testACSVWhoseParsedValuesOutgrowTheBudgetIsRefusedMidFileNamingTheLine() throws {
    let dir = TemporaryDirectory()
    // 1.2 MB of text that parses into 300,000 floats (2.4 MB as Float, doubled while the array grows).
    let path = dir.write("wide.csv", "x,y\n" + String(repeating: "1,2\n", count: 300_000))
    let cap = 2_000_000
    try MemoryBudget.$cap.withValue(cap) {
      assertRefused(
        try csvRead(path, targets: [.name("y")]),
        [
          path + ":", "the parsed values up to line ", "(growing) needs ",
          "more than nnbatch may use: 2.0 MB",
        ])
    }
    // Under a cap the text and its values fit in, the same file reads whole.
    let raw = try MemoryBudget.$cap.withValue(8 * cap) { try csvRead(path, targets: [.name("y")]) }
    XCTAssertEqual(raw.inputs.rows, 300_000)
  }

  func testValuesFiniteAsDoubleButNotAsFloatAreErrorsWithLineAndColumn() throws {
    let dir = TemporaryDirectory()
    let path = dir.write("big.csv", "a,b,y\n1,2,3\n4,1e39,6\n")
    assertRefused(try csvRead(path), [path + ":3:", "column \"b\" (field 2)", "found 1e+39"])
    let target = dir.write("bigtarget.csv", "a,b,y\n1,2,3\n4,5,-1e39\n")
    assertRefused(try csvRead(target), [target + ":3:", "column \"y\" (field 3)"])
    // predict reads inputs through the same path.
    assertRefused(
      try CSVSource.openInputs(.file(path), InputRequest(header: true)).readAll(),
      [path + ":3:", "(field 2)"])
    XCTAssertEqual(try csvRead(dir.write("max.csv", "a,y\n3.4e38,1\n")).inputs.nested, [[3.4e38]])
  }

  func testInlineValuesBeyondFloatRangeAndSyntheticDataBeyondMemoryAreRefused() throws {
    let text = """
      { "data": { "source": "inline", "inputs": [[1, 2], [3, 1e39]], "targets": [1, -1e39] },
        "model": { "layers": [ { "units": 1, "activation": "linear" } ] },
        "loss": "mse", "optimizer": { "kind": "sgd" } }
      """
    XCTAssertThrowsError(try Config.parse(text: text, file: "big.json")) { error in
      let lines = (error as? NNBatchError)?.lines ?? []
      XCTAssertEqual(lines.count, 2, "\(lines)")
      XCTAssertTrue(
        lines.first?.hasPrefix("big.json:1:56: $.data.inputs[1][1]: expected a number within") ?? false,
        "\(lines)")
      XCTAssertTrue(lines.last?.contains("$.data.targets[1]: expected a number within") ?? false, "\(lines)")
    }
    // 2^28 × 2^20 floats are within the keys' bounds: 1 PB.
    let source = SyntheticSource(samples: 1 << 28, features: 1 << 20, classes: 2, seed: 1)
    assertRefused(
      try source.open(task: .classification, labels: []),
      ["synthetic data: 268435456 synthetic samples of 1048576 features needs", "more than nnbatch may use"])
  }

  func testLabelsThatDifferOnlyInUnicodeNormalizationAreOneLabelWithAWarning() throws {
    let dir = TemporaryDirectory()
    let composed = "caf\u{E9}"  // NFC: é as one code point
    let decomposed = "cafe\u{301}"  // NFD: e + combining acute
    let path = dir.write("labels.csv", "x,label\n1,\(composed)\n2,tea\n3,\(decomposed)\n4,tea\n")
    let (raw, warnings) = try Warnings.recording { try csvRead(path, task: .classification) }
    XCTAssertEqual(raw.labels.count, 2)
    XCTAssertTrue(raw.labels[0].unicodeScalars.elementsEqual(composed.unicodeScalars), "first spelling kept")
    XCTAssertEqual(raw.targets.nested, [[0], [1], [0], [1]])
    XCTAssertEqual(warnings.count, 1)
    XCTAssertTrue(warnings[0].hasPrefix("\(path):4: label"), warnings[0])
    XCTAssertTrue(warnings[0].contains("than on line 2"), warnings[0])
    // Different text stays different, whatever its bytes.
    let other = dir.write("other.csv", "x,label\n1,cafe\n2,caf\u{E9}\n")
    XCTAssertEqual(try csvRead(other, task: .classification).labels.count, 2)
  }

  private func config(
    _ dir: TemporaryDirectory, csv: String, extra: String = "", loss: String = "cross_entropy"
  )
    throws -> Config
  {
    let path = dir.write("data.csv", csv)
    let text = """
      { "data": { "source": "csv", "path": "\(path)", "targets": "y" \(extra) },
        "model": { "layers": [ { "units": 2, "activation": "\(loss == "mse" ? "linear" : "softmax")" } ] },
        "loss": "\(loss)", "optimizer": { "kind": "sgd" } }
      """
    return try Config.parse(text: text, file: dir.write("c.json", text))
  }

  func testATrainingSetWithOneClassIsAnErrorForClassification() throws {
    let dir = TemporaryDirectory()
    let config = try config(dir, csv: "a,y\n1,cat\n2,cat\n3,cat\n")
    assertRefused(
      try DataLoader.prepare(config),
      ["data.csv: classification needs at least two classes", "found one", "3 samples is \"cat\""])
  }

  func testAConstantColumnUnderStandardizeGetsFactorOneAndAWarning() throws {
    // 0.1 is not exact in binary: E[x²] − mean² left about 1e-17 of
    // variance and gave a factor of 2e8.
    let n = 1000
    let m = Matrix(rows: n, columns: 3)
    for r in 0..<n {
      m[r, 0] = 0.1
      m[r, 1] = 10_000 + Float(r % 2)  // mean 10000.5, std exactly 0.5
      m[r, 2] = r == 0 ? Float(1000).nextUp : 1000  // one rounding step apart
    }
    let (scaler, constant) = AffineScaler.fitReporting(.standardize, to: m)
    XCTAssertEqual(constant, [0, 2])
    XCTAssertEqual(scaler.factor, [1, 2, 1])
    XCTAssertEqual(scaler.shift[0], 0.1)
    XCTAssertEqual(scaler.shift[1], 10_000.5)
    let (minmax, constantMinmax) = AffineScaler.fitReporting(.minmax, to: m)
    XCTAssertEqual(constantMinmax, [0, 2])
    XCTAssertEqual(minmax.factor, [1, 1, 1])

    // Spreads above the relative threshold but so tiny that 1 / spread overflows Float.
    let tiny = Matrix(rows: 2, columns: 1)
    tiny[0, 0] = 0
    tiny[1, 0] = 1e-39
    for kind in [Scaling.minmax, .standardize] {
      let (scaled, flagged) = AffineScaler.fitReporting(kind, to: tiny)
      XCTAssertEqual(flagged, [0], "\(kind)")
      XCTAssertEqual(scaled.factor, [1], "\(kind)")
    }

    // A range past Float's: the factor is 1 / the Double range, never 0 (which would erase the column).
    let wide = Matrix(rows: 3, columns: 1)
    wide[0, 0] = -3e38
    wide[1, 0] = 0
    wide[2, 0] = 3e38
    let (spanning, none) = AffineScaler.fitReporting(.minmax, to: wide)
    XCTAssertEqual(none, [])
    XCTAssertEqual(spanning.factor, [Float(1 / 6e38)])
    XCTAssertGreaterThan(spanning.factor[0], 0)
    spanning.apply(to: wide)
    XCTAssertEqual(wide[0, 0], 0)
    XCTAssertEqual(wide[1, 0], 0.5, accuracy: 1e-6)
    // x − low itself overflows Float at the top: the data check refuses such a row, naming the scaling.
    XCTAssertFalse(wide[2, 0].isFinite)

    let dir = TemporaryDirectory()
    var csv = "a,b,y\n"
    for r in 0..<40 { csv += "0.1,\(r % 5),\(r % 2)\n" }
    let config = try self.config(dir, csv: csv, extra: ", \"scale\": \"standardize\"")
    let (data, warnings) = try Warnings.recording { try DataLoader.prepare(config) }
    XCTAssertEqual(data.scaler.factor[0], 1)
    XCTAssertEqual(warnings.count, 1)
    XCTAssertTrue(warnings[0].contains("1 feature column (0-based: 0) is constant or nearly so"), warnings[0])
  }

  // MARK: Config

  func testTenThousandLayersParse() throws {
    // Before, each value's location recounted its line from the start: a
    // config on one line took minutes. No timing asserted: quadratic work
    // would make this test itself take minutes.
    let layer = #"{ "units": 4, "activation": "relu" }"#
    let layers = Array(repeating: layer, count: 9_999) + [#"{ "units": 1, "activation": "sigmoid" }"#]
    let text = """
      { "data": { "source": "inline", "inputs": [[0, 0], [1, 1]], "targets": [0, 1] }, "model": { "layers": [\(layers.joined(separator: ", "))] }, "loss": "binary_cross_entropy", "optimizer": { "kind": "sgd" }, "training": { "epochs": 0 } }
      """
    let started = Date()
    let config = try Config.parse(text: text, file: "deep.json")
    print("parsed 10,000 layers in \(Date().timeIntervalSince(started)) s")
    XCTAssertEqual(config.layers.count, 10_000)
    // Errors still point at the right column far along the line.
    let broken = text.replacingOccurrences(of: #""sigmoid""#, with: #""sigmod""#)
    XCTAssertThrowsError(try Config.parse(text: broken, file: "deep.json")) { error in
      let column = text.distance(from: text.startIndex, to: text.range(of: #""sigmoid""#)!.lowerBound) + 1
      XCTAssertTrue(
        "\(error)".hasPrefix("deep.json:1:\(column): $.model.layers[9999].activation"), "\(error)")
    }
  }

  // MARK: Lock

  func testASecondLockOnAFolderFailsNamingTheHolderAndTheLockGoesWithItsHolder() throws {
    let dir = TemporaryDirectory()
    let folder = dir.file("ck")
    do {
      let first = try RunLock(directory: folder)
      XCTAssertTrue(FileManager.default.fileExists(atPath: "\(folder)/.lock"))
      // flock locks belong to open files: a second open in one process conflicts too.
      assertRefused(
        try RunLock(directory: folder),
        ["\(folder): another nnbatch run (PID \(getpid())) is using this checkpoint folder"])
      withExtendedLifetime(first) {}
    }
    XCTAssertFalse(FileManager.default.fileExists(atPath: folder), "the folder it created goes with it")
    let second = try RunLock(directory: folder)
    XCTAssertEqual(second.path, "\(folder)/.lock")
  }
}

extension HostileInputTests {
  /// libhdf5 converts a float64 beyond float32's range to inf: refused in training and predict.
  func testFloat64BeyondFloatRangeInHDF5IsAnErrorInTrainingAndPredict() throws {
    let dir = TemporaryDirectory()
    let path = dir.file("wide.h5")
    let file = try HDF5File.create(path: path)
    try file.root().write([Double(1), 2, 3, 1e39], shape: [2, 2], name: "x")
    try file.root().write([Double(0), 1], shape: [2], name: "y")
    try file.close()
    let text = """
      { "data": { "source": "hdf5", "path": "\(path)", "inputs": "x", "targets": "y" },
        "model": { "layers": [ { "units": 1, "activation": "linear" } ] },
        "loss": "mse", "optimizer": { "kind": "sgd" }, "training": { "epochs": 0 },
        "checkpoint": { "dir": "\(dir.file("ck"))" } }
      """
    let config = try Config.parse(text: text, file: dir.write("c.json", text))
    XCTAssertThrowsError(try DataLoader.prepare(config)) { error in
      XCTAssertEqual("\(error)", "\(path): training sample 2, feature 1: expected a finite number, found inf")
    }
    // A model of two inputs, then predict on the file.
    let fine = dir.write(
      "fine.json", text.replacingOccurrences(of: "\"\(path)\"", with: "\"\(dir.file("ok.h5"))\""))
    let ok = try HDF5File.create(path: dir.file("ok.h5"))
    try ok.root().write([Double(1), 2, 3, 4], shape: [2, 2], name: "x")
    try ok.root().write([Double(0), 1], shape: [2], name: "y")
    try ok.close()
    XCTAssertEqual(try Trainer(options: TrainOptions(configPath: fine, threads: 1), signals: nil).run(), 0)
    XCTAssertThrowsError(
      try Predict.run(
        checkpoint: dir.file("ck/step-000000000.h5"), input: path, dataset: "x", header: nil)
    ) { error in
      XCTAssertEqual("\(error)", "\(path): sample 2, feature 1: expected a finite number, found inf")
    }
  }
}
