import NNBatchCore
import XCTest

/// The one overflow-checked product and sum behind every size and counter check.
final class CheckedArithmeticTests: XCTestCase {
  func testAProductStopsAtOverflowAndAtItsBoundAtEveryStep() {
    XCTAssertEqual(checkedProduct([3, 4, 5]), 60)
    XCTAssertEqual(checkedProduct([Int]()), 1)
    XCTAssertNil(checkedProduct([1 << 32, 1 << 32]), "2⁶⁴ overflows Int")
    XCTAssertEqual(checkedProduct([1 << 20, 1 << 20], atMost: 1 << 40), 1 << 40, "the bound itself fits")
    XCTAssertNil(checkedProduct([1 << 20, (1 << 20) + 1], atMost: 1 << 40))
    // A hostile header's huge dimensions fail even when a later one is 0.
    XCTAssertNil(checkedProduct([1 << 40, 1 << 40, 0]))
    XCTAssertNil(checkedProduct([1 << 29, 0], atMost: 1 << 28))
    XCTAssertEqual(checkedProduct([0, 1 << 40, 1 << 40]), 0, "a leading 0 keeps every partial product 0")
  }

  func testASumPassesOnAnOverflowedTermAndStopsAtItsOwn() {
    XCTAssertEqual(checkedSum([1, 2, 3]), 6)
    XCTAssertNil(checkedSum([1, checkedProduct([1 << 32, 1 << 32])]))
    XCTAssertNil(checkedSum([Int.max, 1]))
    XCTAssertEqual(checkedSum([]), 0)
  }
}
