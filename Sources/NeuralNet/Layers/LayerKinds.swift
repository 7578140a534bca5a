// The registry of layer kinds: one line per kind. The config reader, the
// checkpoint schema, `inspect` and NNBatchKit know exactly these kinds.

/// Every layer kind this build knows, by its declaration.
public enum LayerKinds {
  /// The kinds, in the order help and messages list them.
  public static let all: [LayerKind] = [
    Dense.Spec.declaration,
    Conv2D.Spec.declaration,
    MaxPool2D.Spec.declaration,
    AvgPool2D.Spec.declaration,
    Flatten.Spec.declaration,
    Dropout.Spec.declaration,
  ]

  /// The kind of a config layer that names no `type` (configs before layer kinds were dense).
  public static let defaultKind = Dense.Spec.kind

  /// The flatten a config implies before the first flat-input layer after a spatial one.
  public static var impliedFlatten: any LayerSpec { Flatten.Spec() }

  /// The kind names, for messages.
  public static var names: [String] { all.map(\.name) }

  /// The kind named `name`, if this build knows it.
  public static func named(_ name: String) -> LayerKind? { all.first { $0.name == name } }

  /// The kind of `spec` (every spec's kind is registered).
  public static func of(_ spec: any LayerSpec) -> LayerKind {
    guard let kind = all.first(where: { $0.describes(spec) }) else {
      preconditionFailure("layer kind \(spec.kind) is not in LayerKinds.all")
    }
    return kind
  }

  /// The shape rule of kind `name` (`.flat` for a kind this build does not list).
  public static func shapeRule(_ name: String) -> ShapeRule { named(name)?.shapeRule ?? .flat }
}
