import Checkpoints
import Foundation
import TestSupport
import XCTest

/// Kernel provenance on the command line: `inspect` shows it, a resume under other kernels says so.
final class KernelCLITests: XCTestCase {
  func testBenchmarkLayersTimesEveryLayerAgainstTheMeasuredPeak() throws {
    let dir = TemporaryDirectory()
    let config = dir.write(
      "p.json",
      """
      { "name": "profile", "seed": 1,
        "data": { "source": "synthetic", "samples": 64, "features": 64, "classes": 3, "seed": 5, "shape": [1, 8, 8] },
        "model": { "layers": [
          { "type": "conv2d", "name": "c", "filters": 4, "kernel": 3, "padding": "same" },
          { "type": "batch_norm", "name": "bn", "activation": "relu" },
          { "type": "add", "inputs": ["bn", "c"] },
          { "type": "global_avg_pool2d" },
          { "units": 3, "activation": "softmax" } ] },
        "loss": "cross_entropy", "optimizer": { "kind": "sgd", "learning_rate": 0.1 },
        "training": { "epochs": 1, "batch_size": 32, "shard_size": 16 },
        "checkpoint": { "dir": "\(dir.file("ck"))" } }
      """)
    let run = try nnbatch(
      ["benchmark-layers", "--config", config, "--repeats", "3", "--peak-iterations", "200000"],
      in: repositoryRoot)
    XCTAssertEqual(run.status, 0, run.stderr)
    let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
    XCTAssertEqual(object["rows"] as? Int, 16, "the config's shard size")
    let peaks = try XCTUnwrap(object["peak_by_isa"] as? [String: Double])
    if peaks.isEmpty {
      XCTAssertEqual(object["peak_isa"] as? String, "none")
    } else {
      XCTAssertEqual(object["peak_gflops"] as? Double, peaks.values.max())
      XCTAssertGreaterThan(peaks.values.max() ?? 0, 1, "a CPU with FMA does more than 1 GFLOP/s")
    }
    let layers = try XCTUnwrap(object["layers"] as? [[String: Any]])
    XCTAssertEqual(
      layers.map { $0["kind"] as? String },
      ["conv2d", "batch_norm", "add", "global_avg_pool2d", "dense"])
    let conv = layers[0]
    XCTAssertEqual(conv["multiply_adds"] as? Int, 8 * 8 * 4 * 9)
    XCTAssertGreaterThan(conv["forward_s"] as? Double ?? 0, 0)
    XCTAssertGreaterThan(conv["backward_weights_s"] as? Double ?? 0, 0)
    XCTAssertEqual(conv["backward_data_s"] as? Double, 0, "the first layer has no input gradient")
    XCTAssertGreaterThan(layers[2]["forward_s"] as? Double ?? 0, 0, "the add's merge is timed")
    XCTAssertFalse(FileManager.default.fileExists(atPath: dir.file("ck")), "profiling writes no checkpoint")
  }

  func testInspectShowsTheKernelsAndResumeNotesDifferentOnes() throws {
    let dir = TemporaryDirectory()
    let config = dir.write(
      "k.json",
      """
      { "name": "kernels", "seed": 1,
        "data": { "source": "synthetic", "samples": 128, "features": 16, "classes": 3, "seed": 5 },
        "model": { "layers": [ { "units": 32, "activation": "relu" }, { "units": 3, "activation": "softmax" } ] },
        "loss": "cross_entropy", "optimizer": { "kind": "sgd", "learning_rate": 0.1 },
        "training": { "epochs": 2, "batch_size": 32 },
        "checkpoint": { "dir": "\(dir.file("ck"))", "every_epochs": 1, "keep": 5 } }
      """)
    let run = try nnbatch(["--config", config, "--quiet", "--threads", "1"], in: repositoryRoot)
    XCTAssertEqual(run.status, 0, run.stderr)
    let file = dir.file("ck/step-000000004.h5")
    let saved = try Checkpoint.read(from: file)
    let kernels = try XCTUnwrap(saved.kernels)

    let inspect = try nnbatch(["inspect", file], in: repositoryRoot)
    XCTAssertEqual(inspect.status, 0, inspect.stderr)
    XCTAssertTrue(inspect.stdout.contains("kernels     \(kernels.library) on \(kernels.cpu)"), inspect.stdout)
    let json = try nnbatch(["inspect", file, "--json"], in: repositoryRoot)
    let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
    XCTAssertEqual(object["kernel_library"] as? String, kernels.library)
    XCTAssertEqual(object["kernel_cpu"] as? String, kernels.cpu)

    // The same state, as if another machine had computed it.
    var elsewhere = saved
    elsewhere.kernels = KernelProvenance(library: "OpenBLAS 0.3.21", cpu: "haswell")
    let other = dir.file("other.h5")
    try elsewhere.write(to: other)
    let resumed = try nnbatch(
      [
        "--config", config, "--resume", other, "--epochs", "3", "--checkpoint-dir", dir.file("r"),
        "--threads", "1",
      ],
      in: repositoryRoot)
    XCTAssertEqual(resumed.status, 0, resumed.stderr)
    XCTAssertTrue(
      resumed.stdout.contains(
        "\(other) was computed with OpenBLAS 0.3.21 on haswell, this run uses \(kernels): bits may differ from the original run's"
      ), resumed.stdout)
    // Resuming under the same kernels says nothing about them.
    let same = try nnbatch(
      [
        "--config", config, "--resume", file, "--epochs", "3", "--checkpoint-dir", dir.file("s"), "--threads",
        "1",
      ],
      in: repositoryRoot)
    XCTAssertEqual(same.status, 0, same.stderr)
    XCTAssertFalse(same.stdout.contains("bits may differ"), same.stdout)
  }
}
