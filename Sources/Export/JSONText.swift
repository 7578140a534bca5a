import Checkpoints

// A small JSON writer for Keras's config.json and metadata.json, keys in the order given.

/// A JSON value to write; objects keep their keys in order, as Keras writes them.
indirect enum JSONText: Sendable {
  /// An object, its members in order.
  case object([(String, JSONText)])
  /// An array.
  case array([JSONText])
  /// A string.
  case string(String)
  /// A number, written as given (Swift's shortest round-trip text of the value).
  case number(String)
  /// true or false.
  case bool(Bool)
  /// null.
  case null

  /// An integer.
  static func int(_ value: Int) -> JSONText { .number(String(value)) }

  /// A Float, in the shortest text that reads back as the same Float.
  static func float(_ value: Float) -> JSONText { .number(value.description) }

  /// A Double, in the shortest text that reads back as the same Double.
  static func double(_ value: Double) -> JSONText { .number(value.description) }

  /// The text of an array of strings, such as `["setosa","virginica"]`.
  static func array(_ strings: [String]) -> String {
    JSONText.array(strings.map { .string($0) }).text
  }

  /// The compact JSON text.
  var text: String {
    var out = ""
    write(to: &out)
    return out
  }

  private func write(to out: inout String) {
    switch self {
    case .object(let members):
      out += "{"
      for (i, (key, value)) in members.enumerated() {
        if i > 0 { out += ", " }
        out += jsonQuoted(key)
        out += ": "
        value.write(to: &out)
      }
      out += "}"
    case .array(let items):
      out += "["
      for (i, item) in items.enumerated() {
        if i > 0 { out += ", " }
        item.write(to: &out)
      }
      out += "]"
    case .string(let text): out += jsonQuoted(text)
    case .number(let text): out += text
    case .bool(let value): out += value ? "true" : "false"
    case .null: out += "null"
    }
  }
}
