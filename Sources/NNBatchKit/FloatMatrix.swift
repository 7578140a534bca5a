/// A matrix of `Float`s stored row by row: one row per sample, one column per feature or output.
public struct FloatMatrix: Sendable, Equatable {
  /// Number of rows (samples).
  public let rows: Int
  /// Number of columns (features or outputs).
  public let columns: Int
  /// The values, row after row: element (r, c) is at `r * columns + c`.
  public private(set) var values: [Float]

  /// A `rows`×`columns` matrix of `values` given row after row.
  public init(rows: Int, columns: Int, values: [Float]) {
    precondition(rows >= 0 && columns >= 0, "FloatMatrix: negative size \(rows)×\(columns)")
    precondition(
      values.count == rows * columns, "FloatMatrix: \(rows)×\(columns) needs \(rows * columns) values")
    self.rows = rows
    self.columns = columns
    self.values = values
  }

  /// A matrix of `rows`, which must all have the same length.
  public init(_ rows: [[Float]]) {
    let columns = rows.first?.count ?? 0
    precondition(rows.allSatisfy { $0.count == columns }, "FloatMatrix: rows of different lengths")
    self.init(rows: rows.count, columns: columns, values: rows.flatMap { $0 })
  }

  /// Element (`row`, `column`).
  public subscript(row: Int, column: Int) -> Float {
    get {
      precondition(column >= 0 && column < columns, "FloatMatrix: column \(column) of \(columns)")
      return values[row * columns + column]
    }
    set {
      precondition(column >= 0 && column < columns, "FloatMatrix: column \(column) of \(columns)")
      values[row * columns + column] = newValue
    }
  }

  /// Row `row` as an array.
  public func row(_ row: Int) -> [Float] {
    Array(values[row * columns..<(row + 1) * columns])
  }

  /// The rows as arrays.
  public var arrays: [[Float]] { (0..<rows).map(row) }
}
