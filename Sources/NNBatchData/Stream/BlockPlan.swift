import NNBatchCore
import NeuralNet

/// How a streamed training set is cut into row blocks and shuffle windows (docs/streaming.md).
///
/// Blocks are `blockRows` consecutive rows of the file (the last may be
/// shorter); a window is `windowBlocks` consecutive blocks of the epoch's
/// block order. An epoch visits blocks in a seeded permutation and, within
/// each window, rows in a seeded permutation of the window's rows.
public struct BlockPlan: Sendable, Equatable {
  /// Samples in the training set.
  public var rows: Int
  /// Rows per block.
  public var blockRows: Int
  /// Blocks per shuffle window.
  public var windowBlocks: Int

  /// A plan of `rows` samples in blocks of `blockRows`, windows of `windowBlocks` blocks.
  ///
  /// A block larger than the data is the whole data, and a window of more
  /// blocks than there are is all of them: both are clamped, which leaves
  /// every epoch's order unchanged and bounds a window's buffer by about 2 × `rows`.
  public init(rows: Int, blockRows: Int, windowBlocks: Int) {
    precondition(rows > 0 && blockRows > 0 && windowBlocks > 0, "a block plan needs positive sizes")
    self.rows = rows
    self.blockRows = min(blockRows, rows)
    self.windowBlocks = min(windowBlocks, (rows + self.blockRows - 1) / self.blockRows)
  }

  /// Rows of one window's buffer: `blockRows` × `windowBlocks`, at most the rows rounded up to a block.
  public var windowRows: Int { blockRows * windowBlocks }

  /// Blocks in the file.
  public var blocks: Int { (rows + blockRows - 1) / blockRows }

  /// The rows of block `b`.
  public func range(ofBlock b: Int) -> Range<Int> {
    (b * blockRows)..<min((b + 1) * blockRows, rows)
  }

  /// How checkpoints record the plan (`/data@stream`): "block_rows=1024 window=32".
  public var text: String { "block_rows=\(blockRows) window=\(windowBlocks)" }

  /// The plan a checkpoint recorded for `rows` samples, or nil when `text` is not one.
  public static func parse(_ text: String, rows: Int) -> BlockPlan? {
    let parts = text.split(separator: " ")
    guard parts.count == 2, parts[0].hasPrefix("block_rows="), parts[1].hasPrefix("window="),
      let block = Int(parts[0].dropFirst("block_rows=".count)),
      let window = Int(parts[1].dropFirst("window=".count)),
      block > 0, window > 0, rows > 0
    else { return nil }
    return BlockPlan(rows: rows, blockRows: block, windowBlocks: window)
  }

  /// One epoch's order, drawn from `generator` (the epoch's generator, as the in-memory shuffle draws it).
  ///
  /// Without shuffling, blocks and rows keep file order. With it: first a
  /// permutation of the blocks, then, window by window, a permutation of the
  /// window's rows. Every draw comes from `generator` on the calling thread,
  /// so the order does not depend on --threads.
  public func epochOrder(shuffle: Bool, using generator: inout SeededGenerator) -> EpochOrder {
    var blockOrder = Array(0..<blocks)
    if shuffle { generator.shuffle(&blockOrder) }
    var order: [Int] = []
    order.reserveCapacity(rows)
    var windowStarts: [Int] = [0]
    var location = [Int](repeating: 0, count: blocks)  // block -> its first row's row in its window's buffer
    var w = 0
    while w < blocks {
      let members = blockOrder[w..<min(w + windowBlocks, blocks)]
      var window: [Int] = []
      for b in members {
        location[b] = window.count
        window.append(contentsOf: range(ofBlock: b))
      }
      if shuffle { generator.shuffle(&window) }
      order.append(contentsOf: window)
      windowStarts.append(order.count)
      w += windowBlocks
    }
    return EpochOrder(
      plan: self, blockOrder: blockOrder, order: order, windowStarts: windowStarts, location: location)
  }
}

/// One epoch of a streamed training set: which rows come when, and where each sits in its window's buffer.
public struct EpochOrder: Sendable {
  /// The plan it follows.
  public let plan: BlockPlan
  /// Blocks in the order they are read.
  public let blockOrder: [Int]
  /// Row of the file at each position of the epoch.
  public let order: [Int]
  /// Position where each window starts, and `rows` at the end.
  public let windowStarts: [Int]
  /// For each block, the row of its window's buffer where its first row is.
  let location: [Int]

  /// Windows in the epoch.
  public var windows: Int { windowStarts.count - 1 }

  /// The blocks of window `k`, in buffer order.
  public func blocks(ofWindow k: Int) -> ArraySlice<Int> {
    blockOrder[(k * plan.windowBlocks)..<min((k + 1) * plan.windowBlocks, blockOrder.count)]
  }

  /// The window that holds position `p`.
  public func window(ofPosition p: Int) -> Int {
    // The last start not after p.
    var low = 0
    var high = windows - 1
    while low < high {
      let mid = (low + high + 1) / 2
      if windowStarts[mid] <= p { low = mid } else { high = mid - 1 }
    }
    return low
  }

  /// The row of its window's buffer where file row `row` is.
  public func bufferRow(of row: Int) -> Int {
    let b = row / plan.blockRows
    return location[b] + row - b * plan.blockRows
  }
}
