/// Per-class weights of the training loss (`training.class_weight`).
///
/// A row weighs w_c for its class c: its class index, the column of a one-hot
/// row (the largest entry), or for one sigmoid output class 1 when t ≥ 0.5,
/// else class 0 (the rule accuracy uses). With weights, a mean loss is
/// Σ w_c(i) ℓ_i / Σ w_c(i) over the batch (PyTorch's
/// `CrossEntropyLoss(weight=...)`); a sum loss is Σ w_c(i) ℓ_i.
public struct ClassWeights: Sendable, Hashable {
  /// One weight per class, in class-index order (two for one sigmoid output).
  public let weights: [Float]

  /// Weights as given.
  public init(_ weights: [Float]) {
    self.weights = weights
  }

  /// scikit-learn's "balanced": n / (classes · count_c) for `counts` samples per class.
  ///
  /// Returns the index of the first class without samples instead (its weight would be infinite).
  public static func balanced(counts: [Int]) -> Result<ClassWeights, EmptyClass> {
    let total = counts.reduce(0, +)
    if let empty = counts.firstIndex(of: 0) { return .failure(EmptyClass(index: empty)) }
    let classes = Double(counts.count)
    return .success(ClassWeights(counts.map { Float(Double(total) / (classes * Double($0))) }))
  }

  /// A class with no training samples, which "balanced" cannot weigh.
  public struct EmptyClass: Error, Sendable, Hashable {
    /// The class index.
    public let index: Int
  }

  /// The class of target row `t` (see the type's notes).
  @inline(__always)
  public static func classIndex(_ t: UnsafePointer<Float>, targetColumns: Int, outputs: Int) -> Int {
    if outputs == 1 { return t[0] >= 0.5 ? 1 : 0 }
    if targetColumns == 1 { return Loss.classIndex(t[0], outputs: outputs) }
    return argmax(t, count: targetColumns)
  }

  /// Samples per class of `rows` target rows (`classes` classes).
  public static func counts(
    targets: UnsafePointer<Float>, targetColumns: Int, rows: Int, outputs: Int, classes: Int
  ) -> [Int] {
    var counts = [Int](repeating: 0, count: classes)
    for r in 0..<rows {
      let c = classIndex(targets + r * targetColumns, targetColumns: targetColumns, outputs: outputs)
      if c < classes { counts[c] += 1 }
    }
    return counts
  }

  /// The weight of target row `t`.
  @inline(__always)
  public func weight(ofRow t: UnsafePointer<Float>, targetColumns: Int, outputs: Int) -> Float {
    weights[Self.classIndex(t, targetColumns: targetColumns, outputs: outputs)]
  }

  /// Σ of the weights of `rows` target rows, in row order: a mean loss's normaliser.
  public func sum(targets: UnsafePointer<Float>, targetColumns: Int, rows: Int, outputs: Int) -> Double {
    var total = 0.0
    for r in 0..<rows {
      total += Double(
        weight(ofRow: targets + r * targetColumns, targetColumns: targetColumns, outputs: outputs))
    }
    return total
  }
}
