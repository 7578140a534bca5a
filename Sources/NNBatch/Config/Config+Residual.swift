import NNBatchCore
import NeuralNet

// `{"type": "residual", "layers": [...], "activation": "relu", "shortcut": "auto"}`: a residual
// block, written once and expanded when the config is read into the layer graph it stands for:
//
//   block input ─┬─ inner layers (a chain) ───────────────────────┐
//                └─ shortcut: identity, or 1×1 conv2d (stride s)  ─┴─ add (+ the block's activation)
//                   [then batch_norm when the inner layers use it]
//
// Layer order (which fixes the parameter layout and the initial weights): the inner layers,
// then the shortcut's layers, then the add. The add reads [last inner layer, shortcut].
//
// The shortcut: "identity" adds the block's input itself; "projection" always a 1×1 conv2d
// with the stride that gives the inner layers' output size (a dense layer on flat samples);
// "auto" (the default) the identity when the inner layers keep the input's shape, else the
// projection. Shapes are known once the data is (`resolveShortcuts`), so the shortcut's layers
// are added to `Config.layers` then. The projection has a batch_norm after it when one of the
// block's own inner layers (not a nested block's) is a batch_norm (it copies the last one's
// momentum and epsilon; the checkpoint check of biases, Checkpoints' Consistency.swift, knows
// this rule too), and
// a bias only when no batch_norm follows it and `model.bias` is true.
//
// Names (what `inputs` refer to, what `inspect` shows): the block is `name`, else `block<k>`
// for the k-th residual entry of its list; its add layer carries the block's name, so a later
// layer's `"inputs": ["block1"]` reads the block's output. Inner layers are `<block>.<name>`
// with their own `name`, else `<block>.<kind><n>`, the kind without a trailing "2d" and n
// counting that kind in the block from 1 (`block1.conv1`, `block1.batch_norm1`,
// `block1.conv2`); the shortcut is `<block>.shortcut` and its batch_norm
// `<block>.shortcut_bn`. The names follow from the config alone, so they are the same in
// every run and resume of it; checkpoints store the expanded graph by index as any graph.

/// How a residual block's input reaches its add (`shortcut`).
public enum ShortcutKind: String, Sendable, CaseIterable {
  /// The block's input itself; the inner layers must keep its shape.
  case identity
  /// A 1×1 conv2d (a dense layer for flat samples) to the inner layers' output shape.
  case projection
  /// The identity when the shapes agree, else the projection.
  case auto
}

/// A residual block's shortcut, decided once the input shape is known.
package struct ResidualShortcut: Sendable {
  /// The index in `Config.layers` of the block's add (before any shortcut layer is inserted).
  var add: Int
  /// What the block asked for.
  var kind: ShortcutKind
  /// The batch_norm after a projection (the block's last inner one), nil when the block has none.
  var norm: BatchNorm.Spec?
  /// `model.bias`.
  var bias: Bool
  /// The block's config path.
  var path: String
  /// The block's name.
  var name: String
}

/// Reads `model.layers`, expanding residual blocks into the layers and links they stand for.
struct LayerListReader {
  /// The layer specs so far.
  var specs: [any LayerSpec] = []
  /// Each spec's JSON value and path (for messages about it).
  var sources: [(value: JSONValue, path: String)] = []
  /// Names and inputs.
  var links = LayerLinks()
  /// The residual blocks' shortcuts.
  var shortcuts: [ResidualShortcut] = []
  /// Whether every layer decoded (indices are config indices only then).
  var complete = true
  /// Model-wide defaults.
  let defaults: LayerDefaults
  /// Where problems go.
  let sink: DiagnosticSink

  /// The `type` that introduces a block.
  static let residualType = "residual"

  /// Reads the layer objects `items` of the array at `path`.
  ///
  /// In a block (`block` its name) the layers are `<block>.…` and form a chain: `inputs` is refused.
  /// Returns the indices in `specs` of the layers written directly in `items` (not in a nested block).
  @discardableResult
  mutating func read(_ items: [JSONValue], path: String, block: String?) -> [Int] {
    var direct: [Int] = []
    var blocks = 0
    var counts: [String: Int] = [:]
    for (i, item) in items.enumerated() {
      guard let layer = ObjectReader.make(item, path: "\(path)[\(i)]", sink: sink) else {
        complete = false
        continue
      }
      if case .string(Self.residualType, _)? = layer.value("type") {
        blocks += 1
        let auto = "block\(blocks)"
        readBlock(layer, value: item, name: block.map { "\($0).\(auto)" } ?? auto, within: block)
        layer.finish()
        continue
      }
      guard let spec = LayerConfigs.decode(layer, defaults: defaults) else {
        complete = false
        layer.finish()
        continue
      }
      direct.append(specs.count)
      specs.append(spec)
      sources.append((item, layer.path))
      if let block {
        var base = spec.kind
        if base.hasSuffix("2d") { base.removeLast(2) }
        let count = counts[base, default: 0] + 1
        counts[base] = count
        let given = layer.string("name")
        let name = "\(block).\(given ?? "\(base)\(count)")"
        links.append(name: name, nameValue: layer.value("name"), path: layer.path, sink: sink)
        if layer.has("inputs") {
          layer.report(
            "inputs",
            "a residual block's layers form a chain from the block's input; expected no inputs here (give the block itself \"inputs\")"
          )
        }
      } else {
        links.read(layer, sink: sink)
      }
      layer.finish()
    }
    return direct
  }

  /// Reads the residual block `keys` named `auto` unless it has a `name` of its own.
  private mutating func readBlock(
    _ keys: ObjectReader, value: JSONValue, name auto: String, within outer: String?
  ) {
    var name = auto
    if let given = keys.string("name") {
      if given.isEmpty || given == LayerLinks.inputName || given.contains(".") {
        keys.report(
          "name", "expected a non-empty name other than \"input\", without \".\", found \"\(given)\"")
      } else {
        name = outer.map { "\($0).\(given)" } ?? given
      }
    }
    let references = outer == nil ? LayerLinks.references(keys, sink: sink) : nil
    if outer != nil, keys.has("inputs") {
      keys.report(
        "inputs",
        "a residual block's layers form a chain from the block's input; expected no inputs here (give the outer block \"inputs\")"
      )
    }
    var readable = true
    if let references, references.count > 1 {
      keys.report(
        "inputs", "expected one layer name (a residual block reads one input), found \(references.count)")
      readable = false
    }
    // Checked before the inner layers take names under it.
    if let earlier = links.names.firstIndex(of: name) {
      keys.report("name", "\"\(name)\" already names layer \(earlier); expected a name of its own")
      readable = false
    }
    let activation = keys.choice("activation", Activation.self, what: "activation") ?? .linear
    let kind = keys.choice("shortcut", ShortcutKind.self, what: "shortcut") ?? .auto
    guard let items = keys.array("layers") else {
      if !keys.has("layers") {
        keys.missing("layers", "an array of the block's inner layers, such as [{\"type\": \"conv2d\", ...}]")
      }
      complete = false
      return
    }
    if items.isEmpty { keys.report("layers", "expected at least one layer, found none") }
    guard readable else {
      complete = false
      return
    }
    let first = specs.count
    let before = (complete, links.count)
    let direct = read(items, path: keys.childPath("layers"), block: name)
    guard complete, before.0, !items.isEmpty, specs.count > first else {
      complete = false
      return
    }
    // The first inner layer reads the block's input: the block's `inputs`, else the layer before it.
    if let references { links.setInputs(of: before.1, references) }
    let input: LayerReference = references?.first ?? .layer(before.1 - 1)
    let norms = direct.compactMap { specs[$0] as? BatchNorm.Spec }
    let norm = norms.last.map { BatchNorm.Spec(momentum: $0.momentum, epsilon: $0.epsilon) }
    specs.append(Add.Spec(activation: activation))
    sources.append((value, keys.path))
    links.append(name: name, nameValue: keys.value("name"), path: keys.path, sink: sink)
    links.setInputs([.layer(specs.count - 2), input])
    shortcuts.append(
      ResidualShortcut(
        add: specs.count - 1, kind: kind, norm: norm, bias: defaults.bias, path: keys.path, name: name))
  }
}

extension Config {
  /// Adds each residual block's shortcut layers, decided on the network's input shape `input`.
  ///
  /// Inserts the projection (and its batch_norm) before the block's add and
  /// rewires the add, shifting later indices; `layers`, `layerPaths`,
  /// `layerInputs` and `layerNames` then describe the network that is built.
  /// A shortcut whose shapes cannot work (an identity on a changed shape, a
  /// size no stride gives) is a usage error naming the block. Shapes are
  /// followed as far as the layers build: past a layer that does not fit its
  /// input, the rest stay identities and the network's build reports that layer.
  public mutating func resolveShortcuts(input: Shape) throws(NNBatchError) {
    guard !residualShortcuts.isEmpty, let graph = layerInputs else { return }
    var pending = residualShortcuts.sorted { $0.add < $1.add }[...]
    var specs: [any LayerSpec] = []
    var inputs: [[Int]] = []
    var paths: [String] = []
    var names: [String?] = []
    var moved: [Int] = []
    var shapes: [Shape] = []
    var shapesKnown = true
    func shape(_ producer: Int) -> Shape { producer < 0 ? input : shapes[producer] }
    func append(_ spec: any LayerSpec, _ producers: [Int], _ path: String, _ name: String?) {
      specs.append(spec)
      inputs.append(producers)
      paths.append(path)
      names.append(name)
      guard shapesKnown else { return }
      let given = producers.map(shape)
      let built: Shape?
      if let merge = spec as? any MergeLayerSpec {
        built = try? merge.build(inputs: given).outputShape
      } else {
        built = given.count == 1 ? try? spec.build(input: given[0], parameterOffset: 0).outputShape : nil
      }
      if let built { shapes.append(built) } else { shapesKnown = false }
    }
    for (index, spec) in layers.enumerated() {
      var producers = graph[index].map { $0 < 0 ? -1 : moved[$0] }
      if let shortcut = pending.first, shortcut.add == index {
        pending.removeFirst()
        if shapesKnown, producers.count == 2 {
          let layers = try shortcutLayers(shortcut, from: shape(producers[1]), to: shape(producers[0]))
          for (k, layer) in layers.enumerated() {
            append(
              layer, [k == 0 ? producers[1] : specs.count - 1],
              "\(shortcut.path) (its \(k == 0 ? "projection shortcut" : "shortcut's batch_norm"))",
              "\(shortcut.name).\(k == 0 ? "shortcut" : "shortcut_bn")")
          }
          if !layers.isEmpty { producers[1] = specs.count - 1 }
        }
      }
      moved.append(specs.count)
      append(spec, producers, layerPaths[index], index < layerNames.count ? layerNames[index] : nil)
    }
    layers = specs
    layerInputs = inputs
    layerPaths = paths
    layerNames = names
    residualShortcuts = []
  }

  /// The layers of `shortcut` from the block's input shape `input` to its inner layers' `output`:
  /// none for the identity, else the projection and, with batch_norm in the block, its own.
  private func shortcutLayers(_ shortcut: ResidualShortcut, from input: Shape, to output: Shape)
    throws(NNBatchError) -> [any LayerSpec]
  {
    let same = input == output
    switch shortcut.kind {
    case .identity:
      guard same else {
        throw NNBatchError(
          .usage,
          "\(file): \(shortcut.path).shortcut: the identity needs the block's layers to keep its input's shape \(input), found \(output); expected \"projection\" or \"auto\""
        )
      }
      return []
    case .auto where same: return []
    case .auto, .projection: break
    }
    let bias = shortcut.norm == nil && shortcut.bias
    let projection: any LayerSpec
    switch (input.rank, output.rank) {
    case (1, 1):
      projection = Dense.Spec(units: output.elements, activation: .linear, bias: bias)
    case (3, 3):
      // A 1×1 valid conv2d with stride s gives ⌈H / s⌉ rows, as a "same" conv2d with that stride does.
      let (h, w) = (input.dimensions[1], input.dimensions[2])
      let (oh, ow) = (output.dimensions[1], output.dimensions[2])
      let stride = Size2D((h + oh - 1) / max(oh, 1), (w + ow - 1) / max(ow, 1))
      guard oh <= h, ow <= w, (h + stride.height - 1) / stride.height == oh,
        (w + stride.width - 1) / stride.width == ow
      else {
        throw NNBatchError(
          .usage,
          "\(file): \(shortcut.path): the block's layers turn \(input) into \(output), a size no 1×1 projection with a stride gives (it gives ⌈size / stride⌉); expected the block's convolutions and pooling to use padding \"same\""
        )
      }
      projection = Conv2D.Spec(
        filters: output.dimensions[0], kernel: 1, stride: stride, padding: .valid, activation: .linear,
        bias: bias)
    default:
      throw NNBatchError(
        .usage,
        "\(file): \(shortcut.path): the block's layers turn \(input) into \(output); expected a shortcut between shapes of one kind ([C, H, W] to [C', H', W'], or [F] to [F'])"
      )
    }
    return [projection] + (shortcut.norm.map { [$0] } ?? [])
  }
}
