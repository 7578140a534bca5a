/// Precision, recall, F1 and support of one class, or an average of them.
public struct ClassScores: Sendable, Hashable {
  /// TP / (TP + FP), 0 when nothing was predicted as the class.
  public var precision: Double
  /// TP / (TP + FN), 0 when the class has no samples.
  public var recall: Double
  /// 2·TP / (2·TP + FP + FN), the harmonic mean of the two; 0 when both are 0.
  public var f1: Double
  /// Samples whose true class this is (for an average: all samples).
  public var support: Int

  /// Scores as given.
  public init(precision: Double, recall: Double, f1: Double, support: Int) {
    self.precision = precision
    self.recall = recall
    self.f1 = f1
    self.support = support
  }
}

/// Per-class precision, recall and F1 of a confusion matrix, with their macro and weighted averages.
///
/// As scikit-learn's `classification_report` with `zero_division=0`: a ratio
/// whose denominator is 0 counts as 0, so a class never predicted has precision
/// 0 and a class without samples has recall 0 (and they still count in the macro average).
public struct ClassificationReport: Sendable, Hashable {
  /// One entry per class, in the matrix's order.
  public let classes: [ClassScores]
  /// The unweighted mean over classes.
  public let macro: ClassScores
  /// The mean over classes weighted by their support.
  public let weighted: ClassScores

  /// The report of `confusion` (rows: true class, columns: predicted class; square).
  public init(confusion: [[Int]]) {
    let n = confusion.count
    func ratio(_ a: Int, _ b: Int) -> Double { b == 0 ? 0 : Double(a) / Double(b) }
    let classes = (0..<n).map { k in
      let tp = confusion[k][k]
      let support = confusion[k].reduce(0, +)
      let predicted = confusion.reduce(0) { $0 + $1[k] }
      let fp = predicted - tp
      let fn = support - tp
      return ClassScores(
        precision: ratio(tp, predicted), recall: ratio(tp, support), f1: ratio(2 * tp, 2 * tp + fp + fn),
        support: support)
    }
    self.classes = classes
    macro = Self.average(classes) { _ in 1 }
    weighted = Self.average(classes) { Double($0.support) }
  }

  /// The mean of `classes`' scores weighted by `weight` (0 when the weights add up to 0), support their total.
  private static func average(_ classes: [ClassScores], weight: (ClassScores) -> Double) -> ClassScores {
    let weights = classes.reduce(0.0) { $0 + weight($1) }
    func mean(_ value: (ClassScores) -> Double) -> Double {
      weights == 0 ? 0 : classes.reduce(0.0) { $0 + weight($1) * value($1) } / weights
    }
    return ClassScores(
      precision: mean(\.precision), recall: mean(\.recall), f1: mean(\.f1),
      support: classes.reduce(0) { $0 + $1.support })
  }
}

/// One sample of a binary task: the model's score for the positive class, and whether it is positive.
public struct ScoredSample: Sendable, Hashable {
  /// The positive class's probability.
  public var score: Float
  /// True when the sample's true class is the positive one.
  public var positive: Bool

  /// A sample as given.
  public init(score: Float, positive: Bool) {
    self.score = score
    self.positive = positive
  }
}

/// ROC AUC and average precision (PR AUC) of a binary task, as scikit-learn computes them.
public enum RankingMetrics {
  /// Areas under the ROC and precision-recall curves of `samples`, which are sorted in place.
  ///
  /// Thresholds are the distinct scores, highest first; samples with equal
  /// scores form one step. ROC AUC is the trapezoid rule over the (FPR, TPR)
  /// points from (0, 0) (`roc_auc_score`); average precision is
  /// Σ (Rₙ − Rₙ₋₁) Pₙ over the same thresholds with R₀ = 0 (`average_precision_score`).
  /// ROC AUC is nil unless both classes occur; average precision is nil without a positive sample.
  public static func areas(_ samples: inout [ScoredSample]) -> (roc: Double?, averagePrecision: Double?) {
    samples.sort { $0.score > $1.score }
    let positives = samples.reduce(0) { $0 + ($1.positive ? 1 : 0) }
    let negatives = samples.count - positives
    var tp = 0
    var fp = 0
    var roc = 0.0
    var ap = 0.0
    var lastTPR = 0.0
    var lastFPR = 0.0
    var lastRecall = 0.0
    var i = 0
    while i < samples.count {
      let score = samples[i].score
      // The whole run of equal scores crosses the threshold at once.
      while i < samples.count && samples[i].score == score {
        if samples[i].positive { tp += 1 } else { fp += 1 }
        i += 1
      }
      if positives > 0 && negatives > 0 {
        let tpr = Double(tp) / Double(positives)
        let fpr = Double(fp) / Double(negatives)
        roc += (fpr - lastFPR) * (tpr + lastTPR) / 2
        lastTPR = tpr
        lastFPR = fpr
      }
      if positives > 0 {
        let recall = Double(tp) / Double(positives)
        ap += (recall - lastRecall) * Double(tp) / Double(tp + fp)
        lastRecall = recall
      }
    }
    return (positives > 0 && negatives > 0 ? roc : nil, positives > 0 ? ap : nil)
  }
}
