import HDF5Store
import NeuralNet

/// One parameter tensor of a layer, where it lives in the flat buffer and how it is stored.
///
/// Stored as `/model/layer_i/<name>` (and `/optimizer/<slot>/layer_i/<name>`),
/// float32 of `shape`, row-major.
struct StoredTensor: Sendable, Equatable {
  /// Dataset name ("weights", "biases").
  let name: String
  /// Dimensions, outermost first.
  let shape: [Int]
  /// Offset in the flat parameter buffer.
  let offset: Int

  /// Number of elements.
  var count: Int { shape.reduce(1, *) }
}

/// A layer read from its group: the spec and what the generic model code needs to chain layers.
struct DecodedLayer {
  /// The layer.
  let spec: LayerSpec
  /// Whether it adds a bias.
  let bias: Bool
  /// Values per sample it produces (the next layer's inputs).
  let outputs: Int
}

/// How one kind of layer is stored under `/model/layer_i`: an entry of `LayerSchemas.all`.
///
/// The group's `kind` attribute picks the entry; the entry writes and reads
/// the other attributes. Parameter tensors come from the architecture's
/// layout (their offsets are never recomputed here).
protocol LayerSchema: Sendable {
  /// The `kind` attribute's value ("dense").
  var kind: String { get }
  /// Whether this entry stores `layer`.
  func stores(_ layer: LayerSpec) -> Bool
  /// Writes `layer`'s attributes (all but `kind`) into its group.
  func encode(_ layer: LayerSpec, layout: LayerLayout, into group: inout HDF5Node)
  /// Reads the layer described by `group`, which receives `inputs` values per sample.
  func decode(_ group: NodeReader, inputs: Int) throws -> DecodedLayer
  /// The layer's parameter tensors, from the architecture's layout.
  func tensors(_ layout: LayerLayout) -> [StoredTensor]
  /// The layer in config terms, for `inspect` and resume checks.
  func describe(_ layer: LayerSpec, layout: LayerLayout?) -> LayerDescription
}

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
}

/// A layer described in config terms, with its parameter shapes.
public struct LayerDescription: Sendable, Equatable {
  /// The layer kind ("dense").
  public let kind: String
  /// The layer's config keys and values, in config order: ("units", 16), ("activation", relu).
  public let settings: [Setting]
  /// One line for `inspect`: shapes and the settings that matter ("[4, 16]  relu").
  public let summary: String

  /// One setting of a layer.
  public struct Setting: Sendable, Hashable {
    /// The config key ("units").
    public let key: String
    /// Its value.
    public let value: SettingValue
  }
}

/// The layer kinds this build stores, by their `kind` attribute.
///
/// A new layer kind adds its entry here (one file per entry, next to `Dense.swift`).
public enum LayerSchemas {
  static let all: [any LayerSchema] = [DenseSchema()]

  /// The kind names this build reads, for messages.
  public static var kinds: [String] { all.map(\.kind) }

  static func entry(kind: String) -> (any LayerSchema)? {
    all.first { $0.kind == kind }
  }

  static func entry(for layer: LayerSpec) -> any LayerSchema {
    guard let entry = all.first(where: { $0.stores(layer) }) else {
      preconditionFailure("no checkpoint schema entry stores \(layer)")
    }
    return entry
  }

  /// `layer` in config terms (without shapes, which need the layer's inputs).
  public static func describe(_ layer: LayerSpec) -> LayerDescription {
    entry(for: layer).describe(layer, layout: nil)
  }
}

extension Architecture {
  /// Every layer in config terms, with its parameter shapes.
  public var layerDescriptions: [LayerDescription] {
    zip(layers, layout).map { LayerSchemas.entry(for: $0).describe($0, layout: $1) }
  }
}
