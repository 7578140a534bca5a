import ArgumentParser
import Foundation
import NNBatch

extension NNBatchCommand {
  /// Hidden helper of `tools/bench`: checkpoint save and load times as JSON.
  struct BenchmarkCheckpoint: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "benchmark-checkpoint", abstract: "Time checkpoint saves and loads (for tools/bench).",
      shouldDisplay: false)

    @OptionGroup var config: ConfigOption

    @Option(name: .long, help: "Folder for the benchmark's checkpoints.", completion: .directory)
    var checkpointDir: String

    @Option(name: .long, help: "Number of save/load rounds.")
    var repeats = 9

    func run() throws {
      var options = TrainOptions(configPath: config.path, threads: 1)
      options.checkpointDir = checkpointDir
      options.quiet = true
      let trainer = try Trainer(options: options, signals: nil)
      let result = try trainer.benchmarkCheckpoints(repeats: repeats)
      let object: [String: Any] = [
        "bytes": result.bytes, "save_ms": result.saveMilliseconds, "load_ms": result.loadMilliseconds,
      ]
      let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
      print(String(decoding: data, as: UTF8.self))
    }
  }
}
