import NeuralNet
import XCTest

/// One-hot encoding of categorical columns against a hand computation.
final class CategoricalEncoderTests: XCTestCase {
  func testCategoriesSortByCodePoint() {
    // "B" (0x42) < "a" (0x61) < "é" (0xC3 0xA9); "10" < "2" as text.
    XCTAssertEqual(CategoricalEncoder.sorted(["é", "a", "B", "2", "10"]), ["10", "2", "B", "a", "é"])
  }

  func testColumnsAreReplacedInPlaceAndUnseenAreZeros() {
    let encoder = CategoricalEncoder(
      inputWidth: 3,
      columns: [CategoricalColumn(position: 1, name: "color", categories: ["Blue", "green", "red"], fill: 2)])
    XCTAssertEqual(encoder.outputWidth, 5)
    // Codes: 0 → Blue, 2 → red, -1 → unseen (zeros), NaN → missing (fill: red).
    let codes = Matrix([[7, 0, 8], [7, 2, 8], [1, -1, 2], [3, .nan, 4]])
    let (out, unseen) = encoder.apply(to: codes)
    XCTAssertEqual(
      out.storage.array,
      [7, 1, 0, 0, 8, 7, 0, 0, 1, 8, 1, 0, 0, 0, 2, 3, 0, 0, 1, 4])
    XCTAssertEqual(unseen, [1])
  }
}
