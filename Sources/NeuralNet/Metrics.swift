/// Additive sums from which loss and metrics of an evaluation are computed.
///
/// Shards fill one each; adding them in shard order gives the same bits
/// whatever the thread count.
public struct MetricSums: Sendable, Hashable {
  /// Σ per-sample loss.
  public var loss: Double = 0
  /// Number of samples.
  public var samples: Int = 0
  /// Samples whose predicted class equals the target class.
  public var correct: Int = 0
  /// Σ |y − t| over all outputs.
  public var absoluteError: Double = 0
  /// Σ (y − t)² over all outputs.
  public var squaredError: Double = 0
  /// Σ t over all outputs.
  public var targetSum: Double = 0
  /// Σ t² over all outputs.
  public var targetSquareSum: Double = 0
  /// Number of output values compared.
  public var elements: Int = 0
  /// Samples with a non-finite output (after restoring scaled targets, in Float as `predict` prints them).
  ///
  /// The sums of such a set mean nothing: `evaluate` stops and names the row.
  public var nonFiniteSamples: Int = 0

  /// Empty sums.
  public init() {}

  /// Adds `other` into `self`.
  public mutating func add(_ other: MetricSums) {
    loss += other.loss
    samples += other.samples
    correct += other.correct
    absoluteError += other.absoluteError
    squaredError += other.squaredError
    targetSum += other.targetSum
    targetSquareSum += other.targetSquareSum
    elements += other.elements
    nonFiniteSamples += other.nonFiniteSamples
  }

  /// Sums for `rows` outputs Y [rows, outputs] against targets T [rows, targetColumns].
  ///
  /// The loss is in the units the network was trained in; with
  /// `targetScale`, the regression sums (MAE, R²) are in the original units.
  public static func measure(
    loss: Loss, output: UnsafePointer<Float>, targets: UnsafePointer<Float>,
    targetColumns: Int, rows: Int, outputs: Int, targetScale scaler: AffineScaler? = nil
  ) -> MetricSums {
    // The identity scaler has no per-column statistics to index.
    let targetScale = scaler?.isIdentity == false ? scaler : nil
    var sums = MetricSums()
    sums.loss = loss.sum(
      output: output, targets: targets, targetColumns: targetColumns, rows: rows,
      outputs: outputs)
    sums.samples = rows
    // As `restore` does: only a scaler with one column per output changes them.
    let restoring = targetScale.flatMap { $0.shift.count == outputs ? $0 : nil }
    for r in 0..<rows {
      let y = output + r * outputs
      let t = targets + r * targetColumns
      for o in 0..<outputs where !(restoring?.restored(y[o], column: o) ?? y[o]).isFinite {
        sums.nonFiniteSamples += 1
        break
      }
      if outputs > 1 {
        let predicted = argmax(y, count: outputs)
        let expected = targetColumns == 1 ? Int(t[0]) : argmax(t, count: targetColumns)
        if predicted == expected { sums.correct += 1 }
      } else if (y[0] >= 0.5) == (t[0] >= 0.5) {
        sums.correct += 1
      }
      if targetColumns == outputs {
        for o in 0..<outputs {
          let predicted = targetScale?.original(y[o], column: o) ?? Double(y[o])
          let target = targetScale?.original(t[o], column: o) ?? Double(t[o])
          let d = predicted - target
          sums.absoluteError += abs(d)
          sums.squaredError += d * d
          sums.targetSum += target
          sums.targetSquareSum += target * target
        }
        sums.elements += outputs
      }
    }
    return sums
  }

  /// The batch loss under `loss`'s reduction.
  public func reducedLoss(_ loss: Loss) -> Double {
    loss.reduction == .sum ? self.loss : self.loss / Double(max(samples, 1))
  }

  /// Fraction of samples classified correctly.
  public var accuracy: Double { Double(correct) / Double(max(samples, 1)) }

  /// Mean absolute error over all outputs.
  public var meanAbsoluteError: Double { absoluteError / Double(max(elements, 1)) }

  /// Coefficient of determination 1 − SS_res / SS_tot over all outputs.
  public var rSquared: Double {
    let n = Double(max(elements, 1))
    let total = targetSquareSum - targetSum * targetSum / n
    return total > 0 ? 1 - squaredError / total : 0
  }
}

/// Index of the largest of `count` values (the first one on ties).
@inline(__always)
public func argmax(_ values: UnsafePointer<Float>, count: Int) -> Int {
  var best = 0
  for i in 1..<max(count, 1) where values[i] > values[best] { best = i }
  return best
}
