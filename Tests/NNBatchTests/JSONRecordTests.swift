import Foundation
import XCTest

@testable import NNBatch

/// JSON log records written without Foundation read back as the same values.
final class JSONRecordTests: XCTestCase {
  func testNumbersAndEscapedStringsReadBackExactlyAndNonFiniteIsNull() throws {
    var record = JSONRecord()
    record.add("a", 0.1)
    record.add("b", 1e-5)
    record.add("c", -1234.5678e300)
    record.add("d", 42)
    record.add("e", Double.nan)
    record.add("f", -Double.infinity)
    record.add("g", "q\"uote\\ new\nline\ttab \u{1} é")
    let line = record.line
    XCTAssertFalse(line.contains("\n"))
    let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], line)
    XCTAssertEqual(object["a"] as? Double, 0.1)
    XCTAssertEqual(object["b"] as? Double, 1e-5)
    XCTAssertEqual(object["c"] as? Double, -1234.5678e300)
    XCTAssertEqual(object["d"] as? Int, 42)
    XCTAssertTrue(object["e"] is NSNull, line)
    XCTAssertTrue(object["f"] is NSNull, line)
    XCTAssertEqual(object["g"] as? String, "q\"uote\\ new\nline\ttab \u{1} é")
    XCTAssertEqual(object.count, 7)
  }
}
