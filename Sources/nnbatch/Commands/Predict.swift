import ArgumentParser
import NNBatch

extension NNBatchCommand {
  /// `nnbatch predict`: a checkpoint's outputs for new inputs.
  struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Write a checkpoint's predictions for new inputs as CSV.",
      discussion: """
        Inputs: CSV rows of features (a header row is detected), an IDX image file,
        an HDF5 file with --dataset, a PNG or JPEG image, or a folder of them (and
        of its sub-folders); --input - reads standard input. Scaling fitted at
        training time is applied. A CSV whose header still has the training target
        columns is read without them. Output columns: path for images, then label
        and p_<class> for a classifier, the target names (else output_<i>) for
        regression.
        Examples:
          nnbatch predict --checkpoint checkpoints/flowers/best.h5 \\
            --input new.csv --output out.csv
          head -5 new.csv | nnbatch predict --checkpoint best.h5 --input -
        """)

    @OptionGroup var checkpoint: CheckpointOption

    @Option(
      name: .long,
      help:
        "Inputs: CSV, IDX, HDF5 (with --dataset), a PNG/JPEG image or a folder of them, told apart by content; - for standard input.",
      completion: .file())
    var input: String

    @Option(name: .long, help: "Dataset of the inputs in an HDF5 input file.")
    var dataset: String?

    @Option(
      name: .long, help: "Whether the CSV input has a header row: true or false (default: detect).",
      completion: .list(["true", "false"]))
    var header: Bool?

    @OptionGroup var format: DataFormatOption

    @OptionGroup var output: OutputOption

    func run() throws {
      let text = try NNBatch.Predict.run(
        checkpoint: checkpoint.path, input: input, dataset: dataset, header: header,
        format: format.format?.name)
      try output.write(text)
    }
  }
}
