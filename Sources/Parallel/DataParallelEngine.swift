import NeuralNet

/// The in-process data-parallel engine: shards on workers, a fixed-order reducer, a chunked update.
///
/// One step, as `TrainingEngine` phases:
/// 1. *Compute.* Each shard of the batch is gathered and run forward and
///    backward into its own gradient buffer, by `min(threads, shards)`
///    workers in one `concurrentPerform`. BLAS is single-threaded per call.
/// 2. *Reduce.* Per chunk of the parameters, the shard gradients are added
///    in shard order into shard 0's buffer and scaled by the batch
///    reduction, with the chunk's Σ g² and finiteness: one pass, chunks
///    spread over the workers.
/// 3. *Apply.* After that barrier, and only if every chunk is finite, the
///    optimizer updates the chunks with the clip factor, in one more pass:
///    the same split of chunks over workers, each worker's last-reduced
///    chunk first, while it is most likely still in cache.
///
/// Threads decide only who computes a shard or chunk, never what is added
/// in which order: results are bit-identical for any `threads`.
///
/// In bf16 mixed precision the engine keeps a bf16 mirror of the parameters
/// for the compute phase's products. Apply refreshes each chunk of it right
/// after the optimizer wrote that chunk, while the chunk is still in cache:
/// no separate pass over the weights. The master weights, the reduction and
/// the optimizer stay f32.
///
/// In f32 on AVX2, where oneDNN's sgemm needs weight rows that are not
/// 1 KiB apart, the engine likewise keeps one padded-row copy of the wide
/// dense weights (`PaddedWeights`), refreshed by apply the same way and read
/// by every worker's products.
public final class DataParallelEngine: TrainingEngine, @unchecked Sendable {
  /// The network being trained.
  public let network: Network
  /// How batches are cut.
  public let plan: ShardPlan
  /// How the parameters are cut for reduce and apply.
  public let chunks: ChunkPlan
  /// The workers (`--threads`).
  public let workers: Workers
  /// The element type of the training products.
  public let precision: Precision
  /// Steps with fewer multiply-adds than this run on the calling thread.
  public static let parallelWorkThreshold = 1 << 21

  private let workspaces: [Workspace]
  private let shardGradients: [FloatBuffer]
  /// shardGradients' pointers, so the reducer's loop touches no array of classes.
  private let shardBases: UnsafeMutablePointer<UnsafeMutablePointer<Float>>
  private let shardSums: UnsafeMutablePointer<MetricSums>
  private let shardLosses: UnsafeMutablePointer<Double>
  /// Each shard's Σ of row weights (its rows without class weights).
  private let shardWeights: UnsafeMutablePointer<Double>
  private let chunkSquares: UnsafeMutablePointer<Double>
  private let chunkFinite: UnsafeMutablePointer<Bool>
  private let targetColumns: Int
  /// bf16 copy of the parameters (bf16 precision only), and the buffer it mirrors.
  private let mirror: UnsafeMutablePointer<UInt16>?
  /// Padded-row copy of the wide dense weights (f32 on AVX2 only).
  private let padded: PaddedWeights?
  /// The parameter buffer `mirror` or `padded` currently copies (nil: none, rebuild on the next compute).
  private var mirrorSource: FloatBuffer?
  /// The optimizer's state, whole (nil: an engine that only evaluates).
  private var optimizer: OptimizerState?
  /// The chunks cut into trainable runs and layer state (nil: no state, every chunk is trainable).
  private let roles: ChunkRoles?

  /// Sets up every buffer a step needs, for data with `targetColumns` target columns.
  ///
  /// The engine holds the state of `optimizer` (fresh; `restoreOptimizer`
  /// replaces it on a resume); without one it can compute, reduce and
  /// evaluate but not apply. With `precision` bf16, training products read
  /// bf16 copies (see the type's notes); evaluation always computes in f32.
  public convenience init(
    network: Network, plan: ShardPlan, threads: Int, targetColumns: Int, optimizer: OptimizerSettings? = nil,
    precision: Precision = .f32
  ) {
    self.init(
      network: network, plan: plan, threads: threads, targetColumns: targetColumns, optimizer: optimizer,
      precision: precision, padsWeights: true)
  }

  /// As the public initializer; `padsWeights: false` turns the padded-weights copy off (tests compare both).
  package init(
    network: Network, plan: ShardPlan, threads: Int, targetColumns: Int, optimizer: OptimizerSettings?,
    precision: Precision, padsWeights: Bool
  ) {
    self.optimizer = optimizer.map {
      OptimizerState(settings: $0, parameterCount: network.architecture.parameterCount)
    }
    self.network = network
    self.precision = precision
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
    chunks = ChunkPlan(parameterCount: parameterCount)
    roles = ChunkRoles(architecture: network.architecture, chunks: chunks)
    shardGradients = (0..<plan.maxShards).map { _ in FloatBuffer(count: parameterCount) }
    shardBases = .allocate(capacity: plan.maxShards)
    for (s, buffer) in shardGradients.enumerated() { (shardBases + s).initialize(to: buffer.pointer) }
    shardSums = .allocate(capacity: plan.maxShards)
    shardSums.initialize(repeating: MetricSums(), count: plan.maxShards)
    shardLosses = .allocate(capacity: plan.maxShards)
    shardLosses.initialize(repeating: 0, count: plan.maxShards)
    shardWeights = .allocate(capacity: plan.maxShards)
    shardWeights.initialize(repeating: 0, count: plan.maxShards)
    let chunkCount = max(chunks.count, 1)
    chunkSquares = .allocate(capacity: chunkCount)
    chunkSquares.initialize(repeating: 0, count: chunkCount)
    chunkFinite = .allocate(capacity: chunkCount)
    chunkFinite.initialize(repeating: true, count: chunkCount)
    if precision == .bf16 {
      let mirror = UnsafeMutablePointer<UInt16>.allocate(capacity: max(parameterCount, 1))
      mirror.initialize(repeating: 0, count: max(parameterCount, 1))
      self.mirror = mirror
      padded = nil
    } else {
      mirror = nil
      padded = padsWeights ? PaddedWeights.make(for: network.architecture) : nil
    }
  }

  deinit {
    mirror?.deallocate()
    shardBases.deallocate()
    shardSums.deallocate()
    shardLosses.deallocate()
    shardWeights.deallocate()
    chunkSquares.deallocate()
    chunkFinite.deallocate()
  }

  /// Whether f32 products read the engine's padded copy of the weights.
  package var usesPaddedWeights: Bool { padded != nil }

  /// The reduced gradient of the last reduce (scaled by the batch reduction,
  /// before clipping), in the parameter layout.
  package var gradient: FloatBuffer { shardGradients[0] }

  /// Whether a batch of `rows` rows is worth waking the workers for.
  private func isParallel(rows: Int) -> Bool {
    rows * network.architecture.multiplyAdds >= Self.parallelWorkThreshold
  }

  /// Runs `body(chunk)` for every chunk, spread over the workers when `parallel`.
  ///
  /// Worker w of n takes chunks w, w + n, w + 2n, ... (`reversed`: the same
  /// chunks, last first). Which worker takes a chunk never changes its bits.
  private func forEachChunk(parallel: Bool, reversed: Bool = false, _ body: @Sendable (Int) -> Void) {
    let chunkCount = chunks.count
    workers.run(workers: parallel && chunkCount > 1 ? chunkCount : 1) { worker, workerCount in
      guard worker < chunkCount else { return }
      if reversed {
        var chunk = worker + (chunkCount - 1 - worker) / workerCount * workerCount
        while chunk >= 0 {
          body(chunk)
          chunk -= workerCount
        }
      } else {
        var chunk = worker
        while chunk < chunkCount {
          body(chunk)
          chunk += workerCount
        }
      }
    }
  }

  /// Compute: every shard's loss sum and gradient into its own buffers, in one `concurrentPerform`.
  ///
  /// Shard s runs with `context` advanced by its first row, so each row's
  /// dropout mask depends on its position in the epoch, never on the shard.
  public func compute(
    parameters: FloatBuffer, data: Dataset, indices: ArraySlice<Int>, context: PassContext
  ) -> ComputedBatch {
    let rows = indices.count
    let shards = plan.shardCount(ofBatch: indices, of: data, targetColumns: targetColumns)
    let weights16 = currentMirror(of: parameters)
    let paddedWeights = currentPadded(of: parameters)
    for workspace in workspaces {
      workspace.kernels.bf16Parameters = weights16
      workspace.kernels.paddedWeights = paddedWeights
    }
    // Evaluation and other callers of the workspaces read the parameters themselves.
    defer { for workspace in workspaces { workspace.kernels.paddedWeights = nil } }
    workers.run(workers: isParallel(rows: rows) ? shards : 1) { worker, workerCount in
      var shard = worker
      while shard < shards {
        let shardLoss = ShardRows.lossAndGradient(
          ofShard: shard, batchRows: rows, plan: plan, network: network, parameters: parameters, data: data,
          indices: indices, targetColumns: targetColumns, workspace: workspaces[worker],
          gradient: shardGradients[shard].pointer, context: context)
        shardLosses[shard] = shardLoss.sum
        shardWeights[shard] = shardLoss.weight
        shard += workerCount
      }
    }
    var lossSum = 0.0
    var weightSum = 0.0
    for s in 0..<shards {
      lossSum += shardLosses[s]
      weightSum += shardWeights[s]
    }
    let scale = network.batchScale(rows: rows, weight: weightSum)
    return ComputedBatch(rows: rows, shards: shards, loss: lossSum * scale, gradientScale: scale)
  }

  /// Reduce: per chunk, the shards added in order into `gradient` and scaled; then the global norm.
  public func reduce(_ batch: ComputedBatch) -> ReducedGradient {
    let scale = Float(batch.gradientScale)
    forEachChunk(parallel: isParallel(rows: batch.rows)) { chunk in
      reduceChunk(chunk, shards: batch.shards, scale: scale)
    }
    var squares = 0.0
    var finite = true
    for c in 0..<chunks.count {
      squares += chunkSquares[c]
      finite = finite && chunkFinite[c]
    }
    let norm = squares.squareRoot()
    return ReducedGradient(batch: batch, norm: norm, isFinite: finite && norm.isFinite)
  }

  /// Apply: the optimizer's step over every chunk, with the clip factor of the gradient's norm.
  public func apply(_ reduced: ReducedGradient, parameters: FloatBuffer, learningRate: Double) {
    precondition(reduced.isFinite, "apply needs a finite gradient")
    guard let optimizer else { preconditionFailure("an engine built without an optimizer cannot apply") }
    let factor = optimizer.settings.clipFactor(gradientNorm: reduced.norm)
    let coefficients = optimizer.beginStep(learningRate: learningRate, gradientScale: factor)
    let gradient = self.gradient
    // The mirror follows only if it mirrored these parameters; otherwise the next compute rebuilds it.
    let refreshMirror = mirrorSource === parameters
    let batch = StateBatch(rows: reduced.batch.rows, shards: reduced.batch.shards)
    forEachChunk(parallel: isParallel(rows: reduced.batch.rows), reversed: true) { chunk in
      let range = chunks.range(ofChunk: chunk)
      if let roles {
        roles.apply(
          chunk: chunk, parameters: parameters.pointer, gradient: gradient.pointer, base: 0,
          optimizer: optimizer,
          coefficients: coefficients, batch: batch)
      } else {
        optimizer.update(
          parameters: parameters.pointer, gradient: gradient.pointer, range: range, coefficients: coefficients
        )
      }
      if refreshMirror, let mirror = self.mirror {
        BFloat16.convert(
          parameters.pointer + range.lowerBound, count: range.count, into: mirror + range.lowerBound)
      }
      if refreshMirror, let padded = self.padded {
        padded.refresh(from: parameters.pointer, range: range)
      }
    }
  }

  /// The whole optimizer state (this process holds all of it).
  public func optimizerState() -> OptimizerState? { optimizer }

  /// Continues from `state` (a resumed run's), whose settings are the engine's.
  public func restoreOptimizer(_ state: OptimizerState) {
    precondition(
      optimizer.map { $0.settings == state.settings } ?? false,
      "a restored optimizer has the engine's settings")
    optimizer = state
  }

  /// The bf16 mirror of `parameters` for a mixed-precision compute (nil in f32), rebuilt if it mirrors another buffer.
  ///
  /// Apply keeps it current; a whole conversion happens only on the first
  /// step or when the caller passes a different parameter buffer.
  private func currentMirror(of parameters: FloatBuffer) -> UnsafePointer<UInt16>? {
    guard let mirror else { return nil }
    if mirrorSource !== parameters {
      BFloat16.convert(parameters.pointer, count: parameters.count, into: mirror)
      mirrorSource = parameters
    }
    return UnsafePointer(mirror)
  }

  /// The padded weights for an f32 compute on `parameters` (nil where none are needed), rebuilt if they copy another buffer.
  private func currentPadded(of parameters: FloatBuffer) -> PaddedWeights? {
    guard let padded else { return nil }
    if mirrorSource !== parameters {
      padded.refresh(from: parameters.pointer, range: 0..<parameters.count)
      mirrorSource = parameters
    }
    return padded
  }

  /// Forgets the bf16 mirror and the padded weights: call after changing the parameters other than through `apply`.
  public func parametersDidChange() {
    mirrorSource = nil
  }

  /// Loss and metric sums of `parameters` on `data` (all rows, in order).
  ///
  /// Runs in shards like a step, so it is deterministic too.
  /// With `targetScale`, MAE and R² are in the targets' original units.
  public func evaluate(
    parameters: FloatBuffer, data: Dataset, targetScale: AffineScaler? = nil
  ) -> MetricSums {
    evaluate(parameters: parameters, data: data, targetScale: targetScale, continuing: MetricSums())
  }

  /// As `evaluate`, each row's outputs also written to `outputs` ([data.count, outputs]) when given.
  public func evaluate(
    parameters: FloatBuffer, data: Dataset, targetScale: AffineScaler?, outputs: Matrix?
  ) -> MetricSums {
    evaluateInShards(
      network: network, plan: plan, workers: workers, workspaces: workspaces, shardSums: shardSums,
      targetColumns: targetColumns, parallel: isParallel(rows:), parameters: parameters, data: data,
      targetScale: targetScale, rowOutputs: outputs)
  }

  /// The sums of `evaluate` added on to `total`: blocks of whole batches
  /// (`plan.batchSize` rows, but the last) evaluated one after the other sum
  /// bit for bit as their concatenation does.
  public func evaluate(
    parameters: FloatBuffer, data: Dataset, targetScale: AffineScaler?, continuing total: MetricSums
  ) -> MetricSums {
    evaluateInShards(
      network: network, plan: plan, workers: workers, workspaces: workspaces, shardSums: shardSums,
      targetColumns: targetColumns, parallel: isParallel(rows:), parameters: parameters, data: data,
      targetScale: targetScale, continuing: total)
  }

  /// gradient[chunk] = scale · Σ_s shard_s[chunk] (s in order); records Σ g² and finiteness.
  ///
  /// `ShardSum.reduce` is the kernel every engine shares, so a chunk's bits
  /// depend only on the data, never on which engine or process added it.
  /// With layer state, `ChunkRoles` reduces the chunk piece by piece.
  private func reduceChunk(_ chunk: Int, shards: Int, scale: Float) {
    let range = chunks.range(ofChunk: chunk)
    let squares =
      roles?.reduce(chunk: chunk, sources: shardBases, shards: shards, base: 0, scale: scale)
      ?? ShardSum.reduce(
        sources: shardBases, shards: shards, offset: range.lowerBound, count: range.count, scale: scale)
    chunkSquares[chunk] = squares
    chunkFinite[chunk] = squares.isFinite
  }
}
