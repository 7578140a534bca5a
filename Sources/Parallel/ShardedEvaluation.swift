import NeuralNet

/// The evaluation loop every engine shares: loss and metric sums of `parameters` on all rows of `data`.
///
/// Batches of `plan.batchSize` rows in order, each cut into the plan's shards;
/// shard s's sums land in `shardSums[s]` and are added in shard order, so the
/// result does not depend on which worker ran which shard. Computes in f32 from
/// the master weights whatever the training precision (the caller clears its
/// workspaces' bf16 copies). With `targetScale`, MAE and R² are in original units.
/// The sums continue `total`: a set evaluated in blocks of whole batches, each
/// continuing the last, sums exactly as the whole set does. With `rowOutputs`
/// ([data.count, outputs]), each row's outputs are copied there at its own row, so
/// ranking metrics can be computed from them afterwards, whoever ran the shard.
public func evaluateInShards(
  network: Network, plan: ShardPlan, workers: Workers, workspaces: [Workspace],
  shardSums: UnsafeMutablePointer<MetricSums>, targetColumns: Int, parallel: (Int) -> Bool,
  parameters: FloatBuffer, data: Dataset, targetScale: AffineScaler?,
  continuing total: MetricSums = MetricSums(), rowOutputs: Matrix? = nil
) -> MetricSums {
  var total = total
  // Each worker writes only the slots of its own shards, read after `run` returns.
  nonisolated(unsafe) let sums = shardSums
  let outputs = network.architecture.outputs
  for workspace in workspaces { workspace.kernels.bf16Parameters = nil }
  var start = 0
  while start < data.count {
    let rows = min(plan.batchSize, data.count - start)
    let shards = plan.shardCount(rows: rows)
    let batchStart = start
    workers.run(workers: parallel(rows) ? min(shards, workspaces.count) : 1) { worker, workerCount in
      var shard = worker
      while shard < shards {
        let range = plan.rows(ofShard: shard, inBatchOf: rows)
        let first = batchStart + range.lowerBound
        let output = network.forward(
          parameters: parameters.pointer, input: data.inputs.row(first), rows: range.count,
          workspace: workspaces[worker])
        sums[shard] = MetricSums.measure(
          loss: network.loss, output: output, targets: data.targets.row(first),
          targetColumns: targetColumns, rows: range.count, outputs: outputs, targetScale: targetScale)
        rowOutputs?.row(first).update(from: output, count: range.count * outputs)
        shard += workerCount
      }
    }
    for s in 0..<shards { total.add(shardSums[s]) }
    start += rows
  }
  return total
}
