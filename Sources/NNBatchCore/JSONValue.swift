/// A position in a text file, 1-based.
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
  /// Line number.
  public var line: Int
  /// Column number (in characters).
  public var column: Int

  /// A position at `line`:`column`.
  public init(line: Int, column: Int) {
    self.line = line
    self.column = column
  }

  /// "line:column".
  public var description: String { "\(line):\(column)" }
}

/// A parsed JSON value that remembers where it was written.
public indirect enum JSONValue: Sendable {
  /// An object; members in file order (duplicates are rejected by the parser).
  case object([JSONMember], SourceLocation)
  /// An array.
  case array([JSONValue], SourceLocation)
  /// A string.
  case string(String, SourceLocation)
  /// A number, with its source text (to tell 3 from 3.0).
  case number(Double, String, SourceLocation)
  /// true or false.
  case bool(Bool, SourceLocation)
  /// null.
  case null(SourceLocation)

  /// Where the value starts.
  public var location: SourceLocation {
    switch self {
    case .object(_, let l), .array(_, let l), .string(_, let l), .number(_, _, let l),
      .bool(_, let l), .null(let l):
      return l
    }
  }

  /// The JSON type's name, for "expected X, found Y" messages.
  public var typeName: String {
    switch self {
    case .object: return "an object"
    case .array: return "an array"
    case .string: return "a string"
    case .number(_, let text, _):
      return text.contains(where: { ".eE".contains($0) }) ? "a number" : "an integer"
    case .bool: return "a boolean"
    case .null: return "null"
    }
  }

  /// Whether the value is a number whose text is exactly an integer: `3`, `3.0`, `1e2`, not `1e-400`.
  ///
  /// Decided on the text, not the Double: `1e-400` underflows to 0, a whole
  /// number, yet the config did not give an integer. The config's integer
  /// keys accept only such numbers.
  public var isInteger: Bool {
    guard case .number(_, let text, _) = self else { return false }
    let parts = text.split(maxSplits: 1, omittingEmptySubsequences: false) { $0 == "e" || $0 == "E" }
    let mantissa = parts[0].drop { $0 == "-" }
    // An exponent too long for Int is far past any integer key's range either way.
    let exponent =
      parts.count > 1 ? Int(parts[1]) ?? (parts[1].hasPrefix("-") ? Int.min / 2 : Int.max / 2) : 0
    let pieces = mantissa.split(separator: ".", omittingEmptySubsequences: false)
    let fraction = pieces.count > 1 ? pieces[1] : ""
    let digits = pieces[0] + fraction
    guard let last = digits.lastIndex(where: { $0 != "0" }) else { return true }  // zero
    let trailingZeros = digits.distance(from: last, to: digits.endIndex) - 1
    // value = (digits without trailing zeros) × 10^(exponent − fraction digits + trailing zeros)
    return exponent - fraction.count + trailingZeros >= 0
  }

  /// A short rendering of the value for messages.
  public var summary: String {
    switch self {
    case .object: return "an object"
    case .array(let items, _): return "an array of \(items.count)"
    case .string(let s, _): return "\"\(s.count > 40 ? String(s.prefix(40)) + "…" : s)\""
    case .number(_, let text, _): return text
    case .bool(let b, _): return b ? "true" : "false"
    case .null: return "null"
    }
  }
}

extension JSONValue {
  /// The member `key` of an object (nil for other values or a missing key).
  public subscript(key: String) -> JSONValue? {
    guard case .object(let members, _) = self else { return nil }
    return members.first { $0.key == key }?.value
  }

  /// The text of a string value, else nil.
  public var stringValue: String? {
    guard case .string(let text, _) = self else { return nil }
    return text
  }

  /// The value of true or false, else nil (a number is not a flag).
  public var boolValue: Bool? {
    guard case .bool(let flag, _) = self else { return nil }
    return flag
  }

  /// The items of an array, else nil.
  public var arrayValue: [JSONValue]? {
    guard case .array(let items, _) = self else { return nil }
    return items
  }
}

/// One member of a JSON object.
public struct JSONMember: Sendable {
  /// The key.
  public var key: String
  /// Where the key is written.
  public var keyLocation: SourceLocation
  /// The value.
  public var value: JSONValue
}

/// A JSON syntax error at a position.
public struct JSONSyntaxError: Error, Sendable {
  /// Where.
  public var location: SourceLocation
  /// What was expected and found.
  public var message: String
}

/// A strict RFC 8259 parser that records positions and rejects duplicate keys.
public struct JSONParser {
  private let bytes: [UInt8]
  private var index = 0
  private var line = 1
  private var lineStart = 0

  /// Parses `text` as one JSON value.
  public static func parse(_ text: String) throws(JSONSyntaxError) -> JSONValue {
    var parser = JSONParser(bytes: Array(text.utf8))
    parser.skipWhitespace()
    let value = try parser.parseValue(depth: 0)
    parser.skipWhitespace()
    if parser.index < parser.bytes.count {
      throw parser.error("expected end of input, found \(parser.describeCurrent())")
    }
    return value
  }

  private init(bytes: [UInt8]) {
    self.bytes = bytes
  }

  /// Bytes of the current line before this index are counted in `countedColumn`.
  private var countedIndex = 0
  /// The column at `countedIndex`.
  private var countedColumn = 1

  /// The current position, counted on from the last one asked for.
  ///
  /// Counting from the line's start every time made a config written on one
  /// line (10,000 layers) quadratic: each value's location rescanned the line.
  private var location: SourceLocation {
    mutating get {
      if countedIndex < lineStart || countedIndex > index {
        countedIndex = lineStart
        countedColumn = 1
      }
      // Columns count characters, not bytes: skip UTF-8 continuation bytes.
      while countedIndex < index {
        if bytes[countedIndex] & 0xC0 != 0x80 { countedColumn += 1 }
        countedIndex += 1
      }
      return SourceLocation(line: line, column: countedColumn)
    }
  }

  /// The current position for an error message (counted from the line's start).
  private var errorLocation: SourceLocation {
    let column = bytes[lineStart..<index].filter { $0 & 0xC0 != 0x80 }.count + 1
    return SourceLocation(line: line, column: column)
  }

  private func error(_ message: String, at location: SourceLocation? = nil) -> JSONSyntaxError {
    JSONSyntaxError(location: location ?? errorLocation, message: message)
  }

  private func describeCurrent() -> String {
    guard index < bytes.count else { return "end of input" }
    let byte = bytes[index]
    if byte >= 0x20 && byte < 0x7F { return "'\(Character(UnicodeScalar(byte)))'" }
    return String(format: byte)
  }

  private func String(format byte: UInt8) -> Swift.String {
    let hex = Swift.String(byte, radix: 16)
    return "byte 0x" + (hex.count == 1 ? "0" + hex : hex)
  }

  private mutating func skipWhitespace() {
    while index < bytes.count {
      switch bytes[index] {
      case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"):
        index += 1
      case UInt8(ascii: "\n"):
        index += 1
        line += 1
        lineStart = index
      default:
        return
      }
    }
  }

  private mutating func parseValue(depth: Int) throws(JSONSyntaxError) -> JSONValue {
    guard depth < 512 else { throw error("nesting deeper than 512 levels") }
    guard index < bytes.count else { throw error("expected a value, found end of input") }
    let start = location
    switch bytes[index] {
    case UInt8(ascii: "{"): return try parseObject(depth: depth, start: start)
    case UInt8(ascii: "["): return try parseArray(depth: depth, start: start)
    case UInt8(ascii: "\""): return .string(try parseString(), start)
    case UInt8(ascii: "t"):
      try expectLiteral("true")
      return .bool(true, start)
    case UInt8(ascii: "f"):
      try expectLiteral("false")
      return .bool(false, start)
    case UInt8(ascii: "n"):
      try expectLiteral("null")
      return .null(start)
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
      return try parseNumber(start: start)
    default:
      throw error("expected a value, found \(describeCurrent())")
    }
  }

  private mutating func expectLiteral(_ literal: Swift.String) throws(JSONSyntaxError) {
    let start = location
    for byte in literal.utf8 {
      guard index < bytes.count, bytes[index] == byte else {
        throw error("expected '\(literal)'", at: start)
      }
      index += 1
    }
  }

  private mutating func parseObject(depth: Int, start: SourceLocation) throws(JSONSyntaxError)
    -> JSONValue
  {
    var members: [JSONMember] = []
    var seen: [Swift.String: SourceLocation] = [:]
    if openContainer(closedBy: UInt8(ascii: "}")) { return .object(members, start) }
    repeat {
      skipWhitespace()
      guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
        throw error("expected a string key, found \(describeCurrent())")
      }
      let keyLocation = location
      let key = try parseString()
      if let first = seen[key] {
        throw error("duplicate key \"\(key)\" (first defined at \(first))", at: keyLocation)
      }
      seen[key] = keyLocation
      skipWhitespace()
      guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else {
        throw error("expected ':' after key \"\(key)\", found \(describeCurrent())")
      }
      index += 1
      skipWhitespace()
      let value = try parseValue(depth: depth + 1)
      members.append(JSONMember(key: key, keyLocation: keyLocation, value: value))
    } while try continueContainer(closedBy: UInt8(ascii: "}"))
    return .object(members, start)
  }

  private mutating func parseArray(depth: Int, start: SourceLocation) throws(JSONSyntaxError)
    -> JSONValue
  {
    var items: [JSONValue] = []
    if openContainer(closedBy: UInt8(ascii: "]")) { return .array(items, start) }
    repeat {
      skipWhitespace()
      items.append(try parseValue(depth: depth + 1))
    } while try continueContainer(closedBy: UInt8(ascii: "]"))
    return .array(items, start)
  }

  /// Steps past an object's or array's opening bracket; true, past `close` too, when it is empty.
  private mutating func openContainer(closedBy close: UInt8) -> Bool {
    index += 1
    skipWhitespace()
    guard index < bytes.count && bytes[index] == close else { return false }
    index += 1
    return true
  }

  /// After a member or item: true past a ',' (another follows), false past `close` (the end).
  private mutating func continueContainer(closedBy close: UInt8) throws(JSONSyntaxError) -> Bool {
    skipWhitespace()
    if index < bytes.count && bytes[index] == UInt8(ascii: ",") {
      index += 1
      return true
    }
    if index < bytes.count && bytes[index] == close {
      index += 1
      return false
    }
    throw error("expected ',' or '\(Character(UnicodeScalar(close)))', found \(describeCurrent())")
  }

  private mutating func parseString() throws(JSONSyntaxError) -> Swift.String {
    let start = location
    index += 1
    var scalars: [UInt8] = []
    while true {
      guard index < bytes.count else { throw error("unterminated string", at: start) }
      let byte = bytes[index]
      if byte == UInt8(ascii: "\"") {
        index += 1
        break
      }
      if byte < 0x20 {
        throw error("control character in string (escape it)")
      }
      if byte != UInt8(ascii: "\\") {
        scalars.append(byte)
        index += 1
        continue
      }
      index += 1
      guard index < bytes.count else { throw error("unterminated string", at: start) }
      let escape = bytes[index]
      index += 1
      switch escape {
      case UInt8(ascii: "\""): scalars.append(UInt8(ascii: "\""))
      case UInt8(ascii: "\\"): scalars.append(UInt8(ascii: "\\"))
      case UInt8(ascii: "/"): scalars.append(UInt8(ascii: "/"))
      case UInt8(ascii: "b"): scalars.append(0x08)
      case UInt8(ascii: "f"): scalars.append(0x0C)
      case UInt8(ascii: "n"): scalars.append(0x0A)
      case UInt8(ascii: "r"): scalars.append(0x0D)
      case UInt8(ascii: "t"): scalars.append(0x09)
      case UInt8(ascii: "u"):
        var code = try parseHex4()
        if (0xD800..<0xDC00).contains(code) {
          guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"),
            bytes[index + 1] == UInt8(ascii: "u")
          else { throw error("unpaired surrogate in \\u escape") }
          index += 2
          let low = try parseHex4()
          guard (0xDC00..<0xE000).contains(low) else {
            throw error("invalid low surrogate in \\u escape")
          }
          code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
        }
        guard let scalar = Unicode.Scalar(code) else { throw error("invalid \\u escape") }
        scalars.append(contentsOf: Array(Swift.String(Character(scalar)).utf8))
      default:
        throw error("invalid escape '\\\(Character(UnicodeScalar(escape)))'")
      }
    }
    guard let text = Swift.String(validating: scalars, as: UTF8.self) else {
      throw error("string is not valid UTF-8", at: start)
    }
    return text
  }

  private mutating func parseHex4() throws(JSONSyntaxError) -> UInt32 {
    guard index + 4 <= bytes.count else { throw error("expected 4 hex digits after \\u") }
    var value: UInt32 = 0
    for _ in 0..<4 {
      let byte = bytes[index]
      let digit: UInt32
      switch byte {
      case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
      case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
      case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
      default: throw error("expected 4 hex digits after \\u")
      }
      value = value * 16 + digit
      index += 1
    }
    return value
  }

  private mutating func parseNumber(start: SourceLocation) throws(JSONSyntaxError) -> JSONValue {
    let begin = index
    func digits() -> Int {
      let first = index
      while index < bytes.count && bytes[index] >= UInt8(ascii: "0") && bytes[index] <= UInt8(ascii: "9") {
        index += 1
      }
      return index - first
    }
    if bytes[index] == UInt8(ascii: "-") { index += 1 }
    let integerStart = index
    guard digits() > 0 else { throw error("expected digits in number") }
    if bytes[integerStart] == UInt8(ascii: "0") && index - integerStart > 1 {
      throw error("leading zeros are not allowed in numbers", at: start)
    }
    if index < bytes.count && bytes[index] == UInt8(ascii: ".") {
      index += 1
      guard digits() > 0 else { throw error("expected digits after '.'") }
    }
    if index < bytes.count && (bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E")) {
      index += 1
      if index < bytes.count && (bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-")) {
        index += 1
      }
      guard digits() > 0 else { throw error("expected digits in exponent") }
    }
    let text = Swift.String(decoding: bytes[begin..<index], as: UTF8.self)
    guard let value = Double(text), value.isFinite else {
      throw error("number \(text) is out of range", at: start)
    }
    return .number(value, text, start)
  }
}
