import NNBatchCore
import NeuralNet

// How `model.layers[i]` objects become layer specs: the kind named by the
// object's `type` (default `LayerKinds.defaultKind`, dense, so configs written
// before layer kinds existed keep working), its settings read as its
// declaration (`LayerKind`) says: type, range, default. A new layer kind needs
// nothing here: its NeuralNet file and its line in `LayerKinds.all`.

/// Model-wide settings a layer object falls back on (`SettingDefault.model`).
package struct LayerDefaults: Sendable {
  /// `model.bias`: whether layers with parameters add a bias unless they say otherwise.
  package var bias: Bool

  /// Layers fall back on `bias`.
  package init(bias: Bool) {
    self.bias = bias
  }

  /// The model-wide setting `name`.
  func value(_ name: String) -> LayerValue {
    switch name {
    case "bias": return .flag(bias)
    default: preconditionFailure("no model-wide setting \(name)")
    }
  }
}

/// The config reader of layer kinds, driven by their declarations.
package enum LayerConfigs {
  /// The `type` names, for messages.
  package static var names: [String] { LayerKinds.names }

  /// `layers` with a flatten before each flat layer that reads a spatial output, their inputs remapped,
  /// each layer's config path and name, and where each of `layers` landed (`moved`).
  ///
  /// An output is spatial after conv2d or pooling until a flatten, a global
  /// pooling or a flat (dense) layer; shape-keeping layers and merges pass their first
  /// input's on; the network's input is spatial unless the first layer
  /// that cares takes flat samples (an MLP on images takes flat pixels). So conv → pool → dense needs no `{"type": "flatten"}`,
  /// and an explicit one is kept as written. The implied flatten is a real
  /// layer of the network (checkpoints store it as `/model/layer_i@kind` =
  /// "flatten"); its path is its dense layer's. `inputs[l]` lists the
  /// layers layer l reads (−1: the network's input); a chain's is [l − 1].
  package static func withImpliedFlatten(
    _ layers: [any LayerSpec], inputs: [[Int]], paths layerPaths: [String], names layerNames: [String?]
  ) -> (layers: [any LayerSpec], inputs: [[Int]], paths: [String], names: [String?], moved: [Int]) {
    var result: [any LayerSpec] = []
    var resultInputs: [[Int]] = []
    var paths: [String] = []
    var names: [String?] = []
    // Each config layer's index in `result`, and whether its output is spatial.
    var moved: [Int] = []
    var spatial: [Bool] = []
    // The input keeps its image shape unless the first layer that cares takes flat samples
    // (`Config.networkInput`); a dense layer reading it in a graph then gets its flatten too.
    let firstRule = layers.lazy.map { LayerKinds.shapeRule($0.kind) }.first { $0 != .keepsShape }
    let inputIsSpatial = firstRule.map { $0 != .flat } ?? false
    func isSpatial(_ producer: Int) -> Bool { producer < 0 ? inputIsSpatial : spatial[producer] }
    for (index, layer) in layers.enumerated() {
      let layerPath = layerPaths[index]
      var producers = inputs[index].map { $0 < 0 ? -1 : moved[$0] }
      switch LayerKinds.shapeRule(layer.kind) {
      case .spatial: spatial.append(true)
      case .flattens, .imageToFlat: spatial.append(false)
      case .keepsShape: spatial.append(inputs[index].first.map(isSpatial) ?? false)
      case .flat:
        if inputs[index].count == 1, isSpatial(inputs[index][0]) {
          result.append(LayerKinds.impliedFlatten)
          resultInputs.append(producers)
          paths.append("\(layerPath) (the flatten implied before it)")
          names.append(nil)
          producers = [result.count - 1]
        }
        spatial.append(false)
      }
      moved.append(result.count)
      result.append(layer)
      resultInputs.append(producers)
      paths.append(layerPath)
      names.append(layerNames[index])
    }
    return (result, resultInputs, paths, names, moved)
  }

  /// Decodes one `model.layers[i]` object, reporting problems to `keys`.
  ///
  /// A `type` that names no kind (or is not a string) is the one error
  /// reported: the object's other keys belong to a kind nobody knows, so
  /// they are neither read nor reported as unknown.
  package static func decode(_ keys: ObjectReader, defaults: LayerDefaults) -> (any LayerSpec)? {
    guard let type = keys.value("type") == nil ? LayerKinds.defaultKind : keys.string("type") else {
      keys.ignoreUnreadKeys()
      return nil
    }
    guard let kind = LayerKinds.named(type) else {
      let types = names + ["residual"]  // a block, expanded by the config reader (Config+Residual.swift)
      var message = "unknown layer type \"\(type)\"; expected one of \(types.joined(separator: ", "))"
      if let guess = suggestion(for: type, among: types) { message += " (did you mean \"\(guess)\"?)" }
      keys.report("type", message)
      keys.ignoreUnreadKeys()
      return nil
    }
    return decode(kind, keys, defaults: defaults)
  }

  /// Reads `kind`'s settings in declared order: each its value, else its default.
  ///
  /// A bad value is reported by the reader, a missing required one here
  /// with what the declaration expects; either makes the result nil. The
  /// kind's rule across settings sees the values that did read.
  static func decode(_ kind: LayerKind, _ keys: ObjectReader, defaults: LayerDefaults) -> (any LayerSpec)? {
    var values: [String: LayerValue] = [:]
    var complete = true
    for setting in kind.settings {
      let name = setting.name
      if let value = read(setting, keys) {
        values[name] = value
        continue
      }
      if keys.has(name) {
        complete = false  // reported by the reader
        continue
      }
      switch setting.defaultValue {
      case .required:
        keys.missing(name, setting.expected)
        complete = false
      case .value(let value): values[name] = value
      case .model(let key): values[name] = defaults.value(key)
      case .setting(let other):
        if let value = values[other] { values[name] = value }
      }
    }
    let read = LayerValues(values)
    if let broken = kind.ruleBroken(by: read) { keys.report(broken.setting, broken.message) }
    guard complete else { return nil }
    return kind.spec(read)
  }

  /// The value of `setting` in `keys`, checked against its type and range; nil when absent or bad.
  private static func read(_ setting: LayerSetting, _ keys: ObjectReader) -> LayerValue? {
    let name = setting.name
    switch setting.type {
    case .integer(let range):
      return keys.int(name, min: range.lowerBound, max: range.upperBound).map(LayerValue.integer)
    case .size(let range):
      return keys.heightAndWidth(name, min: range.lowerBound, max: range.upperBound).map {
        .size(Size2D($0.height, $0.width))
      }
    case .choice(let names, let what):
      return keys.choice(name, among: names, what: what).map(LayerValue.choice)
    case .flag: return keys.bool(name).map(LayerValue.flag)
    case .real(let r):
      return keys.double(
        name, min: r.min, exclusiveMin: r.exclusiveMin, max: r.max, exclusiveMax: r.exclusiveMax
      )
      .map(LayerValue.real)
    }
  }

  /// The config object of `spec`: `type`, then its settings in declared order, leaving out
  /// `inherited` ones (settings whose default is model-wide, so the model's value applies).
  package static func json(_ spec: any LayerSpec, inheriting inherited: Set<String> = []) -> JSONText {
    let kind = LayerKinds.of(spec)
    let values = kind.values(of: spec)
    var members: [(String, JSONText)] = [("type", .string(kind.name))]
    for setting in kind.settings where !inherited.contains(setting.name) {
      guard let value = values[setting.name] else { continue }
      members.append((setting.name, json(value)))
    }
    return .object(members)
  }

  /// A setting value as a config writes it (a square size as one integer).
  package static func json(_ value: LayerValue) -> JSONText {
    switch value {
    case .integer(let n): return .int(n)
    case .size(let s): return s.height == s.width ? .int(s.height) : .array([.int(s.height), .int(s.width)])
    case .choice(let name): return .string(name)
    case .flag(let flag): return .bool(flag)
    case .real(let d): return .decimal(d)
    }
  }
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
