import NNBatchCore
import NeuralNet
import Parallel

// The memory a run's model needs, checked before any of it is reserved.
extension Trainer {
  /// Throws a usage error naming the sizes when the model's buffers cannot fit the memory budget.
  ///
  /// Counted in floats: parameters P, optimizer slots (0 to 2 · P), one
  /// gradient per shard of a batch (maxShards · P), the copies a checkpoint
  /// save makes (parameters and slots, twice: the checkpoint and its file
  /// image), and each worker's workspace (activations and scratch for a
  /// shard). In bf16, also the parameters' bf16 mirror (2 · P bytes) and each
  /// worker's bf16 copies of its activations (half its workspace's bytes).
  /// Under mpirun a rank holds fewer shard gradients plus its range of
  /// every shard's (about 2 · maxShards / N · P): the one-process count covers it.
  /// A classifier with `validationRows` validation samples also keeps every row's outputs
  /// each epoch (F1 and AUC are no sums over shards).
  /// The data is already in memory, so MemAvailable counts it.
  static func requireMemory(
    _ architecture: Architecture, config: Config, threads: Int, targetColumns: Int, validationRows: Int = 0
  ) throws(NNBatchError) {
    let estimate = memoryEstimate(
      architecture, config: config, threads: threads, targetColumns: targetColumns,
      validationRows: validationRows)
    try MemoryBudget.require(
      estimate.bytes, for: "the model (\(estimate.parts))", in: "\(config.file): $.model.layers")
  }

  /// The bytes the model's buffers take (nil: more than Int holds) and what they are, for messages and `inspect --config`.
  static func memoryEstimate(
    _ architecture: Architecture, config: Config, threads: Int, targetColumns: Int, validationRows: Int = 0
  ) -> (bytes: Int?, parts: String) {
    let floats = MemoryLayout<Float>.size
    let p = architecture.parameterCount
    let plan = ShardPlan(batchSize: config.batchSize, shardSize: config.shardSize)
    let shards = plan.maxShards
    let workers = max(1, min(threads, shards))
    let slots = config.optimizer.slotCount
    let rows = config.shardSize
    var workspace: Int? = checkedSum([
      checkedProduct([rows, architecture.inputs]), checkedProduct([rows, targetColumns]),
      checkedProduct([2, rows, architecture.maxWidth]),
    ])
    // A graph's workspace also holds each layer's gradient (Workspace.layerGradients).
    let buffersPerLayer = architecture.isChain ? 1 : 2
    for layer in architecture.layers {
      workspace = checkedSum([
        workspace, checkedProduct([buffersPerLayer, rows, layer.outputShape.elements]),
        layer.scratchCount(rows: rows),
      ])
    }
    let weights = checkedProduct([p, floats])
    let state = checkedProduct([slots, p, floats])
    let gradients = checkedProduct([shards, p, floats])
    let saves = checkedProduct([2, 1 + slots, p, floats])
    let workspaces = workspace.flatMap { checkedProduct([workers, $0, floats]) }
    let bf16 = MemoryLayout<UInt16>.size
    let mixed: Int? =
      config.precision == .bf16
      ? checkedSum([
        checkedProduct([p, bf16]), workspace.flatMap { checkedProduct([workers, $0, bf16]) },
      ]) : 0
    let scores =
      config.task == .classification ? checkedProduct([validationRows, architecture.outputs, floats]) : 0
    let total = checkedSum([weights, state, gradients, saves, workspaces, mixed, scores])
    func shown(_ bytes: Int?) -> String { bytes.map(MemoryBudget.format) ?? "more than \(Int.max) bytes" }
    return (
      total,
      "\(p) parameters: weights \(shown(weights)), optimizer state \(shown(state)), \(shards) shard gradients \(shown(gradients)), checkpoint save buffers \(shown(saves)), \(workers) workspaces \(shown(workspaces))\(config.precision == .bf16 ? ", bf16 copies \(shown(mixed))" : "")\(scores == 0 ? "" : ", validation outputs \(shown(scores))")"
    )
  }
}
