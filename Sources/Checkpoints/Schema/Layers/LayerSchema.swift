import HDF5Store
import NeuralNet
import Synchronization

/// How one layer kind is stored under `/model/layer_i`: an entry of `LayerSchemas.all`.
///
/// The group's `kind` attribute (the spec's `kind`) picks the entry; the
/// entry writes and reads the kind's own attributes. The parameter tensors
/// (`/model/layer_i/<name>`) are written by the model code from the layer's
/// `parameters`, so an entry never deals with offsets.
protocol LayerSchema: Sendable {
  /// The spec type this entry stores.
  associatedtype Spec: LayerSpec

  /// Writes the settings of `spec` (all but `kind`) into its group; `layer` is the built layer.
  func encode(_ spec: Spec, layer: any Layer, into group: inout HDF5Node)
  /// Reads the spec described by `group`, for a layer that receives samples of `input` shape.
  func decode(_ group: NodeReader, input: Shape) throws -> Spec
  /// The spec's settings in config terms, in config order.
  func settings(_ spec: Spec) -> [LayerDescription.Setting]
  /// One line for `inspect` ("[4, 32]  relu").
  func summary(_ spec: Spec, layer: any Layer) -> String
}

extension LayerSchema {
  var kind: String { Spec.kind }

  func spec(_ layer: any LayerSpec) -> Spec {
    guard let spec = layer as? Spec else { preconditionFailure("\(layer) is not a \(Spec.kind) layer") }
    return spec
  }
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

/// The layer kinds this build stores, by their `kind` attribute.
///
/// A new layer kind is its NeuralNet file plus one entry here (in its own
/// file next to `Dense.swift`).
public enum LayerSchemas {
  static var all: [any LayerSchema] { builtIn + registered.withLock { $0 } }

  private static let builtIn: [any LayerSchema] = [
    DenseSchema(), Conv2DSchema(), PoolingSchema<MaxPool2D.Spec>(), PoolingSchema<AvgPool2D.Spec>(),
    FlattenSchema(), DropoutSchema(),
  ]

  /// Kinds added at run time: only tests' toy layers (the tool registers none).
  private static let registered = Mutex<[any LayerSchema]>([])

  /// Adds `schema`'s kind to the registry (tests, through `@testable import`), once per kind.
  static func register(_ schema: any LayerSchema) {
    registered.withLock { list in
      if !list.contains(where: { $0.kind == schema.kind })
        && !builtIn.contains(where: { $0.kind == schema.kind })
      {
        list.append(schema)
      }
    }
  }

  /// Removes a kind added by `register` (a test's tear-down, so messages list the built-in kinds again).
  static func unregister(kind: String) {
    registered.withLock { list in list.removeAll { $0.kind == kind } }
  }

  /// The kind names this build reads, for messages.
  public static var kinds: [String] { all.map(\.kind) }

  static func entry(kind: String) -> (any LayerSchema)? {
    all.first { $0.kind == kind }
  }

  static func entry(for spec: any LayerSpec) -> any LayerSchema {
    guard let entry = entry(kind: spec.kind) else {
      preconditionFailure("no checkpoint schema entry for layer kind \(spec.kind)")
    }
    return entry
  }

  /// The built `layer` in config terms, with its shapes in the summary.
  public static func describe(_ layer: any Layer) -> LayerDescription {
    let entry = entry(for: layer.spec)
    return LayerDescription(
      kind: entry.kind, settings: entry.settingsOf(layer.spec), summary: entry.summaryOf(layer))
  }
}

extension LayerSchema {
  fileprivate func settingsOf(_ spec: any LayerSpec) -> [LayerDescription.Setting] {
    settings(self.spec(spec))
  }

  fileprivate func summaryOf(_ layer: any Layer) -> String { summary(spec(layer.spec), layer: layer) }

  /// Writes `layer`'s group attributes: `kind`, then the entry's own.
  func encodeLayer(_ layer: any Layer, into group: inout HDF5Node) {
    group.set("kind", kind)
    encode(spec(layer.spec), layer: layer, into: &group)
  }

  /// The spec of `group` as a type-erased spec.
  func decodeLayer(_ group: NodeReader, input: Shape) throws -> any LayerSpec {
    try decode(group, input: input)
  }
}

extension Architecture {
  /// Every layer in config terms, with its shapes.
  public var layerDescriptions: [LayerDescription] { layers.map { LayerSchemas.describe($0) } }
}

extension NodeReader {
  /// A layer's `bias` flag, refused when it contradicts the stored tensors.
  ///
  /// A layer without bias has no `biases` dataset; one that has it (a crafted
  /// file) would otherwise be read as a different model than it was trained as.
  /// A flag of 1 without the dataset is refused where the tensors are read.
  func biasFlag() throws -> Bool {
    let bias = try flag("bias")
    if !bias && hasDataset("biases") {
      throw SchemaError(
        "\(attributePath("bias")): expected 1 (\(childPath("biases")) holds the layer's biases), found 0")
    }
    return bias
  }
}
