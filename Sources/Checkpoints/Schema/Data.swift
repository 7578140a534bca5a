import Foundation
import HDF5Store
import NNBatchCore
import NeuralNet

// /data: what predict and evaluate need to read new data as training did.
//
//     /data            attrs: task, labels (JSON array of strings; [] when labels are class indices),
//                      fingerprint (optional: XXH64 of the prepared samples, for resume),
//                      stream (optional: the block plan of streamed training data, "block_rows=N window=W"),
//                      target_names (optional: JSON array, the training data's target column names)
//     /data/features   attrs: scaling; datasets shift, factor float32 [inputs] (scaling ≠ none)
//     /data/targets    attrs: scaling; datasets shift, factor float32 [outputs] (scaling ≠ none)
//     /data/imputation (optional, with "imputation" in the root `requires`: data.missing)
//                      datasets fill float32 [raw features] (NaN: missing values refused),
//                      indicator float32 [raw features] (1: an indicator column follows the features);
//                      the model's inputs are the raw features then one column per indicator
//     /data/categorical (optional, with "categorical" in the root `requires`: one-hot feature columns)
//                      attrs: inputs (raw feature columns), names (JSON array), categories (JSON array
//                      of arrays, sorted by code point); datasets position float32 [columns] (0-based
//                      among the raw features), fill float32 [columns] (category index of a missing
//                      cell, -1: refused); applied before /data/imputation, which then reads its output
//     /data/memory     (optional, with "memory_data" in the root `requires`: samples the Swift API was
//                      given in memory, never stored) attrs: fingerprint ("xxh64:" and 16 hex digits, see
//                      NNBatchData's MemoryData), rows, features, target_columns

/// Facts about the training data that a model needs to be used: task, labels, scalings.
public struct DataFacts: Sendable, Hashable {
  /// Classification or regression.
  public var task: LearningTask
  /// Class labels in class-index order (empty when labels are the indices).
  public var labels: [String]
  /// Scaling fitted to the training features.
  public var features: AffineScaler
  /// Scaling fitted to the regression targets.
  public var targets: AffineScaler
  /// A digest of the samples the run trains and validates on ("xxh64:…"), so
  /// that a resume can tell the data changed; nil in files written before it existed.
  public var fingerprint: String?
  /// The block plan of a streamed training set ("block_rows=1024 window=32"); nil when the data was in memory.
  ///
  /// A resume reads its data as the run it continues did, whatever `data.stream` would choose now.
  public var stream: String?
  /// The names of the training data's target columns (a CSV header), so that `predict` can
  /// name regression outputs and skip these columns in its input; nil when the data had none
  /// and in files written before it existed.
  public var targetNames: [String]?
  /// The missing-value filling applied before `features` (`data.missing`); nil when missing values are refused.
  public var imputer: Imputer?
  /// The one-hot encoding of categorical columns applied before `imputer` (`data.categorical`); nil without one.
  public var encoder: CategoricalEncoder?
  /// The in-memory training samples the run was given (the Swift API's), described; nil for data read from files.
  public var memory: InMemoryDataFacts?

  /// Facts for a model trained on `task` with these labels and scalings.
  public init(
    task: LearningTask, labels: [String], features: AffineScaler, targets: AffineScaler,
    fingerprint: String? = nil, stream: String? = nil, targetNames: [String]? = nil
  ) {
    self.targetNames = targetNames
    self.task = task
    self.labels = labels
    self.features = features
    self.targets = targets
    self.fingerprint = fingerprint
    self.stream = stream
  }
}

/// What a checkpoint keeps of in-memory training data: its fingerprint and shape, never the samples.
public struct InMemoryDataFacts: Sendable, Hashable {
  /// The samples' digest ("xxh64:" and 16 hex digits; NNBatchData's `MemoryData.fingerprint` says over what).
  public var fingerprint: String
  /// Samples.
  public var rows: Int
  /// Features per sample.
  public var features: Int
  /// Target columns per sample (1 for class labels).
  public var targetColumns: Int

  /// Facts of `rows` samples of `features` features and `targetColumns` targets, digested as `fingerprint`.
  public init(fingerprint: String, rows: Int, features: Int, targetColumns: Int) {
    self.fingerprint = fingerprint
    self.rows = rows
    self.features = features
    self.targetColumns = targetColumns
  }
}

extension DataFacts {
  func encode() -> HDF5Node {
    var node = HDF5Node()
    node.set("task", task.rawValue)
    node.set("labels", Self.labelsText(labels))
    if let fingerprint { node.set("fingerprint", fingerprint) }
    if let stream { node.set("stream", stream) }
    if let targetNames { node.set("target_names", Self.labelsText(targetNames)) }
    if let imputer {
      var group = HDF5Node()
      group.put("fill", imputer.fill)
      group.put("indicator", imputer.indicator.map { $0 ? Float(1) : 0 })
      node.groups["imputation"] = group
    }
    if let encoder {
      var group = HDF5Node()
      group.set("inputs", encoder.inputWidth)
      group.set("names", Self.labelsText(encoder.columns.map(\.name)))
      group.set(
        "categories",
        "[" + encoder.columns.map { Self.labelsText($0.categories) }.joined(separator: ",") + "]")
      group.put("position", encoder.columns.map { Float($0.position) })
      group.put("fill", encoder.columns.map { Float($0.fill ?? -1) })
      node.groups["categorical"] = group
    }
    if let memory {
      var group = HDF5Node()
      group.set("fingerprint", memory.fingerprint)
      group.set("rows", memory.rows)
      group.set("features", memory.features)
      group.set("target_columns", memory.targetColumns)
      node.groups["memory"] = group
    }
    node.groups["features"] = Self.encode(features)
    node.groups["targets"] = Self.encode(targets)
    return node
  }

  /// The labels as a JSON array of strings: `["setosa","versicolor"]` (also how messages show them).
  package static func labelsText(_ labels: [String]) -> String {
    "[" + labels.map(jsonQuoted).joined(separator: ",") + "]"
  }

  private static func encode(_ scaler: AffineScaler) -> HDF5Node {
    var node = HDF5Node()
    node.set("scaling", scaler.kind.rawValue)
    if scaler.kind != .none {
      node.put("shift", scaler.shift)
      node.put("factor", scaler.factor)
    }
    return node
  }

  static func decode(_ node: NodeReader, architecture: Architecture) throws -> DataFacts {
    let labels = try decodeLabels(node)
    try checkLabels(labels, outputs: architecture.outputs, path: node.attributePath("labels"))
    var facts = DataFacts(
      task: try node.choice("task", LearningTask.self, what: "task"),
      labels: labels,
      features: try decodeScaler(node.group("features"), width: architecture.inputs, of: "inputs"),
      targets: try decodeScaler(node.group("targets"), width: architecture.outputs, of: "outputs"),
      fingerprint: node.has("fingerprint") ? try node.string("fingerprint") : nil,
      stream: node.has("stream") ? try node.string("stream") : nil,
      targetNames: node.has("target_names") ? try decodeStrings(node, "target_names") : nil)
    if node.node.groups["imputation"] != nil {
      facts.imputer = try decodeImputer(node.group("imputation"), inputs: architecture.inputs)
    }
    if node.node.groups["categorical"] != nil {
      facts.encoder = try decodeEncoder(
        node.group("categorical"), outputs: facts.imputer?.inputWidth ?? architecture.inputs)
    }
    if node.node.groups["memory"] != nil {
      let memory = try node.group("memory")
      facts.memory = InMemoryDataFacts(
        fingerprint: try memory.string("fingerprint"), rows: try memory.int("rows", min: 1),
        features: try memory.int("features", min: 1), targetColumns: try memory.int("target_columns", min: 1))
    }
    return facts
  }

  private static func decodeEncoder(_ node: NodeReader, outputs: Int) throws -> CategoricalEncoder {
    let inputs = try node.int("inputs", min: 1)
    let names = try decodeStrings(node, "names")
    let positions = try node.floatVector("position")
    let fills = try node.floatVector("fill")
    let parsed = try? JSONParser.parse(try node.string("categories"))
    let lists = parsed?.arrayValue?.map { $0.arrayValue?.compactMap(\.stringValue) }
    guard let lists, lists.allSatisfy({ !($0 ?? []).isEmpty }), lists.count == names.count else {
      throw SchemaError(
        "\(node.attributePath("categories")): expected a JSON array of \(names.count) non-empty arrays of strings"
      )
    }
    guard positions.count == names.count, fills.count == names.count else {
      throw SchemaError(
        "\(node.childPath("position")): expected \(names.count) positions and fills (one per name), found \(positions.count) and \(fills.count)"
      )
    }
    var columns: [CategoricalColumn] = []
    for i in names.indices {
      let categories = lists[i] ?? []
      let position = positions[i]
      let fill = fills[i]
      guard position >= 0, position < Float(inputs), position.rounded() == position,
        !columns.contains(where: { Float($0.position) == position }),
        fill == -1 || (fill >= 0 && fill < Float(categories.count) && fill.rounded() == fill)
      else {
        throw SchemaError(
          "\(node.childPath("position")): column \(i): expected a distinct position in 0..<\(inputs) and a fill of -1 or a category index, found \(position) and \(fill)"
        )
      }
      columns.append(
        CategoricalColumn(
          position: Int(position), name: names[i], categories: categories, fill: fill < 0 ? nil : Int(fill)))
    }
    let encoder = CategoricalEncoder(inputWidth: inputs, columns: columns)
    guard encoder.outputWidth == outputs else {
      throw SchemaError(
        "\(node.childPath("position")): the encoding writes \(encoder.outputWidth) columns, expected \(outputs) (the model's inputs before imputation)"
      )
    }
    return encoder
  }

  private static func decodeImputer(_ node: NodeReader, inputs: Int) throws -> Imputer {
    let fill = try node.floatVector("fill")
    let flags = try node.floatVector("indicator")
    guard flags.count == fill.count, flags.allSatisfy({ $0 == 0 || $0 == 1 }) else {
      throw SchemaError(
        "\(node.childPath("indicator")): expected \(fill.count) values of 0 or 1 (one per value of fill), found \(flags.count)"
      )
    }
    let imputer = Imputer(fill: fill, indicator: flags.map { $0 == 1 })
    guard imputer.outputWidth == inputs else {
      throw SchemaError(
        "\(node.childPath("fill")): the imputation writes \(imputer.outputWidth) columns, expected \(inputs) (the model's inputs)"
      )
    }
    return imputer
  }

  /// Labels name outputs: at most one per output (training data may have fewer
  /// classes than units), or two for one sigmoid output.
  static func checkLabels(_ labels: [String], outputs: Int, path: String) throws {
    guard labels.count <= outputs || (outputs == 1 && labels.count == 2) else {
      throw SchemaError(
        "\(path): expected at most one label per output (\(outputs)), found \(labels.count)")
    }
  }

  static func decodeLabels(_ node: NodeReader) throws -> [String] {
    try decodeStrings(node, "labels")
  }

  /// Attribute `name` of `node`, a JSON array of strings.
  static func decodeStrings(_ node: NodeReader, _ name: String) throws -> [String] {
    let text = try node.string(name)
    let parsed = try? JSONParser.parse(text)
    guard let items = parsed?.arrayValue else {
      throw SchemaError("\(node.attributePath(name)): not a JSON array of strings")
    }
    var strings: [String] = []
    for item in items {
      guard let string = item.stringValue else {
        throw SchemaError("\(node.attributePath(name)): not a JSON array of strings")
      }
      strings.append(string)
    }
    return strings
  }

  private static func decodeScaler(_ node: NodeReader, width: Int, of what: String) throws -> AffineScaler {
    let kind = try node.choice("scaling", Scaling.self, what: "scaling")
    guard kind != .none else { return .identity }
    return try scaler(
      kind, shift: node.floatVector("shift"), factor: node.floatVector("factor"), width: width,
      paths: (node.childPath("shift"), node.childPath("factor")), of: what)
  }

  /// A scaler whose statistics are checked against the model's width.
  static func scaler(
    _ kind: Scaling, shift: [Float], factor: [Float], width: Int, paths: (String, String), of what: String
  ) throws -> AffineScaler {
    guard kind != .none else { return .identity }
    for (values, path) in [(shift, paths.0), (factor, paths.1)] where values.count != width {
      throw SchemaError("\(path): has \(values.count) values, expected \(width) (the model's \(what))")
    }
    return AffineScaler(kind: kind, shift: shift, factor: factor)
  }
}
