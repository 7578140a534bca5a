// The registry of layer kinds: one line per kind. The config reader, the
// checkpoint schema, `inspect` and NNBatchKit know exactly these kinds.

import Synchronization

/// Every layer kind this build knows, by its declaration.
public enum LayerKinds {
  /// The kinds, in the order help and messages list them.
  public static var all: [LayerKind] { builtIn + registered.withLock { $0 } }

  private static let builtIn: [LayerKind] = [
    Dense.Spec.declaration,
    Conv2D.Spec.declaration,
    MaxPool2D.Spec.declaration,
    AvgPool2D.Spec.declaration,
    GlobalAvgPool2D.Spec.declaration,
    GlobalMaxPool2D.Spec.declaration,
    Flatten.Spec.declaration,
    Dropout.Spec.declaration,
    Add.Spec.declaration,
    Concatenate.Spec.declaration,
    ActivationLayer.Spec.declaration,
    BatchNorm.Spec.declaration,
  ]

  /// Kinds added at run time: only tests' toy layers (the tool registers none).
  private static let registered = Mutex<[LayerKind]>([])

  /// Adds `kind` to the registry (tests' toy layers), once per name.
  package static func register(_ kind: LayerKind) {
    registered.withLock { list in
      if !list.contains(where: { $0.name == kind.name }) && !builtIn.contains(where: { $0.name == kind.name })
      {
        list.append(kind)
      }
    }
  }

  /// Removes a kind added by `register` (a test's tear-down, so messages list the built-in kinds again).
  package static func unregister(name: String) {
    registered.withLock { list in list.removeAll { $0.name == name } }
  }

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
