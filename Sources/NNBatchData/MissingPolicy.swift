import NNBatchCore
import NeuralNet

/// `data.missing`: which feature cells may be missing and how they are filled.
///
/// Written as one rule for every column (`"mean"`, `{"constant": 0}`,
/// `{"strategy": "median", "indicator": true}`), or as
/// `{"default": rule, "columns": {"name": rule, ...}}`. A rule is a strategy
/// name (refuse, mean, median, most_frequent), or an object with either
/// `strategy` or `constant`, and optionally `indicator`.
public struct MissingPolicy: Sendable, Hashable, CustomStringConvertible {
  /// The rule of columns not named in `columns`.
  public var fallback: MissingRule
  /// Rules of columns by header name.
  public var columns: [String: MissingRule]

  /// A policy with these rules.
  public init(fallback: MissingRule = .refuse, columns: [String: MissingRule] = [:]) {
    self.fallback = fallback
    self.columns = columns
  }

  /// Every missing value is an error (no `data.missing`).
  public static let refuse = MissingPolicy()

  /// Whether every column refuses missing values (the behaviour without `data.missing`).
  public var refusesAll: Bool { fallback == .refuse && columns.values.allSatisfy { $0 == .refuse } }

  /// The rule of the column named `name` (nil: the file has no header).
  public func rule(for name: String?) -> MissingRule {
    name.flatMap { columns[$0] } ?? fallback
  }

  /// The policy as JSON-like text with sorted columns ("refuse", `{"default": mean, "columns": {...}}`), for messages.
  public var description: String {
    func text(_ rule: MissingRule) -> String {
      let strategy: String
      switch rule.strategy {
      case .refuse: strategy = "refuse"
      case .mean: strategy = "mean"
      case .median: strategy = "median"
      case .mostFrequent: strategy = "most_frequent"
      case .constant(let v): strategy = "constant \(v)"
      }
      return rule.indicator ? "\(strategy) with indicator" : strategy
    }
    guard !columns.isEmpty else { return text(fallback) }
    let named = columns.keys.sorted().map { "\($0): \(text(columns[$0] ?? .refuse))" }
    return "default \(text(fallback)), columns {\(named.joined(separator: ", "))}"
  }

  /// The strategy names of a rule written as a string.
  static let strategyNames = ["refuse", "mean", "median", "most_frequent"]

  /// Decodes `data.missing` from `value` at `path`; nil after reporting a problem.
  package static func decode(_ value: JSONValue, path: String, sink: DiagnosticSink) -> MissingPolicy? {
    if case .object(let members, _) = value,
      members.contains(where: { $0.key == "default" || $0.key == "columns" })
    {
      guard let o = ObjectReader.make(value, path: path, sink: sink) else { return nil }
      var ok = true
      var policy = MissingPolicy()
      if let d = o.value("default") {
        if let rule = decodeRule(d, path: o.childPath("default"), sink: sink) {
          policy.fallback = rule
        } else {
          ok = false
        }
      }
      if let columns = o.value("columns") {
        if case .object(let members, _) = columns {
          for member in members {
            let rulePath = "\(o.childPath("columns")).\(member.key)"
            if let rule = decodeRule(member.value, path: rulePath, sink: sink) {
              policy.columns[member.key] = rule
            } else {
              ok = false
            }
          }
        } else {
          sink.report(
            columns, o.childPath("columns"),
            "expected an object of column names and rules, found \(columns.typeName)")
          ok = false
        }
      }
      o.finish()
      return ok ? policy : nil
    }
    return decodeRule(value, path: path, sink: sink).map { MissingPolicy(fallback: $0) }
  }

  /// One rule: a strategy name, or `{"strategy": name | "constant": number, "indicator": bool}`.
  static func decodeRule(_ value: JSONValue, path: String, sink: DiagnosticSink) -> MissingRule? {
    if case .string = value {
      return ObjectReader.choice(
        value, among: strategyNames, path: path, what: "missing-value strategy", sink: sink
      )
      .map { MissingRule(strategy(named: $0)) }
    }
    guard case .object = value else {
      sink.report(
        value, path,
        "expected a missing-value strategy (one of \(strategyNames.joined(separator: ", "))) or an object with \"strategy\" or \"constant\", found \(value.typeName)"
      )
      return nil
    }
    guard let o = ObjectReader.make(value, path: path, sink: sink) else { return nil }
    defer { o.finish() }
    let name = o.choice("strategy", among: strategyNames, what: "missing-value strategy")
    let constant = o.double(
      "constant", min: -Double(Float.greatestFiniteMagnitude), max: Double(Float.greatestFiniteMagnitude))
    let indicator = o.bool("indicator") ?? false
    switch (name, constant, o.has("strategy"), o.has("constant")) {
    case (_, _, true, true):
      o.report("constant", "give either \"strategy\" or \"constant\", not both")
      return nil
    case (let name?, nil, _, _):
      if name == "refuse" && indicator {
        o.report("indicator", "an indicator needs a strategy that fills the value; \"refuse\" fills none")
        return nil
      }
      return MissingRule(strategy(named: name), indicator: indicator)
    case (nil, let constant?, _, _):
      return MissingRule(.constant(Float(constant)), indicator: indicator)
    case (nil, nil, false, false):
      o.missing(
        "strategy", "one of \(strategyNames.joined(separator: ", ")), or a \"constant\" number instead")
      return nil
    default:
      return nil
    }
  }

  private static func strategy(named name: String) -> ImputeStrategy {
    switch name {
    case "mean": return .mean
    case "median": return .median
    case "most_frequent": return .mostFrequent
    default: return .refuse
    }
  }
}
