import NNBatchCore
import NeuralNet

// A layer graph in the config: `model.layers[i].name` names a layer,
// `model.layers[i].inputs` lists the names of the layers it reads ("input"
// is the network's input); a layer without `inputs` reads the one before it.
//
//   {"type": "conv2d", "name": "stem", ...},
//   {"type": "conv2d", ...},                                   ← stem
//   {"type": "add", "inputs": ["layer_before", "stem"], ...}   ← both
//
// A config without any `inputs` is the chain it always was (no graph is
// stored, nothing changes). Names must come before their use: list order is
// a forward order, so a reference to the layer itself or a later one would
// be a cycle and is refused as such.

/// One of a layer's inputs before names are resolved.
enum LayerReference {
  /// A name as written in `inputs`, with its JSON value and path (for messages).
  case named(String, JSONValue, path: String)
  /// A layer index the config reader chose itself (−1: the network's input), as a residual block's shortcut.
  case layer(Int)
}

/// Reads `name` and `inputs` of each layer object, then resolves names to layer indices.
struct LayerLinks {
  /// The name a layer can be referred to by, when it has one.
  private(set) var names: [String?] = []
  /// Each layer's `inputs` as written or chosen, nil for the layer before it.
  private var inputs: [[LayerReference]?] = []

  /// The name of the network's input in `inputs`.
  static let inputName = "input"

  /// How many layers are linked so far (the index the next one gets).
  var count: Int { names.count }

  /// Reads `name` and `inputs` of the layer object `keys` (layer `count`).
  mutating func read(_ keys: ObjectReader, sink: DiagnosticSink) {
    let name = keys.string("name")
    append(name: name, nameValue: keys.value("name"), path: keys.path, sink: sink)
    readInputs(keys, sink: sink)
  }

  /// The `inputs` of `keys` as references, nil when absent; reports a mistyped list.
  static func references(_ keys: ObjectReader, sink: DiagnosticSink) -> [LayerReference]? {
    guard let items = keys.array("inputs") else { return nil }
    if items.isEmpty { keys.report("inputs", "expected at least one layer name, found none") }
    var named: [LayerReference] = []
    for (k, item) in items.enumerated() {
      guard case .string(let reference, _) = item else {
        sink.report(
          item, "\(keys.childPath("inputs"))[\(k)]", "expected a layer name, found \(item.typeName)")
        continue
      }
      named.append(.named(reference, item, path: "\(keys.childPath("inputs"))[\(k)]"))
    }
    return named
  }

  /// Reads the `inputs` of the layer just appended.
  private mutating func readInputs(_ keys: ObjectReader, sink: DiagnosticSink) {
    inputs[inputs.count - 1] = Self.references(keys, sink: sink)
  }

  /// Appends a layer named `name` (nil: none) at `path`, reading the layer before it until `setInputs`.
  ///
  /// A name that is empty, "input" or already taken is reported at `nameValue` and dropped.
  mutating func append(name given: String?, nameValue: JSONValue?, path: String, sink: DiagnosticSink) {
    var name = given
    if let given {
      if given.isEmpty || given == Self.inputName {
        sink.report(
          nameValue, "\(path).name", "expected a non-empty name other than \"input\", found \"\(given)\"")
        name = nil
      } else if let earlier = names.firstIndex(of: given) {
        sink.report(
          nameValue, "\(path).name", "\"\(given)\" already names layer \(earlier); expected a name of its own"
        )
        name = nil
      }
    }
    names.append(name)
    inputs.append(nil)
  }

  /// Sets the inputs of the last layer appended (nil: the layer before it).
  mutating func setInputs(_ references: [LayerReference]?) {
    inputs[inputs.count - 1] = references
  }

  /// Sets the inputs of layer `index`.
  mutating func setInputs(of index: Int, _ references: [LayerReference]?) {
    inputs[index] = references
  }

  /// Each layer's inputs as layer indices (−1: the network's input), or nil for a chain (no `inputs` anywhere).
  ///
  /// Reports unknown names and references to the layer itself or a later one (cycles).
  func resolve(sink: DiagnosticSink) -> [[Int]]? {
    guard inputs.contains(where: { $0 != nil }) else { return nil }
    var result: [[Int]] = []
    for (index, references) in inputs.enumerated() {
      guard let references else {
        result.append([index - 1])
        continue
      }
      var producers: [Int] = []
      for item in references {
        guard case .named(let reference, let value, let path) = item else {
          if case .layer(let producer) = item { producers.append(producer) }
          continue
        }
        if reference == Self.inputName {
          producers.append(-1)
        } else if let producer = names.firstIndex(of: reference) {
          if producer < index {
            producers.append(producer)
          } else {
            sink.report(
              value, path,
              "\"\(reference)\" is layer \(producer), \(producer == index ? "this layer itself" : "which comes after this one"): expected an earlier layer (a layer graph has no cycles; list each layer after its inputs)"
            )
          }
        } else {
          let known = [Self.inputName] + names[..<index].compactMap { $0 }
          var message =
            "unknown layer name \"\(reference)\"; expected \"input\" or the name of an earlier layer (\(known.dropFirst().isEmpty ? "none is named" : known.dropFirst().joined(separator: ", ")))"
          if let guess = suggestion(for: reference, among: known + names[index...].compactMap { $0 }) {
            message += " (did you mean \"\(guess)\"?)"
          }
          sink.report(value, path, message)
        }
      }
      result.append(producers)
    }
    return result
  }
}
