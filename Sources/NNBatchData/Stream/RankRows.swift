import NNBatchCore
import NeuralNet

// One rank's part of a streamed epoch (mpirun, docs/streaming.md "Over mpirun").
//
//   batch b = positions b·batchSize ..< min((b+1)·batchSize, rows)
//   rank r computes rows `full` of every full batch, `last` of the last one
//   (the engine's `computedRows(inBatchOf:)`: its contiguous range of shards)
//
// The prefetch ring reads only those positions' file rows, coalesced into
// runs, and the batch gathering copies only them: the engine reads no other row.

/// The positions of an epoch's order that one rank of a process group computes.
package struct RankRows: Sendable, Equatable {
  /// Rows of a full batch.
  package let batchSize: Int
  /// Batches per epoch (with drop_last the positions after them are never used).
  package let batches: Int
  /// Samples in an epoch.
  package let rows: Int
  /// The rows of a full batch the rank computes.
  package let full: Range<Int>
  /// The rows of the epoch's last batch the rank computes (it may be short).
  package let last: Range<Int>

  /// The rank's rows of `batches` batches of `batchSize` over `rows` samples, as `computedRows` gives them.
  package init(rows: Int, batchSize: Int, batches: Int, computedRows: (Int) -> Range<Int>) {
    precondition(rows > 0 && batchSize > 0 && batches > 0, "a rank's rows need a non-empty epoch")
    self.rows = rows
    self.batchSize = batchSize
    self.batches = batches
    full = computedRows(batchSize)
    last = computedRows(min(batchSize, rows - (batches - 1) * batchSize))
  }

  /// The rows this rank computes of batch `b`, as positions of the epoch.
  package func positions(ofBatch b: Int) -> Range<Int> {
    let range = b == batches - 1 ? last : full
    return (b * batchSize + range.lowerBound)..<(b * batchSize + range.upperBound)
  }

  /// Whether the rank computes the sample at position `p` of the epoch.
  package func contains(position p: Int) -> Bool {
    let b = p / batchSize
    return b < batches && positions(ofBatch: b).contains(p)
  }

  /// Positions the rank computes per epoch.
  package var count: Int { full.count * (batches - 1) + last.count }
}

/// Consecutive file rows that land in consecutive rows of a window's buffer: one read.
package struct RowRun: Sendable, Equatable {
  /// Rows of the file.
  package var rows: Range<Int>
  /// The buffer row the first of them goes to.
  package var bufferRow: Int

  /// A run of file rows `rows` into buffer rows from `bufferRow` on.
  package init(rows: Range<Int>, bufferRow: Int) {
    self.rows = rows
    self.bufferRow = bufferRow
  }

  /// The buffer rows the run fills.
  package var bufferRows: Range<Int> { bufferRow..<(bufferRow + rows.count) }

  /// `rows` (file row, buffer row) pairs as runs in file order, each as long as both stay consecutive.
  ///
  /// Within a block consecutive file rows are consecutive buffer rows; a
  /// run continues into the next block only where that block follows in the buffer too.
  package static func coalesce(_ rows: [(file: Int, buffer: Int)]) -> [RowRun] {
    let sorted = rows.sorted { $0.file < $1.file }
    var runs: [RowRun] = []
    for (file, buffer) in sorted {
      if let end = runs.last, end.rows.upperBound == file, end.bufferRow + end.rows.count == buffer {
        runs[runs.count - 1].rows = end.rows.lowerBound..<(file + 1)
      } else {
        runs.append(RowRun(rows: file..<(file + 1), bufferRow: buffer))
      }
    }
    return runs
  }

  /// The runs of window `k` of `order` that hold the positions `rank` computes.
  package static func runs(ofWindow k: Int, in order: EpochOrder, for rank: RankRows) -> [RowRun] {
    var pairs: [(file: Int, buffer: Int)] = []
    for p in order.windowStarts[k]..<order.windowStarts[k + 1] where rank.contains(position: p) {
      let row = order.order[p]
      pairs.append((row, order.bufferRow(of: row)))
    }
    return coalesce(pairs)
  }
}

/// What a streamed run read from its file, for `NNBATCH_STREAM_STATS`.
package struct StreamReadCount: Sendable, Equatable {
  /// Rows read.
  package var rows = 0
  /// Bytes of the file those rows hold.
  package var bytes = 0
  /// Read calls (preads or HDF5 reads).
  package var reads = 0
  /// Seconds the prefetch thread spent reading and scaling.
  package var seconds = 0.0

  /// Nothing read yet.
  package init() {}

  /// The sum of two counts.
  package static func + (a: StreamReadCount, b: StreamReadCount) -> StreamReadCount {
    var sum = a
    sum.rows += b.rows
    sum.bytes += b.bytes
    sum.reads += b.reads
    sum.seconds += b.seconds
    return sum
  }
}
