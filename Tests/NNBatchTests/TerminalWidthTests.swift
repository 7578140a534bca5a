import NNBatchCore
import XCTest

@testable import NNBatch

/// Progress lines fit any width: fields go in a fixed order, and only then is the line cut.
final class TerminalWidthTests: XCTestCase {
  func testFitLineDropsTheHighestRankFirstAndCutsOnlyWhatCannotFit() {
    let fields = [
      LineField("epoch 3/10"), LineField("step 30", dropRank: 1), LineField("1234 samples/s", dropRank: 2),
    ]
    XCTAssertEqual(fitLine(fields, width: 100), "epoch 3/10 step 30 1234 samples/s")
    XCTAssertEqual(fitLine(fields, width: 18), "epoch 3/10 step 30")
    XCTAssertEqual(fitLine(fields, width: 17), "epoch 3/10")
    XCTAssertEqual(fitLine(fields, width: 6), "epoch…")
  }

  func testTheLiveLineFitsEveryWidthAndKeepsTheLossWhileItCan() {
    let reporter = ProgressReporter(format: .text, quiet: true, epochs: 1500, logEvery: nil)
    for width in 1...140 {
      let line = reporter.liveLine(
        epoch: 1234, epochs: 1500, fraction: 0.5, batch: 17, batches: 34, step: 41_956, loss: 0.000123456,
        rate: 123_456.7, elapsed: 3725, eta: 59, width: width)
      XCTAssertLessThanOrEqual(line.count, width, line)
      if width >= 32 { XCTAssertTrue(line.contains("loss 0.000123456"), line) }
      if width >= 120 { XCTAssertTrue(line.contains("[==========          ]"), line) }
    }
  }

  func testWrapWordsBreaksLongLinesBetweenWordsAndKeepsLongWordsWhole() {
    XCTAssertEqual(wrapWords("short line\n  also short", width: 20), "short line\n  also short")
    XCTAssertEqual(
      wrapWords("done: 1500 epochs, 1500 steps; checkpoint a/b/step-000001500.h5", width: 30),
      "done: 1500 epochs, 1500 steps;\n  checkpoint\n  a/b/step-000001500.h5")
    XCTAssertEqual(wrapWords("  [1, 2] -> [3]  target [4]", width: 16), "  [1, 2] -> [3]\n    target [4]")
    XCTAssertEqual(wrapWords("x /a/very/long/path/name", width: 8), "x\n  /a/very/long/path/name")
  }

  /// The done line as the trainer builds it: "done:" opens a list, the path is a path.
  private let done = [
    LineField("done:", opensList: true), LineField("1500 epochs", openingLead: " "),
    LineField("1500 steps", dropRank: 2, lead: ", "), LineField("0.1s", dropRank: 1, lead: ", "),
    LineField("; checkpoint", lead: ""), LineField("checkpoints/xor/step-000001500.h5", isPath: true),
  ]

  func testAPipeGetsEveryFieldWithItsLead() {
    XCTAssertEqual(
      fullLine(done), "done: 1500 epochs, 1500 steps, 0.1s; checkpoint checkpoints/xor/step-000001500.h5")
  }

  func testAStatusLineKeepsTheMostUsefulFieldsThatFitThenShortensItsPath() {
    XCTAssertEqual(
      fitStatusLine(done, width: 70), "done: 1500 epochs, 0.1s; checkpoint checkpoints/xor/step-000001500.h5")
    XCTAssertEqual(
      fitStatusLine(done, width: 64), "done: 1500 epochs; checkpoint checkpoints/xor/step-000001500.h5")
    XCTAssertEqual(fitStatusLine(done, width: 53), "done: 1500 epochs; checkpoint …/xor/step-000001500.h5")
    XCTAssertEqual(fitStatusLine(done, width: 52), "done: 1500 epochs; checkpoint …/step-000001500.h5")
    // Nothing left to leave out: broken between words, never cut.
    XCTAssertEqual(fitStatusLine(done, width: 30), "done: 1500 epochs; checkpoint\n  …/step-000001500.h5")
  }

  func testAnOpeningLeadFollowsTheHeadWhicheverItemIsKeptFirst() {
    let fields = [
      LineField("final epoch 3:", opensList: true),
      LineField("val_accuracy 0.908333", dropRank: 3, lead: ", ", openingLead: " "),
      LineField("val_loss 0.217277", dropRank: 2, lead: ", ", openingLead: " "),
    ]
    XCTAssertEqual(fullLine(fields), "final epoch 3: val_accuracy 0.908333, val_loss 0.217277")
    XCTAssertEqual(fitStatusLine(fields, width: 50), "final epoch 3: val_loss 0.217277")
  }

  func testAShortTextIsTriedBeforeAFieldIsDropped() {
    let fields = [
      LineField("early stopping after epoch 43"),
      LineField(
        ": val_loss has not improved for 25 epochs", dropRank: 1, lead: "", short: ": val_loss stale"),
    ]
    XCTAssertEqual(
      fitStatusLine(fields, width: 80),
      "early stopping after epoch 43: val_loss has not improved for 25 epochs")
    XCTAssertEqual(fitStatusLine(fields, width: 50), "early stopping after epoch 43: val_loss stale")
    XCTAssertEqual(fitStatusLine(fields, width: 40), "early stopping after epoch 43")
  }

  func testDisplayWidthCountsWideCharactersTwiceAndMarksNever() {
    XCTAssertEqual(displayWidth("flowers"), 7)
    XCTAssertEqual(displayWidth("花のデータ"), 10)
    XCTAssertEqual(displayWidth("e\u{301}"), 1)
    XCTAssertEqual(displayWidth("…"), 1)
    let wide = [LineField("training 花のデータ:"), LineField("480 samples", dropRank: 1)]
    XCTAssertEqual(fitStatusLine(wide, width: 32), "training 花のデータ: 480 samples")
    XCTAssertEqual(fitStatusLine(wide, width: 31), "training 花のデータ:")
  }
}
