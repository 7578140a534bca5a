/// Collects every problem of a config instead of stopping at the first.
package final class DiagnosticSink {
  /// The config file every diagnostic names.
  package let file: String
  /// The problems reported so far, in order.
  package private(set) var diagnostics: [Diagnostic] = []

  /// A sink for the problems of `file`.
  package init(file: String) {
    self.file = file
  }

  /// Reports `message` at `path`, located where `value` was written.
  package func report(_ value: JSONValue?, _ path: String, _ message: String) {
    diagnostics.append(
      Diagnostic(file: file, location: value?.location, path: path, message: message))
  }

  /// Reports `message` at `path` and `location`.
  package func report(at location: SourceLocation?, _ path: String, _ message: String) {
    diagnostics.append(Diagnostic(file: file, location: location, path: path, message: message))
  }
}

/// Typed, checked access to one JSON object of the config.
///
/// Every getter records its key as known; `finish()` then reports keys
/// nobody asked for, with a "did you mean" suggestion.
package final class ObjectReader {
  /// The object's JSON path ("$.data").
  package let path: String
  /// Where the object starts.
  package let location: SourceLocation
  private let members: [JSONMember]
  private let sink: DiagnosticSink
  private var known: [String] = []
  /// Set once the object's kind is unknown: its other keys cannot be judged.
  private var unjudged = false

  /// A reader of `members`, an object at `path`, reporting to `sink`.
  package init(members: [JSONMember], location: SourceLocation, path: String, sink: DiagnosticSink) {
    self.members = members
    self.location = location
    self.path = path
    self.sink = sink
  }

  /// A reader for `value`, or nil (and a diagnostic) when it is not an object.
  package static func make(_ value: JSONValue, path: String, sink: DiagnosticSink) -> ObjectReader? {
    guard case .object(let members, let location) = value else {
      sink.report(value, path, "expected an object, found \(value.typeName)")
      return nil
    }
    return ObjectReader(members: members, location: location, path: path, sink: sink)
  }

  /// The JSON path of `key` in this object.
  package func childPath(_ key: String) -> String { "\(path).\(key)" }

  /// The raw value of `key`, marking it known.
  package func value(_ key: String) -> JSONValue? {
    if !known.contains(key) { known.append(key) }
    guard let member = members.first(where: { $0.key == key }) else { return nil }
    if case .null = member.value { return nil }
    return member.value
  }

  /// Whether `key` is written (even as null), without marking it known.
  package func has(_ key: String) -> Bool { members.contains { $0.key == key } }

  /// Reports `message` at `key`.
  package func report(_ key: String, _ message: String) {
    sink.report(value(key), childPath(key), message)
  }

  /// Reports `key` missing, naming what was `expected`.
  package func missing(_ key: String, _ expected: String) {
    sink.report(at: location, childPath(key), "missing required key; expected \(expected)")
  }

  /// A string key, or nil (reported when mistyped).
  package func string(_ key: String) -> String? {
    typed(key, \.stringValue, expected: "a string", found: \.typeName)
  }

  /// A boolean key, or nil (reported when mistyped).
  package func bool(_ key: String) -> Bool? {
    typed(key, \.boolValue, expected: "true or false", found: \.summary)
  }

  /// The value of `key` as `read` takes it; a value it refuses is reported as
  /// "expected <expected>, found <found(value)>".
  private func typed<T>(
    _ key: String, _ read: (JSONValue) -> T?, expected: String, found: (JSONValue) -> String
  ) -> T? {
    guard let v = value(key) else { return nil }
    guard let result = read(v) else {
      sink.report(v, childPath(key), "expected \(expected), found \(found(v))")
      return nil
    }
    return result
  }

  /// An integer key checked against `min` and `max`, or nil (reported when mistyped or out of range).
  package func int(_ key: String, min: Int? = nil, max: Int? = nil) -> Int? {
    guard let v = value(key) else { return nil }
    guard case .number(let d, _, _) = v, v.isInteger, abs(d) < 9e15 else {
      sink.report(v, childPath(key), "expected an integer, found \(v.summary)")
      return nil
    }
    let n = Int(d)
    if let min, n < min {
      sink.report(v, childPath(key), "expected an integer ≥ \(min), found \(n)")
      return nil
    }
    if let max, n > max {
      sink.report(v, childPath(key), "expected an integer ≤ \(max), found \(n)")
      return nil
    }
    return n
  }

  /// A number checked against bounds; `exclusiveMin` for "> min".
  package func double(
    _ key: String, min: Double? = nil, exclusiveMin: Bool = false, max: Double? = nil,
    exclusiveMax: Bool = false
  ) -> Double? {
    guard let v = value(key) else { return nil }
    guard case .number(let d, _, _) = v else {
      sink.report(v, childPath(key), "expected a number, found \(v.summary)")
      return nil
    }
    if let min, exclusiveMin ? d <= min : d < min {
      sink.report(
        v, childPath(key), "expected a number \(exclusiveMin ? ">" : "≥") \(min), found \(v.summary)")
      return nil
    }
    if let max, exclusiveMax ? d >= max : d > max {
      sink.report(
        v, childPath(key), "expected a number \(exclusiveMax ? "<" : "≤") \(max), found \(v.summary)")
      return nil
    }
    return d
  }

  /// One of an enumeration's raw values.
  package func choice<E: RawRepresentable & CaseIterable>(_ key: String, _: E.Type, what: String)
    -> E? where E.RawValue == String
  {
    guard let v = value(key) else { return nil }
    return ObjectReader.choice(v, E.self, path: childPath(key), what: what, sink: sink)
  }

  /// One of `E`'s raw values in `v` at `path`, or nil after reporting the known ones and a "did you mean".
  package static func choice<E: RawRepresentable & CaseIterable>(
    _ v: JSONValue, _: E.Type, path: String, what: String, sink: DiagnosticSink
  ) -> E? where E.RawValue == String {
    choice(v, among: E.allCases.map(\.rawValue), path: path, what: what, sink: sink).flatMap(
      E.init(rawValue:))
  }

  /// One of `names`.
  package func choice(_ key: String, among names: [String], what: String) -> String? {
    guard let v = value(key) else { return nil }
    return ObjectReader.choice(v, among: names, path: childPath(key), what: what, sink: sink)
  }

  /// `v` if it is one of `names`; else reports what was expected at `path`.
  package static func choice(
    _ v: JSONValue, among names: [String], path: String, what: String, sink: DiagnosticSink
  ) -> String? {
    guard case .string(let s, _) = v else {
      sink.report(v, path, "expected \(what) (one of \(names.joined(separator: ", "))), found \(v.typeName)")
      return nil
    }
    guard names.contains(s) else {
      var message = "unknown \(what) \"\(s)\"; expected one of \(names.joined(separator: ", "))"
      if let guess = suggestion(for: s, among: names) { message += " (did you mean \"\(guess)\"?)" }
      sink.report(v, path, message)
      return nil
    }
    return s
  }

  /// A nested object's reader, or nil (reported when not an object).
  package func object(_ key: String) -> ObjectReader? {
    guard let v = value(key) else { return nil }
    return ObjectReader.make(v, path: childPath(key), sink: sink)
  }

  /// An array key, or nil (reported when not an array).
  package func array(_ key: String) -> [JSONValue]? {
    typed(key, \.arrayValue, expected: "an array", found: \.typeName)
  }

  /// Stops `finish()` from reporting unread keys: after an unknown kind, which keys belong is unknown too.
  ///
  /// A layer of unknown `type` (or data of unknown `source`) has keys of some
  /// other kind; reporting each as unknown would bury the one real error.
  package func ignoreUnreadKeys() {
    unjudged = true
  }

  /// Reports every key that no getter asked for.
  package func finish() {
    guard !unjudged else { return }
    for member in members where !known.contains(member.key) {
      var message = "unknown key \"\(member.key)\""
      if let guess = suggestion(for: member.key, among: known) {
        message += " (did you mean \"\(guess)\"?)"
      } else {
        message += "; expected one of \(known.joined(separator: ", "))"
      }
      sink.report(at: member.keyLocation, childPath(member.key), message)
    }
  }
}
