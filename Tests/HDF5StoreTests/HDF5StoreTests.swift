import Foundation
import HDF5Store
import TestSupport
import XCTest

/// The HDF5 wrapper, read back by our reader and by h5dump.
final class HDF5WrapperTests: XCTestCase {
  func testRoundTripOfEveryDatasetAndAttributeType() throws {
    let dir = TemporaryDirectory()
    let path = dir.file("types.h5")
    let file = try HDF5File.create(path: path)
    let root = try file.root()
    let group = try root.createGroup("g")
    try group.write([Float(1.5), -2.25, 3, 4, 5, 6], shape: [2, 3], name: "f32")
    try group.write([Double.pi, -1e300, 0.1], shape: [3], name: "f64")
    try group.write([Int64.min, -1, 0, Int64.max], shape: [2, 2], name: "i64")
    try group.write([UInt64.max, 0, 42, 7, 8, 9, 10, 11], shape: [2, 2, 2], name: "u64")
    try group.write([Float](), shape: [0], name: "empty")
    try group.setAttribute("text", "héllo, \"world\"")
    try group.setAttribute("empty_text", "")
    try group.setAttribute("int", -123_456_789_012)
    try group.setAttribute("double", 2.5e-300)
    try file.close()

    let reader = try HDF5File.openForReading(path: path)
    let g = try reader.root().openGroup("g")
    let f32 = try g.read(Float.self, name: "f32")
    XCTAssertEqual(f32.values, [1.5, -2.25, 3, 4, 5, 6])
    XCTAssertEqual(f32.shape, [2, 3])
    XCTAssertEqual(try g.read(Double.self, name: "f64").values, [Double.pi, -1e300, 0.1])
    XCTAssertEqual(try g.read(Int64.self, name: "i64").values, [Int64.min, -1, 0, Int64.max])
    let u64 = try g.read(UInt64.self, name: "u64")
    XCTAssertEqual(u64.values, [UInt64.max, 0, 42, 7, 8, 9, 10, 11])
    XCTAssertEqual(u64.shape, [2, 2, 2])
    XCTAssertEqual(try g.read(Float.self, name: "empty").values, [])
    // float64 data read as float32 is converted by the library.
    XCTAssertEqual(try g.read(Float.self, name: "f64").values[2], 0.1)
    XCTAssertEqual(try g.stringAttribute("text"), "héllo, \"world\"")
    XCTAssertEqual(try g.stringAttribute("empty_text"), "")
    XCTAssertEqual(try g.intAttribute("int"), -123_456_789_012)
    XCTAssertEqual(try g.doubleAttribute("double"), 2.5e-300)
    XCTAssertEqual(try g.attributeNames(), ["double", "empty_text", "int", "text"])
    XCTAssertEqual(try g.memberNames(), ["empty", "f32", "f64", "i64", "u64"])
    // Reading integers from float data is refused with a message.
    XCTAssertThrowsError(try g.read(Int64.self, name: "f32")) { error in
      XCTAssertTrue("\(error)".contains("expected integer data, found float32"), "\(error)")
    }
    XCTAssertThrowsError(try g.read(Float.self, name: "missing")) { error in
      XCTAssertTrue("\(error)".contains("no such dataset"), "\(error)")
    }
    try reader.close()

    // h5dump reads the same values and attributes.
    let h5dump = try XCTUnwrap(tool("h5dump"), "h5dump (hdf5-tools) must be installed")
    let dump = try runProcess(h5dump, ["-d", "/g/f32", path])
    XCTAssertEqual(dump.status, 0, dump.stderr)
    XCTAssertEqual(h5dumpValues(dump.stdout), [1.5, -2.25, 3, 4, 5, 6])
    let u = try runProcess(h5dump, ["-d", "/g/u64", path])
    XCTAssertTrue(u.stdout.contains("18446744073709551615"), u.stdout)
    let attributes = try runProcess(h5dump, ["-A", path])
    XCTAssertTrue(attributes.stdout.contains("-123456789012"), attributes.stdout)
    // h5dump escapes non-ASCII bytes.
    XCTAssertTrue(attributes.stdout.contains("llo, \"world\""), attributes.stdout)
    // fletcher32 and chunking are on for non-empty datasets.
    let properties = try runProcess(h5dump, ["-p", "-d", "/g/f32", path])
    XCTAssertTrue(properties.stdout.contains("CHECKSUM FLETCHER32"), properties.stdout)
    XCTAssertTrue(properties.stdout.contains("CHUNKED"), properties.stdout)
  }

  func testErrorsCarryHDF5sMessage() {
    let dir = TemporaryDirectory()
    let path = dir.write("not.h5", "this is not an HDF5 file")
    XCTAssertThrowsError(try HDF5File.openForReading(path: path)) { error in
      let text = "\(error)"
      XCTAssertTrue(text.hasPrefix("\(path): cannot open file: "), text)
      XCTAssertTrue(text.lowercased().contains("signature"), text)
    }
    XCTAssertThrowsError(try HDF5File.create(path: dir.file("no/such/dir/x.h5")))
  }

  func testNodesRoundTripThroughFilesAndDigestEveryEntry() throws {
    let dir = TemporaryDirectory()
    var node = HDF5Node()
    node.attributes = ["text": .string("héllo"), "count": .integer(-7), "rate": .real(0.125)]
    node.datasets["f32"] = HDF5Dataset(shape: [2, 2], values: .float32([1, 2, 3, 4]))
    var child = HDF5Node()
    child.datasets["f64"] = HDF5Dataset(shape: [1], values: .float64([.pi]))
    child.datasets["i64"] = HDF5Dataset(shape: [2], values: .int64([-1, .max]))
    child.datasets["u64"] = HDF5Dataset(shape: [1], values: .uint64([.max]))
    child.datasets["empty"] = HDF5Dataset(shape: [0], values: .float32([]))
    child.groups["leaf"] = HDF5Node()
    node.groups["child"] = child
    // Slices of a larger buffer are written without their neighbours.
    let buffer: [Float] = [9, 8, 7, 6, 5]
    node.datasets["slice"] = HDF5Dataset(shape: [3], values: .float32(buffer[1..<4]))

    let file = try HDF5File.create(path: dir.file("node.h5"))
    try file.root().write(node)
    try file.close()
    let reader = try HDF5File.openForReading(path: dir.file("node.h5"))
    let back = try reader.readNode()
    try reader.close()
    XCTAssertEqual(back.attributes, node.attributes)
    XCTAssertEqual(back.groups, node.groups)
    XCTAssertEqual(back.datasets["f32"], node.datasets["f32"])
    XCTAssertEqual(back.datasets["slice"]?.values, .float32([8, 7, 6]))
    XCTAssertEqual(back.digest(), node.digest(), "the digest depends on values, not on where they live")

    // Every entry counts: values, names, kinds, shapes, empty groups; excluded paths do not.
    let base = node.digest()
    var edits: [(String, (inout HDF5Node) -> Void)] = [
      ("attribute value", { $0.attributes["count"] = .integer(-8) }),
      ("attribute kind", { $0.attributes["count"] = .real(-7) }),
      ("attribute name", { $0.attributes["count2"] = $0.attributes.removeValue(forKey: "count") }),
      (
        "dataset value", { $0.datasets["f32"] = HDF5Dataset(shape: [2, 2], values: .float32([1, 2, 3, 5])) }
      ),
      ("dataset shape", { $0.datasets["f32"] = HDF5Dataset(shape: [4], values: .float32([1, 2, 3, 4])) }),
      (
        "dataset type",
        { $0.groups["child"]?.datasets["u64"] = HDF5Dataset(shape: [1], values: .int64([-1])) }
      ),
      ("empty group", { $0.groups["child"]?.groups["leaf2"] = HDF5Node() }),
      ("nested attribute", { $0.groups["child"]?.groups["leaf"]?.attributes["x"] = .string("") }),
    ]
    edits.append(
      ("moved dataset", { $0.groups["child"]?.datasets["f32"] = $0.datasets.removeValue(forKey: "f32") }))
    for (name, edit) in edits {
      var changed = node
      edit(&changed)
      XCTAssertNotEqual(changed.digest(), base, name)
    }
    var stamped = node
    stamped.attributes["created"] = .string("now")
    XCTAssertEqual(stamped.digest(excluding: ["/@created"]), base)
    XCTAssertNotEqual(stamped.digest(), base)
  }

  func testFileSystemErrorsNameTheCallAndThePath() {
    let dir = TemporaryDirectory()
    XCTAssertThrowsError(try FileSystem.rename(dir.file("missing"), to: dir.file("other"))) { error in
      XCTAssertTrue(error is FileSystemError, "\(error)")
      XCTAssertTrue("\(error)".hasPrefix("\(dir.file("missing")): cannot rename to "), "\(error)")
    }
    dir.write("file", "x")
    XCTAssertThrowsError(try FileSystem.createDirectories(dir.file("file"))) { error in
      XCTAssertEqual(
        "\(error)", "\(dir.file("file")): cannot create directory: exists and is not a directory")
    }
    XCTAssertEqual(try FileSystem.list(dir.path), ["file"])
  }

  func testChunkShapeStaysUnderTheLimit() {
    XCTAssertEqual(HDF5ChunkShape.forTesting([3, 4]), [3, 4])
    let big = HDF5ChunkShape.forTesting([100_000, 1024])
    XCTAssertLessThanOrEqual(big.reduce(1, *), 1 << 22)
    XCTAssertEqual(big[1], 1024)
  }

  func testXXH64KnownValues() {
    XCTAssertEqual(XXH64.hash([]), 0xEF46_DB37_51D8_E999)
    XCTAssertEqual(XXH64.hash(Array("a".utf8)), 0xD24E_C4F1_A98C_6E5B)
    XCTAssertEqual(XXH64.hash(Array("abc".utf8)), 0x44BC_2CF5_AD77_0999)
    let long = Array("Nobody inspects the spammish repetition".utf8)
    XCTAssertEqual(XXH64.hash(long), 0xFBCE_A83C_8A37_8BF1)
    // Feeding in pieces gives the same hash as one call.
    var h = XXH64()
    long[0..<5].withUnsafeBytes { h.update($0) }
    long[5..<37].withUnsafeBytes { h.update($0) }
    long[37...].withUnsafeBytes { h.update($0) }
    XCTAssertEqual(h.finalize(), XXH64.hash(long))
  }
}
