import NeuralNet

/// How a mini-batch is cut into shards: fixed by the config, never by threads.
///
/// A batch of `rows` rows has ⌈rows / shardSize⌉ shards; shard s covers rows
/// s·shardSize ..< min((s + 1)·shardSize, rows). Each shard's gradient is
/// computed on its own, so which thread ran it cannot change a bit of it.
/// The plan depends only on the batch, so it can later be spread over
/// processes with the same result.
public struct ShardPlan: Sendable, Hashable {
  /// Rows of a full mini-batch.
  public let batchSize: Int
  /// Rows of a full shard.
  public let shardSize: Int

  /// A plan for batches of `batchSize` rows cut into shards of `shardSize`.
  public init(batchSize: Int, shardSize: Int) {
    precondition(batchSize > 0 && shardSize > 0, "batch and shard sizes must be positive")
    precondition(shardSize <= batchSize, "shard size must not exceed the batch size")
    self.batchSize = batchSize
    self.shardSize = shardSize
  }

  /// Shards of a full batch.
  public var maxShards: Int { shardCount(rows: batchSize) }

  /// Shards of a batch of `rows` rows (the last batch of an epoch may be short).
  public func shardCount(rows: Int) -> Int { (rows + shardSize - 1) / shardSize }

  /// Rows of shard `shard` in a batch of `rows` rows.
  public func rows(ofShard shard: Int, inBatchOf rows: Int) -> Range<Int> {
    let start = shard * shardSize
    return start..<min(start + shardSize, rows)
  }
}

extension ShardPlan {
  /// Shards of the batch `indices` of `data` that an engine set up for `targetColumns` computes.
  ///
  /// Traps unless the batch has 1 to `batchSize` rows and `data` the engine's target columns:
  /// every engine's compute takes batches on these terms.
  public func shardCount(ofBatch indices: ArraySlice<Int>, of data: Dataset, targetColumns: Int) -> Int {
    let rows = indices.count
    precondition(rows > 0 && rows <= batchSize, "batch of \(rows) rows does not fit the plan")
    precondition(data.targetColumns == targetColumns, "target columns differ from the engine's")
    return shardCount(rows: rows)
  }
}
