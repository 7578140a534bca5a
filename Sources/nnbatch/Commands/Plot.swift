import ArgumentParser
import NNBatch

extension NNBatchCommand {
  /// `nnbatch plot`: a checkpoint's loss curve as SVG.
  struct Plot: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Draw a checkpoint's loss curve (and epoch metrics) as SVG.",
      discussion: """
        Example:
          nnbatch plot checkpoints/xor/step-000001500.h5 -o loss.svg --log
        """)

    @OptionGroup var checkpoint: CheckpointArgument

    @OptionGroup var output: OutputOption

    @Flag(name: .long, help: "Log-scale loss axes.")
    var log = false

    func run() throws {
      try output.write(try NNBatch.Plot.run(path: checkpoint.path, logScale: log))
    }
  }
}
