import NNBatch
// The front of an exported tabular model: raw CSV columns to the network's input row.
//
// nnbatch reads a row's raw feature columns (CSV order, target left out), one-hot
// encodes each categorical column in place (CategoricalEncoder: categories in their
// saved order, an unseen category all zeros, a missing cell its column's fill
// category), then fills missing numeric values and appends one 0/1 indicator column
// per flagged numeric column, in column order (Imputer). Both writers build that
// from this description, before the input scaling:
//   numeric input   float [N, numeric]   the numeric columns in CSV order, NaN where missing
//   categorical     one input per column (ONNX: its text; Keras: its code)
//   encoded row     the columns in CSV order, each categorical one as its one-hot block,
//                   then the indicator columns
import NNBatchCore
import NeuralNet

/// How raw CSV rows become the network's input: categorical columns one-hot, missing values filled, indicators.
struct TabularInput: Sendable {
  /// One raw feature column.
  enum Column: Sendable {
    /// A number: its index among the numeric columns (the numeric input's column).
    case numeric(Int)
    /// A categorical column: the k-th of `categorical`.
    case categorical(Int)
  }

  /// The raw feature columns, in CSV order.
  var columns: [Column]
  /// The categorical columns, in CSV order.
  var categorical: [CategoricalColumn]
  /// Per numeric column: the value that replaces a missing one, NaN where nnbatch refuses a missing value.
  var fill: [Float]
  /// The numeric columns that have an indicator column, in the order their indicators follow the features.
  var indicators: [Int]

  /// Columns of the numeric input.
  var numericCount: Int { fill.count }
  /// Whether any numeric column fills missing values.
  var fills: Bool { fill.contains { !$0.isNaN } }

  /// The front end of a model trained with `encoder` and `imputer` (at least one non-nil) on `width` inputs.
  ///
  /// Throws (exit 2) for what the exported model could not reproduce: an
  /// indicator or a fill statistic on a categorical column (nnbatch never
  /// writes one) or a fill value that is not finite in float32.
  init(
    encoder: CategoricalEncoder?, imputer: Imputer?, width: Int, path: String, format: ExportFormat
  ) throws(NNBatchError) {
    let raw = encoder?.inputWidth ?? imputer?.inputWidth ?? width
    var columns: [Column] = []
    var categorical: [CategoricalColumn] = []
    var encodedIndex: [Int] = []  // per numeric column: its column in the encoded row
    var encoded = 0
    for j in 0..<raw {
      if let column = encoder?.columns.first(where: { $0.position == j }) {
        columns.append(.categorical(categorical.count))
        categorical.append(column)
        encoded += column.categories.count
      } else {
        columns.append(.numeric(encodedIndex.count))
        encodedIndex.append(encoded)
        encoded += 1
      }
    }
    var fill = [Float](repeating: .nan, count: encodedIndex.count)
    var indicators: [Int] = []
    if let imputer {
      guard imputer.inputWidth == encoded else {
        throw NNBatchError(
          .usage,
          "\(path): /data/imputation: expected \(encoded) columns (after the one-hot encoding), found \(imputer.inputWidth); the \(format.rawValue) export cannot express this model"
        )
      }
      let numericOf = Dictionary(uniqueKeysWithValues: encodedIndex.enumerated().map { ($1, $0) })
      for e in 0..<encoded where !imputer.fill[e].isNaN || imputer.indicator[e] {
        guard let k = numericOf[e] else {
          throw NNBatchError(
            .usage,
            "\(path): /data/imputation, column \(e): fills or flags a one-hot column; the \(format.rawValue) export fills categorical columns with their category only"
          )
        }
        fill[k] = imputer.fill[e]
        if imputer.indicator[e] { indicators.append(k) }
      }
      try ExportPlan.requireFinite(
        fill.filter { !$0.isNaN }, "/data/imputation/fill", of: "filled feature", path: path, format: format)
    }
    guard encoded + indicators.count == width else {
      throw NNBatchError(
        .usage,
        "\(path): the encoding and imputation write \(encoded + indicators.count) columns, the model reads \(width); the \(format.rawValue) export cannot express this model"
      )
    }
    self.columns = columns
    self.categorical = categorical
    self.fill = fill
    self.indicators = indicators
  }

  /// Per encoded column (indicators included), where it comes from: the numeric input's column, or the
  /// categorical column and category; for writers that gather the row from its pieces.
  enum Source: Equatable {
    /// The numeric input's column.
    case numeric(Int)
    /// Category `category` of the `column`-th categorical column.
    case category(column: Int, category: Int)
    /// The indicator of the numeric input's column.
    case indicator(Int)
  }

  /// The encoded row's columns, in the network's order.
  var sources: [Source] {
    var out: [Source] = []
    for column in columns {
      switch column {
      case .numeric(let k): out.append(.numeric(k))
      case .categorical(let c):
        out += categorical[c].categories.indices.map { .category(column: c, category: $0) }
      }
    }
    return out + indicators.map { .indicator($0) }
  }

  /// The description both formats' metadata carry: each raw column, its input and its handling (JSON).
  ///
  /// `codes`: the Keras form, where a categorical column's input is an integer
  /// code (its category's index; `unseen` and `missing` the two extra codes).
  func metadata(codes: Bool) -> JSONText {
    .array(
      columns.enumerated().map { position, column in
        switch column {
        case .numeric(let k):
          return .object([
            ("position", .int(position)), ("kind", .string("numeric")), ("input", .string("input")),
            ("index", .int(k)), ("fill", fill[k].isNaN ? .null : .float(fill[k])),
            ("indicator", .bool(indicators.contains(k))),
          ])
        case .categorical(let c):
          let column = categorical[c]
          var members: [(String, JSONText)] = [
            ("position", .int(position)), ("kind", .string("categorical")), ("name", .string(column.name)),
            ("input", .string(column.name)), ("categories", .array(column.categories.map { .string($0) })),
            ("fill", column.fill.map { .string(column.categories[$0]) } ?? .null),
          ]
          if codes {
            members += [
              ("unseen_code", .int(column.categories.count)),
              ("missing_code", .int(column.categories.count + 1)),
            ]
          }
          return .object(members)
        }
      })
  }
}
