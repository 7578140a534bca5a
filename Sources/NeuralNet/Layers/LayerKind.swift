// A layer kind's declaration: its settings (name, type, default, valid range,
// one-line doc), its shape rule, how its stored attributes are laid out, and
// how its spec maps to and from setting values.
//
// The declaration is values only. Its interpreters live where names are read
// and written: the config reader (NNBatch, `LayerConfigs`), the checkpoint
// schema and `inspect`'s description (Checkpoints, `LayerSchemas`) and the
// Swift API (NNBatchKit). Every kind is one line of `LayerKinds.all`.

/// The value of one layer setting.
public enum LayerValue: Sendable, Hashable {
  /// A whole number ("units": 16).
  case integer(Int)
  /// A height × width ("kernel": 5 or [3, 5]).
  case size(Size2D)
  /// The raw value of a choice ("activation": "relu").
  case choice(String)
  /// A yes/no setting ("bias": true).
  case flag(Bool)
  /// A number ("rate": 0.5).
  case real(Double)
}

/// What values a layer setting takes.
public enum SettingType: Sendable, Equatable {
  /// An integer in the range.
  case integer(ClosedRange<Int>)
  /// A height × width, each side in the range: in a config an integer (a square) or
  /// [height, width]; in a checkpoint two attributes `<name>_height` and `<name>_width`.
  case size(ClosedRange<Int>)
  /// One of `names` (a String-raw enumeration's cases); `what` names the setting in messages.
  case choice(names: [String], what: String)
  /// Yes or no (0 or 1 in a checkpoint). `tensor`: the parameter tensor the layer has only
  /// when the flag is set, so a stored 0 next to that dataset is refused.
  case flag(tensor: String?)
  /// A number in the range (the optimizers' hyper-parameter ranges).
  case real(HyperParameterSpec.Range)
}

/// Where a setting's value comes from when a config leaves it out.
public enum SettingDefault: Sendable, Equatable {
  /// Nowhere: the setting must be given.
  case required
  /// This value.
  case value(LayerValue)
  /// The model-wide setting of this name (`model.bias`).
  case model(String)
  /// The value of the layer's setting of this name (a pool's `stride` is its `size`).
  case setting(String)
}

/// One setting of a layer kind, declared once for configs, checkpoints, `inspect` and the Swift API.
public struct LayerSetting: Sendable, Equatable {
  /// Its key in configs and its attribute name in checkpoints ("units").
  public let name: String
  /// The values it takes.
  public let type: SettingType
  /// Its value when a config leaves it out.
  public let defaultValue: SettingDefault
  /// One line of documentation.
  public let doc: String

  /// A setting `name` of `type`, `defaultValue` when left out, documented by `doc`.
  public init(
    _ name: String, _ type: SettingType, default defaultValue: SettingDefault = .required, doc: String
  ) {
    self.name = name
    self.type = type
    self.defaultValue = defaultValue
    self.doc = doc
  }

  /// A choice among the cases of `E` ("activation", "padding").
  public static func choice<E: RawRepresentable & CaseIterable>(
    _ name: String, _: E.Type, default value: E, doc: String
  ) -> LayerSetting where E.RawValue == String {
    LayerSetting(
      name, .choice(names: E.allCases.map(\.rawValue), what: name), default: .value(.choice(value.rawValue)),
      doc: doc)
  }

  /// What a valid value looks like, for messages: "a positive integer", "a number in [0, 1)".
  public var expected: String {
    switch type {
    case .integer(let range):
      return range.lowerBound == 1
        ? "a positive integer" : "an integer in \(range.lowerBound)...\(range.upperBound)"
    case .size(let range): return "an integer ≥ \(range.lowerBound) or [height, width]"
    case .choice(let names, _): return "one of \(names.joined(separator: ", "))"
    case .flag: return "true or false"
    case .real(let range): return "a number \(range.text)"
    }
  }

  /// Whether `value` is of this setting's type and inside its range.
  public func accepts(_ value: LayerValue) -> Bool {
    switch (type, value) {
    case (.integer(let range), .integer(let n)): return range.contains(n)
    case (.size(let range), .size(let s)): return range.contains(s.height) && range.contains(s.width)
    case (.choice(let names, _), .choice(let name)): return names.contains(name)
    case (.flag, .flag): return true
    case (.real(let range), .real(let d)): return range.contains(d)
    default: return false
    }
  }
}

extension HyperParameterSpec.Range {
  /// Whether `value` lies in the range.
  public func contains(_ value: Double) -> Bool {
    if let min, exclusiveMin ? value <= min : value < min { return false }
    if let max, exclusiveMax ? value >= max : value > max { return false }
    return !value.isNaN
  }
}

/// What a layer kind does with the shape of one sample.
public enum ShapeRule: Sendable, Hashable {
  /// Needs a flat input [features] and gives a flat output (dense).
  case flat
  /// Works on [C, H, W] samples and gives [C, H, W] samples (conv2d, windowed pooling).
  case spatial
  /// Makes any sample flat (flatten).
  case flattens
  /// Needs an image [C, H, W] and gives a flat output (global pooling: [C]), so no flatten follows it.
  case imageToFlat
  /// Gives samples of the shape it takes (dropout).
  case keepsShape

  /// Whether the kind needs an image [C, H, W] input.
  public var takesImages: Bool { self == .spatial || self == .imageToFlat }
}

/// One attribute a layer kind stores in its checkpoint group, besides `kind`.
public enum StoredAttribute: Sendable {
  /// The setting of this name (a size as `<name>_height`, `<name>_width`).
  case setting(String)
  /// An integer read off the layer's input shape (dense `inputs`, conv2d `channels`), at least
  /// `min`; on reading, `mismatch` gives what the input needs when the stored value does not fit it.
  case input(
    String, min: Int, value: @Sendable (Shape) -> Int,
    mismatch: @Sendable (_ stored: Int, _ input: Shape) -> String?)
  /// A string that must read back exactly (conv2d `kernel_axes`).
  case constant(String, String)
}

/// Setting values by name, each checked against its declaration.
public struct LayerValues: Sendable {
  /// The values by setting name.
  public let byName: [String: LayerValue]

  /// Values `byName`.
  public init(_ byName: [String: LayerValue]) {
    self.byName = byName
  }

  /// The value of setting `name`, if any.
  public subscript(name: String) -> LayerValue? { byName[name] }

  /// Integer setting `name`.
  public func integer(_ name: String) -> Int {
    value(name, "integer") { if case .integer(let v) = $0 { v } else { nil } }
  }

  /// Size setting `name`.
  public func size(_ name: String) -> Size2D {
    value(name, "size") { if case .size(let v) = $0 { v } else { nil } }
  }

  /// Choice setting `name` as a case of `E`.
  public func choice<E: RawRepresentable>(_ name: String, _: E.Type) -> E where E.RawValue == String {
    value(name, "\(E.self)") { if case .choice(let raw) = $0 { E(rawValue: raw) } else { nil } }
  }

  /// Flag setting `name`.
  public func flag(_ name: String) -> Bool {
    value(name, "flag") { if case .flag(let v) = $0 { v } else { nil } }
  }

  /// Number setting `name`.
  public func real(_ name: String) -> Double {
    value(name, "number") { if case .real(let v) = $0 { v } else { nil } }
  }

  /// The value of `name` as `extract` reads it; a kind's `make` asks only for its declared settings.
  private func value<T>(_ name: String, _ what: String, _ extract: (LayerValue) -> T?) -> T {
    guard let value = byName[name].flatMap(extract) else { preconditionFailure("no \(what) setting \(name)") }
    return value
  }
}

/// A layer kind's declaration: an entry of `LayerKinds.all`.
public struct LayerKind: Sendable {
  /// The kind's name in configs and checkpoints (`LayerSpec.kind`).
  public let name: String
  /// Its settings, in config order.
  public let settings: [LayerSetting]
  /// What it does with the shape of a sample.
  public let shapeRule: ShapeRule
  /// The attributes of its checkpoint group, in the order they are written.
  public let stored: [StoredAttribute]
  /// The spec type, to recognise specs of this kind.
  let specType: any LayerSpec.Type
  let makeSpec: @Sendable (LayerValues) -> any LayerSpec
  let valuesOf: @Sendable (any LayerSpec) -> [LayerValue]
  let summaryOf: @Sendable (any LayerSpec, Shape) -> String
  let ruleOf: @Sendable (LayerValues) -> (setting: String, message: String)?

  /// The kind of `Spec`.
  ///
  /// - `stored`: the checkpoint attributes, by default the settings in order.
  /// - `rule`: a config check across settings, given the values read so far
  ///   (a missing or bad one is absent): the setting to blame and the message.
  /// - `summary`: one line for `inspect`, given the input shape ("[4, 32]  relu").
  /// - `make`: the spec of a full set of values; `values`: a spec's values in `settings` order.
  public init<Spec: LayerSpec>(
    _: Spec.Type, settings: [LayerSetting], shape: ShapeRule, stored: [StoredAttribute]? = nil,
    rule: @escaping @Sendable (LayerValues) -> (setting: String, message: String)? = { _ in nil },
    summary: @escaping @Sendable (Spec, Shape) -> String,
    make: @escaping @Sendable (LayerValues) -> Spec, values: @escaping @Sendable (Spec) -> [LayerValue]
  ) {
    name = Spec.kind
    self.settings = settings
    shapeRule = shape
    self.stored = stored ?? settings.map { .setting($0.name) }
    specType = Spec.self
    makeSpec = { make($0) }
    valuesOf = { spec in
      guard let spec = spec as? Spec else { preconditionFailure("\(spec) is not a \(Spec.kind) layer") }
      return values(spec)
    }
    summaryOf = { spec, input in
      guard let spec = spec as? Spec else { preconditionFailure("\(spec) is not a \(Spec.kind) layer") }
      return summary(spec, input)
    }
    ruleOf = rule
  }

  /// The declared setting `name`.
  public func setting(_ name: String) -> LayerSetting? { settings.first { $0.name == name } }

  /// Whether `spec` is of this kind.
  public func describes(_ spec: any LayerSpec) -> Bool { type(of: spec) == specType }

  /// The spec of `values`, one of the right type per setting.
  ///
  /// Ranges are the readers' to check: a checkpoint keeps accepting what it
  /// always did, and `build` refuses what cannot be built.
  public func spec(_ values: LayerValues) -> any LayerSpec { makeSpec(values) }

  /// The values of `spec`'s settings, by name.
  public func values(of spec: any LayerSpec) -> LayerValues {
    LayerValues(Dictionary(uniqueKeysWithValues: zip(settings.map(\.name), valuesOf(spec))))
  }

  /// The config rule across settings that `values` break, if any.
  public func ruleBroken(by values: LayerValues) -> (setting: String, message: String)? { ruleOf(values) }

  /// One line for `inspect` about `spec` on inputs of `input` shape.
  public func summary(_ spec: any LayerSpec, input: Shape) -> String { summaryOf(spec, input) }
}

/// A layer kind whose one setting is its activation (add, concatenate, activation).
public protocol ActivationSettingSpec: LayerSpec {
  /// The spec that ends in `activation`.
  init(activation: Activation)
}

extension ActivationSettingSpec {
  /// The kind's name, with its activation when it has one: `add relu`.
  public var description: String {
    activation == .linear ? Self.kind : "\(Self.kind) \(activation.rawValue)"
  }

  /// The declaration of such a kind: `activation` (linear by default, documented by `doc`), shape kept.
  public static func activationKind(doc: String) -> LayerKind {
    LayerKind(
      Self.self, settings: [.choice("activation", Activation.self, default: .linear, doc: doc)],
      shape: .keepsShape, summary: { spec, _ in spec.activation == .linear ? "" : spec.activation.rawValue },
      make: { Self(activation: $0.choice("activation", Activation.self)) },
      values: { [.choice($0.activation.rawValue)] })
  }
}
