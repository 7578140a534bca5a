import HDF5Store
import NeuralNet

// How a layer is stored under `/model/layer_i`: its `kind` attribute, then the
// attributes its declaration lists (`LayerKind.stored`): each setting (a size as
// `<name>_height`, `<name>_width`; a flag as 0 or 1; a choice as its name), the
// integers read off its input shape, constants. The parameter tensors
// (`/model/layer_i/<name>`) are written by the model code from the layer's
// `parameters`. A new layer kind needs nothing here.

/// The value of one layer setting, as the config writes it.
public enum SettingValue: Sendable, Hashable, CustomStringConvertible {
  /// A whole number ("units": 16).
  case integer(Int)
  /// A name ("activation": "relu").
  case text(String)
  /// A yes/no setting.
  case flag(Bool)

  /// The plain value: 16, relu, true.
  public var description: String {
    switch self {
    case .integer(let value): return String(value)
    case .text(let value): return value
    case .flag(let value): return value ? "true" : "false"
    }
  }

  /// The value for JSON output (Int, String or Bool).
  public var jsonValue: any Sendable {
    switch self {
    case .integer(let value): return value
    case .text(let value): return value
    case .flag(let value): return value
    }
  }

  /// A declared setting's value in config terms (a size as `5` or `[3, 5]`, a number as text).
  init(_ value: LayerValue) {
    switch value {
    case .integer(let n): self = .integer(n)
    case .size(let s): self = .text(s.height == s.width ? String(s.height) : "[\(s.height), \(s.width)]")
    case .choice(let name): self = .text(name)
    case .flag(let flag): self = .flag(flag)
    case .real(let d): self = .text(String(d))
    }
  }
}

/// A layer described in config terms.
public struct LayerDescription: Sendable, Hashable {
  /// One setting of a layer.
  public struct Setting: Sendable, Hashable {
    /// The config key ("units").
    public let key: String
    /// Its value.
    public let value: SettingValue
  }

  /// The layer kind ("dense").
  public let kind: String
  /// The layer's settings in config order: units 16, activation relu, bias true.
  public let settings: [Setting]
  /// One line for `inspect` with the shapes: "[4, 16]  relu" (empty for a spec that is not built).
  public let summary: String
}

/// The checkpoint schema of layer kinds, driven by their declarations (`LayerKinds.all`).
public enum LayerSchemas {
  /// The kind names this build reads, for messages.
  public static var kinds: [String] { LayerKinds.names }

  /// The built `layer` in config terms, with its shapes in the summary.
  public static func describe(_ layer: any Layer) -> LayerDescription {
    let kind = LayerKinds.of(layer.spec)
    let values = kind.values(of: layer.spec)
    return LayerDescription(
      kind: kind.name,
      settings: kind.settings.compactMap { setting in
        values[setting.name].map { .init(key: setting.name, value: SettingValue($0)) }
      },
      summary: kind.summary(layer.spec, input: layer.inputShape))
  }

  /// Writes `layer`'s group attributes: `kind`, then those its declaration stores.
  package static func encode(_ layer: any Layer, into group: inout HDF5Node) {
    let kind = LayerKinds.of(layer.spec)
    let values = kind.values(of: layer.spec)
    group.set("kind", kind.name)
    for attribute in kind.stored {
      switch attribute {
      case .setting(let name):
        switch values[name] {
        case .integer(let n)?: group.set(name, n)
        case .size(let size)?:
          group.set("\(name)_height", size.height)
          group.set("\(name)_width", size.width)
        case .choice(let text)?: group.set(name, text)
        case .flag(let flag)?: group.set(name, flag)
        case .real(let d)?: group.set(name, d)
        case nil: preconditionFailure("\(kind.name) stores undeclared setting \(name)")
        }
      case .input(let name, _, let value, _): group.set(name, value(layer.inputShape))
      case .constant(let name, let text): group.set(name, text)
      }
    }
  }

  /// The spec of the layer group `node` at `path` (such as "/model/layer_0") on inputs of `input` shape.
  package static func decode(_ node: HDF5Node, path: String, input: Shape) throws -> any LayerSpec {
    try decode(NodeReader(node, path: path), input: input)
  }

  /// The spec `group` describes, by its `kind` attribute, for a layer that receives samples of `input` shape.
  static func decode(_ group: NodeReader, input: Shape) throws -> any LayerSpec {
    let name = try group.string("kind")
    guard let kind = LayerKinds.named(name) else {
      throw SchemaError(
        "\(group.attributePath("kind")): unknown layer kind \"\(name)\" (this build knows \(kinds.joined(separator: ", ")))"
      )
    }
    return try decode(kind, group, input: input)
  }

  /// The spec `group` describes, of `kind`, for a layer that receives samples of `input` shape.
  ///
  /// Constants are checked first (a file of another layout is named as such
  /// before its values are read), then the attributes in stored order.
  /// `known` holds values the file does not store (version 1's `bias`, the model's).
  static func decode(
    _ kind: LayerKind, _ group: NodeReader, input: Shape, known: [String: LayerValue] = [:]
  ) throws -> any LayerSpec {
    for case .constant(let name, let text) in kind.stored {
      let found = try group.string(name)
      guard found == text else {
        throw SchemaError("\(group.attributePath(name)): expected \"\(text)\", found \"\(found)\"")
      }
    }
    var values = known
    for attribute in kind.stored {
      switch attribute {
      case .setting(let name):
        guard values[name] == nil else { continue }
        guard let setting = kind.setting(name) else {
          preconditionFailure("\(kind.name) stores undeclared setting \(name)")
        }
        values[name] = try read(setting, group)
      case .input(let name, let min, _, let mismatch):
        let stored = try group.int(name, min: min)
        if let expected = mismatch(stored, input) {
          throw SchemaError("\(group.attributePath(name)): expected \(expected), found \(stored)")
        }
      case .constant: break
      }
    }
    return kind.spec(LayerValues(values))
  }

  /// The stored value of `setting`; integers are checked against the range's lower bound
  /// only, as every version has read them (`build` refuses what cannot be built).
  private static func read(_ setting: LayerSetting, _ group: NodeReader) throws -> LayerValue {
    let name = setting.name
    switch setting.type {
    case .integer(let range): return .integer(try group.int(name, min: range.lowerBound))
    case .size(let range):
      return .size(
        Size2D(
          try group.int("\(name)_height", min: range.lowerBound),
          try group.int("\(name)_width", min: range.lowerBound)))
    case .choice(let names, let what): return .choice(try group.choice(name, among: names, what: what))
    case .flag(let tensor):
      let flag = try group.flag(name)
      // A layer without the tensor has no dataset for it; one that has it (a crafted
      // file) would otherwise be read as a different model than it was trained as.
      // A flag of 1 without the dataset is refused where the tensors are read.
      if let tensor, !flag, group.hasDataset(tensor) {
        throw SchemaError(
          "\(group.attributePath(name)): expected 1 (\(group.childPath(tensor)) holds the layer's \(tensor)), found 0"
        )
      }
      return .flag(flag)
    case .real:
      let d = try group.double(name)
      guard setting.accepts(.real(d)) else {
        throw SchemaError("\(group.attributePath(name)): expected \(setting.expected), found \(d)")
      }
      return .real(d)
    }
  }
}

extension Architecture {
  /// Every layer in config terms, with its shapes.
  public var layerDescriptions: [LayerDescription] { layers.map { LayerSchemas.describe($0) } }
}
