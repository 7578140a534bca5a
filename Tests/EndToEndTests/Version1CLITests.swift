import Checkpoints
import Foundation
import HDF5Store
import TestSupport
import XCTest

/// The commands on the committed version-1 checkpoint (its config's data path is relative to the repository).
final class Version1CLITests: XCTestCase {
  static let config = "Tests/Fixtures/v1/flowers-v1.json"
  static let fixture = "Tests/Fixtures/v1/step-000000025.h5"
  static let end = "Tests/Fixtures/v1/step-000000060.h5"

  private func run(_ arguments: [String]) throws -> ProcessResult {
    try nnbatch(arguments, in: repositoryRoot)
  }

  func testInspectPredictAndEvaluateReadVersion1() throws {
    let inspect = try run(["inspect", Self.fixture])
    XCTAssertEqual(inspect.status, 0, inspect.stderr)
    for fragment in [
      "nnbatch-checkpoint v1", "layer_0  dense  [32]                 160  [4, 32]  relu",
      "layer_2  dense  [3]                   51  [16, 3]  softmax", " 739  all trainable",
      "step 25, epoch 2 in progress (10 batches done), 800 samples seen",
      "labels setosa,versicolor,virginica",
    ] {
      XCTAssertTrue(inspect.stdout.contains(fragment), "inspect lacks \(fragment):\n\(inspect.stdout)")
    }
    let json = try run(["inspect", Self.fixture, "--json"])
    let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
    XCTAssertEqual(object["format_version"] as? Int, 1)
    XCTAssertEqual(object["step"] as? Int, 25)

    // predict: the same answers from the version-1 file and from its version-2 rewrite.
    let dir = TemporaryDirectory()
    let rows = try String(contentsOfFile: "\(repositoryRoot)/configs/data/flowers.csv", encoding: .utf8)
      .split(whereSeparator: \.isNewline).prefix(7).map {
        $0.split(separator: ",").prefix(4).joined(separator: ",")
      }
    let input = dir.write("in.csv", rows.joined(separator: "\n") + "\n")
    let v2 = dir.file("v2.h5")
    try Checkpoint.read(from: "\(repositoryRoot)/\(Self.fixture)").write(to: v2)
    let fromV1 = try run(["predict", "--checkpoint", Self.fixture, "--input", input])
    XCTAssertEqual(fromV1.status, 0, fromV1.stderr)
    let lines = fromV1.stdout.split(separator: "\n")
    XCTAssertEqual(lines.first, "label,p_setosa,p_versicolor,p_virginica")
    XCTAssertEqual(lines.count, 7)
    for line in lines.dropFirst() {
      XCTAssertTrue(
        ["setosa", "versicolor", "virginica"].contains(String(line.split(separator: ",")[0])), "\(line)")
    }
    let fromV2 = try run(["predict", "--checkpoint", v2, "--input", input])
    XCTAssertEqual(fromV2.stdout, fromV1.stdout)

    let evaluate = try run(["evaluate", "--checkpoint", Self.fixture])
    XCTAssertEqual(evaluate.status, 0, evaluate.stderr)
    XCTAssertTrue(
      evaluate.stdout.contains("on the checkpoint's validation data: 120 samples"), evaluate.stdout)
    XCTAssertTrue(evaluate.stdout.contains("accuracy"), evaluate.stdout)
    // The same report but for the first line, which names the file.
    let again = try run(["evaluate", "--checkpoint", v2])
    XCTAssertEqual(
      again.stdout.split(separator: "\n").dropFirst(), evaluate.stdout.split(separator: "\n").dropFirst())
  }

  func testResumingVersion1AndItsVersion2RewriteEndBitIdentical() throws {
    let dir = TemporaryDirectory()
    // The same state written by this build as version 2.
    try FileManager.default.createDirectory(atPath: dir.file("v2"), withIntermediateDirectories: true)
    let rewritten = dir.file("v2/step-000000025.h5")
    try Checkpoint.read(from: "\(repositoryRoot)/\(Self.fixture)").write(to: rewritten)
    XCTAssertEqual(try CheckpointFile.read(rewritten).formatVersion, 2)

    for (source, folder) in [(Self.fixture, "from-v1"), (rewritten, "from-v2")] {
      let result = try run([
        "--config", Self.config, "--checkpoint-dir", dir.file(folder), "--resume", source, "--quiet",
        "--threads", "2",
      ])
      XCTAssertEqual(result.status, 0, result.stderr)
    }
    let fromV1 = try XCTUnwrap(try CheckpointStore(directory: dir.file("from-v1")).newestValid()).checkpoint
    let fromV2 = try XCTUnwrap(try CheckpointStore(directory: dir.file("from-v2")).newestValid()).checkpoint
    XCTAssertEqual(fromV1.counters.step, 60)
    XCTAssertEqual(fromV1.bitwiseDifferences(from: fromV2), [])
    // And close to the end of the run that wrote the fixture (version 1, by the previous code).
    // Not bitwise: that build ran its products on OpenBLAS, this one on oneDNN,
    // a different GEMM kernel whose f32 sums round differently. Position and
    // history length still match exactly; values agree to a stated tolerance.
    let end = try Checkpoint.read(from: "\(repositoryRoot)/\(Self.end)")
    XCTAssertEqual(fromV1.counters.step, end.counters.step)
    XCTAssertEqual(fromV1.counters.samplesSeen, end.counters.samplesSeen)
    XCTAssertEqual(fromV1.parameters.count, end.parameters.count)
    XCTAssertEqual(fromV1.lossHistory.count, end.lossHistory.count)
    let tolerance: Float = 1e-3
    for (index, (now, then)) in zip(fromV1.parameters, end.parameters).enumerated() {
      XCTAssertEqual(now, then, accuracy: tolerance * max(1, abs(then)), "parameter \(index)")
      if abs(now - then) > tolerance * max(1, abs(then)) { break }
    }
    for (step, (now, then)) in zip(fromV1.lossHistory, end.lossHistory).enumerated() {
      XCTAssertEqual(now, then, accuracy: 1e-4 * max(1, abs(then)), "loss of step \(step)")
    }
  }

  /// A second version-1 run: regression with scaled targets, SGD with Nesterov momentum and
  /// clipping, a cosine schedule, early stopping and keep_best, saved mid-epoch.
  func testResumingARegressionVersion1CheckpointMatchesThePreviousBuildsRun() throws {
    let folder = "Tests/Fixtures/v1-regression"
    let fixture = try Checkpoint.read(from: "\(repositoryRoot)/\(folder)/step-000000015.h5")
    XCTAssertEqual(fixture.data.task, .regression)
    XCTAssertEqual(fixture.data.targets.kind, .standardize)
    XCTAssertEqual(fixture.optimizer.settings.flag("nesterov"), true)
    XCTAssertEqual(fixture.optimizer.settings.clipNorm, 1)
    XCTAssertEqual(fixture.counters.batchInEpoch, 5)
    XCTAssertNotNil(fixture.counters.best)

    let dir = TemporaryDirectory()
    let result = try run([
      "--config", "\(folder)/housing-v1.json", "--checkpoint-dir", dir.path, "--resume",
      "\(folder)/step-000000015.h5", "--quiet", "--threads", "3",
    ])
    XCTAssertEqual(result.status, 0, result.stderr)
    let resumed = try Checkpoint.read(from: dir.file("step-000000030.h5"))
    let end = try Checkpoint.read(from: "\(repositoryRoot)/\(folder)/step-000000030.h5")
    XCTAssertEqual(resumed.bitwiseDifferences(from: end), [])
  }

  func testANewerFormatVersionIsRefusedNamingBothVersions() throws {
    let dir = TemporaryDirectory()
    var tree = try Checkpoint.read(from: "\(repositoryRoot)/\(Self.fixture)").encode()
    tree.attributes["format_version"] = .integer(3)
    Checkpoint.seal(&tree)
    let path = dir.file("v3.h5")
    try FileSystem.writeOutput(path, bytes: Checkpoint.fileImage(tree, name: path))
    for command in [["inspect", path], ["predict", "--checkpoint", path, "--input", path]] {
      let result = try run(command)
      XCTAssertEqual(result.status, 2, result.stderr)
      XCTAssertEqual(
        result.stderr.trimmingCharacters(in: .newlines),
        "error: \(path): format version 3 is newer than this build reads (1...2); use a newer nnbatch")
    }
  }
}
