import ArgumentParser
import NNBatch

extension NNBatchCommand {
  /// `nnbatch inspect`: a checkpoint's summary.
  struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Summarise a checkpoint: layers, shapes, step, loss and config.",
      discussion: """
        Example:
          nnbatch inspect checkpoints/xor/step-000001500.h5
          nnbatch inspect checkpoints/xor/step-000001500.h5 --json | jq .layers
        """)

    @OptionGroup var checkpoint: CheckpointArgument

    @Flag(name: .long, help: "Print JSON for scripts.")
    var json = false

    func run() throws {
      print(try NNBatch.Inspect.run(path: checkpoint.path, json: json))
    }
  }
}
