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
}

/// The registry of layer kinds a config can name.
package enum LayerConfigs {
  /// Every layer kind, in the order help and messages list them.
  package static let kinds: [any LayerConfig.Type] = [DenseConfig.self]

  /// The `type` names, for messages.
  package static var names: [String] { kinds.map { $0.type } }

  /// Decodes one `model.layers[i]` object, reporting problems to `keys`.
  package static func decode(_ keys: ObjectReader, defaults: LayerDefaults) -> (any LayerSpec)? {
    let type = keys.string("type") ?? DenseConfig.type
    guard let kind = kinds.first(where: { $0.type == type }) else {
      var message = "unknown layer type \"\(type)\"; expected one of \(names.joined(separator: ", "))"
      if let guess = suggestion(for: type, among: names) { message += " (did you mean \"\(guess)\"?)" }
      keys.report("type", message)
      return nil
    }
    return kind.decode(keys, defaults: defaults)
  }
}
