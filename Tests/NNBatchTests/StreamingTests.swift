import Checkpoints
import Foundation
import HDF5Store
import NNBatch
import NNBatchCore
import NNBatchData
import NeuralNet
import Parallel
import TestSupport
import XCTest

/// Streamed training data (docs/streaming.md): same results as in memory where the order is the same,
/// resume mid-epoch, any --threads, the block plan, and the .npy reader.
final class StreamingTests: XCTestCase {
  // MARK: Files

  /// A .npy file (format `version`) of `descr` holding `bytes`, with `header` instead of the usual dict when given.
  static func npy(
    _ path: String, descr: String = "<f4", shape: [Int], bytes: [UInt8], version: UInt8 = 1,
    header: String? = nil
  ) throws {
    let tuple =
      shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    var dict = header ?? "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(tuple), }"
    let prefix = version == 1 ? 10 : 12
    while (prefix + dict.utf8.count + 1) % 64 != 0 { dict += " " }
    dict += "\n"
    var data: [UInt8] = [0x93] + Array("NUMPY".utf8) + [version, 0]
    let n = dict.utf8.count
    data += version == 1 ? [UInt8(n & 0xFF), UInt8(n >> 8)] : [UInt8(n & 0xFF), UInt8(n >> 8 & 0xFF), 0, 0]
    data += Array(dict.utf8) + bytes
    try Data(data).write(to: URL(fileURLWithPath: path))
  }

  static func floatBytes(_ values: [Float]) -> [UInt8] {
    values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } }
  }

  /// `rows` samples of `features` features (offset so that scaling matters) and class labels 0...2.
  static func samples(rows: Int, features: Int, seed: UInt64) -> (x: [Float], y: [Float]) {
    var g = SeededGenerator(seed: seed)
    var x: [Float] = []
    var y: [Float] = []
    for _ in 0..<rows {
      let row = (0..<features).map { j in g.nextFloat() * Float(j + 1) + 3 }
      x += row
      y.append(Float(Int((row[0] - 3) * 3) % 3))
    }
    return (x, y)
  }

  /// The same samples as .npy (x.npy, y.npy int64), HDF5 (d.h5, chunked) and, for images, IDX files in `dir`.
  static func writeAll(_ dir: TemporaryDirectory, rows: Int, features: Int) throws {
    let (x, y) = samples(rows: rows, features: features, seed: 11)
    try npy(dir.file("x.npy"), shape: [rows, features], bytes: floatBytes(x))
    try npy(
      dir.file("y.npy"), descr: "<i8", shape: [rows],
      bytes: y.flatMap { v in withUnsafeBytes(of: Int64(v).littleEndian) { Array($0) } })
    let file = try HDF5File.create(path: dir.file("d.h5"))
    let root = try file.root()
    try root.write(x, shape: [rows, features], name: "x")
    try root.write(y, shape: [rows], name: "y")
    try file.close()
    let vx = samples(rows: 40, features: features, seed: 12)
    try npy(dir.file("vx.npy"), shape: [40, features], bytes: floatBytes(vx.x))
    try npy(dir.file("vy.npy"), shape: [40], bytes: floatBytes(vx.y))
  }

  static func config(
    _ dir: TemporaryDirectory, _ name: String, data: String, stream: Bool?, shuffle: Bool,
    scale: String = "standardize", every: String = "\"every_epochs\": 1"
  ) -> String {
    let streamKey =
      stream.map { ", \"stream\": \($0), \"stream_block_rows\": 37, \"stream_window\": 3" } ?? ""
    return dir.write(
      "\(name).json",
      """
      { "name": "\(name)", "seed": 9,
        "data": { \(data), "task": "classification", "scale": "\(scale)"\(streamKey) },
        "model": { "layers": [ { "units": 12, "activation": "tanh" }, { "units": 3, "activation": "softmax" } ] },
        "loss": "cross_entropy", "optimizer": { "kind": "adam", "learning_rate": 0.01 },
        "training": { "epochs": 3, "batch_size": 16, "shard_size": 8, "shuffle": \(shuffle) },
        "checkpoint": { "dir": "\(dir.file("ck-" + name))", \(every), "keep": 100 } }
      """)
  }

  static let npyData = "\"source\": \"npy\", \"features\": \"X\", \"targets\": \"Y\""

  private func npyData(_ dir: TemporaryDirectory, validation: Bool = false) -> String {
    var text = Self.npyData.replacingOccurrences(of: "X", with: dir.file("x.npy"))
      .replacingOccurrences(of: "Y", with: dir.file("y.npy"))
    if validation {
      text +=
        ", \"validation\": { \"source\": \"npy\", \"features\": \"\(dir.file("vx.npy"))\", \"targets\": \"\(dir.file("vy.npy"))\" }"
    }
    return text
  }

  private func train(_ path: String, threads: Int = 2, start: StartPoint = .fresh, dir: String? = nil) throws
    -> Int32
  {
    var options = TrainOptions(configPath: path, threads: threads)
    options.quiet = true
    options.start = start
    options.checkpointDir = dir
    return try Trainer(options: options, signals: nil).run()
  }

  private func newest(_ dir: String) throws -> Checkpoint {
    try XCTUnwrap(try CheckpointStore(directory: dir).newestValid()).checkpoint
  }

  /// Bitwise equality of two runs, except that one streamed (its checkpoint records the block plan).
  private func assertSameRun(_ a: Checkpoint, _ b: Checkpoint, line: UInt = #line) {
    var b = b
    b.data.stream = a.data.stream
    XCTAssertEqual(a.bitwiseDifferences(from: b), [], line: line)
  }

  // MARK: Streamed equals in memory

  func testWithoutShuffleStreamedRunsAreBitIdenticalToInMemoryOnes() throws {
    let dir = TemporaryDirectory()
    try Self.writeAll(dir, rows: 300, features: 5)
    let h5 =
      "\"source\": \"hdf5\", \"path\": \"\(dir.file("d.h5"))\", \"inputs\": \"/x\", \"targets\": \"/y\""
    let sources: [(String, String, String)] = [
      ("npy", npyData(dir, validation: true), "standardize"), ("h5", h5, "minmax"),
      ("h5s", h5, "standardize"),
    ]
    for (name, data, scale) in sources {
      let memory = Self.config(dir, name + "-mem", data: data, stream: false, shuffle: false, scale: scale)
      let streamed = Self.config(dir, name + "-str", data: data, stream: true, shuffle: false, scale: scale)
      XCTAssertEqual(try train(memory), 0)
      XCTAssertEqual(try train(streamed), 0)
      let a = try newest(dir.file("ck-\(name)-mem"))
      let b = try newest(dir.file("ck-\(name)-str"))
      XCTAssertNil(a.data.stream)
      XCTAssertEqual(b.data.stream, "block_rows=37 window=3")
      XCTAssertEqual(a.data.fingerprint, b.data.fingerprint, name)
      XCTAssertEqual(a.counters.step, 57)
      assertSameRun(a, b)
    }
  }

  func testIDXStreamsUnlessGzippedAndThenRefusesOrLoads() throws {
    let dir = TemporaryDirectory()
    var g = SeededGenerator(seed: 3)
    let count = 64
    let pixels = (0..<(count * 9)).map { _ in UInt8(g.nextFloat() * 255) }
    func idx(_ dims: [Int], _ values: [UInt8]) -> Data {
      var d = Data([0, 0, 8, UInt8(dims.count)])
      for v in dims { d += [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
      return d + values
    }
    try idx([count, 3, 3], pixels).write(to: URL(fileURLWithPath: dir.file("i.idx")))
    try idx([count], (0..<count).map { UInt8($0 % 3) }).write(to: URL(fileURLWithPath: dir.file("l.idx")))
    let data =
      "\"source\": \"idx\", \"images\": \"\(dir.file("i.idx"))\", \"labels\": \"\(dir.file("l.idx"))\""
    XCTAssertEqual(
      try train(Self.config(dir, "m", data: data, stream: false, shuffle: false, scale: "none")), 0)
    XCTAssertEqual(
      try train(Self.config(dir, "s", data: data, stream: true, shuffle: false, scale: "none")), 0)
    assertSameRun(try newest(dir.file("ck-m")), try newest(dir.file("ck-s")))

    let gzip = try XCTUnwrap(tool("gzip"))
    XCTAssertEqual(try runProcess(gzip, ["-k", dir.file("i.idx")]).status, 0)
    let gz = data.replacingOccurrences(of: "i.idx", with: "i.idx.gz")
    XCTAssertThrowsError(try train(Self.config(dir, "gz", data: gz, stream: true, shuffle: false))) { error in
      XCTAssertTrue("\(error)".contains("gzipped IDX cannot stream"), "\(error)")
    }
    // Absent data.stream: small data, and gzip cannot stream anyway: loaded whole.
    XCTAssertEqual(try train(Self.config(dir, "auto", data: gz, stream: nil, shuffle: true)), 0)
    XCTAssertNil(try newest(dir.file("ck-auto")).data.stream)
  }

  // MARK: Shuffled streaming: resume and threads

  func testStreamedResumeMidEpochAndAnyThreadsAreBitIdentical() throws {
    let dir = TemporaryDirectory()
    try Self.writeAll(dir, rows: 300, features: 5)
    let config = Self.config(
      dir, "s", data: npyData(dir), stream: true, shuffle: true, every: "\"every_steps\": 7")
    XCTAssertEqual(try train(config, threads: 1, dir: dir.file("one")), 0)
    XCTAssertEqual(try train(config, threads: 3, dir: dir.file("three")), 0)
    let straight = try newest(dir.file("one"))
    assertSameRun(straight, try newest(dir.file("three")))
    // Step 28 is batch 9 of epoch 2 (19 batches per epoch).
    let middle = try Checkpoint.read(from: dir.file("one/step-000000028.h5"))
    XCTAssertEqual(middle.counters.epoch, 1)
    XCTAssertEqual(middle.counters.batchInEpoch, 9)
    XCTAssertEqual(
      try train(config, threads: 2, start: .resume(dir.file("one/step-000000028.h5")), dir: dir.file("r")), 0)
    assertSameRun(straight, try newest(dir.file("r")))
    // The streamed order is its own: shuffled streamed and in-memory runs differ.
    let memory = Self.config(dir, "m", data: npyData(dir), stream: false, shuffle: true)
    XCTAssertEqual(try train(memory), 0)
    XCTAssertNotEqual(straight.parameters, try newest(dir.file("ck-m")).parameters)
  }

  func testResumeReadsAsTheCheckpointDidAndRefusesAContradictingStreamKey() throws {
    let dir = TemporaryDirectory()
    try Self.writeAll(dir, rows: 100, features: 3)
    let streamed = Self.config(dir, "s", data: npyData(dir), stream: true, shuffle: true)
    XCTAssertEqual(try train(streamed), 0)
    let file = dir.file("ck-s/step-000000007.h5")
    // Without data.stream the resume streams with the checkpoint's plan, whatever the size.
    let automatic = Self.config(dir, "a", data: npyData(dir), stream: nil, shuffle: true)
    XCTAssertEqual(try train(automatic, start: .resume(file), dir: dir.file("a")), 0)
    assertSameRun(try newest(dir.file("ck-s")), try newest(dir.file("a")))
    let memory = Self.config(dir, "m", data: npyData(dir), stream: false, shuffle: true)
    XCTAssertThrowsError(try train(memory, start: .resume(file), dir: dir.file("m"))) { error in
      XCTAssertTrue(
        "\(error)".contains("$.data.stream: false, but the checkpoint's run streamed it"), "\(error)")
    }
  }

  func testStreamingRefusesWhatItCannotDo() throws {
    let dir = TemporaryDirectory()
    try Self.writeAll(dir, rows: 50, features: 2)
    let inline = "\"source\": \"inline\", \"inputs\": [[0], [1], [2], [3]], \"targets\": [[0], [1], [0], [1]]"
    XCTAssertThrowsError(try train(Self.config(dir, "i", data: inline, stream: true, shuffle: false))) {
      error in
      XCTAssertTrue("\(error)".contains("$.data.stream: inline data cannot stream"), "\(error)")
    }
    let split = npyData(dir) + ", \"validation_split\": 0.2"
    XCTAssertThrowsError(try train(Self.config(dir, "v", data: split, stream: true, shuffle: false))) {
      error in
      XCTAssertTrue("\(error)".contains("streamed data cannot hold out random rows"), "\(error)")
    }
  }

  func testTheAutomaticChoiceComparesWithAQuarterOfTheBudgetAndSparseHDF5IsRefused() throws {
    XCTAssertFalse(StreamSettings.shouldStreamAutomatically(bytes: 1 << 20))
    XCTAssertTrue(StreamSettings.shouldStreamAutomatically(bytes: Int.max / 2))
    XCTAssertTrue(StreamSettings.shouldStreamAutomatically(bytes: nil), "an overflowing size streams")
    let dir = TemporaryDirectory()
    let file = try HDF5File.create(path: dir.file("sparse.h5"))
    try file.root().declareForTesting(shape: [1_000_000_000, 1_000], name: "x")
    try file.root().declareForTesting(shape: [1_000_000_000], name: "y")
    try file.close()
    // 4 TB of declared floats, and the file stores none of them.
    let data =
      "\"source\": \"hdf5\", \"path\": \"\(dir.file("sparse.h5"))\", \"inputs\": \"x\", \"targets\": \"y\""
    XCTAssertThrowsError(try train(Self.config(dir, "sparse", data: data, stream: true, shuffle: true))) {
      error in
      XCTAssertTrue(
        "\(error)".contains(
          "dataset x of shape [1000000000, 1000] needs 4000000000000 bytes but the file stores 0"),
        "\(error)")
    }
  }

  // MARK: The block plan

  func testBlocksAndWindowsLargerThanTheDataAreClampedWithoutChangingTheOrder() {
    // A hostile checkpoint's /data@stream: sizes whose product or rounding would overflow.
    let huge = BlockPlan.parse("block_rows=\(Int.max) window=\(Int.max)", rows: 103)
    XCTAssertEqual(huge?.blockRows, 103)
    XCTAssertEqual(huge?.windowBlocks, 1)
    XCTAssertEqual(huge?.windowRows, 103)
    let wide = BlockPlan(rows: 103, blockRows: 10, windowBlocks: 1 << 20)
    XCTAssertEqual(wide.windowBlocks, 11)
    var g1 = SeededGenerator(seed: 7)
    var g2 = SeededGenerator(seed: 7)
    XCTAssertEqual(
      wide.epochOrder(shuffle: true, using: &g1).order,
      BlockPlan(rows: 103, blockRows: 10, windowBlocks: 11).epochOrder(shuffle: true, using: &g2).order)
  }

  func testEpochOrderPermutesBlocksThenRowsWithinWindows() {
    let plan = BlockPlan(rows: 103, blockRows: 10, windowBlocks: 3)
    XCTAssertEqual(plan.blocks, 11)
    var g1 = SeededGenerator(seed: 4)
    var g2 = SeededGenerator(seed: 4)
    let order = plan.epochOrder(shuffle: true, using: &g1)
    XCTAssertEqual(order.order, plan.epochOrder(shuffle: true, using: &g2).order)
    XCTAssertEqual(order.order.sorted(), Array(0..<103))
    XCTAssertNotEqual(order.order, Array(0..<103))
    XCTAssertEqual(order.windows, 4)
    for k in 0..<order.windows {
      let rows = order.order[order.windowStarts[k]..<order.windowStarts[k + 1]]
      let blocks = order.blocks(ofWindow: k)
      XCTAssertEqual(Set(rows), Set(blocks.flatMap { plan.range(ofBlock: $0) }))
      // Buffer rows: the window's blocks one after the other, in block order.
      var expected: [Int: Int] = [:]
      var offset = 0
      for b in blocks {
        for r in plan.range(ofBlock: b) { expected[r] = offset + r - b * 10 }
        offset += plan.range(ofBlock: b).count
      }
      for r in rows { XCTAssertEqual(order.bufferRow(of: r), expected[r]) }
      for p in order.windowStarts[k]..<order.windowStarts[k + 1] {
        XCTAssertEqual(order.window(ofPosition: p), k)
      }
    }
    var g3 = SeededGenerator(seed: 4)
    XCTAssertEqual(plan.epochOrder(shuffle: false, using: &g3).order, Array(0..<103))
    XCTAssertEqual(g3, SeededGenerator(seed: 4), "no shuffle draws nothing")
    XCTAssertEqual(BlockPlan.parse(plan.text, rows: 103), plan)
    XCTAssertNil(BlockPlan.parse("block_rows=0 window=3", rows: 103))
  }

  // MARK: .npy

  func testNpyReadsEveryTypeAndVersion() throws {
    let dir = TemporaryDirectory()
    let cases: [(String, [UInt8], [Float])] = [
      ("|u1", [0, 7, 255, 1], [0, 7, 255, 1]),
      ("|i1", [0xFF, 2, 0x80, 0], [-1, 2, -128, 0]),
      ("<i2", [0xFE, 0xFF, 1, 0, 0, 0x80, 0, 1], [-2, 1, -32768, 256]),
      ("<i4", [1, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 1, 0, 2, 0, 0, 0], [1, -1, 65536, 2]),
      ("<f4", Self.floatBytes([1.5, -2, 0, 3.25]), [1.5, -2, 0, 3.25]),
      (
        "<f8",
        [1.5, -2, 0, 1e-3].flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } },
        [1.5, -2, 0, Float(1e-3)]
      ),
      (
        "<i8", [Int64(-5), 1 << 40, 0, 9].flatMap { v in withUnsafeBytes(of: v.littleEndian) { Array($0) } },
        [-5, Float(1 << 40), 0, 9]
      ),
    ]
    for (version, (descr, bytes, values)) in zip([1, 2, 3, 1, 2, 3, 1] as [UInt8], cases) {
      let path = dir.file("a.npy")
      try Self.npy(path, descr: descr, shape: [2, 2], bytes: bytes, version: version)
      let raw = try NpySource.openInputs(.file(path), InputRequest()).readAll()
      XCTAssertEqual(raw.inputs.rows, 2, descr)
      XCTAssertEqual(raw.inputs.nested.flatMap { $0 }, values, descr)
      XCTAssertEqual(try DataSources.format(of: .file(path)).name, "npy")
    }
    // Images [N, H, W] keep one channel's shape, as IDX does.
    try Self.npy(dir.file("img.npy"), descr: "|u1", shape: [2, 2, 3], bytes: Array(repeating: 1, count: 12))
    XCTAssertEqual(
      try NpySource.openInputs(.file(dir.file("img.npy")), InputRequest()).sampleShape, Shape([1, 2, 3]))
  }

  func testHostileNpyHeadersAreRefusedWithTheirPosition() throws {
    let dir = TemporaryDirectory()
    let four = Self.floatBytes([1, 2, 3, 4])
    let shape22 = "'shape': (2, 2)"
    let cases: [(String, (String) throws -> Void)] = [
      (
        "byte 6: expected .npy format version 1, 2 or 3, found 4",
        { try Self.npy($0, shape: [2, 2], bytes: four, version: 4) }
      ),
      (
        "expected C order (fortran_order False), found Fortran order",
        {
          try Self.npy(
            $0, shape: [2, 2], bytes: four, header: "{'descr': '<f4', 'fortran_order': True, \(shape22), }")
        }
      ),
      (
        "expected little-endian data, found big-endian '>f4'",
        { try Self.npy($0, descr: ">f4", shape: [2, 2], bytes: four) }
      ),
      (
        "expected 'descr' one of <f4, <f8, |i1, |u1, <i2, <i4, <i8, found '<c8'",
        { try Self.npy($0, descr: "<c8", shape: [2, 2], bytes: four) }
      ),
      ("needs 16 data bytes, found 12", { try Self.npy($0, shape: [2, 2], bytes: Array(four.prefix(12))) }),
      ("needs 16 data bytes, found 17", { try Self.npy($0, shape: [2, 2], bytes: four + [0]) }),
      (
        "needs more bytes than any file holds (the product overflows)",
        { try Self.npy($0, shape: [1 << 40, 1 << 40], bytes: four) }
      ),
      (
        "expected a dimension of at most",
        {
          try Self.npy(
            $0, shape: [], bytes: four,
            header: "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999, 2), }")
        }
      ),
      (
        "expected an array of rank ≥ 1, found a scalar",
        {
          try Self.npy(
            $0, shape: [], bytes: [], header: "{'descr': '<f4', 'fortran_order': False, 'shape': (), }")
        }
      ),
      (
        "key 'descr' appears twice",
        {
          try Self.npy(
            $0, shape: [], bytes: four,
            header: "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, \(shape22), }")
        }
      ),
      (
        "expected 'shape' as a tuple of integers",
        { try Self.npy($0, shape: [], bytes: four, header: "{'descr': '<f4', 'fortran_order': False, }") }
      ),
      (
        "unexpected key 'x'",
        {
          try Self.npy(
            $0, shape: [], bytes: four,
            header: "{'descr': '<f4', 'fortran_order': False, \(shape22), 'x': 'y'}")
        }
      ),
      (
        "expected a non-negative integer, found '-'",
        {
          try Self.npy(
            $0, shape: [], bytes: four, header: "{'descr': '<f4', 'fortran_order': False, 'shape': (-2, 2), }"
          )
        }
      ),
      (
        "expected '}', found",
        { try Self.npy($0, shape: [], bytes: four, header: "{'descr': '<f4' 'fortran_order': False}") }
      ),
      (
        "expected a plain ASCII string",
        { try Self.npy($0, shape: [], bytes: four, header: "{'d\\x': '<f4'}") }
      ),
      ("expected samples of at least one feature", { try Self.npy($0, shape: [2, 0], bytes: []) }),
      (
        "expected a .npy header of at most 65536 bytes",
        { path in
          try Data([0x93] + Array("NUMPY".utf8) + [2, 0, 0, 0, 0, 0x10] + four).write(
            to: URL(fileURLWithPath: path))
        }
      ),
      (
        ".npy header truncated",
        { path in
          try Data([0x93] + Array("NUMPY".utf8) + [1, 0, 0xFF, 0] + Array("{'descr'".utf8)).write(
            to: URL(fileURLWithPath: path))
        }
      ),
    ]
    for (i, (message, write)) in cases.enumerated() {
      let path = dir.file("h\(i).npy")
      try write(path)
      XCTAssertThrowsError(try NpySource.openInputs(.file(path), InputRequest()).readAll(), message) {
        error in
        XCTAssertTrue("\(error)".contains(message), "case \(i): \(error)")
        XCTAssertTrue("\(error)".contains(path), "case \(i): \(error)")
        XCTAssertEqual((error as? NNBatchError)?.kind, .usage)
      }
    }
    // float64 finite as Double, infinite as Float: refused with sample and column.
    let big = [1.0, 1e39].flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } }
    try Self.npy(dir.file("big.npy"), descr: "<f8", shape: [1, 2], bytes: big)
    XCTAssertThrowsError(try NpySource.openInputs(.file(dir.file("big.npy")), InputRequest()).readAll()) {
      error in
      XCTAssertTrue(
        "\(error)".contains("sample 1, column 1: expected a value finite as a 32-bit float, found 1e+39"),
        "\(error)")
    }
  }

  func testPredictStreamsNpyInputs() throws {
    let dir = TemporaryDirectory()
    try Self.writeAll(dir, rows: 120, features: 4)
    XCTAssertEqual(try train(Self.config(dir, "p", data: npyData(dir), stream: true, shuffle: true)), 0)
    let result = try nnbatch([
      "predict", "--checkpoint", dir.file("ck-p/step-000000024.h5"), "--input", dir.file("vx.npy"),
    ])
    XCTAssertEqual(result.status, 0, result.stderr)
    let lines = result.stdout.split(separator: "\n")
    XCTAssertEqual(lines.count, 41)
    XCTAssertEqual(lines.first, "label,p_0,p_1,p_2")
  }

  func testEvaluateStreamsInBlocksAndSumsAsTheWholeSetDoes() throws {
    let dir = TemporaryDirectory()
    try Self.writeAll(dir, rows: 120, features: 4)
    XCTAssertEqual(try train(Self.config(dir, "e", data: npyData(dir), stream: true, shuffle: true)), 0)
    let checkpoint = dir.file("ck-e/step-000000024.h5")
    // More than two blocks, the last one partial and not a whole batch.
    let rows = 2 * Evaluate.blockRows(features: 4) + 300
    let (x, original) = Self.samples(rows: rows, features: 4, seed: 21)
    var y = original
    try Self.npy(dir.file("ex.npy"), shape: [rows, 4], bytes: Self.floatBytes(x))
    try Self.npy(dir.file("ey.npy"), shape: [rows], bytes: Self.floatBytes(y))
    func evaluation(_ name: String, stream: Bool?, targets: String = "ey.npy") -> String {
      let data = Self.npyData.replacingOccurrences(of: "X", with: dir.file("ex.npy"))
        .replacingOccurrences(of: "Y", with: dir.file(targets))
      return Self.config(dir, name, data: data, stream: stream, shuffle: false)
    }
    let whole = evaluation("whole", stream: false)
    let streamed = evaluation("streamed", stream: nil)
    let model = try SavedModel.load(checkpoint)
    func reader(_ data: String) throws -> any SampleReader {
      try Evaluate.reader(config: model.config, data: data, format: nil, labels: []).reader
    }
    XCTAssertTrue(try reader(whole) is InMemorySamples)
    XCTAssertTrue(try reader(streamed) is StreamedSamples)
    XCTAssertTrue(try reader(dir.file("ex.npy") + "," + dir.file("ey.npy")) is StreamedSamples)

    // One engine call over the whole set is the oracle for the block-by-block sums.
    let (set, _, _) = try Evaluate.samples(config: model.config, data: whole, format: nil, labels: [])
    model.scaler.apply(to: set.inputs)
    let oracle = DataParallelEngine(
      network: model.network, plan: ShardPlan(batchSize: 256, shardSize: 64), threads: 2, targetColumns: 1
    ).evaluate(parameters: model.parameters, data: set)
    for data in [whole, streamed] {
      let opened = try Evaluate.reader(config: model.config, data: data, format: nil, labels: [])
      let sums = try Evaluate.measure(model: model, opened: opened, threads: 3).sums
      XCTAssertEqual(sums.loss.bitPattern, oracle.loss.bitPattern, data)
      XCTAssertEqual(sums.samples, rows)
      XCTAssertEqual(sums.correct, oracle.correct)
    }
    let expected = try Evaluate.run(checkpoint: checkpoint, dataConfig: whole, threads: 1)
    XCTAssertTrue(expected.contains(": \(rows) samples"), expected)
    for (data, threads) in [(streamed, 1), (streamed, 3), (whole, 2)] {
      let report = try Evaluate.run(checkpoint: checkpoint, dataConfig: data, threads: threads)
      XCTAssertEqual(
        report.replacingOccurrences(of: data, with: whole), expected, "\(data) --threads \(threads)")
    }

    // A bad row in a later block is reported with its position in the file, not in the block.
    y[Evaluate.blockRows(features: 4) + 4] = 7
    try Self.npy(dir.file("bad-y.npy"), shape: [rows], bytes: Self.floatBytes(y))
    let bad = evaluation("bad", stream: nil, targets: "bad-y.npy")
    XCTAssertThrowsError(try Evaluate.run(checkpoint: checkpoint, dataConfig: bad, threads: 2)) { error in
      XCTAssertTrue(
        "\(error)".contains(
          "sample \(Evaluate.blockRows(features: 4) + 5): expected a class index in 0...2, found 7.0"),
        "\(error)")
    }
  }

  func testAFileThatShrinksMidRunEndsItWithACheckpointAndResumeContinuesBitwise() throws {
    let dir = TemporaryDirectory()
    let rows = 60_000
    let (x, y) = Self.samples(rows: rows, features: 16, seed: 5)
    let xBytes = Self.floatBytes(x)
    try Self.npy(dir.file("x.npy"), shape: [rows, 16], bytes: xBytes)
    try Self.npy(dir.file("y.npy"), shape: [rows], bytes: Self.floatBytes(y))
    func config(_ name: String) -> String {
      dir.write(
        "\(name).json",
        """
        { "name": "\(name)", "seed": 3,
          "data": { \(npyData(dir)), "task": "classification", "stream": true,
                    "stream_block_rows": 64, "stream_window": 2 },
          "model": { "layers": [ { "units": 8, "activation": "tanh" }, { "units": 3, "activation": "softmax" } ] },
          "loss": "cross_entropy", "optimizer": { "kind": "sgd", "learning_rate": 0.05 },
          "training": { "epochs": 3, "batch_size": 16, "shard_size": 8, "shuffle": true },
          "checkpoint": { "dir": "\(dir.file("ck-" + name))", "every_epochs": 1, "keep": 100 } }
        """)
    }
    let stepsPerEpoch = rows / 16
    let run = Process()
    run.executableURL = URL(fileURLWithPath: nnbatchExecutable)
    run.arguments = ["--config", config("cut"), "--threads", "2"]
    let stderr = Pipe()
    run.standardError = stderr
    run.standardOutput = FileHandle.nullDevice
    try run.run()
    // Once the first epoch is saved, the last row loses a byte: the read of the window that holds it
    // (a seeded place in each epoch's order) finds the file's end.
    let first = dir.file("ck-cut/" + CheckpointStore.fileName(step: stepsPerEpoch))
    let deadline = Date().addingTimeInterval(120)
    while run.isRunning && !FileManager.default.fileExists(atPath: first) && Date() < deadline {
      Thread.sleep(forTimeInterval: 0.002)
    }
    try truncate(dir.file("x.npy"), to: fileSize(dir.file("x.npy")) - 1)
    let message = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    run.waitUntilExit()
    XCTAssertEqual(run.terminationStatus, 2, message)
    // The block read with the last row finds the end; any other block read finds the new size.
    XCTAssertTrue(
      message.contains("found the end of the file (it shrank while being read)")
        || message.contains("the file changed while being read (size"), message)
    let saved = try newest(dir.file("ck-cut"))
    // The change is caught at the first read after it: the steps trained since the epoch's save
    // (as many as the ring read ahead, possibly none) are saved before the run fails.
    XCTAssertGreaterThanOrEqual(saved.counters.step, stepsPerEpoch)
    XCTAssertLessThan(saved.counters.step, 3 * stepsPerEpoch)
    if saved.counters.step > stepsPerEpoch {
      XCTAssertTrue(message.contains("checkpoint written at step \(saved.counters.step)"), message)
    }

    // The file restored, --resume continues from that step to the uninterrupted run's bits.
    try Self.npy(dir.file("x.npy"), shape: [rows, 16], bytes: xBytes)
    XCTAssertEqual(try train(config("cut"), start: .resumeLatest), 0)
    XCTAssertEqual(try train(config("whole")), 0)
    let resumed = try newest(dir.file("ck-cut"))
    XCTAssertEqual(resumed.counters.step, 3 * stepsPerEpoch)
    XCTAssertEqual(resumed.bitwiseDifferences(from: try newest(dir.file("ck-whole"))), [])
  }

  /// A streamed HDF5 file truncated mid-run (libhdf5 reads past the end as zeros, without an error)
  /// ends the run with exit 2 and a checkpoint of the steps done; restored, it resumes bitwise.
  func testAnHDF5FileTruncatedMidRunIsRefusedNotTrainedOnAsZeros() throws {
    let dir = TemporaryDirectory()
    let rows = 60_000
    let (x, y) = Self.samples(rows: rows, features: 16, seed: 5)
    func writeData() throws {
      let file = try HDF5File.create(path: dir.file("d.h5"))
      let root = try file.root()
      try root.write(x, shape: [rows, 16], name: "x")
      try root.write(y, shape: [rows], name: "y")
      try file.close()
    }
    try writeData()
    func config(_ name: String) -> String {
      dir.write(
        "\(name).json",
        """
        { "name": "\(name)", "seed": 3,
          "data": { "source": "hdf5", "path": "\(dir.file("d.h5"))", "inputs": "x", "targets": "y",
                    "task": "classification", "stream": true, "stream_block_rows": 64, "stream_window": 2 },
          "model": { "layers": [ { "units": 8, "activation": "tanh" }, { "units": 3, "activation": "softmax" } ] },
          "loss": "cross_entropy", "optimizer": { "kind": "sgd", "learning_rate": 0.05 },
          "training": { "epochs": 3, "batch_size": 16, "shard_size": 8, "shuffle": true },
          "checkpoint": { "dir": "\(dir.file("ck-" + name))", "every_epochs": 1, "keep": 100 } }
        """)
    }
    let stepsPerEpoch = rows / 16
    let run = Process()
    run.executableURL = URL(fileURLWithPath: nnbatchExecutable)
    run.arguments = ["--config", config("cut"), "--threads", "2"]
    let stderr = Pipe()
    run.standardError = stderr
    run.standardOutput = FileHandle.nullDevice
    try run.run()
    let first = dir.file("ck-cut/" + CheckpointStore.fileName(step: stepsPerEpoch))
    let deadline = Date().addingTimeInterval(120)
    while run.isRunning && !FileManager.default.fileExists(atPath: first) && Date() < deadline {
      Thread.sleep(forTimeInterval: 0.002)
    }
    try truncate(dir.file("d.h5"), to: fileSize(dir.file("d.h5")) / 2)
    let message = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    run.waitUntilExit()
    XCTAssertEqual(run.terminationStatus, 2, message)
    XCTAssertTrue(message.contains("\(dir.file("d.h5")): the file changed while being read (size"), message)
    XCTAssertFalse(message.contains("done:"), message)
    let saved = try newest(dir.file("ck-cut"))
    // The change is caught at the first read after it: the steps trained since the epoch's save
    // (as many as the ring read ahead, possibly none) are saved before the run fails.
    XCTAssertGreaterThanOrEqual(saved.counters.step, stepsPerEpoch)
    XCTAssertLessThan(saved.counters.step, 3 * stepsPerEpoch)
    if saved.counters.step > stepsPerEpoch {
      XCTAssertTrue(message.contains("checkpoint written at step \(saved.counters.step)"), message)
    }

    try writeData()
    XCTAssertEqual(try train(config("cut"), start: .resumeLatest), 0)
    XCTAssertEqual(try train(config("whole")), 0)
    let resumed = try newest(dir.file("ck-cut"))
    XCTAssertEqual(resumed.counters.step, 3 * stepsPerEpoch)
    XCTAssertEqual(resumed.bitwiseDifferences(from: try newest(dir.file("ck-whole"))), [])
  }

  /// Each streamed format checks its file after every read: a file rewritten in place at the same
  /// size, or renamed over, is refused although every read would succeed.
  func testEveryStreamedFormatRefusesAFileChangedInPlaceOrReplaced() throws {
    let dir = TemporaryDirectory()
    try Self.writeAll(dir, rows: 50, features: 4)
    var pixels = [UInt8](repeating: 7, count: 50 * 4)
    var idx = Data([0, 0, 8, 3, 0, 0, 0, 50, 0, 0, 0, 2, 0, 0, 0, 2])
    idx += pixels
    try idx.write(to: URL(fileURLWithPath: dir.file("i.idx")))
    let sources: [(file: String, open: () throws -> any RowSource)] = [
      (
        dir.file("x.npy"),
        {
          try XCTUnwrap(
            try NpySource(features: dir.file("x.npy"), targets: dir.file("y.npy")).openRows(
              task: .classification))
        }
      ),
      (dir.file("d.h5"), { try HDF5Rows.open(path: dir.file("d.h5"), inputs: "x", targets: "y") }),
      (dir.file("i.idx"), { try IDXRows.open(images: dir.file("i.idx"), labels: nil) }),
    ]
    let buffer = UnsafeMutablePointer<Float>.allocate(capacity: 50 * 4)
    let targets = UnsafeMutablePointer<Float>.allocate(capacity: 50)
    defer {
      buffer.deallocate()
      targets.deallocate()
    }
    for (file, open) in sources {
      // Rewritten in place: same size, same inode, new modification time.
      var rows = try open()
      try rows.read(0..<10, inputs: buffer, targets: rows.targetColumns > 0 ? targets : nil)
      let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
      Thread.sleep(forTimeInterval: 0.01)  // a modification time the file system can tell apart
      let handle = try XCTUnwrap(FileHandle(forWritingAtPath: file))
      try handle.seek(toOffset: UInt64(bytes.count - 1))
      try handle.write(contentsOf: Data([bytes[bytes.count - 1] ^ 1]))
      try handle.close()
      XCTAssertThrowsError(try rows.read(10..<20, inputs: buffer, targets: nil), file) { error in
        XCTAssertTrue(
          "\(error)".contains("\(file): the file changed while being read (modified)"), "\(error)")
        XCTAssertEqual((error as? NNBatchError)?.kind, .usage)
      }
      // Renamed over by a copy: another inode.
      try bytes.write(to: URL(fileURLWithPath: file + ".new"))
      rows = try open()
      XCTAssertEqual(Glibc.rename(file + ".new", file), 0)
      XCTAssertThrowsError(try rows.read(0..<10, inputs: buffer, targets: nil), file) { error in
        XCTAssertTrue("\(error)".contains("replaced by another file"), "\(error)")
      }
    }
    pixels.removeAll()
  }

  /// A wait for the prefetch ring gives up when a stop is requested, even while a read hangs,
  /// and a ring whose thread cannot start says so instead of being waited on for ever.
  func testAWaitForDataEndsOnAStopAndAThreadThatCannotStartIsAnError() throws {
    let source = StalledRows()
    let plan = BlockPlan(rows: 64, blockRows: 8, windowBlocks: 2)
    var generator = SeededGenerator(seed: 1)
    let order = plan.epochOrder(shuffle: false, using: &generator)
    let ring = try PrefetchRing(
      source: source, order: order, firstWindow: 0, scaler: AffineScaler.identity, capacity: 2)
    let started = Date()
    XCTAssertNil(try ring.window(0, stopRequested: { Date().timeIntervalSince(started) > 0.3 }))
    XCTAssertLessThan(Date().timeIntervalSince(started), 30)
    ring.stop(waiting: false)
    source.release.signal()

    setenv("NNBATCH_FAIL_THREAD_START", "1", 1)
    defer { unsetenv("NNBATCH_FAIL_THREAD_START") }
    XCTAssertThrowsError(
      try PrefetchRing(
        source: StalledRows(), order: order, firstWindow: 0, scaler: AffineScaler.identity, capacity: 2)
    ) { error in
      XCTAssertEqual((error as? NNBatchError)?.kind, .failure)
      XCTAssertTrue("\(error)".contains("cannot start the nnbatch-prefetch thread"), "\(error)")
    }
  }

  /// The CLI: a streamed run whose reading thread cannot start exits 1 with the reason, writing nothing.
  func testAStreamedRunWhoseThreadCannotStartExitsOneWithAMessage() throws {
    let dir = TemporaryDirectory()
    try Self.writeAll(dir, rows: 100, features: 4)
    let path = Self.config(dir, "t", data: npyData(dir), stream: true, shuffle: true)
    let result = try runProcess(
      nnbatchExecutable, ["--config", path, "--quiet"],
      environment: ProcessInfo.processInfo.environment.merging(["NNBATCH_FAIL_THREAD_START": "1"]) { $1 })
    XCTAssertEqual(result.status, 1, result.stderr)
    XCTAssertTrue(
      result.stderr.contains(
        "cannot stream: cannot start the nnbatch-prefetch thread: Resource temporarily unavailable"),
      result.stderr)
    XCTAssertEqual(try CheckpointStore(directory: dir.file("ck-t")).checkpointFiles().count, 0)
  }

  // MARK: Statistics
  // MARK: Statistics

  func testStreamingStatisticsEqualTheInMemoryFitBitwise() {
    let (x, _) = Self.samples(rows: 257, features: 6, seed: 5)
    let matrix = Matrix(rows: 257, columns: 6, values: x)
    for kind in [Scaling.minmax, .standardize] {
      var statistics = ScalingStatistics(kind: kind, columns: 6)
      for pass in 0..<(kind == .standardize ? 2 : 1) {
        var start = 0
        while start < 257 {
          let count = min(50, 257 - start)
          let block = Matrix(rows: count, columns: 6, values: Array(x[(start * 6)..<((start + count) * 6)]))
          if pass == 0 { statistics.first(block, rows: count) } else { statistics.second(block, rows: count) }
          start += count
        }
      }
      let streamed = statistics.finish()
      let whole = AffineScaler.fitReporting(kind, to: matrix)
      XCTAssertEqual(streamed.scaler.shift.map(\.bitPattern), whole.scaler.shift.map(\.bitPattern))
      XCTAssertEqual(streamed.scaler.factor.map(\.bitPattern), whole.scaler.factor.map(\.bitPattern))
      XCTAssertEqual(streamed.constantColumns, whole.constantColumns)
    }
  }
}

/// A row source whose reads block until released: a stalled file system.
private final class StalledRows: RowSource, @unchecked Sendable {
  let release = DispatchSemaphore(value: 0)
  var rows: Int { 64 }
  var features: Int { 2 }
  var targetColumns: Int { 0 }
  var labels: [String] { [] }
  var classes: Int? { nil }
  var sampleShape: Shape? { nil }
  var preferredBlockRows: Int? { nil }
  var name: String { "stalled" }
  var inputBytesPerRow: Int { 8 }
  func read(_ range: Range<Int>, inputs: UnsafeMutablePointer<Float>, targets: UnsafeMutablePointer<Float>?) {
    release.wait()
  }
}
