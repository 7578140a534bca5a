/// Samples to train or evaluate on: inputs [N, features] and targets [N, C].
///
/// C is the number of outputs, or 1 for class-index targets of `cross_entropy`.
public struct Dataset: Sendable {
  /// One row per sample.
  public let inputs: Matrix
  /// One row per sample.
  public let targets: Matrix

  /// A data set; both matrices must have the same number of rows.
  public init(inputs: Matrix, targets: Matrix) {
    precondition(inputs.rows == targets.rows, "inputs and targets differ in row count")
    self.inputs = inputs
    self.targets = targets
  }

  /// Number of samples.
  public var count: Int { inputs.rows }
  /// Number of input features.
  public var features: Int { inputs.columns }
  /// Number of target columns.
  public var targetColumns: Int { targets.columns }

  /// The samples at `indices`, in that order, copied into a new data set.
  public func subset(_ indices: [Int]) -> Dataset {
    let x = Matrix(rows: indices.count, columns: features)
    let t = Matrix(rows: indices.count, columns: targetColumns)
    for (row, index) in indices.enumerated() {
      x.row(row).update(from: inputs.row(index), count: features)
      t.row(row).update(from: targets.row(index), count: targetColumns)
    }
    return Dataset(inputs: x, targets: t)
  }
}
