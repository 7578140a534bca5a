import Checkpoints

// The typed builders become nnbatch's config JSON, which the same parser as the command
// line's validates: one set of rules and messages, and checkpoints keep the text as always.

/// A JSON value whose object keys keep the order they were written in.
enum JSONText: Sendable {
  case number(Double)
  case integer(Int)
  case string(String)
  case bool(Bool)
  case array([JSONText])
  case object([(String, JSONText)])

  /// `rows` as an array of arrays of numbers.
  static func matrix(_ rows: [[Float]]) -> JSONText {
    .array(rows.map { row in .array(row.map { .number(Double($0)) }) })
  }

  /// The value as JSON text on one line.
  var rendered: String {
    switch self {
    case .number(let value):
      // The parser rejects NaN and infinity with a message naming the key; `description`
      // writes them as "nan"/"inf", which it reports as invalid JSON instead.
      return value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : value.description
    case .integer(let value): return String(value)
    case .string(let text): return jsonQuoted(text)
    case .bool(let value): return value ? "true" : "false"
    case .array(let items): return "[" + items.map(\.rendered).joined(separator: ", ") + "]"
    case .object(let pairs):
      return "{" + pairs.map { "\(jsonQuoted($0.0)): \($0.1.rendered)" }.joined(separator: ", ") + "}"
    }
  }
}
