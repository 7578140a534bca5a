import TensorBoardEvents
import XCTest

/// CRC-32C, TFRecord framing and Event encoding against independent known answers.
final class TensorBoardEventsTests: XCTestCase {
  func testCRC32CMatchesRFC3720Vectors() {
    // RFC 3720, appendix B.4, and the customary "123456789" check value.
    XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)
    XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)), 0x62A8_AB43)
    XCTAssertEqual(CRC32C.checksum((0..<32).map { UInt8($0) }), 0x46DD_794E)
    XCTAssertEqual(CRC32C.checksum((0..<32).reversed().map { UInt8($0) }), 0x113F_DB5C)
    XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
    XCTAssertEqual(CRC32C.checksum([]), 0)
    // tensorboard.compat.tensorflow_stub.pywrap_tensorflow.masked_crc32c(b"123456789").
    XCTAssertEqual(CRC32C.masked(CRC32C.checksum(Array("123456789".utf8))), 0xC78A_B0E5)
  }

  func testFramingMatchesTensorBoardsRecordWriter() throws {
    // tensorboard.summary.writer.record_writer.RecordWriter(...).write(b"hello").
    let expected: [UInt8] = [
      0x05, 0, 0, 0, 0, 0, 0, 0, 0xEA, 0xB2, 0x04, 0x3E, 0x68, 0x65, 0x6C, 0x6C, 0x6F, 0xBB, 0x1F, 0x1C, 0x19,
    ]
    var framed: [UInt8] = []
    EventRecord.append(Array("hello".utf8), to: &framed)
    XCTAssertEqual(framed, expected)
    XCTAssertEqual(framed.count, 5 + EventRecord.overhead)
    // Read back, also after a second record and with a torn tail.
    EventRecord.append([], to: &framed)
    XCTAssertEqual(try EventRecord.records(in: framed), [Array("hello".utf8), []])
    XCTAssertEqual(try EventRecord.records(in: Array(framed.dropLast(2))), [Array("hello".utf8)])
    // Any flipped bit in length or data is caught.
    for offset in [0, 9, 14, 19] {
      var damaged = expected
      damaged[offset] ^= 0x10
      XCTAssertThrowsError(try EventRecord.records(in: damaged), "flip at byte \(offset)")
    }
  }

  func testEventsEncodeAsTensorBoardsProtos() throws {
    // event_pb2.Event(wall_time=1.5, step=7, summary=Summary(value=[Value(tag="loss",
    // simple_value=0.25)])).SerializeToString().
    let expected: [UInt8] = [
      0x09, 0, 0, 0, 0, 0, 0, 0xF8, 0x3F, 0x10, 0x07, 0x2A, 0x0D, 0x0A, 0x0B, 0x0A, 0x04, 0x6C, 0x6F, 0x73,
      0x73, 0x15, 0, 0, 0x80, 0x3E,
    ]
    XCTAssertEqual(try TensorBoardEvent.scalars([("loss", 0.25)], step: 7, wallTime: 1.5), expected)

    let version = try TensorBoardEvent.decode(TensorBoardEvent.fileVersion(wallTime: 2))
    XCTAssertEqual(version.fileVersion, "brain.Event:2")
    XCTAssertEqual(version.wallTime, 2)
    XCTAssertFalse(version.sessionStart)
    let start = try TensorBoardEvent.decode(TensorBoardEvent.sessionStart(step: 41, wallTime: 3))
    XCTAssertTrue(start.sessionStart)
    XCTAssertEqual(start.step, 41)
    XCTAssertNil(start.fileVersion)
    let scalars = try TensorBoardEvent.decode(
      TensorBoardEvent.scalars([("a", 1.0 / 3), ("b", -2)], step: 12, wallTime: 4))
    XCTAssertEqual(scalars.scalars, ["a": Float(1.0 / 3), "b": -2])
    XCTAssertEqual(scalars.step, 12)
  }
}
