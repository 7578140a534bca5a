import Foundation
import Synchronization

/// Warnings: one line each on stderr, "warning: FILE:LINE: what and what nnbatch does about it".
///
/// A warning is for input that is read correctly but probably not as its
/// author meant (a constant column, a duplicate column name, labels spelled
/// two ways); anything that would be read wrongly is an error instead.
package enum Warnings {
  private static let recorder = Mutex<[String]?>(nil)

  /// Prints `text` to stderr as a warning.
  package static func emit(_ text: String) {
    FileHandle.standardError.write(Data("warning: \(text)\n".utf8))
    recorder.withLock { $0?.append(text) }
  }

  /// Runs `body` and returns the warnings it emitted (for tests).
  package static func recording<T>(_ body: () throws -> T) rethrows -> (result: T, warnings: [String]) {
    recorder.withLock { $0 = [] }
    defer { recorder.withLock { $0 = nil } }
    let result = try body()
    return (result, recorder.withLock { $0 ?? [] })
  }
}
