import Foundation
import NNBatchCore
import NNBatchData
import NeuralNet

/// `nnbatch predict`: a checkpoint's predictions for new inputs.
public enum Predict {
  /// Predictions for `input` as CSV text: a header, then one row per input row.
  ///
  /// The input's format is `format` (csv, idx, hdf5) or, when nil, detected
  /// from its first bytes; `input` "-" is standard input. Rows are read, scaled
  /// and predicted block by block.
  public static func run(
    checkpoint: String, input: String, dataset: String?, header: Bool?, format: String? = nil
  ) throws(NNBatchError) -> String {
    let model = try SavedModel.load(checkpoint)
    return try StandardInput.reading(input) { (input) throws(NNBatchError) in
      try run(model: model, input: input, dataset: dataset, header: header, format: format)
    }
  }

  private static func run(
    model: SavedModel, input: String, dataset: String?, header: Bool?, format: String?
  ) throws(NNBatchError) -> String {
    let features = model.rawFeatures
    let location = DataLocation(input)
    let resolved = try DataSources.resolve(location, format: format)
    let reader = try resolved.reading { () throws(NNBatchError) in
      // A CSV of labelled rows still has the training targets: they are left out, not refused.
      var request = InputRequest(
        dataset: dataset, header: header, skipColumns: model.targetColumnNames ?? [],
        trainedSource: model.config.data.source, modelInput: model.network.architecture.inputShape)
      request.missing = model.config.data.missing
      request.categories = model.categoriesByPosition
      return try resolved.kind.openInputs(location, request)
    }
    // Images must have the model's shape, not just as many pixels (4×16 is not 8×8).
    let expected = model.network.architecture.inputShape
    if let shape = reader.sampleShape, expected.rank > 1, shape != expected {
      throw NNBatchError(
        .usage,
        "\(input): expected samples of shape \(expected) (the model's input), found \(shape) (\(resolved.note))"
      )
    }
    let width = model.network.architecture.outputs
    let labels = model.labels
    // Whole 256-row batches of Network.predict, so the outputs do not depend on how the input is cut.
    let rows = Evaluate.blockRows(features: features)
    try MemoryBudget.require(
      checkedProduct([rows, features + width, MemoryLayout<Float>.size]),
      for: "a block of \(rows) samples", in: input)
    var text = CSVText(path: input)
    // A source whose rows are files (images) names each row first.
    let columns =
      (reader.rowNameColumn.map { [$0] } ?? []) + (model.isClassifier ? ["label"] : []) + columnNames(model)
    try text.append(columns.map(csvField).joined(separator: ","))
    var seen = 0  // rows of earlier blocks
    var unseen: [Int] = []  // per categorical column: values training never saw
    while let block = try resolved.reading({ () throws(NNBatchError) in try reader.next(maxRows: rows) }) {
      let inputs = block.inputs  // [rows, features]
      guard inputs.columns == features else {
        throw NNBatchError(
          .usage,
          "\(input): expected \(features) features per sample (the model's inputs), found \(inputs.columns) (\(resolved.note))"
        )
      }
      let prepared = try model.prepareInputs(inputs, source: input, before: seen, unseen: &unseen)
      let outputs = model.outputs(scaled: prepared)  // [rows, width]
      try model.checkOutputs(outputs, source: input, before: seen)
      seen += inputs.rows
      var lines = ""
      for r in 0..<outputs.rows {
        if let names = block.names { lines += csvField(names[r]) + "," }
        if !model.isClassifier {
          lines += (0..<width).map { "\(outputs[r, $0])" }.joined(separator: ",")
        } else if width == 1 {
          lines += "\(csvField(model.label(outputs, row: r, labels: labels))),\(outputs[r, 0])"
        } else {
          let probabilities = (0..<width).map { "\(outputs[r, $0])" }
          lines += ([csvField(model.label(outputs, row: r, labels: labels))] + probabilities).joined(
            separator: ",")
        }
        lines += "\n"
      }
      try text.append(lines, newline: false)
    }
    guard seen > 0 else { throw SavedModel.noSamples(in: input) }
    model.reportUnseen(unseen)
    return text.text
  }

  /// CSV text that grows through the memory budget: a million rows are tens of MB, held twice when written out.
  private struct CSVText {
    let path: String
    var text = ""
    var reserved = 0

    init(path: String) { self.path = path }

    /// Appends `piece` (and a newline), reserving room first when it does not fit.
    mutating func append(_ piece: String, newline: Bool = true) throws(NNBatchError) {
      let needed = text.utf8.count + piece.utf8.count + 1
      if needed > reserved {
        let capacity = max(needed, 2 * reserved, 1 << 16)
        // The larger buffer, and the copy the output writer makes of it.
        try MemoryBudget.require(
          checkedProduct([capacity, 2]),
          for: "the predictions as CSV text (\(MemoryBudget.format(capacity)), and its copy for the output)",
          in: path)
        text.reserveCapacity(capacity)
        reserved = capacity
      }
      text += piece
      if newline { text += "\n" }
    }
  }

  /// The output columns' names: `p_<class>` for a classifier (one sigmoid output: the
  /// probability of the second class, "1" without labels), else the training targets'
  /// names when the checkpoint has them, else `output_<i>`.
  package static func columnNames(_ model: SavedModel) -> [String] {
    let width = model.network.architecture.outputs
    if model.isClassifier {
      guard width == 1 else { return model.labels.map { "p_\($0)" } }
      let known = model.checkpoint.data.labels
      return ["p_" + (known.count == 2 ? known[1] : "1")]
    }
    if let names = model.checkpoint.data.targetNames, names.count == width { return names }
    return (0..<width).map { "output_\($0)" }
  }

  private static func csvField(_ text: String) -> String {
    text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" })
      ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
  }
}
