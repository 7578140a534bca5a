import ArgumentParser
import Export
import NNBatch

/// `--format onnx|keras`: the parser lists the values and rejects others.
extension ExportFormat: ExpressibleByArgument {}

extension NNBatchCommand {
  /// `nnbatch export`: a checkpoint's model as an ONNX or Keras 3 file.
  struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Export a checkpoint's model for onnxruntime (ONNX) or Keras 3.",
      discussion: """
        The exported model takes raw inputs and returns what predict returns:
        input scaling, softmax probabilities and target un-scaling are part of it.
        Examples:
          nnbatch export checkpoints/flowers/best.h5 --format onnx
          nnbatch export checkpoints/housing/best.h5 --format keras -o housing.keras
        """)

    @OptionGroup var checkpoint: CheckpointArgument

    @Option(name: .long, help: "The file format: onnx or keras.")
    var format: ExportFormat

    @Option(
      name: [.customShort("o"), .customLong("output")],
      help: "The file to write (default: the checkpoint's path with .onnx or .keras).",
      completion: .file())
    var output: String?

    func run() throws {
      let written = try ModelExport.run(checkpoint: checkpoint.path, format: format, output: output)
      print("wrote \(written)")
    }
  }
}
