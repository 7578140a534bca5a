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
}
