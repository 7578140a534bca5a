import NNBatchCore
import NeuralNet

// How `model.layers[i]` objects become layer specs: one decoder per layer
// kind, chosen by the object's `type` (default "dense", so configs written
// before layer kinds existed keep working). A new layer kind is one NeuralNet
// file, one decoder file here, its line in `LayerConfigs.kinds`, and its
// checkpoint schema entry.

/// Model-wide settings a layer object falls back on.
package struct LayerDefaults: Sendable {
  /// `model.bias`: whether layers with parameters add a bias unless they say otherwise.
  package var bias: Bool
}

/// A layer kind's config reader: its `type` name and how it reads its keys.
package protocol LayerConfig {
  /// The `type` value that selects this kind ("dense").
  static var type: String { get }

  /// Reads the kind's keys from `keys` (whose `type` is already read).
  ///
  /// Reports every problem to the reader (unknown keys are reported by the
  /// caller's `finish()`); returns nil when a required key is missing or bad.
  static func decode(_ keys: ObjectReader, defaults: LayerDefaults) -> (any LayerSpec)?

  /// How the kind treats the shape of its input (spatial kinds make a flatten implied before dense).
  static var shapeRole: LayerShapeRole { get }
}

/// What a layer kind does to the shape of one sample, for the implied flatten.
package enum LayerShapeRole: Sendable {
  /// Takes and gives flat samples (dense).
  case flat
  /// Takes and gives [C, H, W] samples (conv2d, pooling).
  case spatial
  /// Makes samples flat (flatten).
  case flattens
  /// Gives samples of the shape it takes (dropout).
  case keepsShape
}

/// The registry of layer kinds a config can name.
package enum LayerConfigs {
  /// Every layer kind, in the order help and messages list them.
  package static var kinds: [any LayerConfig.Type] {
    [
      DenseConfig.self, Conv2DConfig.self, MaxPool2DConfig.self, AvgPool2DConfig.self, FlattenConfig.self,
      DropoutConfig.self,
    ]
  }

  /// The `type` names, for messages.
  package static var names: [String] { kinds.map { $0.type } }

  /// The role of the kind named `kind` (`.flat` for a kind this build does not list).
  package static func role(_ kind: String) -> LayerShapeRole {
    kinds.first { $0.type == kind }?.shapeRole ?? .flat
  }

  /// Whether kind `kind` works on [C, H, W] samples.
  package static func isSpatial(_ kind: String) -> Bool { role(kind) == .spatial }

  /// Whether kind `kind` gives samples of the shape it takes.
  package static func keepsShape(_ kind: String) -> Bool { role(kind) == .keepsShape }

  /// `layers` with a flatten before the first dense layer after a spatial one, and each layer's config path.
  ///
  /// Only that one flatten is implied: conv → pool → dense needs no
  /// `{"type": "flatten"}`, and an explicit one is kept as written. The
  /// implied flatten is a real layer of the network (checkpoints store it as
  /// `/model/layer_i@kind` = "flatten"); its path is its dense layer's.
  package static func withImpliedFlatten(_ layers: [any LayerSpec], path: String) -> (
    layers: [any LayerSpec], paths: [String]
  ) {
    var result: [any LayerSpec] = []
    var paths: [String] = []
    var spatial = false
    for (index, layer) in layers.enumerated() {
      let layerPath = "\(path)[\(index)]"
      switch role(layer.kind) {
      case .spatial: spatial = true
      case .flattens: spatial = false
      case .keepsShape: break
      case .flat:
        if spatial, let flatten = impliedFlatten {
          result.append(flatten)
          paths.append("\(layerPath) (the flatten implied before it)")
        }
        spatial = false
      }
      result.append(layer)
      paths.append(layerPath)
    }
    return (result, paths)
  }

  /// Decodes one `model.layers[i]` object, reporting problems to `keys`.
  ///
  /// A `type` that names no kind (or is not a string) is the one error
  /// reported: the object's other keys belong to a kind nobody knows, so
  /// they are neither read nor reported as unknown.
  package static func decode(_ keys: ObjectReader, defaults: LayerDefaults) -> (any LayerSpec)? {
    guard let type = keys.value("type") == nil ? DenseConfig.type : keys.string("type") else {
      keys.ignoreUnreadKeys()
      return nil
    }
    guard let kind = kinds.first(where: { $0.type == type }) else {
      var message = "unknown layer type \"\(type)\"; expected one of \(names.joined(separator: ", "))"
      if let guess = suggestion(for: type, among: names) { message += " (did you mean \"\(guess)\"?)" }
      keys.report("type", message)
      keys.ignoreUnreadKeys()
      return nil
    }
    return kind.decode(keys, defaults: defaults)
  }
}

extension LayerConfigs {
  /// The flatten layer inserted before the first dense layer after a spatial one.
  static var impliedFlatten: (any LayerSpec)? { Flatten.Spec() }
}

extension ObjectReader {
  /// A height and width given as one integer (a square) or as [h, w], each in `min`...`max`.
  ///
  /// Reports a mistyped or out-of-range value and returns nil; nil too when the key is absent.
  package func heightAndWidth(_ key: String, min: Int = 1, max: Int = 1 << 16) -> (height: Int, width: Int)? {
    guard let v = value(key) else { return nil }
    let expected = "an integer ≥ \(min) or [height, width]"
    func side(_ item: JSONValue) -> Int? {
      guard case .number(let d, _, _) = item, item.isInteger, d >= Double(min), d <= Double(max) else {
        return nil
      }
      return Int(d)
    }
    switch v {
    case .number:
      guard let n = side(v) else {
        report(key, "expected \(expected) (each at most \(max)), found \(v.summary)")
        return nil
      }
      return (n, n)
    case .array(let items, _):
      guard items.count == 2, let h = side(items[0]), let w = side(items[1]) else {
        report(key, "expected \(expected) (each at most \(max)), found \(v.summary)")
        return nil
      }
      return (h, w)
    default:
      report(key, "expected \(expected), found \(v.typeName)")
      return nil
    }
  }
}
