import ArgumentParser
import CPeak
import Foundation
import NNBatch
import NeuralNet

extension NNBatchCommand {
  /// Hidden helper of `tools/profile-layers`: this CPU's FMA peak and each layer's timings as JSON.
  struct BenchmarkLayers: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "benchmark-layers",
      abstract: "Time each layer's forward and backward passes and the FMA peak (for tools/profile-layers).",
      shouldDisplay: false)

    @OptionGroup var config: ConfigOption

    @Option(name: .long, help: "Rows per pass (default: the config's shard size).")
    var rows: Int?

    @Option(name: .long, help: "Timed repeats per pass; the median is reported.")
    var repeats = 21

    @Option(name: .long, help: "FMA rounds per peak trial (about 2 s at 100 GFLOP/s by default).")
    var peakIterations = 20_000_000

    func run() throws {
      let trainer = try config.benchmarkTrainer(rows: rows, folder: "nnbatch-profile")
      // The peak is the faster of the vector widths this CPU has: on Zen 4, 512-bit FMAs
      // are split in two and run no faster than 256-bit ones. Five trials per width.
      let widest = nnb_peak_widest_isa()
      let widths: [(name: String, isa: nnb_peak_isa)] = [
        ("avx2", NNB_PEAK_AVX2), ("avx512", NNB_PEAK_AVX512),
      ]
      let measured = widths.filter { $0.isa.rawValue <= widest.rawValue }.map {
        (name: $0.name, gflops: nnb_peak_gflops($0.isa, peakIterations, 5))
      }
      let best = measured.max { $0.gflops < $1.gflops }
      let (rows, layers) = trainer.profile(rows: rows, repeats: repeats)
      let object: [String: Any] = [
        "cpu_features": KernelLibrary.cpuFeatures,
        "peak_isa": best?.name ?? "none",
        "peak_gflops": best?.gflops ?? 0,
        "peak_by_isa": Dictionary(uniqueKeysWithValues: measured.map { ($0.name, $0.gflops) }),
        "rows": rows,
        "layers": layers.map {
          [
            "index": $0.index, "kind": $0.kind, "multiply_adds": $0.multiplyAdds, "forward_s": $0.forward,
            "backward_weights_s": $0.backwardWeights, "backward_data_s": $0.backwardData,
            "activation_backward_s": $0.activationBackward,
          ] as [String: Any]
        },
      ]
      let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
      print(String(decoding: data, as: UTF8.self))
    }
  }
}
