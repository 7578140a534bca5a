import NeuralNet

/// What one training step produced.
public struct StepOutcome: Sendable {
  /// The batch loss (after the loss's reduction).
  public var loss: Double
  /// L2 norm of the reduced gradient, before clipping.
  public var gradientNorm: Double
  /// Rows in the batch.
  public var rows: Int
  /// False when the loss or the gradient was NaN or infinite; the
  /// parameters were then not updated with a non-finite value.
  public var isFinite: Bool
}

/// A data-parallel training step: shards on workers, then a fixed-order reducer.
///
/// One step:
/// 1. *Shards.* Each shard of the batch is gathered and run forward and
///    backward into its own gradient buffer, by `min(threads, shards)` workers
///    in one `concurrentPerform`. BLAS is single-threaded per call.
/// 2. *Reduce and update.* The parameters are cut into fixed chunks; for
///    each chunk the shard gradients are added in shard order into shard 0's
///    buffer, scaled by the batch reduction, and (without clipping) the
///    optimizer updates the chunk right away while it is in cache. With
///    clipping the global norm is needed first, so the update is a third
///    phase. Chunks are spread over the workers.
///
/// Threads decide only who computes a shard or chunk, never what is added
/// in which order: results are bit-identical for any `threads`.
public final class DataParallelEngine: @unchecked Sendable {
  /// The network being trained.
  public let network: Network
  /// How batches are cut.
  public let plan: ShardPlan
  /// The workers (`--threads`).
  public let workers: Workers
  /// Parameters per reducer chunk (64 KiB of floats: fits in L2).
  public static let chunkSize = 16_384
  /// Steps with fewer multiply-adds than this run on the calling thread.
  public static let parallelWorkThreshold = 1 << 21

  private let workspaces: [Workspace]
  private let shardGradients: [FloatBuffer]
  /// shardGradients' pointers, so the reducer's loop touches no array of classes.
  private let shardBases: UnsafeMutablePointer<UnsafeMutablePointer<Float>>
  private let shardSums: UnsafeMutablePointer<MetricSums>
  private let shardLosses: UnsafeMutablePointer<Double>
  private let chunkSquares: UnsafeMutablePointer<Double>
  private let chunkFinite: UnsafeMutablePointer<Bool>
  private let chunkCount: Int
  private let targetColumns: Int

  /// Sets up every buffer a step needs, for data with `targetColumns` target columns.
  public init(network: Network, plan: ShardPlan, threads: Int, targetColumns: Int) {
    self.network = network
    self.plan = plan
    workers = Workers(count: threads)
    self.targetColumns = targetColumns
    let workerCount = min(workers.count, plan.maxShards)
    workspaces = (0..<workerCount).map { _ in
      Workspace(
        architecture: network.architecture, capacity: plan.shardSize,
        targetColumns: targetColumns)
    }
    let parameterCount = network.architecture.parameterCount
    shardGradients = (0..<plan.maxShards).map { _ in FloatBuffer(count: parameterCount) }
    shardBases = .allocate(capacity: plan.maxShards)
    for (s, buffer) in shardGradients.enumerated() { (shardBases + s).initialize(to: buffer.pointer) }
    shardSums = .allocate(capacity: plan.maxShards)
    shardSums.initialize(repeating: MetricSums(), count: plan.maxShards)
    shardLosses = .allocate(capacity: plan.maxShards)
    shardLosses.initialize(repeating: 0, count: plan.maxShards)
    chunkCount = (parameterCount + Self.chunkSize - 1) / Self.chunkSize
    chunkSquares = .allocate(capacity: max(chunkCount, 1))
    chunkSquares.initialize(repeating: 0, count: max(chunkCount, 1))
    chunkFinite = .allocate(capacity: max(chunkCount, 1))
    chunkFinite.initialize(repeating: true, count: max(chunkCount, 1))
  }

  deinit {
    shardBases.deallocate()
    shardSums.deallocate()
    shardLosses.deallocate()
    chunkSquares.deallocate()
    chunkFinite.deallocate()
  }

  /// The reduced gradient of the last step (scaled by the batch reduction,
  /// before clipping), in the parameter layout.
  public var gradient: FloatBuffer { shardGradients[0] }

  /// Runs one step on the rows `indices` of `data` and updates `parameters`.
  ///
  /// `indices` are row numbers of `data`; their count must be between 1 and
  /// the plan's batch size.
  public func step(
    parameters: FloatBuffer, optimizer: OptimizerState, data: Dataset,
    indices: ArraySlice<Int>, learningRate: Double
  ) -> StepOutcome {
    let rows = indices.count
    precondition(rows > 0 && rows <= plan.batchSize, "batch of \(rows) rows does not fit the plan")
    precondition(data.targetColumns == targetColumns, "target columns differ from the engine's")
    let shards = plan.shardCount(rows: rows)
    let parallel = rows * network.architecture.multiplyAdds >= Self.parallelWorkThreshold

    // Phase 1: every shard's loss sum and gradient into its own buffers.
    workers.run(workers: parallel ? shards : 1) { worker, workerCount in
      var shard = worker
      while shard < shards {
        computeShard(
          shard, rows: rows, parameters: parameters, data: data, indices: indices,
          workspace: workspaces[worker])
        shard += workerCount
      }
    }
    var lossSum = 0.0
    for s in 0..<shards { lossSum += shardLosses[s] }
    let batchScale = network.loss.reduction == .mean ? 1 / Double(rows) : 1
    let loss = lossSum * batchScale
    guard loss.isFinite else {
      return StepOutcome(loss: loss, gradientNorm: .nan, rows: rows, isFinite: false)
    }

    // Phase 2 (and 3 with clipping): reduce chunks in shard order, update.
    let settings = optimizer.settings
    let clipping = settings.clipNorm != nil
    let scale = Float(batchScale)
    let coefficients =
      clipping ? nil : optimizer.beginStep(learningRate: learningRate, gradientScale: 1)
    let parallelReduce = parallel && chunkCount > 1
    workers.run(workers: parallelReduce ? chunkCount : 1) { worker, workerCount in
      var chunk = worker
      while chunk < chunkCount {
        reduceChunk(chunk, shards: shards, scale: scale)
        if let coefficients, chunkFinite[chunk] {
          optimizer.update(
            parameters: parameters.pointer, gradient: gradient.pointer,
            range: chunkRange(chunk), coefficients: coefficients)
        }
        chunk += workerCount
      }
    }
    var squares = 0.0
    var finite = true
    for c in 0..<chunkCount {
      squares += chunkSquares[c]
      finite = finite && chunkFinite[c]
    }
    let norm = squares.squareRoot()
    guard finite, norm.isFinite else {
      return StepOutcome(loss: loss, gradientNorm: norm, rows: rows, isFinite: false)
    }
    if let clipNorm = settings.clipNorm {
      let factor = norm > clipNorm ? Float(clipNorm / norm) : 1
      let stepCoefficients = optimizer.beginStep(
        learningRate: learningRate, gradientScale: factor)
      workers.run(workers: parallelReduce ? chunkCount : 1) { worker, workerCount in
        var chunk = worker
        while chunk < chunkCount {
          optimizer.update(
            parameters: parameters.pointer, gradient: gradient.pointer,
            range: chunkRange(chunk), coefficients: stepCoefficients)
          chunk += workerCount
        }
      }
    }
    return StepOutcome(loss: loss, gradientNorm: norm, rows: rows, isFinite: true)
  }

  /// Loss and metric sums of `parameters` on `data` (all rows, in order).
  ///
  /// Runs in shards like a step, so it is deterministic too.
  /// With `targetScale`, MAE and R² are in the targets' original units.
  public func evaluate(parameters: FloatBuffer, data: Dataset, targetScale: AffineScaler? = nil) -> MetricSums
  {
    var total = MetricSums()
    let outputs = network.architecture.outputs
    var start = 0
    while start < data.count {
      let rows = min(plan.batchSize, data.count - start)
      let shards = plan.shardCount(rows: rows)
      let parallel = rows * network.architecture.multiplyAdds >= Self.parallelWorkThreshold
      let batchStart = start
      workers.run(workers: parallel ? shards : 1) { worker, workerCount in
        var shard = worker
        while shard < shards {
          let range = plan.rows(ofShard: shard, inBatchOf: rows)
          let first = batchStart + range.lowerBound
          let output = network.forward(
            parameters: parameters.pointer, input: data.inputs.row(first), rows: range.count,
            workspace: workspaces[worker])
          shardSums[shard] = MetricSums.measure(
            loss: network.loss, output: output, targets: data.targets.row(first),
            targetColumns: targetColumns, rows: range.count, outputs: outputs, targetScale: targetScale)
          shard += workerCount
        }
      }
      for s in 0..<shards { total.add(shardSums[s]) }
      start += rows
    }
    return total
  }

  private func chunkRange(_ chunk: Int) -> Range<Int> {
    let start = chunk * Self.chunkSize
    return start..<min(start + Self.chunkSize, network.architecture.parameterCount)
  }

  /// Gathers shard `shard`'s rows and runs forward and backward on them.
  private func computeShard(
    _ shard: Int, rows: Int, parameters: FloatBuffer, data: Dataset,
    indices: ArraySlice<Int>, workspace: Workspace
  ) {
    let range = plan.rows(ofShard: shard, inBatchOf: rows).shifted(by: indices.startIndex)
    let features = data.features
    var input = UnsafePointer(data.inputs.row(indices[range.lowerBound]))
    var targets = UnsafePointer(data.targets.row(indices[range.lowerBound]))
    // Rows that are consecutive in the data set are used in place.
    // (Plain index loops: `enumerated()` on a range allocated here.)
    let first = indices[range.lowerBound]
    var contiguous = true
    var offset = 0
    while offset < range.count {
      if indices[range.lowerBound + offset] != first + offset {
        contiguous = false
        break
      }
      offset += 1
    }
    if !contiguous {
      offset = 0
      while offset < range.count {
        let index = indices[range.lowerBound + offset]
        (workspace.input.pointer + offset * features).update(
          from: data.inputs.row(index), count: features)
        (workspace.targets.pointer + offset * targetColumns).update(
          from: data.targets.row(index), count: targetColumns)
        offset += 1
      }
      input = UnsafePointer(workspace.input.pointer)
      targets = UnsafePointer(workspace.targets.pointer)
    }
    shardLosses[shard] = network.lossAndGradient(
      parameters: parameters.pointer, input: input, targets: targets,
      targetColumns: targetColumns, rows: range.count, workspace: workspace,
      gradient: shardGradients[shard].pointer)
  }

  /// gradient[chunk] = scale · Σ_s shard_s[chunk] (s in order); records Σ g² and finiteness.
  ///
  /// One pass over the chunk with explicit 16-lane vectors: the adds happen
  /// in shard order element by element, and the squares go into sixteen
  /// fixed partial sums, so the bits depend only on the data.
  private func reduceChunk(_ chunk: Int, shards: Int, scale: Float) {
    let range = chunkRange(chunk)
    let total = UnsafeMutableRawPointer(shardGradients[0].pointer + range.lowerBound)
    let n = range.count
    let lower = range.lowerBound
    var lanes = SIMD16<Float>()
    let vectorScale = SIMD16<Float>(repeating: scale)
    var i = 0
    while i + 16 <= n {
      let offset = i * 4
      var v = total.loadUnaligned(fromByteOffset: offset, as: SIMD16<Float>.self)
      for p in 1..<max(shards, 1) {
        v += UnsafeRawPointer(shardBases[p] + lower).loadUnaligned(
          fromByteOffset: offset, as: SIMD16<Float>.self)
      }
      v *= vectorScale
      total.storeBytes(of: v, toByteOffset: offset, as: SIMD16<Float>.self)
      lanes += v * v
      i += 16
    }
    var squares = Double(lanes.sum())
    let totalFloats = total.assumingMemoryBound(to: Float.self)
    while i < n {
      var v = totalFloats[i]
      for p in 1..<max(shards, 1) { v += shardBases[p][lower + i] }
      v *= scale
      totalFloats[i] = v
      squares += Double(v) * Double(v)
      i += 1
    }
    chunkSquares[chunk] = squares
    chunkFinite[chunk] = squares.isFinite
  }
}

extension Range where Bound == Int {
  fileprivate func shifted(by offset: Int) -> Range<Int> {
    (lowerBound + offset)..<(upperBound + offset)
  }
}
