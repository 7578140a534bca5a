/// What a model is for: picks its metrics and how targets are read.
public enum LearningTask: String, Sendable, CaseIterable, Codable {
  /// Class labels; accuracy is reported.
  case classification
  /// Real-valued targets; MAE and R² are reported.
  case regression
}

/// Which per-column statistics an affine scaling is fitted to.
public enum Scaling: String, Sendable, CaseIterable, Codable {
  /// Values as they are.
  case none
  /// (x − min) / (max − min) per column.
  case minmax
  /// (x − mean) / std per column.
  case standardize
}

/// Per-column affine scaling x' = (x − shift) · factor, fitted on training data.
///
/// One type for input features and regression targets: training sees scaled
/// values; `predict` undoes the target scaling and metrics report MAE and R²
/// in the targets' own units through `original(_:column:)`.
public struct AffineScaler: Sendable, Hashable {
  /// Which statistics.
  public var kind: Scaling
  /// Per-column shift (min or mean); empty for `.none`.
  public var shift: [Float]
  /// Per-column factor (1 / range or 1 / std); empty for `.none`.
  public var factor: [Float]

  /// A scaling with these per-column statistics.
  public init(kind: Scaling, shift: [Float], factor: [Float]) {
    precondition(shift.count == factor.count, "shift and factor differ in length")
    self.kind = kind
    self.shift = shift
    self.factor = factor
  }

  /// The scaling that changes nothing.
  public static let identity = AffineScaler(kind: .none, shift: [], factor: [])

  /// Whether the scaling changes values.
  public var isIdentity: Bool { kind == .none }

  /// Fits `kind` to the columns of `matrix`.
  public static func fit(_ kind: Scaling, to matrix: Matrix) -> AffineScaler {
    fitReporting(kind, to: matrix).scaler
  }

  /// Fits `kind` to the columns of `matrix`; also returns the (near-)constant columns.
  ///
  /// Statistics are computed in Double, the variance in two passes
  /// (Σ(x − mean)² / n after the mean), which is exact for a constant column;
  /// the one-pass E[x²] − mean² cancels catastrophically and gave a constant
  /// column a factor of 2e8. A column whose spread is within Float rounding
  /// of its magnitude (std or range ≤ 2⁻²³ · max |x|) carries no signal the
  /// model could use, only rounding noise: it gets factor 1 (it is shifted
  /// only), and its index is returned so that the caller can warn.
  public static func fitReporting(_ kind: Scaling, to matrix: Matrix) -> (
    scaler: AffineScaler, constantColumns: [Int]
  ) {
    var statistics = ScalingStatistics(kind: kind, columns: matrix.columns)
    statistics.first(matrix, rows: matrix.rows)
    if statistics.needsSecondPass { statistics.second(matrix, rows: matrix.rows) }
    return statistics.finish()
  }

  /// Applies the scaling to the columns of `matrix` in place.
  public func apply(to matrix: Matrix) {
    apply(to: matrix, rows: 0..<matrix.rows)
  }

  /// Applies the scaling to rows `rows` of `matrix` in place (a rank's rows of a streamed window).
  public func apply(to matrix: Matrix, rows: Range<Int>) {
    guard kind != .none, shift.count == matrix.columns else { return }
    for r in rows {
      let row = matrix.row(r)
      for j in 0..<matrix.columns { row[j] = scaled(row[j], column: j) }
    }
  }

  /// The scaled value (x − shift) · factor of `value` in column `column`, in Float as training computes it.
  @inline(__always)
  public func scaled(_ value: Float, column: Int) -> Float {
    (value - shift[column]) * factor[column]
  }

  /// Undoes the scaling of the columns of `matrix` in place: x = x' / factor + shift.
  public func restore(_ matrix: Matrix) {
    guard kind != .none, shift.count == matrix.columns else { return }
    for r in 0..<matrix.rows {
      let row = matrix.row(r)
      for j in 0..<matrix.columns { row[j] = restored(row[j], column: j) }
    }
  }

  /// The restored value x' / factor + shift of `value` in column `column`, in Float as `predict` prints it.
  @inline(__always)
  public func restored(_ value: Float, column: Int) -> Float {
    value / factor[column] + shift[column]
  }

  /// The original value of scaled value `value` in column `column`, in Double.
  @inline(__always)
  public func original(_ value: Float, column: Int) -> Double {
    Double(value) / Double(factor[column]) + Double(shift[column])
  }
}

/// A scaling's statistics gathered block by block (`first` over every row, then `second`
/// for standardize), then fitted (`finish`).
///
/// The one fit of nnbatch: `AffineScaler.fitReporting` runs it over a whole
/// matrix as one block, and streamed data over the file's blocks; the same
/// Double sums in the same row order give the same scaling either way.
public struct ScalingStatistics: Sendable {
  /// The scaling being fitted.
  public let kind: Scaling
  /// Columns of the rows seen.
  public let columns: Int
  private var rows = 0
  private var low: [Float]
  private var high: [Float]
  private var sum: [Double]
  private var mean: [Double] = []
  private var squares: [Double]

  /// Statistics of `kind` for `columns` columns, before any row.
  public init(kind: Scaling, columns: Int) {
    self.kind = kind
    self.columns = columns
    low = [Float](repeating: .infinity, count: columns)
    high = [Float](repeating: -.infinity, count: columns)
    sum = [Double](repeating: 0, count: columns)
    squares = [Double](repeating: 0, count: columns)
  }

  /// Whether `second` must see every row again (the variance's second pass).
  public var needsSecondPass: Bool { kind == .standardize }

  /// Min, max and sums of `rows` rows of `block` [≥ rows, columns].
  public mutating func first(_ block: Matrix, rows count: Int) {
    guard kind != .none else { return }
    for r in 0..<count {
      let row = block.row(r)
      for j in 0..<columns {
        low[j] = min(low[j], row[j])
        high[j] = max(high[j], row[j])
      }
    }
    if kind == .standardize {
      for r in 0..<count {
        let row = block.row(r)
        for j in 0..<columns { sum[j] += Double(row[j]) }
      }
    }
    rows += count
  }

  /// Squared deviations from the mean of `rows` rows of `block`.
  public mutating func second(_ block: Matrix, rows count: Int) {
    if mean.isEmpty {
      let n = Double(rows)
      mean = sum.map { $0 / n }
    }
    for r in 0..<count {
      let row = block.row(r)
      for j in 0..<columns {
        let d = Double(row[j]) - mean[j]
        squares[j] += d * d
      }
    }
  }

  /// The fitted scaling and its (near-)constant columns, for `AffineScaler.fitReporting` and streamed data alike.
  public func finish() -> (scaler: AffineScaler, constantColumns: [Int]) {
    guard kind != .none, rows > 0 else { return (.identity, []) }
    var shift = [Float](repeating: 0, count: columns)
    var factor = [Float](repeating: 1, count: columns)
    var constant: [Int] = []
    func isConstant(_ j: Int, spread: Double) -> Bool {
      let magnitude = max(abs(Double(low[j])), abs(Double(high[j])))
      return !(spread > Double(Float.ulpOfOne) * magnitude)
    }
    switch kind {
    case .none:
      break
    case .minmax:
      for j in 0..<columns {
        shift[j] = low[j]
        // A range past Float's (−3e38 to 3e38) is inf in Float, whose inverse 0 would erase
        // the column: only then the range is taken in Double. Every finite range keeps
        // its Float division, so no earlier run's scaling changes.
        let range = high[j] - low[j]
        let inverse = range.isFinite ? 1 / range : Float(1 / (Double(high[j]) - Double(low[j])))
        if isConstant(j, spread: Double(high[j]) - Double(low[j])) || !inverse.isFinite {
          constant.append(j)
        } else {
          factor[j] = inverse
        }
      }
    case .standardize:
      let n = Double(rows)
      for j in 0..<columns {
        shift[j] = Float(sum[j] / n)
        let std = (squares[j] / n).squareRoot()
        if isConstant(j, spread: std) || !Float(1 / std).isFinite {
          constant.append(j)
        } else {
          factor[j] = Float(1 / std)
        }
      }
    }
    return (AffineScaler(kind: kind, shift: shift, factor: factor), constant)
  }
}
