#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Optimizers as plugins.
//
//   Optimizers.all ──> OptimizerRule (one file each: SGD.swift, Adam.swift, ...)
//                        name, default learning rate, hyper-parameters (declared once),
//                        state slots, per-step constants, the update rule
//
// The config reader, the checkpoint schema, `inspect`, resume's comparison and
// the Swift API read a rule's `hyperParameters`; `OptimizerState` calls its
// `constants` once per step and its `update` once per chunk of parameters.
// A new optimizer is one file with a conforming type plus its line in
// `Optimizers.all`.

/// One optimizer family: its config name, hyper-parameters, state slots and update rule.
///
/// Every rule also takes `learning_rate`, `weight_decay` and `clip_norm`,
/// which `OptimizerSettings` holds for all families; `hyperParameters`
/// declares the family's own.
public protocol OptimizerRule: Sendable {
  /// The config's `optimizer.kind` value and the checkpoint's `/optimizer@kind` ("sgd").
  static var name: String { get }
  /// One line for docs and help.
  static var summary: String { get }
  /// `learning_rate` when the config gives none.
  static var defaultLearningRate: Double { get }
  /// `weight_decay` when the config gives none.
  static var defaultWeightDecay: Double { get }
  /// The family's own hyper-parameters, in config and checkpoint order.
  static var hyperParameters: [HyperParameterSpec] { get }

  /// Problems that involve several values, each already within its own range: (key, message).
  static func problems(_ settings: OptimizerSettings) -> [(key: String, message: String)]
  /// Names of the per-parameter state buffers the rule keeps with `settings` (checkpoint group names).
  static func slotNames(_ settings: OptimizerSettings) -> [String]
  /// The value a state buffer starts from (0 for most).
  static func initialValue(_ settings: OptimizerSettings, slot: Int) -> Float
  /// The step's constants, computed once per step; `step` counts this update (1 for the first).
  static func constants(_ settings: OptimizerSettings, step: Int, learningRate: Double) -> StepConstants
  /// One update of `parameters[range]` from the reduced `gradient[range]` times `c.gradientScale`,
  /// with `slots` in `slotNames` order.
  ///
  /// Element-wise: lanes never interact, so any split into ranges gives the same bits.
  static func update(
    parameters: UnsafeMutablePointer<Float>, gradient: UnsafePointer<Float>,
    slots: [UnsafeMutablePointer<Float>], range: Range<Int>, constants c: StepConstants)
}

extension OptimizerRule {
  /// No decay unless the family decouples it by default.
  public static var defaultWeightDecay: Double { 0 }
  /// No cross-value constraints.
  public static func problems(_ settings: OptimizerSettings) -> [(key: String, message: String)] { [] }
  /// State buffers start at zero.
  public static func initialValue(_ settings: OptimizerSettings, slot: Int) -> Float { 0 }
}

/// The optimizer families this build knows, in the order help and errors list them.
public enum Optimizers {
  /// The registry: one line per family.
  public static let all: [any OptimizerRule.Type] = [
    SGD.self, Adam.self, AdamW.self, RMSprop.self, Adagrad.self,
  ]

  /// The family named `name`, or nil.
  public static func rule(named name: String) -> (any OptimizerRule.Type)? {
    all.first { $0.name == name }
  }
}

/// An optimizer family, by name; one of `Optimizers.all`.
public struct OptimizerKind: RawRepresentable, CaseIterable, Sendable, Hashable, CustomStringConvertible {
  /// The family's config name.
  public let rawValue: String
  /// The family's rule.
  public let rule: any OptimizerRule.Type

  /// The registered family named `rawValue`, or nil.
  public init?(rawValue: String) {
    guard let rule = Optimizers.rule(named: rawValue) else { return nil }
    self.init(rule)
  }

  /// The family of `rule`.
  public init(_ rule: any OptimizerRule.Type) {
    rawValue = rule.name
    self.rule = rule
  }

  /// Every registered family.
  public static var allCases: [OptimizerKind] { Optimizers.all.map(OptimizerKind.init) }

  /// Kinds are equal when their names are.
  public static func == (a: OptimizerKind, b: OptimizerKind) -> Bool { a.rawValue == b.rawValue }
  /// Hashes the name.
  public func hash(into hasher: inout Hasher) { hasher.combine(rawValue) }
  /// The config name.
  public var description: String { rawValue }
}

/// One hyper-parameter of a family, declared once: name, type, default, valid range, doc line.
public struct HyperParameterSpec: Sendable {
  /// A number's valid range.
  public struct Range: Sendable, Equatable {
    /// Lower bound, if any.
    public var min: Double?
    /// Whether the lower bound itself is excluded.
    public var exclusiveMin = false
    /// Upper bound, if any.
    public var max: Double?
    /// Whether the upper bound itself is excluded.
    public var exclusiveMax = false

    /// [0, 1): a decay or momentum factor.
    public static let unitOpen = Range(min: 0, max: 1, exclusiveMax: true)
    /// > 0.
    public static let positive = Range(min: 0, exclusiveMin: true)
    /// ≥ 0.
    public static let nonNegative = Range(min: 0)

    /// "in [0, 1)", "> 0", "≥ 0" for docs.
    public var text: String {
      switch (min, max) {
      case (let lo?, let hi?):
        return "in \(exclusiveMin ? "(" : "[")\(Self.short(lo)), \(Self.short(hi))\(exclusiveMax ? ")" : "]")"
      case (let lo?, nil): return "\(exclusiveMin ? ">" : "≥") \(Self.short(lo))"
      case (nil, let hi?): return "\(exclusiveMax ? "<" : "≤") \(Self.short(hi))"
      case (nil, nil): return "any number"
      }
    }

    private static func short(_ value: Double) -> String {
      value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : "\(value)"
    }
  }

  /// A parameter's type and default.
  public enum Kind: Sendable {
    /// A number within `range`.
    case number(default: Double, range: Range)
    /// A yes/no setting.
    case flag(default: Bool)
  }

  /// The config key and checkpoint attribute ("momentum").
  public let name: String
  /// Type, default and range.
  public let kind: Kind
  /// One line for docs.
  public let summary: String

  /// A number parameter.
  public static func number(_ name: String, default value: Double, _ range: Range, _ summary: String)
    -> HyperParameterSpec
  {
    HyperParameterSpec(name: name, kind: .number(default: value, range: range), summary: summary)
  }

  /// A yes/no parameter.
  public static func flag(_ name: String, default value: Bool, _ summary: String) -> HyperParameterSpec {
    HyperParameterSpec(name: name, kind: .flag(default: value), summary: summary)
  }

  /// The default as a value.
  public var defaultValue: HyperParameter.Value {
    switch kind {
    case .number(let value, _): return .number(value)
    case .flag(let value): return .flag(value)
    }
  }
}

/// One optimizer hyper-parameter, by the name the config and the checkpoint give it.
public struct HyperParameter: Sendable, Hashable, CustomStringConvertible {
  /// The value: a number, or a yes/no setting (nesterov).
  public enum Value: Sendable, Hashable, CustomStringConvertible, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral
  {
    /// A number.
    case number(Double)
    /// A yes/no setting.
    case flag(Bool)

    /// A number.
    public init(floatLiteral value: Double) { self = .number(value) }
    /// A number.
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    /// A flag.
    public init(booleanLiteral value: Bool) { self = .flag(value) }

    /// The plain value: 0.9, true.
    public var description: String {
      switch self {
      case .number(let value): return "\(value)"
      case .flag(let value): return value ? "true" : "false"
      }
    }
  }

  /// The config key and attribute name ("momentum").
  public let name: String
  /// Its value.
  public let value: Value

  /// A parameter `name` of `value`.
  public init(name: String, value: Value) {
    self.name = name
    self.value = value
  }

  /// "momentum=0.9".
  public var description: String { "\(name)=\(value)" }
}

/// An optimizer's settings: its family, the hyper-parameters every family shares, and the family's own.
public struct OptimizerSettings: Sendable, Hashable {
  /// Which update rule.
  public var kind: OptimizerKind
  /// Base learning rate (a schedule may scale it per step).
  public var learningRate: Double
  /// Weight decay λ: L2 added to the gradient, or decoupled (adamw).
  public var weightDecay: Double
  /// Clip the gradient to this global L2 norm, if set.
  public var clipNorm: Double?
  /// The family's own hyper-parameters by name, every one present (defaults filled in).
  public private(set) var values: [String: HyperParameter.Value]

  /// Settings of `kind`; what is not given takes the family's default (PyTorch's).
  ///
  /// `values` names the family's own hyper-parameters; a name the family does
  /// not declare is a programming error.
  public init(
    kind: OptimizerKind, learningRate: Double? = nil, weightDecay: Double? = nil, clipNorm: Double? = nil,
    _ values: [String: HyperParameter.Value] = [:]
  ) {
    self.kind = kind
    self.learningRate = learningRate ?? kind.rule.defaultLearningRate
    self.weightDecay = weightDecay ?? kind.rule.defaultWeightDecay
    self.clipNorm = clipNorm
    var filled: [String: HyperParameter.Value] = [:]
    for spec in kind.rule.hyperParameters { filled[spec.name] = values[spec.name] ?? spec.defaultValue }
    precondition(
      values.keys.allSatisfy { filled[$0] != nil },
      "\(kind.rawValue) has no hyper-parameter among \(values.keys)")
    self.values = filled
  }

  /// The family's hyper-parameter `name`.
  public subscript(name: String) -> HyperParameter.Value {
    get {
      guard let value = values[name] else { preconditionFailure("\(kind.rawValue) has no \(name)") }
      return value
    }
    set {
      precondition(values[name] != nil, "\(kind.rawValue) has no \(name)")
      values[name] = newValue
    }
  }

  /// The number `name` (a flag reads as 0 or 1).
  public func number(_ name: String) -> Double {
    switch self[name] {
    case .number(let value): return value
    case .flag(let value): return value ? 1 : 0
    }
  }

  /// The flag `name` (a number reads as true when non-zero).
  public func flag(_ name: String) -> Bool {
    switch self[name] {
    case .number(let value): return value != 0
    case .flag(let value): return value
    }
  }

  /// Every hyper-parameter in config order: learning_rate, the family's own, weight_decay, clip_norm (when set).
  public var hyperParameters: [HyperParameter] {
    var list = [HyperParameter(name: "learning_rate", value: .number(learningRate))]
    for spec in kind.rule.hyperParameters {
      list.append(HyperParameter(name: spec.name, value: self[spec.name]))
    }
    list.append(HyperParameter(name: "weight_decay", value: .number(weightDecay)))
    if let clipNorm { list.append(HyperParameter(name: "clip_norm", value: .number(clipNorm))) }
    return list
  }

  /// Names of the state buffers, as stored in checkpoints.
  public var slotNames: [String] { kind.rule.slotNames(self) }

  /// Number of per-parameter state buffers the rule keeps.
  public var slotCount: Int { slotNames.count }

  /// The factor that brings a gradient of L2 norm `norm` down to `clipNorm` (1 when within it or unset).
  public func clipFactor(gradientNorm norm: Double) -> Float {
    guard let clipNorm, norm > clipNorm else { return 1 }
    return Float(clipNorm / norm)
  }
}

/// A step's constants for the update loop, computed once per step by the rule on the calling thread.
public struct StepConstants: Sendable {
  /// Learning rate for this step (after the schedule, and the rule's own decay if any).
  public var learningRate: Float
  /// Factor applied to the reduced gradient: the clip factor (1 without clipping).
  public var gradientScale: Float = 1
  /// Weight decay λ (`OptimizerSettings.weightDecay`), applied as the rule defines.
  public var weightDecay: Float = 0
  /// The rule's own constants, in an order the rule chooses (β₁, β₂, bias corrections, ...).
  public var values: SIMD8<Float> = .zero
  /// The rule's yes/no settings, in an order it chooses (Nesterov, centered, ...).
  public var flags: SIMD4<Int32> = .zero

  /// Constants with `learningRate` and the rule's `values` and `flags`.
  public init(learningRate: Float, values: SIMD8<Float> = .zero, flags: SIMD4<Int32> = .zero) {
    self.learningRate = learningRate
    self.values = values
    self.flags = flags
  }
}

/// Loops over a range in 16-lane vectors, the tail through the same code with unused lanes zero.
///
/// Every rule is written once on `SIMD16<Float>`; lanes never interact, so
/// every element gets the same bits whichever lane or range it falls in.
public enum Lanes {
  /// The vector type of the update loops.
  public typealias Vector = SIMD16<Float>

  /// Calls `body(start, lanes)` for consecutive blocks of up to 16 indices of `range`.
  @inline(__always)
  public static func forEach(_ range: Range<Int>, _ body: (Int, Int) -> Void) {
    var i = range.lowerBound
    while i < range.upperBound {
      let n = min(16, range.upperBound - i)
      body(i, n)
      i += n
    }
  }

  /// `n` ≤ 16 floats from `base + i` (missing lanes zero).
  @inline(__always)
  public static func load(_ base: UnsafePointer<Float>, _ i: Int, _ n: Int) -> Vector {
    if n == 16 { return UnsafeRawPointer(base + i).loadUnaligned(as: Vector.self) }
    var v = Vector()
    for k in 0..<n { v[k] = base[i + k] }
    return v
  }

  /// `n` ≤ 16 floats from `base + i` (missing lanes zero).
  @inline(__always)
  public static func load(_ base: UnsafeMutablePointer<Float>, _ i: Int, _ n: Int) -> Vector {
    load(UnsafePointer(base), i, n)
  }

  /// Stores the first `n` ≤ 16 lanes of `v` at `base + i`.
  @inline(__always)
  public static func store(_ v: Vector, _ base: UnsafeMutablePointer<Float>, _ i: Int, _ n: Int) {
    if n == 16 {
      UnsafeMutableRawPointer(base + i).storeBytes(of: v, as: Vector.self)
      return
    }
    for k in 0..<n { base[i + k] = v[k] }
  }
}
