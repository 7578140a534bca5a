/// How one feature column's missing values are handled (`data.missing`).
public enum ImputeStrategy: Sendable, Hashable {
  /// A missing value is an error (the default).
  case refuse
  /// The mean of the column's values in the training split.
  case mean
  /// The median of the column's values in the training split (the mean of the middle two for an even count).
  case median
  /// The most frequent value in the training split (the smallest of equally frequent ones).
  case mostFrequent
  /// A fixed value.
  case constant(Float)
}

/// One column's rule: a strategy, and whether a 0/1 indicator column records where values were missing.
public struct MissingRule: Sendable, Hashable {
  /// How missing values are filled.
  public var strategy: ImputeStrategy
  /// Whether an indicator column (1 where the value was missing) is added after the features.
  public var indicator: Bool

  /// A rule filling by `strategy`, with or without an indicator column.
  public init(_ strategy: ImputeStrategy, indicator: Bool = false) {
    self.strategy = strategy
    self.indicator = indicator
  }

  /// Missing values are an error.
  public static let refuse = MissingRule(.refuse)
}

/// Fills missing feature values (NaN) with statistics fitted on the training split, and adds indicator columns.
///
/// Applied before the feature scaling, by training, `predict` and `evaluate`
/// alike; the fitted values are saved in the checkpoint (/data/imputation).
public struct Imputer: Sendable, Hashable {
  /// Per raw feature column: the value that replaces a missing one, or NaN when the column refuses missing values.
  public var fill: [Float]
  /// Per raw feature column: whether it has an indicator column (in column order, after every feature).
  public var indicator: [Bool]

  /// An imputer with these per-column values.
  public init(fill: [Float], indicator: [Bool]) {
    precondition(fill.count == indicator.count, "fill and indicator differ in length")
    self.fill = fill
    self.indicator = indicator
  }

  /// Feature columns it reads.
  public var inputWidth: Int { fill.count }
  /// Columns it writes: the features, then one indicator column per flagged feature.
  public var outputWidth: Int { fill.count + indicator.lazy.filter { $0 }.count }

  /// Fits `rules` (one per column of `matrix`, NaN where a value is missing) to the non-missing values.
  ///
  /// Statistics are computed in Double and rounded once to Float. Returns
  /// the columns whose strategy needs a statistic but that have no value at
  /// all, so that the caller can name them.
  public static func fit(_ rules: [MissingRule], to matrix: Matrix) -> (imputer: Imputer, emptyColumns: [Int])
  {
    precondition(rules.count == matrix.columns, "one rule per column")
    var fill: [Float] = []
    var empty: [Int] = []
    for (j, rule) in rules.enumerated() {
      var values: [Float] = []
      if case .constant = rule.strategy {
      } else if rule.strategy != .refuse {
        values.reserveCapacity(matrix.rows)
        for r in 0..<matrix.rows where !matrix[r, j].isNaN { values.append(matrix[r, j]) }
        if values.isEmpty { empty.append(j) }
      }
      fill.append(statistic(rule.strategy, of: values))
    }
    return (Imputer(fill: fill, indicator: rules.map(\.indicator)), empty)
  }

  private static func statistic(_ strategy: ImputeStrategy, of values: [Float]) -> Float {
    switch strategy {
    case .refuse: return .nan
    case .constant(let v): return v
    case _ where values.isEmpty: return .nan
    case .mean:
      return Float(values.reduce(0.0) { $0 + Double($1) } / Double(values.count))
    case .median:
      let sorted = values.sorted()
      let n = sorted.count
      return n % 2 == 1 ? sorted[n / 2] : Float((Double(sorted[n / 2 - 1]) + Double(sorted[n / 2])) / 2)
    case .mostFrequent:
      let sorted = values.sorted()
      var best = sorted[0]
      var bestCount = 0
      var i = 0
      while i < sorted.count {
        var k = i
        while k < sorted.count && sorted[k] == sorted[i] { k += 1 }
        // Strictly more: among equally frequent values the smallest (first sorted) stays, as scikit-learn.
        if k - i > bestCount {
          best = sorted[i]
          bestCount = k - i
        }
        i = k
      }
      return best
    }
  }

  /// `matrix` with missing values filled and indicator columns appended; a column that refuses keeps its NaN.
  public func apply(to matrix: Matrix) -> Matrix {
    precondition(matrix.columns == inputWidth, "the imputer's width differs from the matrix's")
    let flagged = indicator.indices.filter { indicator[$0] }
    let out = Matrix(rows: matrix.rows, columns: outputWidth)
    for r in 0..<matrix.rows {
      let x = matrix.row(r)
      let y = out.row(r)
      for j in 0..<inputWidth { y[j] = x[j].isNaN ? fill[j] : x[j] }
      for (k, j) in flagged.enumerated() { y[inputWidth + k] = x[j].isNaN ? 1 : 0 }
    }
    return out
  }
}
