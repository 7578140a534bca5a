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

/// A classifier's validation metrics beyond accuracy, from every row's outputs: what the logs and `monitor` read.
public enum ClassifierMetrics {
  /// The averaged scores' names, for any number of classes.
  public static let averageNames = [
    "val_precision_macro", "val_recall_macro", "val_f1_macro",
    "val_precision_weighted", "val_recall_weighted", "val_f1_weighted",
  ]
  /// The ranking metrics' names, for two classes: ROC AUC and PR AUC (average precision).
  public static let rankingNames = ["val_auc", "val_pr_auc"]
  /// Every averaged or ranking name, in the order above (the `monitor` choices).
  public static let names = averageNames + rankingNames

  /// The per-class scores' names for class index `k` (the order of the checkpoint's labels
  /// and of `predict`'s `p_<class>` columns): `val_precision_class_k`, recall, F1.
  public static func classNames(_ k: Int) -> [String] {
    ["val_precision_class_\(k)", "val_recall_class_\(k)", "val_f1_class_\(k)"]
  }

  /// Whether `name` is one of these metrics (averaged, ranking or per class): what the
  /// logs carry and the terminal's epoch line leaves out.
  public static func isClassifierMetric(_ name: String) -> Bool {
    names.contains(name)
      || ["val_precision_class_", "val_recall_class_", "val_f1_class_"].contains { name.hasPrefix($0) }
  }

  /// The metrics of `outputs` ([N, O]) against `targets` ([N, C]): the report's per-class
  /// scores, macro and weighted averages and, for two classes, ROC AUC and PR AUC (NaN when undefined: one class absent).
  ///
  /// A row's predicted class is the largest output (one sigmoid output: 1 when ≥ 0.5),
  /// its true class its class index or one-hot column, as `evaluate` counts them;
  /// the positive class is the second, scored by the last output.
  public static func measure(outputs: Matrix, targets: Matrix) -> [String: Double] {
    let width = outputs.columns
    let classes = max(width, 2)
    var confusion = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
    var scores: [ScoredSample] = []
    if classes == 2 { scores.reserveCapacity(outputs.rows) }
    for r in 0..<outputs.rows {
      let y = outputs.row(r)
      let predicted = width == 1 ? (y[0] >= 0.5 ? 1 : 0) : argmax(y, count: width)
      let t = targets.row(r)
      let expected =
        targets.columns == 1 ? Int(t[0] >= 0 ? t[0].rounded() : 0) : argmax(t, count: targets.columns)
      if expected < classes { confusion[expected][predicted] += 1 }
      if classes == 2 { scores.append(ScoredSample(score: y[width - 1], positive: expected == 1)) }
    }
    let report = ClassificationReport(confusion: confusion)
    var metrics: [String: Double] = [
      "val_precision_macro": report.macro.precision, "val_recall_macro": report.macro.recall,
      "val_f1_macro": report.macro.f1, "val_precision_weighted": report.weighted.precision,
      "val_recall_weighted": report.weighted.recall, "val_f1_weighted": report.weighted.f1,
    ]
    for (k, scores) in report.classes.enumerated() {
      let names = classNames(k)
      metrics[names[0]] = scores.precision
      metrics[names[1]] = scores.recall
      metrics[names[2]] = scores.f1
    }
    if classes == 2 {
      let (roc, ap) = RankingMetrics.areas(&scores)
      metrics["val_auc"] = roc ?? .nan
      metrics["val_pr_auc"] = ap ?? .nan
    }
    return metrics
  }
}
