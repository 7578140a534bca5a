import Foundation
import NeuralNet

/// `nnbatch predict`: a checkpoint's predictions for new inputs.
public enum Predict {
  /// Rows predicted at a time: a multiple of `Network.predict`'s 256-row blocks, so the
  /// outputs do not depend on how the input is cut.
  static let blockRows = 1 << 16

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
    let features = model.network.architecture.inputs
    let resolved = try DataSources.resolve(input, format: format)
    let reader = try resolved.reading { () throws(NNBatchError) in
      try resolved.kind.openInputs(input, InputRequest(dataset: dataset, header: header))
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
    var lines: [String] = []
    var seen = 0  // rows of earlier blocks
    if model.isClassifier {
      lines.append(
        width == 1
          ? "label,probability" : (["label"] + labels.map { "p_\($0)" }).map(csvField).joined(separator: ","))
    } else {
      lines.append((0..<width).map { "output_\($0)" }.joined(separator: ","))
    }
    while let block = try resolved.reading({ () throws(NNBatchError) in try reader.next(maxRows: blockRows) })
    {
      let inputs = block.inputs  // [rows, features]
      guard inputs.columns == features else {
        throw NNBatchError(
          .usage,
          "\(input): expected \(features) features per sample (the model's inputs), found \(inputs.columns) (\(resolved.note))"
        )
      }
      // CSV checks its fields as it parses; an HDF5 dataset may hold inf or NaN.
      for r in 0..<inputs.rows {
        let x = inputs.row(r)
        for j in 0..<inputs.columns where !x[j].isFinite {
          throw NNBatchError(
            .usage, "\(input): sample \(seen + r + 1), feature \(j): expected a finite number, found \(x[j])")
        }
      }
      seen += inputs.rows
      let outputs = model.predict(inputs)  // [rows, width]
      for r in 0..<outputs.rows {
        if !model.isClassifier {
          lines.append((0..<width).map { "\(outputs[r, $0])" }.joined(separator: ","))
        } else if width == 1 {
          lines.append("\(csvField(model.label(outputs, row: r, labels: labels))),\(outputs[r, 0])")
        } else {
          let probabilities = (0..<width).map { "\(outputs[r, $0])" }
          lines.append(
            ([csvField(model.label(outputs, row: r, labels: labels))] + probabilities).joined(separator: ","))
        }
      }
    }
    return lines.joined(separator: "\n") + "\n"
  }

  private static func csvField(_ text: String) -> String {
    text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" })
      ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
  }
}
