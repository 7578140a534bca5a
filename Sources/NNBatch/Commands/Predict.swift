import Foundation
import HDF5Store
import NeuralNet
import Parallel

/// `nnbatch predict`: a checkpoint's predictions for new inputs.
public enum Predict {
  /// Reads prediction inputs: CSV rows of features, an IDX image file, or an HDF5 dataset.
  static func readInputs(
    _ path: String, dataset: String?, header: Bool?, features: Int
  ) throws(NNBatchError) -> Matrix {
    let lower = path.lowercased()
    if lower.hasSuffix(".h5") || lower.hasSuffix(".hdf5") {
      guard let dataset else {
        throw NNBatchError(.usage, "\(path): give the inputs' dataset with --dataset NAME")
      }
      return try checkWidth(
        HDF5Source.readInputs(path: path, dataset: dataset), features: features, path: path)
    }
    if lower.contains("idx") || lower.hasSuffix("-ubyte") || lower.hasSuffix("-ubyte.gz") {
      let (shape, bytes) = try IDXSource.parse(path, expectedRank: nil)
      let rows = shape[0]
      let width = shape.dropFirst().reduce(1, *)
      let m = Matrix(rows: rows, columns: width)
      for (i, b) in bytes.enumerated() { m.storage.pointer[i] = Float(b) / 255 }
      return try checkWidth(m, features: features, path: path)
    }
    let bytes = try readFileBytes(path)
    var values: [Float] = []
    var rows = 0
    var first = true
    try CSVScanner.scan(path: path, bytes: bytes, delimiter: UInt8(ascii: ",")) {
      line, fields throws(NNBatchError) in
      defer { first = false }
      let numbers = fields.map(parseNumber)
      if first {
        let looksLikeHeader = numbers.contains { $0 == nil }
        if header ?? looksLikeHeader { return }
      }
      guard fields.count == features else {
        throw NNBatchError(
          .usage, "\(path):\(line): expected \(features) fields (the model's inputs), found \(fields.count)")
      }
      for (j, number) in numbers.enumerated() {
        guard let number, number.isFinite else {
          throw NNBatchError(
            .usage,
            "\(path):\(line): field \(j + 1): expected a finite number, found \"\(String(decoding: fields[j], as: UTF8.self))\""
          )
        }
        values.append(Float(number))
      }
      rows += 1
    }
    return Matrix(rows: rows, columns: features, values: values)
  }

  private static func checkWidth(_ m: Matrix, features: Int, path: String) throws(NNBatchError) -> Matrix {
    guard m.columns == features else {
      throw NNBatchError(
        .usage, "\(path): expected \(features) features per sample (the model's inputs), found \(m.columns)")
    }
    return m
  }

  /// Predictions for `input` as CSV text: a header, then one row per input row.
  public static func run(
    checkpoint: String, input: String, dataset: String?, header: Bool?
  ) throws(NNBatchError) -> String {
    let model = try SavedModel.load(checkpoint)
    let inputs = try readInputs(
      input, dataset: dataset, header: header, features: model.network.architecture.inputs)
    model.scaler.apply(to: inputs)
    let outputs = model.network.predict(parameters: model.parameters, inputs: inputs)
    model.targetScaler.restore(outputs)  // regression outputs in the targets' own units
    let width = outputs.columns
    var lines: [String] = []
    if model.isClassifier {
      let labels = model.labels
      if width == 1 {
        lines.append("label,probability")
        for r in 0..<outputs.rows {
          let p = outputs[r, 0]
          let label = labels.count == 2 ? labels[p >= 0.5 ? 1 : 0] : (p >= 0.5 ? "1" : "0")
          lines.append("\(csvField(label)),\(p)")
        }
      } else {
        lines.append((["label"] + labels.map { "p_\($0)" }).map(csvField).joined(separator: ","))
        for r in 0..<outputs.rows {
          let k = argmax(outputs.row(r), count: width)
          let probabilities = (0..<width).map { "\(outputs[r, $0])" }
          lines.append(([csvField(labels[k])] + probabilities).joined(separator: ","))
        }
      }
    } else {
      lines.append((0..<width).map { "output_\($0)" }.joined(separator: ","))
      for r in 0..<outputs.rows {
        lines.append((0..<width).map { "\(outputs[r, $0])" }.joined(separator: ","))
      }
    }
    return lines.joined(separator: "\n") + "\n"
  }

  private static func csvField(_ text: String) -> String {
    text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" })
      ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
  }
}
