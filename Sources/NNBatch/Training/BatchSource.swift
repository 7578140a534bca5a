import NNBatchCore
import NNBatchData
import NeuralNet

/// Hands the training loop each step's samples: a data set and the rows of it that make the batch.
///
/// In memory the batch is rows of the whole training set in the epoch's
/// shuffled order (exactly as before streaming existed); streamed, it is a
/// batch-sized data set filled from the prefetch ring, in the epoch's
/// block-plan order (docs/streaming.md).
protocol BatchSource: AnyObject {
  /// Samples per epoch.
  var count: Int { get }
  /// Draws the epoch's order from `generator`; the epoch continues at `position` (a resume mid-epoch).
  func beginEpoch(shuffle: Bool, using generator: inout SeededGenerator, at position: Int)
    throws(NNBatchError)
  /// The samples at positions `positions` of the epoch's order; nil when a stop was requested while waiting for them.
  func batch(_ positions: Range<Int>) throws(NNBatchError) -> (data: Dataset, indices: ArraySlice<Int>)?
}

/// The whole training set in memory, shuffled as a permutation of all rows.
final class InMemoryBatches: BatchSource {
  private let train: Dataset
  private var order: [Int]

  init(_ train: Dataset) {
    self.train = train
    order = Array(0..<train.count)
  }

  var count: Int { train.count }

  func beginEpoch(shuffle: Bool, using generator: inout SeededGenerator, at position: Int) {
    for i in 0..<order.count { order[i] = i }
    if shuffle { generator.shuffle(&order) }
  }

  func batch(_ positions: Range<Int>) -> (data: Dataset, indices: ArraySlice<Int>)? {
    (train, order[positions])
  }
}

/// A streamed training set: windows read ahead by a `PrefetchRing`, gathered into one batch-sized set per step.
final class StreamedBatches: BatchSource {
  private let training: StreamedTrainingSet
  private var order: EpochOrder?
  private var ring: PrefetchRing?
  private let inputs: Matrix  // [batchSize, F]
  private let targets: Matrix  // [batchSize, C]
  private let allRows: [Int]
  /// Under a process group, the positions this rank computes: only their rows are read and gathered.
  var rank: RankRows?
  /// Reads of the epochs before the current one.
  private var earlierReads = StreamReadCount()
  /// Whether a stop is due (one process: a signal); a wait for the prefetch ring gives up when it is.
  ///
  /// Left false under a process group, whose ranks stop together at a step's
  /// end: a rank must not leave the exchange on its own.
  var stopRequested: @Sendable () -> Bool = { false }
  /// Whether the last wait gave up on a stop: the ring's thread may still be inside a read.
  private var abandoned = false

  init(_ set: StreamedTrainingSet, batchSize: Int) {
    self.training = set
    inputs = Matrix(rows: batchSize, columns: training.features)
    targets = Matrix(rows: batchSize, columns: training.targets.columns)
    allRows = Array(0..<batchSize)
  }

  deinit { ring?.stop(waiting: !abandoned) }

  var count: Int { training.plan.rows }

  /// Rows this process read in the statistics pass before training.
  var passRows: Int { training.passRows }

  /// What the prefetch rings have read from the file so far (the current epoch's ring included).
  var readCount: StreamReadCount { earlierReads + (ring?.readCount ?? StreamReadCount()) }

  func beginEpoch(shuffle: Bool, using generator: inout SeededGenerator, at position: Int)
    throws(NNBatchError)
  {
    if let ring {
      ring.stop()
      earlierReads = earlierReads + ring.readCount
    }
    let order = training.plan.epochOrder(shuffle: shuffle, using: &generator)
    self.order = order
    let first = position < order.plan.rows ? order.window(ofPosition: position) : order.windows
    ring = nil
    ring = try PrefetchRing(
      source: training.source, order: order, firstWindow: first, scaler: training.scaler,
      capacity: training.ringWindows, rank: rank)
  }

  func batch(_ positions: Range<Int>) throws(NNBatchError) -> (data: Dataset, indices: ArraySlice<Int>)? {
    guard let order, let ring else { preconditionFailure("batch before beginEpoch") }
    // Under a group only the rank's rows of the batch: the others were not read, and the engine reads only these.
    let mine = rank.map { $0.positions(ofBatch: positions.lowerBound / $0.batchSize) } ?? positions
    guard !mine.isEmpty else {
      return (Dataset(inputs: inputs, targets: targets), allRows[0..<positions.count])
    }
    // Positions in order, so a window is finished with before the next is asked for (which releases it).
    var k = order.window(ofPosition: mine.lowerBound)
    guard var window = try ring.window(k, stopRequested: stopRequested) else { return stopped() }
    let features = training.features
    let columns = training.targets.columns
    for p in mine {
      let i = p - positions.lowerBound
      if p >= order.windowStarts[k + 1] {
        k += 1
        guard let next = try ring.window(k, stopRequested: stopRequested) else { return stopped() }
        window = next
      }
      let row = order.order[p]
      inputs.row(i).update(from: window.row(order.bufferRow(of: row)), count: features)
      if columns > 0 { targets.row(i).update(from: training.targets.row(row), count: columns) }
    }
    return (Dataset(inputs: inputs, targets: targets), allRows[0..<positions.count])
  }

  /// Gives up the batch on a stop; the ring is not waited for when this source goes.
  private func stopped() -> (data: Dataset, indices: ArraySlice<Int>)? {
    abandoned = true
    return nil
  }
}
