import Checkpoints
import Foundation
import NeuralNet
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

  func testBenchmarkConvTimesEveryPassOfEveryConvolutionOnEachPath() throws {
    let dir = TemporaryDirectory()
    let config = dir.write(
      "c.json",
      """
      { "name": "bench-conv", "seed": 1,
        "data": { "source": "synthetic", "samples": 64, "features": 75, "classes": 3, "seed": 5, "shape": [3, 5, 5] },
        "model": { "layers": [
          { "type": "conv2d", "filters": 4, "kernel": 3, "padding": "same", "activation": "relu" },
          { "type": "conv2d", "filters": 5, "kernel": 1, "stride": 2, "bias": false },
          { "units": 3, "activation": "softmax" } ] },
        "loss": "cross_entropy", "optimizer": { "kind": "sgd", "learning_rate": 0.1 },
        "training": { "epochs": 1, "batch_size": 32, "shard_size": 8 },
        "checkpoint": { "dir": "\(dir.file("ck"))" } }
      """)
    let run = try nnbatch(["benchmark-conv", "--config", config, "--repeats", "2"], in: repositoryRoot)
    XCTAssertEqual(run.status, 0, run.stderr)
    let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
    XCTAssertEqual(object["rows"] as? Int, 8, "the config's shard size")
    let passes = try XCTUnwrap(object["passes"] as? [[String: Any]])
    XCTAssertEqual(passes.map { $0["layer"] as? Int }, [0, 0, 0, 1, 1, 1])
    XCTAssertEqual(
      passes.map { $0["pass"] as? String },
      ["forward", "backward-data", "backward-weights", "forward", "backward-data", "backward-weights"])
    XCTAssertEqual(passes[3]["shape"] as? String, "8×4×5×5 → 5 1×1 /2 valid")
    for pass in passes {
      XCTAssertGreaterThan(pass["im2col_s"] as? Double ?? 0, 0)
      XCTAssertGreaterThan(pass["plain_s"] as? Double ?? 0, 0)
      XCTAssertGreaterThan(pass["blocked_s"] as? Double ?? 0, 0)
      XCTAssertLessThan(pass["plain_difference"] as? Double ?? 1, 1e-5, "the same convolution")
    }
    XCTAssertFalse(
      FileManager.default.fileExists(atPath: dir.file("ck")), "benchmarking writes no checkpoint")
  }

  /// A CNN's checkpoint records each conv2d layer's kernel; a resume reuses the recorded ones.
  func testConvolutionKernelsAreRecordedAndAResumeReusesThem() throws {
    let dir = TemporaryDirectory()
    let config = dir.write(
      "cnn.json",
      """
      { "name": "cnn-kernels", "seed": 4,
        "data": { "source": "synthetic", "samples": 96, "features": 64, "classes": 3, "seed": 5, "shape": [1, 8, 8] },
        "model": { "layers": [
          { "type": "conv2d", "filters": 4, "kernel": 3, "padding": "same", "activation": "relu" },
          { "type": "conv2d", "filters": 6, "kernel": 5, "stride": 2, "padding": "valid", "activation": "tanh" },
          { "units": 3, "activation": "softmax" } ] },
        "loss": "cross_entropy", "optimizer": { "kind": "sgd", "learning_rate": 0.05, "momentum": 0.9 },
        "training": { "epochs": 2, "batch_size": 32, "shard_size": 16 },
        "checkpoint": { "dir": "\(dir.file("ck"))", "every_epochs": 1, "keep": 5 } }
      """)
    let run = try nnbatch(["--config", config, "--quiet", "--threads", "2"], in: repositoryRoot)
    XCTAssertEqual(run.status, 0, run.stderr)
    let first = try Checkpoint.read(from: dir.file("ck/step-000000003.h5"))
    let end = try Checkpoint.read(from: dir.file("ck/step-000000006.h5"))
    let rule = [
      ConvolutionKernel.rule(kernelHeight: 3, kernelWidth: 3, channels: 1),
      .rule(kernelHeight: 5, kernelWidth: 5, channels: 4),
    ]
    XCTAssertEqual(end.kernels?.convolutions, rule, "the rule's kernels for this CPU")
    let inspect = try nnbatch(["inspect", dir.file("ck/step-000000006.h5"), "--json"], in: repositoryRoot)
    XCTAssertEqual(inspect.status, 0, inspect.stderr)

    // Resumed on the kernels it recorded: the uninterrupted run's bits.
    let same = try nnbatch(
      [
        "--config", config, "--resume", dir.file("ck/step-000000003.h5"), "--checkpoint-dir",
        dir.file("same"),
        "--quiet", "--threads", "3",
      ],
      in: repositoryRoot)
    XCTAssertEqual(same.status, 0, same.stderr)
    let resumed = try Checkpoint.read(from: dir.file("same/step-000000006.h5"))
    XCTAssertEqual(resumed.bitwiseDifferences(from: end), [])

    // A file that recorded im2col (or, written before the choice existed, nothing) resumes on im2col,
    // whatever the rule says here, and records it again.
    for recorded in [[ConvolutionKernel.im2col, .im2col], nil] {
      var other = first
      other.kernels?.convolutions = recorded
      let file = dir.file("im2col-\(recorded == nil ? "none" : "both").h5")
      try other.write(to: file)
      let folder = dir.file("r-\(recorded == nil ? "none" : "both")")
      let result = try nnbatch(
        ["--config", config, "--resume", file, "--checkpoint-dir", folder, "--quiet", "--threads", "1"],
        in: repositoryRoot)
      XCTAssertEqual(result.status, 0, result.stderr)
      let continued = try Checkpoint.read(from: "\(folder)/step-000000006.h5")
      XCTAssertEqual(continued.kernels?.convolutions, [.im2col, .im2col])
      if rule != [.im2col, .im2col] {
        XCTAssertNotEqual(
          continued.bitwiseDifferences(from: end), [], "other kernels, other summation orders")
      }
    }

    // A record that names an unknown kernel or the wrong number of layers is refused.
    var bad = first
    bad.kernels?.convolutions = [.im2col]
    let badFile = dir.file("bad.h5")
    try bad.write(to: badFile)
    let refused = try nnbatch(
      ["--config", config, "--resume", badFile, "--checkpoint-dir", dir.file("bad"), "--quiet"],
      in: repositoryRoot)
    XCTAssertEqual(refused.status, 2, refused.stderr)
    XCTAssertTrue(
      refused.stderr.contains("@kernel_convolutions: expected one kernel per conv2d layer (2), found 1"),
      refused.stderr)
  }

  /// On AVX2 (oneDNN held to it, as docs/convolution-kernels.md measured) the rule moves only
  /// 3×3 layers of 16 or more input channels to oneDNN, and those keep the bits across threads.
  func testOnAVX2OnlyWideThreeByThreeLayersRunOnOneDNNAndKeepTheBits() throws {
    let here = KernelLibrary.cpuFeatures
    guard here.hasPrefix("avx2") || here.hasPrefix("avx512") else {
      throw XCTSkip("this CPU has no AVX2 (oneDNN reports \(here))")
    }
    let dir = TemporaryDirectory()
    let config = dir.write(
      "cnn.json",
      """
      { "name": "cnn-avx2", "seed": 8,
        "data": { "source": "synthetic", "samples": 96, "features": 64, "classes": 3, "seed": 9, "shape": [1, 8, 8] },
        "model": { "layers": [
          { "type": "conv2d", "filters": 16, "kernel": 3, "padding": "same", "activation": "relu" },
          { "type": "conv2d", "filters": 8, "kernel": 3, "stride": 2, "padding": "same", "activation": "relu" },
          { "type": "conv2d", "filters": 8, "kernel": 5, "padding": "same", "activation": "relu" },
          { "units": 3, "activation": "softmax" } ] },
        "loss": "cross_entropy", "optimizer": { "kind": "adam", "learning_rate": 0.01 },
        "training": { "epochs": 2, "batch_size": 32, "shard_size": 8 },
        "checkpoint": { "dir": "\(dir.file("ck"))", "every_epochs": 2, "keep": 5 } }
      """)
    var environment = ProcessInfo.processInfo.environment
    environment["ONEDNN_MAX_CPU_ISA"] = "AVX2"
    var ends: [Checkpoint] = []
    for threads in ["1", "3"] {
      let run = try runProcess(
        nnbatchExecutable,
        ["--config", config, "--checkpoint-dir", dir.file("t\(threads)"), "--quiet", "--threads", threads],
        in: repositoryRoot, environment: environment)
      XCTAssertEqual(run.status, 0, run.stderr)
      ends.append(try Checkpoint.read(from: dir.file("t\(threads)/step-000000006.h5")))
    }
    XCTAssertEqual(ends[0].kernels?.cpu, "avx2")
    XCTAssertEqual(
      ends[0].kernels?.convolutions, [.im2col, .onednn, .im2col], "one channel; 16 channels; 5×5")
    XCTAssertEqual(ends[1].bitwiseDifferences(from: ends[0]), [], "1 and 3 threads")
  }
}
