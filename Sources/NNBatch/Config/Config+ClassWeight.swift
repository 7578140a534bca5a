import NNBatchCore
import NNBatchData
import NeuralNet

/// `training.class_weight`: how the training loss weighs each class.
public enum ClassWeightSetting: Sendable, Equatable, CustomStringConvertible {
  /// scikit-learn's "balanced": n / (classes · count_c) over the training split.
  case balanced
  /// A weight per class label (a class not named weighs 1).
  case weights([String: Double])

  /// The setting as a config writes it, keys sorted (for resume's messages).
  public var description: String {
    switch self {
    case .balanced: return "\"balanced\""
    case .weights(let map):
      let members = map.keys.sorted().map { "\(jsonQuoted($0)): \(map[$0] ?? 1)" }
      return "{\(members.joined(separator: ", "))}"
    }
  }

  /// Reads `training.class_weight` from `t`, reporting a bad value.
  static func decode(_ t: ObjectReader) -> ClassWeightSetting? {
    guard let value = t.value("class_weight") else { return nil }
    let expected = "\"balanced\" or an object of class label → weight"
    switch value {
    case .string(let text, _):
      guard text == "balanced" else {
        t.report("class_weight", "expected \(expected), found \"\(text)\"")
        return nil
      }
      return .balanced
    case .object(let members, _):
      guard let reader = t.object("class_weight") else { return nil }
      var map: [String: Double] = [:]
      for member in members {
        guard let w = reader.double(member.key, min: 0, exclusiveMin: true) else { continue }
        // Rows are weighted in float32: a weight must stay a positive, finite float.
        guard Float(w).isFinite, Float(w) > 0 else {
          reader.report(member.key, "expected a weight that a 32-bit float holds, found \(w)")
          continue
        }
        map[member.key] = w
      }
      reader.finish()
      return .weights(map)
    default:
      t.report("class_weight", "expected \(expected), found \(value.typeName)")
      return nil
    }
  }
}

extension Config {
  /// The training loss's class weights for this run's training split, or nil without `training.class_weight`.
  ///
  /// Classes are the data's labels (class indices as text, "0", "1", …, for
  /// data without labels); one sigmoid output has two. A label the map names
  /// that the data does not have, or a class "balanced" finds no sample of, is
  /// a config error naming `$.training.class_weight`.
  public func resolvedClassWeights(data: PreparedData, outputs: Int) throws(NNBatchError) -> ClassWeights? {
    guard let setting = classWeight else { return nil }
    let classes = outputs == 1 ? 2 : outputs
    let names = data.labels.count == classes ? data.labels : (0..<classes).map(String.init)
    let path = "\(file): $.training.class_weight"
    switch setting {
    case .balanced:
      let counts = ClassWeights.counts(
        targets: data.train.targets.storage.pointer, targetColumns: data.train.targetColumns,
        rows: data.train.count, outputs: outputs, classes: classes)
      switch ClassWeights.balanced(counts: counts) {
      case .success(let weights): return weights
      case .failure(let empty):
        throw NNBatchError(
          .usage,
          "\(path): \"balanced\" needs samples of every class in the training split; found none of class \(jsonQuoted(names[empty.index]))"
        )
      }
    case .weights(let map):
      var weights = [Float](repeating: 1, count: classes)
      var problems: [String] = []
      for key in map.keys.sorted() {
        guard let index = names.firstIndex(of: key) else {
          var message =
            "\(path).\(key): unknown class \(jsonQuoted(key)); expected one of \(names.map(jsonQuoted).joined(separator: ", "))"
          if let guess = suggestion(for: key, among: names) {
            message += " (did you mean \(jsonQuoted(guess))?)"
          }
          problems.append(message)
          continue
        }
        weights[index] = Float(map[key] ?? 1)
      }
      if !problems.isEmpty { throw NNBatchError(.usage, problems) }
      return ClassWeights(weights)
    }
  }
}
