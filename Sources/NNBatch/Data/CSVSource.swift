import Foundation
import NeuralNet

/// The `csv` data source.
enum CSVSource {
  static func read(_ options: CSVOptions, task: LearningTask, knownLabels: [String]) throws(NNBatchError)
    -> RawData
  {
    let path = options.path
    let bytes = try readFileBytes(path)
    guard let delimiter = options.delimiter.asciiValue else {
      throw NNBatchError(.usage, "\(path): the delimiter must be an ASCII character")
    }
    var header: [String]?
    var width = 0
    var targetColumns: [Int] = []
    var featureColumns: [Int] = []
    var inputs: [Float] = []
    var targets: [Float] = []
    var labelIDs: [String: Int] = [:]
    var labelNames: [String] = []
    var rows = 0

    func resolve(_ refs: [ColumnRef], what: String) throws(NNBatchError) -> [Int] {
      var result: [Int] = []
      for ref in refs {
        switch ref {
        case .index(let i):
          let index = i < 0 ? width + i : i
          guard index >= 0 && index < width else {
            throw NNBatchError(
              .usage,
              "\(path): \(what) column \(i) is out of range; the file has \(width) columns (0...\(width - 1))"
            )
          }
          result.append(index)
        case .name(let name):
          guard let header, let index = header.firstIndex(of: name) else {
            var message = "\(path): no \(what) column named \"\(name)\""
            if let header, let guess = suggestion(for: name, among: header) {
              message += " (did you mean \"\(guess)\"?)"
            }
            if let header { message += "; columns are \(header.joined(separator: ", "))" }
            throw NNBatchError(.usage, message)
          }
          result.append(index)
        }
      }
      return result
    }

    func columnName(_ index: Int) -> String {
      if let header, index < header.count { return "column \"\(header[index])\"" }
      return "column \(index)"
    }

    try CSVScanner.scan(path: path, bytes: bytes, delimiter: delimiter) { line, fields throws(NNBatchError) in
      if width == 0 {
        width = fields.count
        if options.header {
          header = fields.map { String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespaces) }
        }
        targetColumns = try resolve(options.targets, what: "target")
        let ignored = Set(try resolve(options.ignore, what: "ignored"))
        featureColumns = (0..<width).filter { !targetColumns.contains($0) && !ignored.contains($0) }
        guard !featureColumns.isEmpty else {
          throw NNBatchError(.usage, "\(path): no feature columns left after targets and ignored columns")
        }
        if options.header { return }
      }
      guard fields.count == width else {
        throw NNBatchError(.usage, "\(path):\(line): expected \(width) fields, found \(fields.count)")
      }
      for column in featureColumns {
        guard let value = parseNumber(fields[column]) else {
          throw NNBatchError(
            .usage,
            "\(path):\(line): \(columnName(column)): expected a number, found \"\(String(decoding: fields[column], as: UTF8.self))\""
          )
        }
        guard value.isFinite else {
          throw NNBatchError(
            .usage, "\(path):\(line): \(columnName(column)): expected a finite number, found \(value)")
        }
        inputs.append(Float(value))
      }
      for column in targetColumns {
        if task == .classification {
          let label = String(decoding: fields[column], as: UTF8.self).trimmingCharacters(in: .whitespaces)
          guard !label.isEmpty else {
            throw NNBatchError(
              .usage, "\(path):\(line): \(columnName(column)): expected a class label, found an empty field")
          }
          if let id = labelIDs[label] {
            targets.append(Float(id))
          } else {
            labelIDs[label] = labelNames.count
            targets.append(Float(labelNames.count))
            labelNames.append(label)
          }
        } else {
          guard let value = parseNumber(fields[column]), value.isFinite else {
            throw NNBatchError(
              .usage,
              "\(path):\(line): \(columnName(column)): expected a finite number, found \"\(String(decoding: fields[column], as: UTF8.self))\""
            )
          }
          targets.append(Float(value))
        }
      }
      rows += 1
    }
    guard rows > 0 else {
      throw NNBatchError(.usage, "\(path): no data rows\(options.header ? " after the header" : "")")
    }
    var labels: [String] = []
    if task == .classification {
      guard targetColumns.count == 1 else {
        throw NNBatchError(
          .usage, "\(path): classification needs exactly one target column, found \(targetColumns.count)")
      }
      // Class indices follow the sorted labels (numerically when all are numbers),
      // or the training set's order when given.
      let order: [String]
      if !knownLabels.isEmpty {
        if let unknown = labelNames.first(where: { !knownLabels.contains($0) }) {
          throw NNBatchError(.usage, "\(path): label \"\(unknown)\" does not occur in the training data")
        }
        order = knownLabels
      } else if labelNames.allSatisfy({ Double($0) != nil }) {
        order = labelNames.sorted { Double($0) ?? 0 < Double($1) ?? 0 }
      } else {
        order = labelNames.sorted()
      }
      let remap = labelNames.map { name in Float(order.firstIndex(of: name) ?? 0) }
      for i in targets.indices { targets[i] = remap[Int(targets[i])] }
      labels = order
    }
    return RawData(
      inputs: Matrix(rows: rows, columns: featureColumns.count, values: inputs),
      targets: Matrix(rows: rows, columns: targetColumns.count, values: targets),
      labels: labels, classes: labels.isEmpty ? nil : labels.count)
  }
}
