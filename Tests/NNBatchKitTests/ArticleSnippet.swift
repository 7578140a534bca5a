import Foundation
import XCTest

/// The code between `// snippet-begin` and `// snippet-end` in a test file, against an article's
/// Swift block: an example in the docs is the code a test runs, never a copy that rots.
enum ArticleSnippet {
  /// Asserts that the article's first (or last) ```swift block is the snippet in `testFile`,
  /// less one level of indentation, and returns the snippet's lines.
  @discardableResult
  static func assertShown(
    in article: String, block: Block = .first, testFile: String, file: StaticString = #filePath,
    line: UInt = #line
  ) throws -> [String] {
    let text = try String(contentsOfFile: article, encoding: .utf8)
    let blocks = text.components(separatedBy: "```swift\n").dropFirst()
    let chosen = block == .first ? blocks.first : blocks.last
    let documented = try XCTUnwrap(chosen?.components(separatedBy: "\n```").first, file: file, line: line)
    let lines = try String(contentsOfFile: testFile, encoding: .utf8).components(separatedBy: "\n")
    let begin = try XCTUnwrap(lines.firstIndex { $0.hasSuffix("// snippet-begin") }, file: file, line: line)
    let end = try XCTUnwrap(lines.firstIndex { $0.hasSuffix("// snippet-end") }, file: file, line: line)
    let tested = lines[(begin + 1)..<end].map { $0.hasPrefix("    ") ? String($0.dropFirst(4)) : $0 }
    XCTAssertEqual(documented, tested.joined(separator: "\n"), file: file, line: line)
    return tested
  }

  /// Which of the article's Swift blocks holds the example.
  enum Block { case first, last }
}
