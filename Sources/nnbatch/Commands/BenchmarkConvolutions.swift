import ArgumentParser
import Foundation
import NNBatch
import NeuralNet

extension NNBatchCommand {
  /// Hidden helper of `tools/bench-conv`: each conv2d layer's passes through im2col and oneDNN, as JSON.
  struct BenchmarkConvolutions: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "benchmark-conv",
      abstract:
        "Time each conv2d layer's passes through im2col and oneDNN primitives (for tools/bench-conv).",
      shouldDisplay: false)

    @OptionGroup var config: ConfigOption

    @Option(name: .long, help: "Rows per pass (default: the config's shard size).")
    var rows: Int?

    @Option(name: .long, help: "Timed repeats per pass; the median is reported.")
    var repeats = 51

    func run() throws {
      let trainer = try config.benchmarkTrainer(rows: rows, folder: "nnbatch-bench-conv")
      let (rows, timings) = trainer.convolutionBenchmark(rows: rows, repeats: repeats)
      let object: [String: Any] = [
        "cpu_features": KernelLibrary.cpuFeatures,
        "library": KernelLibrary.version,
        "rows": rows,
        "passes": timings.map {
          [
            "layer": $0.layer, "shape": $0.shape, "pass": $0.pass.rawValue, "im2col_s": $0.im2col,
            "plain_s": $0.plain ?? -1, "plain_impl": $0.plainImplementation, "blocked_s": $0.blocked ?? -1,
            "blocked_impl": $0.blockedImplementation, "plain_difference": $0.plainDifference,
          ] as [String: Any]
        },
      ]
      let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
      print(String(decoding: data, as: UTF8.self))
    }
  }
}
