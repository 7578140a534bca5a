import Foundation
import NNBatchCore
import NeuralNet

/// The `csv` data source: one sample per record, feature and target columns chosen by name or index.
///
/// Config keys: `path`; `header` (default true); `delimiter` (default `,`);
/// `targets` (names or 0-based indices, negative from the end; default the
/// last column); `ignore`. Classification labels may be any text: they map
/// to class indices in sorted order (numerically when all are numbers), or
/// in the training set's order when that is known.
package struct CSVSource: FileDataSource {
  /// The config name.
  package static let name = "csv"
  /// The format's name in messages.
  package static let formatName = "CSV"

  /// The file.
  package var path: String
  /// Whether the first record names the columns; nil: it does when one of its fields is not a number.
  package var header: Bool?
  /// Field separator (one character).
  package var delimiter: Character
  /// Target columns, by name (with a header) or 0-based index; none: inputs only.
  package var targets: [ColumnRef]
  /// Columns to ignore, by name or index.
  package var ignore: [ColumnRef]
  /// Columns left out, with a warning, when the header names them (predict: the training
  /// targets, which a file of labelled rows still has); a file without them is read as is.
  package var skipIfPresent: [String] = []
  /// `data.missing`: which feature cells may be missing (read as NaN, for the imputer to fill).
  package var missing = MissingPolicy.refuse
  /// `data.categorical`: feature columns, by header name, read as categories even when their values are numbers.
  package var categorical: [String] = []
  /// The categories of a trained model's categorical columns, by feature position (predict, evaluate):
  /// cells are read as category indices (-1: unseen) and no column is detected; nil: training, detect.
  package var knownCategories: [Int: [String]]? = nil

  /// A source reading `path` with these settings.
  package init(path: String, header: Bool?, delimiter: Character, targets: [ColumnRef], ignore: [ColumnRef]) {
    self.path = path
    self.header = header
    self.delimiter = delimiter
    self.targets = targets
    self.ignore = ignore
  }

  /// The file, for messages.
  package var description: String { path }

  package var settings: [DataSourceSetting] {
    func columns(_ refs: [ColumnRef]) -> String {
      refs.count == 1 ? refs[0].description : "[\(refs.map(\.description).joined(separator: ", "))]"
    }
    return [
      .file("path", path), DataSourceSetting("header", header.map(String.init) ?? "detect"),
      DataSourceSetting("delimiter", String(delimiter)), DataSourceSetting("targets", columns(targets)),
      DataSourceSetting("ignore", columns(ignore)),
    ]
  }

  // MARK: Config

  /// Reads `path`, `header`, `delimiter`, `targets` and `ignore`.
  package static func decode(_ d: ObjectReader, context: DataSourceContext) -> CSVSource? {
    let path = d.requiredPath("path")
    let header = d.bool("header") ?? true
    var delimiter: Character = ","
    if let text = d.string("delimiter") {
      if text.count == 1, let c = text.first, c != "\"", c != "\n", c != "\r" {
        delimiter = c
      } else {
        d.report("delimiter", "expected one character other than a quote or newline, found \"\(text)\"")
      }
    }
    let targets = columnRefs(d, "targets", header: header, sink: context.sink) ?? [.index(-1)]
    let ignore = columnRefs(d, "ignore", header: header, sink: context.sink) ?? []
    guard let path else { return nil }
    return CSVSource(path: path, header: header, delimiter: delimiter, targets: targets, ignore: ignore)
  }

  private static func columnRefs(_ d: ObjectReader, _ key: String, header: Bool, sink: DiagnosticSink)
    -> [ColumnRef]?
  {
    guard let value = d.value(key) else { return nil }
    let items: [JSONValue]
    if case .array(let list, _) = value { items = list } else { items = [value] }
    var refs: [ColumnRef] = []
    for item in items {
      switch item {
      case .string(let name, _):
        if !header {
          sink.report(
            item, d.childPath(key), "a column name needs header: true; use a 0-based index, found \"\(name)\""
          )
        }
        refs.append(.name(name))
      case .number(let n, _, _) where item.isInteger && n >= -1_000_000 && n < 1_000_000:
        refs.append(.index(Int(n)))
      default:
        sink.report(item, d.childPath(key), "expected a column name or 0-based index, found \(item.summary)")
      }
    }
    return refs
  }

  // MARK: Files

  /// Text without NUL or other control bytes (tab, newlines and form feed allowed) is plausibly CSV.
  package static func recognize(_ head: FileHead) -> FormatMatch? {
    let bytes = head.content
    let controls: Set<UInt8> = [0x09, 0x0A, 0x0C, 0x0D]
    guard !bytes.contains(where: { ($0 < 0x20 && !controls.contains($0)) || $0 == 0x7F }) else {
      return nil
    }
    // The sample may end inside a multi-byte character when the file goes on.
    let truncated = bytes.count == FileHead.length
    for cut in 0...(truncated ? 3 : 0) where cut <= bytes.count {
      if String(validating: bytes.dropLast(cut), as: UTF8.self) != nil { return .plausible }
    }
    return nil
  }

  /// The same columns read from `files[0]`.
  package func reading(_ locations: [DataLocation], as argument: String) throws(NNBatchError) -> CSVSource {
    let files = locations.map(\.path)
    guard files.count == 1 else {
      throw NNBatchError(.usage, "\(argument): give one CSV file, or a config (.json)")
    }
    var copy = self
    copy.path = files[0]
    return copy
  }

  /// Every column a feature, comma-separated; a header row when `--header` says so or it has a non-number.
  package static func openInputs(_ location: DataLocation, _ request: InputRequest) throws(NNBatchError)
    -> any SampleReader
  {
    let path = location.path
    var source = CSVSource(path: path, header: request.header, delimiter: ",", targets: [], ignore: [])
    source.skipIfPresent = request.skipColumns
    source.missing = request.missing
    source.knownCategories = request.categories
    return InMemorySamples(try source.read(task: nil, knownLabels: []))
  }

  /// Reads the whole file into memory.
  package func open(task: LearningTask, labels: [String]) throws(NNBatchError) -> any SampleReader {
    InMemorySamples(try read(task: task, knownLabels: labels))
  }

  // MARK: Reading

  /// Parses the file into features and targets (none when `task` is nil: inputs only).
  ///
  /// The one CSV-to-matrix path, for training, evaluate and predict.
  func read(task: LearningTask?, knownLabels: [String]) throws(NNBatchError) -> RawData {
    let bytes = try readFileBytes(path)
    guard let delimiter = delimiter.asciiValue else {
      throw NNBatchError(.usage, "\(path): the delimiter must be an ASCII character")
    }
    let path = self.path
    var names: [String]?
    var width = 0
    var targetColumns: [Int] = []
    var featureColumns: [Int] = []
    var inputValues: [Float] = []
    var targetValues: [Float] = []
    var labelIDs: [String: Int] = [:]
    var labelNames: [String] = []
    var labelLines: [Int] = []  // where each label first occurs
    var warnedSpellings: Set<Int> = []
    var rows = 0
    var hasHeader = false
    var featureRules: [MissingRule] = []
    // Per feature position: declared or detected categorical, with its categories in order of first appearance.
    var isCategorical: [Bool] = []
    var declared: [Bool] = []
    var isNumeric: [Bool] = []
    var tables: [[String: Int]] = []
    var firstCategoryLine: [Int] = []

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
          // A name that two columns share cannot say which one is meant.
          if let names, case let same = names.indices.filter({ names[$0] == name }), same.count > 1 {
            throw NNBatchError(
              .usage,
              "\(path):1: \(what) column \"\(excerpt(name))\" is ambiguous: expected a unique column name, found it at columns \(same.map(String.init).joined(separator: " and ")) (0-based); name the column by its index"
            )
          }
          guard let names, let index = names.firstIndex(of: name) else {
            var message = "\(path): no \(what) column named \"\(excerpt(name))\""
            if let names, let guess = suggestion(for: name, among: names) {
              message += " (did you mean \"\(guess)\"?)"
            }
            if let names { message += "; columns are \(Self.list(names))" }
            throw NNBatchError(.usage, message)
          }
          result.append(index)
        }
      }
      return result
    }

    func columnName(_ index: Int) -> String {
      if let names, index < names.count { return "column \"\(excerpt(names[index]))\"" }
      return "column \(index)"
    }

    /// Values are stored as Float: 1e39 is finite as a Double but not as a Float.
    func checkRange(_ value: Double, line: Int, column: Int) throws(NNBatchError) {
      guard value.isFinite else {
        throw NNBatchError(
          .usage, "\(path):\(line): \(columnName(column)): expected a finite number, found \(value)")
      }
      guard Float(value).isFinite else {
        throw NNBatchError(
          .usage,
          "\(path):\(line): \(columnName(column)) (field \(column + 1)): expected a number within ±\(Float.greatestFiniteMagnitude) (32-bit float), found \(value)"
        )
      }
    }

    /// The number in `field` (line `line`, column `column`), in Float's range; else an error saying `expected`.
    func number(_ field: ArraySlice<UInt8>, line: Int, column: Int, expected: String) throws(NNBatchError)
      -> Float
    {
      guard let value = parseNumber(field) else {
        throw NNBatchError(
          .usage,
          "\(path):\(line): \(columnName(column)): expected \(expected), found \"\(excerpt(bytes: field))\"")
      }
      try checkRange(value, line: line, column: column)
      return Float(value)
    }

    func warnAboutDuplicateNames(_ header: [String]) {
      var seen: [String: Int] = [:]
      var reported: Set<String> = []
      for (i, name) in header.enumerated() {
        if let first = seen[name] {
          if reported.insert(name).inserted {
            Warnings.emit(
              "\(path):1: column name \"\(excerpt(name))\" occurs more than once (columns \(first) and \(i), 0-based); refer to these columns by index"
            )
          }
        } else {
          seen[name] = i
        }
      }
    }

    try CSVScanner.scan(path: path, bytes: bytes, delimiter: delimiter) { line, fields throws(NNBatchError) in
      if width == 0 {
        width = fields.count
        // A row with missing cells is data, not a header, when data.missing lets cells be missing.
        let mayMiss = !missing.refusesAll
        hasHeader =
          header ?? fields.contains { parseNumber($0) == nil && !(mayMiss && Self.isMissingMarker($0)) }
        if hasHeader {
          let header = fields.map(Self.trimmedText)
          names = header
          warnAboutDuplicateNames(header)
        }
        targetColumns = try resolve(targets, what: "target")
        var ignored = Set(try resolve(ignore, what: "ignored"))
        if let names, !skipIfPresent.isEmpty {
          let skipped = names.indices.filter {
            skipIfPresent.contains(names[$0]) && !targetColumns.contains($0)
          }
          if !skipped.isEmpty {
            let quoted = skipped.map { "\"\(excerpt(names[$0]))\"" }.joined(separator: ", ")
            Warnings.emit(
              "\(path): ignoring column\(skipped.count == 1 ? "" : "s") \(quoted), the model's training target\(skipped.count == 1 ? "" : "s")"
            )
            ignored.formUnion(skipped)
          }
        }
        featureColumns = (0..<width).filter { !targetColumns.contains($0) && !ignored.contains($0) }
        guard !featureColumns.isEmpty else {
          throw NNBatchError(.usage, "\(path): no feature columns left after targets and ignored columns")
        }
        featureRules = try missingRules(
          featureColumns: featureColumns, targetColumns: targetColumns, names: names)
        isCategorical = try declaredCategorical(
          featureColumns: featureColumns, targetColumns: targetColumns, names: names)
        declared = isCategorical
        isNumeric = [Bool](repeating: false, count: featureColumns.count)
        tables = [[String: Int]](repeating: [:], count: featureColumns.count)
        firstCategoryLine = [Int](repeating: 0, count: featureColumns.count)
        if let knownCategories {
          for k in knownCategories.keys where k < featureColumns.count {
            isCategorical[k] = true
            for (i, c) in (knownCategories[k] ?? []).enumerated() { tables[k][c] = i }
          }
          declared = isCategorical
        }
        if hasHeader { return }
      }
      guard fields.count == width else {
        throw NNBatchError(.usage, "\(path):\(line): expected \(width) fields, found \(fields.count)")
      }
      // The parsed values, not only the file, must fit: "1,2\n" is 4 bytes in the file and 8 as floats.
      // Checked when the array is about to grow (it doubles), so a few times per file.
      if inputValues.count + featureColumns.count > inputValues.capacity {
        try MemoryBudget.require(
          checkedProduct([inputValues.count + featureColumns.count, 2 * MemoryLayout<Float>.size]),
          for: "the parsed values up to line \(line) (growing)", in: path)
      }
      for (k, column) in featureColumns.enumerated() {
        let field = fields[column]
        // Only a field that is no finite number can be a marker ("nan" parses, as NaN, and a refused
        // "nan" keeps its message about finite numbers).
        // Declared (or known) columns take any text; a detected one only text that is no number.
        if declared[k]
          || (knownCategories == nil && !isNumeric[k] && parseNumber(field) == nil
            && !(tables[k].isEmpty && Self.isMissingMarker(field)))
        {
          if Self.isMissingMarker(field) {
            guard featureRules[k] != .refuse else {
              throw NNBatchError(
                .usage,
                "\(path):\(line): \(columnName(column)): expected a category, found \"\(excerpt(bytes: field))\", a missing value; set data.missing to fill it (most_frequent)"
              )
            }
            inputValues.append(.nan)
            continue
          }
          let text = Self.trimmedText(field)
          if let code = tables[k][text] {
            inputValues.append(Float(code))
          } else if knownCategories != nil {
            inputValues.append(-1)  // unseen in training: all zeros, counted by the encoder
          } else {
            guard tables[k].count < 1 << 24 else {
              throw NNBatchError(
                .usage, "\(path):\(line): \(columnName(column)): more than \(1 << 24) categories")
            }
            if tables[k].isEmpty { firstCategoryLine[k] = line }
            tables[k][text] = tables[k].count
            inputValues.append(Float(tables[k].count - 1))
          }
          isCategorical[k] = true
          continue
        }
        if knownCategories == nil && !tables[k].isEmpty && !Self.isMissingMarker(field) {
          throw NNBatchError(
            .usage,
            "\(path):\(line): \(columnName(column)): expected a category like line \(firstCategoryLine[k])'s, found the number \"\(excerpt(bytes: field))\"; a column is categorical when none of its values is a number, or when data.categorical names it"
          )
        }
        let value = parseNumber(field)
        if value != nil && !(value?.isNaN ?? false) { isNumeric[k] = true }
        if value?.isNaN ?? true, Self.isMissingMarker(field), featureRules[k] != .refuse || value == nil {
          guard featureRules[k] != .refuse else {
            throw NNBatchError(
              .usage,
              "\(path):\(line): \(columnName(column)): expected a number, found \"\(excerpt(bytes: field))\", a missing value; set data.missing to fill it (mean, median, most_frequent or constant)"
            )
          }
          inputValues.append(.nan)
          continue
        }
        if let value {
          try checkRange(value, line: line, column: column)
          inputValues.append(Float(value))
        } else {
          inputValues.append(try number(field, line: line, column: column, expected: "a number"))
        }
      }
      for column in targetColumns {
        // With data.missing set, a missing marker is a missing target, never a label.
        if !missing.refusesAll, Self.isMissingMarker(fields[column]) {
          throw NNBatchError(
            .usage,
            "\(path):\(line): \(columnName(column)): expected a target, found \"\(excerpt(bytes: fields[column]))\", a missing value (data.missing fills features only; a missing target is always an error)"
          )
        }
        if task == .classification {
          let label = Self.trimmedText(fields[column])
          guard !label.isEmpty else {
            throw NNBatchError(
              .usage, "\(path):\(line): \(columnName(column)): expected a class label, found an empty field")
          }
          // Labels are Swift strings: equal under Unicode canonical equivalence
          // (the same text in NFC and NFD is one label). Spellings that differ
          // in code points are merged deliberately, with a warning (README).
          if let id = labelIDs[label] {
            targetValues.append(Float(id))
            if !warnedSpellings.contains(id), !label.utf8.elementsEqual(labelNames[id].utf8) {
              warnedSpellings.insert(id)
              Warnings.emit(
                "\(path):\(line): label \"\(excerpt(label))\" is written with other Unicode code points than on line \(labelLines[id]); both are the label \"\(excerpt(labelNames[id]))\" (labels are compared after Unicode canonical normalization)"
              )
            }
          } else {
            labelIDs[label] = labelNames.count
            targetValues.append(Float(labelNames.count))
            labelNames.append(label)
            labelLines.append(line)
          }
        } else {
          targetValues.append(
            try number(fields[column], line: line, column: column, expected: "a finite number"))
        }
      }
      rows += 1
    }
    guard rows > 0 else {
      // A file without any record has no header either, whatever the config expects.
      throw NNBatchError(.usage, "\(path): no data rows\(hasHeader ? " after the header" : "")")
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
          throw NNBatchError(
            .usage, "\(path): label \"\(excerpt(unknown))\" does not occur in the training data")
        }
        order = knownLabels
      } else {
        order = ClassLabels.order(labelNames)
      }
      let remap = labelNames.map { name in Float(order.firstIndex(of: name) ?? 0) }
      for i in targetValues.indices { targetValues[i] = remap[Int(targetValues[i])] }
      labels = order
    }
    var raw = RawData(
      inputs: Matrix(rows: rows, columns: featureColumns.count, values: inputValues),
      targets: Matrix(rows: rows, columns: targetColumns.count, values: targetValues),
      labels: labels, classes: labels.isEmpty ? nil : labels.count)
    if let names, !targetColumns.isEmpty { raw.targetNames = targetColumns.map { names[$0] } }
    if !missing.refusesAll { raw.missingRules = featureRules }
    if knownCategories == nil, isCategorical.contains(true) {
      raw.categorical = featureColumns.indices.filter { isCategorical[$0] }.map { k in
        var categories = [String](repeating: "", count: tables[k].count)
        for (text, code) in tables[k] { categories[code] = text }
        return CategoricalColumn(
          position: k, name: names.map { $0[featureColumns[k]] } ?? "column \(featureColumns[k])",
          categories: categories, fill: nil)
      }
    }
    return raw
  }

  /// Per feature column: whether `data.categorical` names it; throws for a name that is no feature column.
  private func declaredCategorical(featureColumns: [Int], targetColumns: [Int], names: [String]?)
    throws(NNBatchError) -> [Bool]
  {
    var declared = [Bool](repeating: false, count: featureColumns.count)
    guard !categorical.isEmpty else { return declared }
    guard let names else {
      throw NNBatchError(
        .usage, "\(path): data.categorical names columns by header, but the file has no header row")
    }
    for name in categorical {
      guard let index = names.firstIndex(of: name) else {
        var message = "\(path): data.categorical: no column named \"\(excerpt(name))\""
        if let guess = suggestion(for: name, among: featureColumns.map { names[$0] }) {
          message += " (did you mean \"\(guess)\"?)"
        }
        throw NNBatchError(
          .usage, message + "; feature columns are \(Self.list(featureColumns.map { names[$0] }))")
      }
      guard let k = featureColumns.firstIndex(of: index) else {
        let what = targetColumns.contains(index) ? "a target column" : "an ignored column"
        throw NNBatchError(
          .usage,
          "\(path): data.categorical: \"\(excerpt(name))\" is \(what); only feature columns are one-hot encoded"
        )
      }
      declared[k] = true
    }
    return declared
  }

  /// The `data.missing` rule of each feature column; throws when the policy names a column that is not a feature.
  private func missingRules(featureColumns: [Int], targetColumns: [Int], names: [String]?)
    throws(NNBatchError)
    -> [MissingRule]
  {
    if !missing.columns.isEmpty {
      guard let names else {
        throw NNBatchError(
          .usage,
          "\(path): data.missing.columns names columns by header, but the file has no header row")
      }
      for name in missing.columns.keys.sorted() {
        guard let index = names.firstIndex(of: name) else {
          var message = "\(path): data.missing.columns: no column named \"\(excerpt(name))\""
          if let guess = suggestion(for: name, among: featureColumns.map { names[$0] }) {
            message += " (did you mean \"\(guess)\"?)"
          }
          throw NNBatchError(
            .usage, message + "; feature columns are \(Self.list(featureColumns.map { names[$0] }))")
        }
        if targetColumns.contains(index) {
          throw NNBatchError(
            .usage,
            "\(path): data.missing.columns: \"\(excerpt(name))\" is a target column; a missing target is always an error"
          )
        }
      }
    }
    return featureColumns.map { missing.rule(for: names?[$0]) }
  }
}

extension CSVSource {
  /// A field as text without leading and trailing white space (`CharacterSet.whitespaces`).
  ///
  /// ASCII spaces and tabs are dropped from the bytes before decoding, so a
  /// field of 100 MB is decoded once; Foundation trims only around other
  /// (non-ASCII) white space, which bytes cannot tell.
  static func trimmedText(_ field: ArraySlice<UInt8>) -> String {
    var start = field.startIndex
    var end = field.endIndex
    while start < end && (field[start] == 0x20 || field[start] == 0x09) { start += 1 }
    while end > start && (field[end - 1] == 0x20 || field[end - 1] == 0x09) { end -= 1 }
    let text = String(decoding: field[start..<end], as: UTF8.self)
    guard start < end, field[start] >= 0x80 || field[end - 1] >= 0x80 else { return text }
    return text.trimmingCharacters(in: .whitespaces)
  }

  /// The cells pandas reads as missing by default (`na_values`), compared after trimming white space.
  package static let missingMarkers: Set<String> = [
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>", "N/A",
    "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
  ]

  /// Whether `field` is an empty cell or one of pandas' default missing-value markers.
  static func isMissingMarker(_ field: ArraySlice<UInt8>) -> Bool {
    field.count <= 16 && missingMarkers.contains(trimmedText(field))
  }

  /// Column names for a message: each cut by `excerpt`, at most 20 of them.
  static func list(_ names: [String]) -> String {
    let shown = names.prefix(20).map { excerpt($0) }.joined(separator: ", ")
    return names.count > 20 ? "\(shown), … (\(names.count) columns)" : shown
  }
}

/// A CSV column named by header or by 0-based index.
public enum ColumnRef: Sendable, Equatable, CustomStringConvertible {
  /// By header name.
  case name(String)
  /// By 0-based index.
  case index(Int)

  /// As written.
  public var description: String {
    switch self {
    case .name(let n): return "\"\(n)\""
    case .index(let i): return "\(i)"
    }
  }
}
