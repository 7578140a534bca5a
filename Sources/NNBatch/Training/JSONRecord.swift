import Checkpoints
import NNBatchCore

// One JSON log record per line, written without Foundation: JSONSerialization and
// String(format:) per record cost ~47 µs, about as much as an epoch of the tutorial's run.

/// A flat JSON object of numbers, built key by key in the order given.
package struct JSONRecord {
  private var text: String

  /// An empty object.
  package init() {
    text = "{"
    text.reserveCapacity(256)  // a record of eleven numbers, grown once
  }

  private mutating func key(_ name: String) {
    if text.utf8.count > 1 { text += "," }
    // Keys are nnbatch's own snake_case names (metric names included): nothing to escape.
    text += "\""
    text += name
    text += "\":"
  }

  /// Adds `name: value`.
  package mutating func add(_ name: String, _ value: Int) {
    key(name)
    text += value.description
  }

  /// Adds `name: value`; JSON has no NaN or infinity, so such a value is written as null.
  package mutating func add(_ name: String, _ value: Double) {
    key(name)
    // `description` is the shortest text that reads back as the same Double ("0.1", "1e-05").
    text += value.isFinite ? value.description : "null"
  }

  /// Adds `name: "value"` (JSON-escaped).
  package mutating func add(_ name: String, _ value: String) {
    key(name)
    text += jsonQuoted(value)
  }

  /// The object's text: one line, no newline.
  package var line: String { text + "}" }
}
