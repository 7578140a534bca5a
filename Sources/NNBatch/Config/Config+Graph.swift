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

/// Reads `name` and `inputs` of each layer object, then resolves names to layer indices.
struct LayerLinks {
  /// The name a layer can be referred to by, when it has one.
  private var names: [String?] = []
  /// Each layer's `inputs` as written (names with their JSON values), nil when absent.
  private var inputs: [[(name: String, value: JSONValue)]?] = []
  /// Config paths of the layer objects.
  private var paths: [String] = []

  /// The name of the network's input in `inputs`.
  static let inputName = "input"

  /// Reads `name` and `inputs` of the layer object `keys` (layer `paths.count`).
  mutating func read(_ keys: ObjectReader, sink: DiagnosticSink) {
    paths.append(keys.path)
    var name = keys.string("name")
    if let given = name {
      if given.isEmpty || given == Self.inputName {
        keys.report("name", "expected a non-empty name other than \"input\", found \"\(given)\"")
        name = nil
      } else if let earlier = names.firstIndex(of: given) {
        keys.report("name", "\"\(given)\" already names layer \(earlier); expected a name of its own")
        name = nil
      }
    }
    names.append(name)
    guard let items = keys.array("inputs") else {
      inputs.append(nil)
      return
    }
    if items.isEmpty { keys.report("inputs", "expected at least one layer name, found none") }
    var named: [(String, JSONValue)] = []
    for (k, item) in items.enumerated() {
      guard case .string(let reference, _) = item else {
        sink.report(
          item, "\(keys.childPath("inputs"))[\(k)]", "expected a layer name, found \(item.typeName)")
        continue
      }
      named.append((reference, item))
    }
    inputs.append(named)
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
      for (k, (reference, value)) in references.enumerated() {
        let path = "\(paths[index]).inputs[\(k)]"
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
