import NNBatchCore
import NeuralNet

/// How the training data is read: whole into memory, or streamed from disk in row blocks (docs/streaming.md).
public struct StreamSettings: Sendable, Equatable {
  /// `data.stream`: true streams, false loads; nil (absent) chooses by size (`shouldStream`).
  public var enabled: Bool?
  /// `data.stream_block_rows`: rows per block; nil: an HDF5 chunk's rows, else rows filling 1 MiB.
  public var blockRows: Int?
  /// `data.stream_window`: blocks per shuffle window; nil: blocks filling 32 MiB.
  public var windowBlocks: Int?

  /// Settings as the config gives them (all absent: automatic).
  public init(enabled: Bool? = nil, blockRows: Int? = nil, windowBlocks: Int? = nil) {
    self.enabled = enabled
    self.blockRows = blockRows
    self.windowBlocks = windowBlocks
  }

  /// Reads `stream`, `stream_block_rows` and `stream_window` of the `data` object.
  package static func decode(_ d: ObjectReader) -> StreamSettings {
    StreamSettings(
      enabled: d.bool("stream"), blockRows: d.int("stream_block_rows", min: 1, max: 1 << 30),
      windowBlocks: d.int("stream_window", min: 1, max: 1 << 20))
  }

  /// The automatic choice streams when the samples as floats would take more than this share of the memory budget.
  public static let automaticShare = 0.25

  /// Whether data of `bytes` (as floats) streams when `data.stream` is absent.
  package static func shouldStreamAutomatically(bytes: Int?) -> Bool {
    guard let bytes else { return true }
    return Double(bytes) > Double(MemoryBudget.current().bytes) * automaticShare
  }

  /// The block plan for `rows` samples of `features` floats from `source`.
  func plan(rows: Int, features: Int, preferredBlockRows: Int?) -> BlockPlan {
    let rowBytes = max(features, 1) * MemoryLayout<Float>.size
    var block = blockRows ?? preferredBlockRows ?? max(1, (1 << 20) / rowBytes)
    // A chunk larger than 16 MiB makes blocks (and the ring) too large to prefetch.
    if blockRows == nil { block = min(block, max(1, (16 << 20) / rowBytes)) }
    block = max(1, min(block, rows))
    let window = windowBlocks ?? max(1, (32 << 20) / (block * rowBytes))
    return BlockPlan(rows: rows, blockRows: block, windowBlocks: window)
  }
}
