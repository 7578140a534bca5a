// The one JSON writer of nnbatch's own documents whose key order matters: Keras's
// config.json and metadata.json, NNBatchKit's configs. (JSON log records use
// the flat, allocation-light `JSONRecord`, over the same `jsonQuoted`.)

/// A JSON value to write; objects keep their keys in order, as Keras writes them.
package indirect enum JSONText: Sendable {
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
  package static func int(_ value: Int) -> JSONText { .number(String(value)) }

  /// A Float, in the shortest text that reads back as the same Float.
  package static func float(_ value: Float) -> JSONText { .number(value.description) }

  /// A Double as a config writes it: a whole number below 10¹⁵ without ".0" ("1", "0.001").
  ///
  /// NaN and infinities come out as "nan"/"inf", which the config parser
  /// reports as invalid JSON naming the place; a writer never hides them.
  package static func decimal(_ value: Double) -> JSONText {
    .number(value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : value.description)
  }

  /// A Double, in the shortest text that reads back as the same Double.
  package static func double(_ value: Double) -> JSONText { .number(value.description) }

  /// The text of an array of strings, such as `["setosa","virginica"]`.
  package static func array(_ strings: [String]) -> String {
    JSONText.array(strings.map { .string($0) }).text
  }

  /// The compact JSON text.
  package var text: String {
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
