import ArgumentParser
import NNBatch

extension NNBatchCommand {
  /// `nnbatch evaluate`: a checkpoint's loss and metrics on a data set.
  struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Report a checkpoint's loss and metrics on a data set.",
      discussion: """
        Without --data: the run's validation data (or its training data if it had
        none). With --data CONFIG.json: that config's data section. With --data FILE:
        a file read like the training data (same CSV columns or HDF5 dataset names;
        IMAGES,LABELS for IDX; a folder with one sub-folder per class for images).
        --data - reads standard input; --input is another name for --data.
        Classifiers: accuracy, a confusion matrix, precision, recall and F1 per
        class with macro and weighted averages; for two classes also ROC AUC and
        PR AUC (average precision). Regression: MAE and R².
        Examples:
          nnbatch evaluate --checkpoint checkpoints/flowers/best.h5
          nnbatch evaluate --checkpoint checkpoints/flowers/best.h5 \\
            --data new-flowers.csv
        """)

    @OptionGroup var checkpoint: CheckpointOption

    @Option(
      name: [.customLong("data"), .customLong("config"), .customLong("input")],
      help:
        "A config (.json) whose data to use, or a data file read like the training data (- for standard input).",
      completion: .file())
    var data: String?

    @OptionGroup var format: DataFormatOption

    @OptionGroup var workers: WorkerOptions

    func run() throws {
      print(
        try NNBatch.Evaluate.run(
          checkpoint: checkpoint.path, dataConfig: data, format: format.format?.name,
          threads: workers.count))
    }
  }
}
