import Checkpoints
import Foundation
import TestSupport
import XCTest

/// The commands on the committed version-2 checkpoints, written by the build before the
/// second redesign (Tests/Fixtures/v2/README.md): files users already have must keep working.
final class Version2FixtureTests: XCTestCase {
  static let folder = "Tests/Fixtures/v2"

  private struct Run {
    let name: String
    let middle: Int
    let end: Int
    var config: String { "\(Version2FixtureTests.folder)/\(name).json" }
    func file(_ step: Int) -> String {
      "\(Version2FixtureTests.folder)/\(name)-\(CheckpointStore.fileName(step: step))"
    }
  }

  private static let runs = [
    Run(name: "flowers-v2", middle: 25, end: 60), Run(name: "cnn-dropout-v2", middle: 7, end: 15),
  ]

  private func run(_ arguments: [String]) throws -> ProcessResult {
    try nnbatch(arguments, in: repositoryRoot)
  }

  func testInspectEvaluateAndExportReadEveryFixture() throws {
    let dir = TemporaryDirectory()
    for fixture in Self.runs {
      for step in [fixture.middle, fixture.end] {
        let file = fixture.file(step)
        let inspect = try run(["inspect", file])
        XCTAssertEqual(inspect.status, 0, inspect.stderr)
        XCTAssertTrue(inspect.stdout.contains("nnbatch-checkpoint v2"), inspect.stdout)
        XCTAssertTrue(inspect.stdout.contains("step \(step)"), inspect.stdout)
        let evaluate = try run(["evaluate", "--checkpoint", file])
        XCTAssertEqual(evaluate.status, 0, evaluate.stderr)
        XCTAssertTrue(evaluate.stdout.contains("accuracy"), evaluate.stdout)
        let export = try run([
          "export", file, "--format", "onnx", "-o", dir.file("\(fixture.name)-\(step).onnx"),
        ])
        XCTAssertEqual(export.status, 0, export.stderr)
      }
    }
  }

  func testPredictReadsTheDenseFixture() throws {
    let dir = TemporaryDirectory()
    let input = dir.write("in.csv", "5.1,3.5,1.4,0.2\n6.7,3.1,5.6,2.4\n")
    let result = try run(["predict", "--checkpoint", Self.runs[0].file(60), "--input", input])
    XCTAssertEqual(result.status, 0, result.stderr)
    let lines = result.stdout.split(separator: "\n")
    XCTAssertEqual(lines.first, "label,p_setosa,p_versicolor,p_virginica")
    XCTAssertEqual(lines.count, 3)
  }

  /// Resuming each mid-epoch fixture reaches its run's end: bit for bit when this machine's
  /// kernels are the ones that wrote the fixtures, else to a stated tolerance (another
  /// instruction set rounds its sums differently; the contract is per machine).
  func testResumingEachMidEpochFixtureReachesItsRunsEnd() throws {
    let dir = TemporaryDirectory()
    for fixture in Self.runs {
      let result = try run([
        "--config", fixture.config, "--checkpoint-dir", dir.file(fixture.name), "--resume",
        fixture.file(fixture.middle), "--quiet", "--threads", "3",
      ])
      XCTAssertEqual(result.status, 0, result.stderr)
      let resumed = try Checkpoint.read(
        from: dir.file("\(fixture.name)/\(CheckpointStore.fileName(step: fixture.end))"))
      let end = try Checkpoint.read(from: "\(repositoryRoot)/\(fixture.file(fixture.end))")
      XCTAssertEqual(resumed.counters.step, end.counters.step)
      XCTAssertEqual(resumed.counters.samplesSeen, end.counters.samplesSeen)
      XCTAssertEqual(resumed.lossHistory.count, end.lossHistory.count)
      if end.kernels == KernelProvenance.current {
        XCTAssertEqual(resumed.bitwiseDifferences(from: end), [], fixture.name)
      } else {
        XCTAssertEqual(resumed.parameters.count, end.parameters.count)
        for (index, (now, then)) in zip(resumed.parameters, end.parameters).enumerated()
        where abs(now - then) > 1e-3 * max(1, abs(then)) {
          XCTFail("\(fixture.name): parameter \(index) is \(now), the fixture's end has \(then)")
          break
        }
      }
    }
  }
}
