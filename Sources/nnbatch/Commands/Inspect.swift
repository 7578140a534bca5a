import ArgumentParser
import Foundation
import NNBatch

extension NNBatchCommand {
  /// `nnbatch inspect`: a checkpoint's summary.
  struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Summarise a checkpoint, or the model a config describes before training.",
      discussion: """
        With a checkpoint: layers, shapes, step, loss and config. With --config: the data's
        size, the model's layers, shapes and parameters, the optimizer and the memory the
        model takes, without training or writing anything.

        Examples:
          nnbatch inspect checkpoints/xor/step-000001500.h5
          nnbatch inspect checkpoints/xor/step-000001500.h5 --json | jq .layers
          nnbatch inspect --config configs/images-cnn.json --threads 2
        """)

    @Argument(
      help: ArgumentHelp("The checkpoint file (or none, with --config).", valueName: "checkpoint"),
      completion: .checkpoint)
    var checkpoint: String?

    @Option(
      name: .customLong("config"), help: "A run's JSON config: summarise its model without training.",
      completion: .config)
    var config: String?

    @Option(name: .long, help: "With --config: the threads the memory estimate counts workspaces for.")
    var threads: Int?

    @Flag(name: .long, help: "Print JSON for scripts.")
    var json = false

    func validate() throws {
      switch (checkpoint, config) {
      case (nil, nil): throw ValidationError("give a checkpoint, or --config FILE")
      case (.some, .some): throw ValidationError("give a checkpoint or --config, not both")
      default: break
      }
      if let threads, threads < 1 || threads > 1024 {
        throw ValidationError("--threads must be between 1 and 1024, found \(threads)")
      }
      if threads != nil && config == nil { throw ValidationError("--threads goes with --config") }
    }

    func run() throws {
      if let config {
        let count = threads ?? ProcessInfo.processInfo.activeProcessorCount
        print(try NNBatch.Inspect.run(config: config, threads: count, json: json))
      } else if let checkpoint {
        print(try NNBatch.Inspect.run(path: checkpoint, json: json))
      }
    }
  }
}
