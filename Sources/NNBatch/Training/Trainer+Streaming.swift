import Foundation
import NNBatchCore
import NNBatchData
import NeuralNet
import Parallel

extension Trainer {
  /// Under a process group, makes a streamed feed read and gather only the rows `engine` computes.
  static func restrict(_ feed: any BatchSource, to engine: any TrainingEngine, samples: Int, config: Config) {
    guard let streamed = feed as? StreamedBatches else { return }
    streamed.rank = RankRows(
      rows: samples, batchSize: config.batchSize,
      batches: batchesPerEpoch(samples: samples, config: config),
      computedRows: { engine.computedRows(inBatchOf: $0) })
  }

  /// `NNBATCH_STREAM_STATS`: one line on standard error of what this process read of a streamed file.
  ///
  /// "stream reads: rank 1: 1234 rows, 967456 bytes, 456 reads in 0.012 s, 3 epochs (1234 of 2400 samples per epoch); statistics pass 0 rows".
  func reportStreamReads(epochs: Int) {
    guard getenv("NNBATCH_STREAM_STATS") != nil, let streamed = feed as? StreamedBatches else { return }
    let count = streamed.readCount
    let perEpoch = streamed.rank?.count ?? streamed.count
    writeToStandardError(
      "stream reads: rank \(options.group?.rank ?? 0): \(count.rows) rows, \(count.bytes) bytes, \(count.reads) reads in \(String(format: "%.3f", count.seconds)) s, \(epochs) epochs (\(perEpoch) of \(streamed.count) samples per epoch); statistics pass \(streamed.passRows) rows\n"
    )
  }
}
