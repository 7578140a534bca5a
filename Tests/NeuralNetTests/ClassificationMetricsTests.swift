import XCTest

@testable import NeuralNet

/// Precision, recall, F1 and the AUCs against hand computations and a plain transcription of scikit-learn's rules.
final class ClassificationMetricsTests: XCTestCase {
  private func assertScores(
    _ s: ClassScores, _ p: Double, _ r: Double, _ f: Double, _ support: Int, line: UInt = #line
  ) {
    XCTAssertEqual(s.precision, p, accuracy: 1e-12, "precision", line: line)
    XCTAssertEqual(s.recall, r, accuracy: 1e-12, "recall", line: line)
    XCTAssertEqual(s.f1, f, accuracy: 1e-12, "f1", line: line)
    XCTAssertEqual(s.support, support, "support", line: line)
  }

  func testReportMatchesHandComputation() {
    // Class 2 has no samples and one wrong prediction: 0/0 recall counts as 0.
    let report = ClassificationReport(confusion: [[5, 1, 0], [2, 3, 1], [0, 0, 0]])
    assertScores(report.classes[0], 5.0 / 7, 5.0 / 6, 10.0 / 13, 6)
    assertScores(report.classes[1], 3.0 / 4, 1.0 / 2, 6.0 / 10, 6)
    assertScores(report.classes[2], 0, 0, 0, 0)
    assertScores(report.macro, (5.0 / 7 + 3.0 / 4) / 3, 4.0 / 9, (10.0 / 13 + 0.6) / 3, 12)
    assertScores(report.weighted, (5.0 / 7 + 3.0 / 4) / 2, 2.0 / 3, (10.0 / 13 + 0.6) / 2, 12)
  }

  func testEmptyMatrixGivesZerosNotNaN() {
    let report = ClassificationReport(confusion: [[0, 0], [0, 0]])
    assertScores(report.classes[0], 0, 0, 0, 0)
    assertScores(report.macro, 0, 0, 0, 0)
    assertScores(report.weighted, 0, 0, 0, 0)
  }

  private func samples(_ pairs: [(Float, Bool)]) -> [ScoredSample] {
    pairs.map { ScoredSample(score: $0.0, positive: $0.1) }
  }

  func testAreasWithTiesMatchHandComputation() {
    // Ties at 0.8 (one of each class) and 0.6 (two negatives).
    var set = samples([
      (0.6, false), (0.9, true), (0.8, false), (0.4, false), (0.7, true), (0.8, true), (0.6, false),
      (0.5, true),
    ])
    let (roc, ap) = RankingMetrics.areas(&set)
    // Mann-Whitney with ties as halves: 11.5 of 16 pairs.
    XCTAssertEqual(try XCTUnwrap(roc), 0.71875, accuracy: 1e-12)
    // Steps in recall of 1/4 at precisions 1, 2/3, 3/4 and 4/7.
    XCTAssertEqual(try XCTUnwrap(ap), 251.0 / 336, accuracy: 1e-12)
  }

  func testAbsentClassIsUndefined() {
    var positivesOnly = samples([(0.3, true), (0.7, true)])
    let allPositive = RankingMetrics.areas(&positivesOnly)
    XCTAssertNil(allPositive.roc)
    XCTAssertEqual(allPositive.averagePrecision, 1)
    var negativesOnly = samples([(0.3, false), (0.7, false)])
    let allNegative = RankingMetrics.areas(&negativesOnly)
    XCTAssertNil(allNegative.roc)
    XCTAssertNil(allNegative.averagePrecision)
  }

  func testAllScoresTiedGiveChanceAndPrevalence() {
    var set = samples([(0.5, true), (0.5, false), (0.5, false), (0.5, true), (0.5, false)])
    let (roc, ap) = RankingMetrics.areas(&set)
    XCTAssertEqual(try XCTUnwrap(roc), 0.5, accuracy: 1e-12)
    XCTAssertEqual(try XCTUnwrap(ap), 0.4, accuracy: 1e-12)
  }

  /// scikit-learn's rules transcribed literally in Double: for each distinct score t,
  /// highest first, TP and FP count the samples with score ≥ t; ROC AUC is the trapezoid
  /// rule over (FPR, TPR) from (0, 0); AP is Σ (Rₙ − Rₙ₋₁) Pₙ with R₀ = 0.
  private func reference(_ set: [ScoredSample]) -> (roc: Double, ap: Double) {
    let thresholds = Array(Set(set.map { Double($0.score) })).sorted(by: >)
    let positives = Double(set.filter(\.positive).count)
    let negatives = Double(set.count) - positives
    var fpr = [0.0]
    var tpr = [0.0]
    var ap = 0.0
    var lastRecall = 0.0
    for t in thresholds {
      let above = set.filter { Double($0.score) >= t }
      let tp = Double(above.filter(\.positive).count)
      let fp = Double(above.count) - tp
      fpr.append(fp / negatives)
      tpr.append(tp / positives)
      ap += (tp / positives - lastRecall) * tp / (tp + fp)
      lastRecall = tp / positives
    }
    var roc = 0.0
    for i in 1..<fpr.count { roc += (fpr[i] - fpr[i - 1]) * (tpr[i] + tpr[i - 1]) / 2 }
    return (roc, ap)
  }

  func testAreasMatchTranscriptionOnRandomSetsWithTies() throws {
    var generator = SystemRandomNumberGenerator()
    for trial in 0..<50 {
      let count = Int.random(in: 2...60, using: &generator)
      // Scores on a coarse grid, so ties are common; both classes present.
      var set = (0..<count).map { i in
        ScoredSample(
          score: Float(Int.random(in: 0...8, using: &generator)) / 8,
          positive: i == 0 ? true : i == 1 ? false : Bool.random(using: &generator))
      }
      let expected = reference(set)
      let (roc, ap) = RankingMetrics.areas(&set)
      XCTAssertEqual(try XCTUnwrap(roc), expected.roc, accuracy: 1e-12, "trial \(trial)")
      XCTAssertEqual(try XCTUnwrap(ap), expected.ap, accuracy: 1e-12, "trial \(trial)")
    }
  }

  /// The validation metrics of a sigmoid classifier from its outputs: the same set as the hand computation above.
  func testClassifierMetricsFromOutputsMatchTheHandComputation() {
    let scores: [(Float, Float)] = [
      (0.6, 0), (0.9, 1), (0.8, 0), (0.4, 0), (0.7, 1), (0.8, 1), (0.6, 0), (0.5, 1),
    ]
    let outputs = Matrix(rows: 8, columns: 1)
    let targets = Matrix(rows: 8, columns: 1)
    for (r, (y, t)) in scores.enumerated() {
      outputs[r, 0] = y
      targets[r, 0] = t
    }
    let metrics = ClassifierMetrics.measure(outputs: outputs, targets: targets)
    XCTAssertEqual(
      Set(metrics.keys),
      Set(ClassifierMetrics.names + ClassifierMetrics.classNames(0) + ClassifierMetrics.classNames(1)))
    XCTAssertEqual(metrics["val_auc"] ?? 0, 0.71875, accuracy: 1e-12)
    XCTAssertEqual(metrics["val_pr_auc"] ?? 0, 251.0 / 336, accuracy: 1e-12)
    // Predicted 1 at ≥ 0.5: negatives 0.6, 0.8, 0.6 are false positives, 0.4 a true negative.
    let report = ClassificationReport(confusion: [[1, 3], [0, 4]])
    XCTAssertEqual(metrics["val_f1_macro"], report.macro.f1)
    XCTAssertEqual(metrics["val_precision_weighted"], report.weighted.precision)
    XCTAssertEqual(metrics["val_recall_macro"] ?? 0, (0.25 + 1) / 2, accuracy: 1e-12)
    // Per class, as evaluate's report gives them: class 0 precision 1/1, recall 1/4; class 1 precision 4/7.
    XCTAssertEqual(metrics["val_precision_class_0"], 1)
    XCTAssertEqual(metrics["val_recall_class_0"] ?? 0, 0.25, accuracy: 1e-12)
    XCTAssertEqual(metrics["val_precision_class_1"] ?? 0, 4.0 / 7, accuracy: 1e-12)
    XCTAssertEqual(metrics["val_f1_class_1"], report.classes[1].f1)

    // Three softmax classes: averages only, no AUC.
    let three = Matrix(rows: 3, columns: 3)
    let labels = Matrix(rows: 3, columns: 1)
    for r in 0..<3 {
      three[r, r] = 1
      labels[r, 0] = Float((r + 1) % 3 == 0 ? 0 : r)
    }
    let multi = ClassifierMetrics.measure(outputs: three, targets: labels)
    XCTAssertEqual(
      Set(multi.keys), Set(ClassifierMetrics.averageNames + (0..<3).flatMap(ClassifierMetrics.classNames)))
    XCTAssertTrue(multi.keys.allSatisfy(ClassifierMetrics.isClassifierMetric))
    XCTAssertEqual(multi["val_recall_weighted"] ?? 0, 2.0 / 3, accuracy: 1e-12)
  }
}
