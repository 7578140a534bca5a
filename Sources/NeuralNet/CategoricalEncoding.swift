/// One categorical feature column: its place among the raw features, its name and its categories.
public struct CategoricalColumn: Sendable, Hashable {
  /// 0-based position among the raw feature columns.
  public var position: Int
  /// The column's name in messages (its header name, or "column N").
  public var name: String
  /// The categories learned from the training split, sorted by code point.
  public var categories: [String]
  /// The category index a missing cell takes (`data.missing` most_frequent), or nil when missing cells are refused.
  public var fill: Int?

  /// A column with these categories.
  public init(position: Int, name: String, categories: [String], fill: Int?) {
    self.position = position
    self.name = name
    self.categories = categories
    self.fill = fill
  }
}

/// One-hot encodes categorical feature columns in place (column order kept), before imputation and scaling.
///
/// Its input holds, in a categorical column, the category's index (-1: a
/// category unseen in training, encoded as all zeros; NaN: missing, encoded
/// as `fill`). Saved in the checkpoint (/data/categorical).
public struct CategoricalEncoder: Sendable, Hashable {
  /// Raw feature columns it reads.
  public var inputWidth: Int
  /// The categorical columns, by increasing position.
  public var columns: [CategoricalColumn]

  /// An encoder of `columns` among `inputWidth` raw features.
  public init(inputWidth: Int, columns: [CategoricalColumn]) {
    self.inputWidth = inputWidth
    self.columns = columns.sorted { $0.position < $1.position }
  }

  /// Columns it writes: every numeric column, and one per category of each categorical column.
  public var outputWidth: Int { inputWidth + columns.reduce(0) { $0 + $1.categories.count - 1 } }

  /// Categories sorted by code point (the order of their UTF-8 bytes), whatever Unicode equivalence says.
  public static func sorted(_ categories: some Sequence<String>) -> [String] {
    categories.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
  }

  /// `codes` [rows, inputWidth] one-hot encoded [rows, outputWidth], with the count of unseen values per column.
  public func apply(to codes: Matrix) -> (matrix: Matrix, unseen: [Int]) {
    precondition(codes.columns == inputWidth, "the encoder's width differs from the matrix's")
    var unseen = [Int](repeating: 0, count: columns.count)
    var byPosition = [Int?](repeating: nil, count: inputWidth)
    for (i, c) in columns.enumerated() { byPosition[c.position] = i }
    let out = Matrix(rows: codes.rows, columns: outputWidth)
    for r in 0..<codes.rows {
      let x = codes.row(r)
      let y = out.row(r)
      var o = 0
      for j in 0..<inputWidth {
        guard let i = byPosition[j] else {
          y[o] = x[j]
          o += 1
          continue
        }
        let column = columns[i]
        for k in 0..<column.categories.count { y[o + k] = 0 }
        let code = x[j].isNaN ? column.fill.map(Float.init) ?? -1 : x[j]
        if code >= 0 && Int(code) < column.categories.count {
          y[o + Int(code)] = 1
        } else {
          unseen[i] += 1
        }
        o += column.categories.count
      }
    }
    return (out, unseen)
  }
}
