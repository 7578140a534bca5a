import NeuralNet

/// The rows of one shard as the contiguous blocks a forward pass reads.
///
///     input   [count, F]   data.inputs rows indices[positions], in order
///     targets [count, C]   data.targets rows, likewise
///
/// Rows that are consecutive in the data set (an unshuffled batch) are used
/// in place; otherwise they are copied into the worker's workspace. A
/// training context with an augmentation (`data.augment`) has every input
/// row written augmented into the workspace instead: the transform is the
/// copy. Every engine gathers and computes a shard through here, so a
/// process group computes a shard from exactly the bytes one process does.
package enum ShardRows {
  /// Pointers to the rows at `positions` of `indices` (absolute slice positions), gathered if need be.
  ///
  /// `workspace` must hold `positions.count` rows of `data.features` inputs
  /// and `targetColumns` targets. `context` is the shard's (its first row
  /// at `context.firstPosition`); only a training context with an
  /// augmentation changes the inputs.
  package static func gather(
    _ data: Dataset, indices: ArraySlice<Int>, positions: Range<Int>, targetColumns: Int,
    into workspace: Workspace, context: PassContext = .inference
  ) -> (input: UnsafePointer<Float>, targets: UnsafePointer<Float>) {
    let first = indices[positions.lowerBound]
    // Plain index loops: `enumerated()` on a range allocated here.
    var contiguous = true
    var offset = 0
    while offset < positions.count {
      if indices[positions.lowerBound + offset] != first + offset {
        contiguous = false
        break
      }
      offset += 1
    }
    let features = data.features
    if context.isTraining, let augmentation = context.augmentation {
      precondition(
        augmentation.features == features,
        "augmentation of \(augmentation.features) values on rows of \(features)")
      offset = 0
      while offset < positions.count {
        let index = indices[positions.lowerBound + offset]
        augmentation.apply(
          data.inputs.row(index), to: workspace.input.pointer + offset * features,
          key: context.augmentationKey(row: offset))
        if !contiguous {
          (workspace.targets.pointer + offset * targetColumns).update(
            from: data.targets.row(index), count: targetColumns)
        }
        offset += 1
      }
      let targets =
        contiguous ? UnsafePointer(data.targets.row(first)) : UnsafePointer(workspace.targets.pointer)
      return (UnsafePointer(workspace.input.pointer), targets)
    }
    if contiguous {
      return (UnsafePointer(data.inputs.row(first)), UnsafePointer(data.targets.row(first)))
    }
    offset = 0
    while offset < positions.count {
      let index = indices[positions.lowerBound + offset]
      (workspace.input.pointer + offset * features).update(from: data.inputs.row(index), count: features)
      (workspace.targets.pointer + offset * targetColumns).update(
        from: data.targets.row(index), count: targetColumns)
      offset += 1
    }
    return (UnsafePointer(workspace.input.pointer), UnsafePointer(workspace.targets.pointer))
  }

  /// Gathers shard `shard` of the batch `indices` (`rows` rows, cut by `plan`) and runs forward
  /// and backward on it: the shard's loss sum and weight, its gradient written to `gradient`.
  ///
  /// The context is advanced by the shard's first row, so each row's dropout mask
  /// and augmentation depend on its position in the epoch, never on the shard or the engine.
  /// `layerDone` as for `Network.lossAndGradient`.
  package static func lossAndGradient(
    ofShard shard: Int, batchRows rows: Int, plan: ShardPlan, network: Network, parameters: FloatBuffer,
    data: Dataset, indices: ArraySlice<Int>, targetColumns: Int, workspace: Workspace,
    gradient: UnsafeMutablePointer<Float>, context: PassContext, layerDone: (Int) -> Void = { _ in }
  ) -> ShardLoss {
    let shardRows = plan.rows(ofShard: shard, inBatchOf: rows)
    let positions = shardRows.shifted(by: indices.startIndex)
    let shardContext = context.advanced(by: shardRows.lowerBound)
    let (input, targets) = gather(
      data, indices: indices, positions: positions, targetColumns: targetColumns, into: workspace,
      context: shardContext)
    let sum = network.lossAndGradient(
      parameters: parameters.pointer, input: input, targets: targets, targetColumns: targetColumns,
      rows: positions.count, workspace: workspace, gradient: gradient, context: shardContext,
      layerDone: layerDone)
    let weight =
      network.classWeights?.sum(
        targets: targets, targetColumns: targetColumns, rows: positions.count,
        outputs: network.architecture.outputs) ?? Double(positions.count)
    return ShardLoss(sum: sum, weight: weight)
  }
}

/// A shard's loss sum and the sum of its rows' weights (its row count without class weights).
package struct ShardLoss: Sendable, Hashable {
  /// Σ ℓ, or Σ w ℓ with class weights.
  package var sum: Double
  /// Σ w over the shard's rows (their count without class weights).
  package var weight: Double
}

extension Network {
  /// The batch reduction of a batch of `rows` rows whose weights add up to `weight`.
  ///
  /// A sum loss is not scaled; a mean loss divides by the rows, or by the
  /// weight sum with class weights, which the shards' weights give in shard
  /// order, so the normaliser's bits never depend on threads or ranks.
  package func batchScale(rows: Int, weight: Double) -> Double {
    guard loss.reduction == .mean else { return 1 }
    return classWeights == nil ? 1 / Double(rows) : 1 / weight
  }
}

extension Range where Bound == Int {
  /// The range moved by `offset`: a shard's rows of a batch as positions of the epoch's slice.
  package func shifted(by offset: Int) -> Range<Int> {
    (lowerBound + offset)..<(upperBound + offset)
  }
}
