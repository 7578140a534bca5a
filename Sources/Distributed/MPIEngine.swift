import CMPI
import NeuralNet
import Parallel
import Synchronization

/// The data-parallel engine over MPI ranks: the in-process engine's sums, spread over processes.
///
/// One step, as `TrainingEngine` phases, on each of R ranks:
/// 1. *Compute.* The batch's S shards are cut into R contiguous ranges
///    (rank p: shards ⌊pS/R⌋ ..< ⌊(p+1)S/R⌋); this rank's shards run on its
///    `--threads` workers into their own gradient buffers. The shard losses
///    and each rank's stop request are all-gathered, and every rank adds the
///    losses in shard order.
/// 2. *Reduce.* The parameters are cut into R ranges at `ChunkPlan` chunk
///    boundaries (rank p: chunks ⌊pC/R⌋ ..< ⌊(p+1)C/R⌋). Every shard's slice
///    of a range goes to the range's rank (point to point, straight from the
///    gradient buffers), which adds the S slices in shard order with the
///    in-process reducer's kernel (`ShardSum`) and records each chunk's Σ g².
///    The chunk sums are all-gathered and added in chunk order: the global
///    norm has the single-process bits whatever R is.
/// 3. *Apply.* Each rank updates its range with the optimizer state of that
///    range only (ZeRO-1), and the parameters are all-gathered in place.
///
/// *Overlap.* With a progress thread (`MPIWorld.progress`) the receives of
/// step 2 are posted before compute, and each layer's slices are sent as
/// soon as backward has finished that layer for all of this rank's shards
/// (the last layer first), while the layers below are still computing: one
/// message per shard, layer and destination, tagged with the layer, posted
/// in shard order, so each lands in the slot the receiver posted for it.
/// Only when the bytes arrive changes; the adds of step 2 are the same.
///
/// No MPI reduction is used for sums (MPI_Allreduce promises no order), so
/// the weights, optimizer state and losses are bit-identical to
/// `DataParallelEngine` for any rank count and any `--threads`.
///
/// R may exceed S (a batch of 2 shards on 3 ranks, or an epoch's short last
/// batch): a rank whose share of the shards is empty computes nothing and
/// sends no gradient, but still takes part in every exchange, receives every
/// shard's slice of its parameter range, reduces and updates that range.
public final class MPIEngine: TrainingEngine, @unchecked Sendable {
  /// The network being trained.
  public let network: Network
  /// How batches are cut.
  public let plan: ShardPlan
  /// How the parameters are cut; ranks own whole chunks.
  public let chunks: ChunkPlan
  /// This rank's workers (`--threads`).
  public let workers: Workers
  /// The ranks.
  public let world: MPIWorld
  /// The chunks this rank reduces and updates.
  public let ownedChunks: Range<Int>
  /// The parameters this rank reduces and updates.
  public let ownedRange: Range<Int>
  /// The stop code agreed in the last exchange (lowest rank's request first).
  public private(set) var agreedStop: Int32?
  /// Steps exchanged so far (for the statistics).
  public private(set) var steps = 0

  private let stopCode: @Sendable () -> Int32?
  /// This rank's optimizer state: its range only.
  private var localOptimizer: OptimizerState
  /// The chunks cut into trainable runs and layer state (nil: no state), as in `DataParallelEngine`.
  private let roles: ChunkRoles?
  private let targetColumns: Int
  private let workspaces: [Workspace]
  /// Gradients of this rank's shards, full parameter layout each.
  private let localGradients: [FloatBuffer]
  private let localLosses: UnsafeMutablePointer<Double>
  /// Σ of row weights of each local shard (exchanged only with class weights).
  private let localWeights: UnsafeMutablePointer<Double>
  /// Slices of this rank's range from the other ranks' shards: shard s at s · ownedRange.count.
  private let received: FloatBuffer
  /// One base pointer per shard of the batch, for `ShardSum` (a local buffer or a slot of `received`).
  private let shardBases: UnsafeMutablePointer<UnsafeMutablePointer<Float>>
  private let requests: UnsafeMutablePointer<MPI_Request?>
  private let requestCapacity: Int
  /// Per-chunk Σ g² of all chunks (this rank's filled by reduce, the rest by the exchange).
  private let chunkSquares: UnsafeMutablePointer<Double>
  private let shardSums: UnsafeMutablePointer<MetricSums>
  /// Per rank: parameter counts and offsets of the owned ranges, chunk counts and offsets.
  private let rangeCounts: [Int32]
  private let rangeOffsets: [Int32]
  private let chunkCounts: [Int32]
  private let chunkOffsets: [Int32]
  /// The loss exchange: per rank [stop code, its shards' losses], at `lossOffsets[p]`, `lossCounts[p]` long.
  private let lossExchange: UnsafeMutablePointer<Double>
  private let lossCounts: UnsafeMutablePointer<Int32>
  private let lossOffsets: UnsafeMutablePointer<Int32>
  /// The reduced gradient of this rank's range after reduce.
  private var reducedRange: UnsafeMutablePointer<Float>
  /// Training precision; in bf16 the products read `mirror`, a bf16 copy of the parameters.
  public let precision: Precision
  /// bf16 copy of all parameters (bf16 only), converted at the start of every compute:
  /// the all-gather writes the parameters outside `apply`, so no range could stay current.
  private let mirror: UnsafeMutablePointer<UInt16>?
  /// The progress thread when the exchange overlaps backward, as it was when the engine was
  /// made: `requests` is sized for it, so a thread started later must not change this engine.
  private let progress: ProgressThread?
  /// Whether the gradient slices go out during backward (a progress thread runs).
  public var overlapsExchange: Bool { progress != nil }
  /// Each layer's parameters (its slice of every gradient), by layer index.
  private let layerRanges: [Range<Int>]
  /// Gradient bytes sent by the overlapped exchange so far, and those of them posted while layer 0's backward still ran.
  private var gradientBytes = 0
  private var bytesDuringBackward = 0
  /// Requests posted for this step's exchange so far (receives first, then the progress thread's sends).
  private var posted = 0
  /// The overlapped exchange of the running compute: what the progress thread reads.
  private let exchange = Mutex(OverlapState())

  /// Sets up this rank's buffers, for any number of ranks (some may have no shard of a batch).
  public init(
    network: Network, plan: ShardPlan, threads: Int, targetColumns: Int, optimizer: OptimizerSettings,
    precision: Precision = .f32, world: MPIWorld, stopCode: @escaping @Sendable () -> Int32?
  ) {
    self.precision = precision
    if precision == .bf16 {
      let mirror = UnsafeMutablePointer<UInt16>.allocate(
        capacity: max(network.architecture.parameterCount, 1))
      mirror.initialize(repeating: 0, count: max(network.architecture.parameterCount, 1))
      self.mirror = mirror
    } else {
      mirror = nil
    }
    self.network = network
    self.plan = plan
    self.world = world
    self.stopCode = stopCode
    self.targetColumns = targetColumns
    workers = Workers(count: threads)
    let parameterCount = network.architecture.parameterCount
    chunks = ChunkPlan(parameterCount: parameterCount)
    roles = ChunkRoles(architecture: network.architecture, chunks: chunks)
    let ranks = world.size
    var counts: [Int32] = []
    var offsets: [Int32] = []
    var chunkCounts: [Int32] = []
    for p in 0..<ranks {
      let owned = Self.share(of: p, ranks: ranks, items: chunks.count)
      let range = Self.parameters(of: owned, in: chunks)
      counts.append(Int32(range.count))
      offsets.append(Int32(range.lowerBound))
      chunkCounts.append(Int32(owned.count))
    }
    rangeCounts = counts
    rangeOffsets = offsets
    self.chunkCounts = chunkCounts
    chunkOffsets = MPIWorld.offsets(chunkCounts)
    lossExchange = .allocate(capacity: 2 * plan.maxShards + ranks)
    lossExchange.initialize(repeating: 0, count: 2 * plan.maxShards + ranks)
    lossCounts = .allocate(capacity: ranks)
    lossCounts.initialize(repeating: 0, count: ranks)
    lossOffsets = .allocate(capacity: ranks)
    lossOffsets.initialize(repeating: 0, count: ranks)
    ownedChunks = Self.share(of: world.rank, ranks: ranks, items: chunks.count)
    ownedRange = Self.parameters(of: ownedChunks, in: chunks)
    localOptimizer = OptimizerState(settings: optimizer, parameterCount: ownedRange.count)
    let maxLocal = Self.mostShards(of: world.rank, ranks: ranks, plan: plan)
    localGradients = (0..<maxLocal).map { _ in FloatBuffer(count: parameterCount) }
    workspaces = (0..<max(1, min(workers.count, plan.maxShards))).map { _ in
      Workspace(
        architecture: network.architecture, capacity: plan.shardSize, targetColumns: targetColumns)
    }
    localLosses = .allocate(capacity: max(maxLocal, 1))
    localLosses.initialize(repeating: 0, count: max(maxLocal, 1))
    localWeights = .allocate(capacity: max(maxLocal, 1))
    localWeights.initialize(repeating: 0, count: max(maxLocal, 1))
    received = FloatBuffer(count: max(plan.maxShards * ownedRange.count, 1))
    shardBases = .allocate(capacity: plan.maxShards)
    shardBases.initialize(repeating: received.pointer, count: plan.maxShards)
    layerRanges = network.architecture.layers.map { layer in
      let tensors = layer.parameters.map(\.range)
      guard let lower = tensors.map(\.lowerBound).min(), let upper = tensors.map(\.upperBound).max() else {
        return 0..<0
      }
      return lower..<upper
    }
    // Sends: each local shard to every other rank; receives: every other rank's shard (per layer when overlapped).
    progress = world.progress
    let pieces = progress == nil ? 1 : max(layerRanges.count, 1)
    requestCapacity = (maxLocal * ranks + plan.maxShards) * pieces
    requests = .allocate(capacity: requestCapacity)
    requests.initialize(repeating: nil, count: requestCapacity)
    chunkSquares = .allocate(capacity: max(chunks.count, 1))
    chunkSquares.initialize(repeating: 0, count: max(chunks.count, 1))
    shardSums = .allocate(capacity: plan.maxShards)
    shardSums.initialize(repeating: MetricSums(), count: plan.maxShards)
    reducedRange = received.pointer
  }

  deinit {
    mirror?.deallocate()
    localLosses.deallocate()
    localWeights.deallocate()
    shardBases.deallocate()
    requests.deallocate()
    chunkSquares.deallocate()
    shardSums.deallocate()
    lossExchange.deallocate()
    lossCounts.deallocate()
    lossOffsets.deallocate()
  }

  /// Items ⌊p·n/R⌋ ..< ⌊(p+1)·n/R⌋: rank p's contiguous share of `items` (shards or chunks).
  public static func share(of rank: Int, ranks: Int, items: Int) -> Range<Int> {
    (rank * items / ranks)..<((rank + 1) * items / ranks)
  }

  /// The most shards rank `rank` computes of any batch the plan allows (full or short).
  ///
  /// Not always its share of a full batch: of 5 ranks, rank 2 computes 1 of
  /// a full batch's 8 shards but 2 of a short batch's 7, and none of 3 but 1 of 2.
  public static func mostShards(of rank: Int, ranks: Int, plan: ShardPlan) -> Int {
    (1...plan.maxShards).map { share(of: rank, ranks: ranks, items: $0).count }.max() ?? 0
  }

  /// The rows of a batch of `rows` rows that this rank computes: those of its shards, one contiguous range.
  ///
  /// A streamed training set reads only these rows of each batch, and
  /// `compute` reads no others of the batch's data set.
  public func computedRows(inBatchOf rows: Int) -> Range<Int> {
    let mine = Self.share(of: world.rank, ranks: world.size, items: plan.shardCount(rows: rows))
    guard !mine.isEmpty else { return 0..<0 }
    return plan.rows(ofShard: mine.lowerBound, inBatchOf: rows)
      .lowerBound..<plan.rows(ofShard: mine.upperBound - 1, inBatchOf: rows).upperBound
  }

  private static func parameters(of owned: Range<Int>, in chunks: ChunkPlan) -> Range<Int> {
    guard !owned.isEmpty else {
      let start = min(owned.lowerBound * ChunkPlan.chunkSize, chunks.parameterCount)
      return start..<start
    }
    return chunks.range(ofChunk: owned.lowerBound)
      .lowerBound..<chunks.range(ofChunk: owned.upperBound - 1)
      .upperBound
  }

  private func isParallel(rows: Int) -> Bool {
    rows * network.architecture.multiplyAdds >= DataParallelEngine.parallelWorkThreshold
  }

  // MARK: - Compute

  /// Compute: this rank's shards of the batch, then every shard's loss and every rank's stop request on all ranks.
  public func compute(
    parameters: FloatBuffer, data: Dataset, indices: ArraySlice<Int>, context: PassContext
  ) -> ComputedBatch {
    let rows = indices.count
    let shards = plan.shardCount(ofBatch: indices, of: data, targetColumns: targetColumns)
    let mine = Self.share(of: world.rank, ranks: world.size, items: shards)
    let localCount = mine.count
    let localRows = computedRows(inBatchOf: rows).count
    if let mirror {
      BFloat16.convert(parameters.pointer, count: parameters.count, into: mirror)
    }
    for workspace in workspaces { workspace.kernels.bf16Parameters = mirror.map { UnsafePointer($0) } }
    // A step whose loss was not finite skipped reduce: its exchange ends here (every rank skipped alike).
    completeExchange()
    if progress != nil { postReceives(shards: shards) }
    let peers = (0..<world.size).contains { $0 != world.rank && rangeCounts[$0] > 0 }
    let sends = progress != nil && localCount > 0 && peers
    if sends, let progress {
      exchange.withLock { $0 = OverlapState(layers: layerRanges.count, localShards: localCount) }
      progress.begin { [self] in pump() }
    }
    workers.run(workers: isParallel(rows: localRows) ? min(localCount, workspaces.count) : 1) {
      worker, workerCount in
      var k = worker
      while k < localCount {
        // Local buffer k holds shard mine.lowerBound + k.
        let shardLoss = ShardRows.lossAndGradient(
          ofShard: mine.lowerBound + k, batchRows: rows, plan: plan, network: network, parameters: parameters,
          data: data, indices: indices, targetColumns: targetColumns, workspace: workspaces[worker],
          gradient: localGradients[k].pointer, context: context,
          layerDone: { l in
            guard sends else { return }
            let ready = exchange.withLock { state -> Bool in
              state.done[l] += 1
              return state.done[l] == state.localShards
            }
            if ready { progress?.wake() }
          })
        localLosses[k] = shardLoss.sum
        localWeights[k] = shardLoss.weight
        k += workerCount
      }
    }
    if sends { progress?.finish() }
    // [stop code, loss of each of my shards] from every rank, in rank (so shard) order;
    // with class weights each loss is followed by its shard's weight sum.
    let weighted = network.classWeights != nil
    let perShard = weighted ? 2 : 1
    var offset: Int32 = 0
    for p in 0..<world.size {
      lossOffsets[p] = offset
      lossCounts[p] = Int32(1 + perShard * Self.share(of: p, ranks: world.size, items: shards).count)
      offset += lossCounts[p]
    }
    let block = lossExchange + Int(lossOffsets[world.rank])
    block[0] = Double(stopCode() ?? 0)
    for k in 0..<localCount {
      block[1 + perShard * k] = localLosses[k]
      if weighted { block[2 + perShard * k] = localWeights[k] }
    }
    world.allGatherInPlace(lossExchange, counts: lossCounts, displacements: lossOffsets)
    var lossSum = 0.0
    var weightSum = 0.0
    var stop: Int32?
    for p in 0..<world.size {
      let position = Int(lossOffsets[p])
      let code = Int32(lossExchange[position])
      if stop == nil && code != 0 { stop = code }
      for i in stride(from: 1, to: Int(lossCounts[p]), by: perShard) {
        lossSum += lossExchange[position + i]
        if weighted { weightSum += lossExchange[position + i + 1] }
      }
    }
    agreedStop = stop
    steps += 1
    let scale = network.batchScale(rows: rows, weight: weightSum)
    // No reduce follows a loss that is not finite: the posted exchange ends now, on every rank.
    if !(lossSum * scale).isFinite { completeExchange() }
    return ComputedBatch(rows: rows, shards: shards, loss: lossSum * scale, gradientScale: scale)
  }

  /// Waits for the requests still posted (an overlapped exchange whose step reduced nothing).
  private func completeExchange() {
    world.waitAll(requests, count: posted)
    posted = 0
  }

  // MARK: - Reduce

  /// Reduce: every shard's slice of this rank's range, added in shard order; the norm from all chunks in order.
  public func reduce(_ batch: ComputedBatch) -> ReducedGradient {
    let shards = batch.shards
    let ranks = world.size
    let mine = Self.share(of: world.rank, ranks: ranks, items: shards)
    let ownedCount = ownedRange.count
    let overlapped = progress != nil
    if !overlapped { posted = 0 }
    // Receives first, so the sends find them posted (overlapped: posted by compute, sent during backward).
    for s in 0..<shards {
      if mine.contains(s) {
        shardBases[s] = localGradients[s - mine.lowerBound].pointer + ownedRange.lowerBound
      } else {
        shardBases[s] = received.pointer + s * ownedCount
        if ownedCount > 0 && !overlapped {
          world.receive(
            shardBases[s], count: ownedCount, from: owner(ofShard: s, shards: shards), tag: s,
            request: requests + posted)
          posted += 1
        }
      }
    }
    for s in mine where !overlapped {
      let gradient = localGradients[s - mine.lowerBound].pointer
      for q in 0..<ranks where q != world.rank && rangeCounts[q] > 0 {
        world.send(
          gradient + Int(rangeOffsets[q]), count: Int(rangeCounts[q]), to: q, tag: s,
          request: requests + posted)
        posted += 1
      }
    }
    world.waitAll(requests, count: posted)
    posted = 0

    let scale = Float(batch.gradientScale)
    let owned = ownedChunks
    workers.run(workers: isParallel(rows: batch.rows) ? owned.count : 1) { worker, workerCount in
      var chunk = owned.lowerBound + worker
      while chunk < owned.upperBound {
        reduceChunk(chunk, shards: shards, scale: scale)
        chunk += workerCount
      }
    }
    reducedRange = shardBases[0]
    // Every rank's chunk sums, then the norm in chunk order as in one process.
    // In place: this rank's sums already sit at its chunks' positions.
    world.allGatherInPlace(chunkSquares, counts: chunkCounts, displacements: chunkOffsets)
    var total = 0.0
    var finite = true
    for c in 0..<chunks.count {
      total += chunkSquares[c]
      finite = finite && chunkSquares[c].isFinite
    }
    let norm = total.squareRoot()
    return ReducedGradient(batch: batch, norm: norm, isFinite: finite && norm.isFinite)
  }

  // MARK: - Overlapped exchange

  /// Posts, for every shard of the batch that another rank computes, one receive per layer of its slice of this rank's range.
  ///
  /// Tag: the layer. Per sender and layer they are posted in shard order,
  /// as the sender posts its sends, so each message lands in its shard's slot.
  private func postReceives(shards: Int) {
    let ownedCount = ownedRange.count
    guard ownedCount > 0 else { return }
    let mine = Self.share(of: world.rank, ranks: world.size, items: shards)
    for s in 0..<shards where !mine.contains(s) {
      let source = owner(ofShard: s, shards: shards)
      for (l, layer) in layerRanges.enumerated() {
        let piece = layer.clamped(to: ownedRange)
        guard !piece.isEmpty else { continue }
        world.receive(
          received.pointer + s * ownedCount + (piece.lowerBound - ownedRange.lowerBound), count: piece.count,
          from: source, tag: l, request: requests + posted)
        posted += 1
      }
    }
  }

  /// On the progress thread: sends the slices of every layer now done on all local shards, then tests every request.
  ///
  /// Layers go out from the last down, each once every local shard has
  /// finished it (backward finishes them in that order); returns true when
  /// all have gone out.
  private func pump() -> ProgressThread.Pumped {
    while true {
      let (layer, local) = exchange.withLock { state -> (Int, Int) in
        let l = state.next
        return (l >= 0 && state.done[l] == state.localShards ? l : -1, state.localShards)
      }
      guard layer >= 0 else { break }
      // Sent while the layers below still compute (not the last layer, whose end ends backward).
      let during = exchange.withLock { $0.done[0] < $0.localShards }
      for k in 0..<local {
        let gradient = localGradients[k].pointer
        for q in 0..<world.size where q != world.rank && rangeCounts[q] > 0 {
          let range = Int(rangeOffsets[q])..<Int(rangeOffsets[q] + rangeCounts[q])
          let piece = layerRanges[layer].clamped(to: range)
          guard !piece.isEmpty else { continue }
          world.send(
            gradient + piece.lowerBound, count: piece.count, to: q, tag: layer, request: requests + posted)
          posted += 1
          gradientBytes += 4 * piece.count
          if during { bytesDuringBackward += 4 * piece.count }
        }
      }
      exchange.withLock { $0.next -= 1 }
    }
    let complete = world.test(requests, count: posted)
    return exchange.withLock { state in
      // In flight: a layer of this rank's has gone out and not every request is done.
      let sending = state.next < state.done.count - 1
      return ProgressThread.Pumped(allPosted: state.next < 0, inFlight: !complete && sending)
    }
  }

  /// Chunk `chunk` of this rank's range: the shards' slices added in shard order and scaled; records Σ g².
  private func reduceChunk(_ chunk: Int, shards: Int, scale: Float) {
    let range = chunks.range(ofChunk: chunk)
    chunkSquares[chunk] =
      roles?.reduce(
        chunk: chunk, sources: shardBases, shards: shards, base: ownedRange.lowerBound, scale: scale)
      ?? ShardSum.reduce(
        sources: shardBases, shards: shards, offset: range.lowerBound - ownedRange.lowerBound,
        count: range.count, scale: scale)
  }

  /// The rank that computes shard `shard` of a batch of `shards` shards.
  private func owner(ofShard shard: Int, shards: Int) -> Int {
    for p in 0..<world.size where Self.share(of: p, ranks: world.size, items: shards).contains(shard) {
      return p
    }
    preconditionFailure("shard \(shard) of \(shards) has no rank")
  }

  // MARK: - Apply

  /// Apply: this rank's range updated with its own optimizer state; then the parameters all-gathered.
  ///
  /// The state of this rank's range lives here (`optimizerState()` gathers the whole on rank 0).
  public func apply(_ reduced: ReducedGradient, parameters: FloatBuffer, learningRate: Double) {
    precondition(reduced.isFinite, "apply needs a finite gradient")
    let local = localOptimizer
    let factor = local.settings.clipFactor(gradientNorm: reduced.norm)
    let coefficients = local.beginStep(learningRate: learningRate, gradientScale: factor)
    let owned = ownedChunks
    let batch = StateBatch(rows: reduced.batch.rows, shards: reduced.batch.shards)
    workers.run(workers: isParallel(rows: reduced.batch.rows) ? owned.count : 1) { worker, workerCount in
      var chunk = owned.lowerBound + worker
      while chunk < owned.upperBound {
        updateChunk(chunk, parameters: parameters, optimizer: local, coefficients: coefficients, batch: batch)
        chunk += workerCount
      }
    }
    world.allGatherInPlace(parameters.pointer, counts: rangeCounts, displacements: rangeOffsets)
  }

  /// Chunk `chunk` of this rank's range updated from the reduced gradient (local optimizer layout).
  private func updateChunk(
    _ chunk: Int, parameters: FloatBuffer, optimizer: OptimizerState, coefficients: StepConstants,
    batch: StateBatch
  ) {
    let range = chunks.range(ofChunk: chunk)
    let lower = ownedRange.lowerBound
    if let roles {
      roles.apply(
        chunk: chunk, parameters: parameters.pointer + lower, gradient: reducedRange, base: lower,
        optimizer: optimizer, coefficients: coefficients, batch: batch)
      return
    }
    optimizer.update(
      parameters: parameters.pointer + lower, gradient: reducedRange,
      range: (range.lowerBound - lower)..<(range.upperBound - lower), coefficients: coefficients)
  }

  // MARK: - Optimizer state

  /// Takes this rank's range of a whole optimizer state (a resumed one).
  public func restoreOptimizer(_ optimizer: OptimizerState) {
    let lower = ownedRange.lowerBound
    let count = ownedRange.count
    localOptimizer = OptimizerState(
      settings: optimizer.settings, step: optimizer.step,
      slots: optimizer.slots.map { slot in
        let part = FloatBuffer(count: count)
        part.pointer.update(from: slot.pointer + lower, count: count)
        return part
      })
  }

  /// The whole optimizer state on rank 0 (nil elsewhere): every range gathered, slot by slot; collective.
  public func optimizerState() -> OptimizerState? {
    let isRoot = world.rank == 0
    let parameterCount = chunks.parameterCount
    var slots: [FloatBuffer] = []
    for slot in localOptimizer.slots {
      let whole = isRoot ? FloatBuffer(count: parameterCount) : nil
      world.gather(slot.pointer, counts: rangeCounts, displacements: rangeOffsets, into: whole?.pointer)
      if let whole { slots.append(whole) }
    }
    guard isRoot else { return nil }
    return OptimizerState(settings: localOptimizer.settings, step: localOptimizer.step, slots: slots)
  }

  // MARK: - Evaluation

  /// Loss and metric sums on all rows of `data`: every rank evaluates all of it, in shards as one process does.
  ///
  /// Validation sets are small next to training; repeating them on each
  /// rank costs no exchange and gives the in-process bits.
  public func evaluate(
    parameters: FloatBuffer, data: Dataset, targetScale: AffineScaler?, outputs: Matrix?
  ) -> MetricSums {
    evaluateInShards(
      network: network, plan: plan, workers: workers, workspaces: workspaces, shardSums: shardSums,
      targetColumns: targetColumns, parallel: isParallel(rows:), parameters: parameters, data: data,
      targetScale: targetScale, rowOutputs: outputs)
  }

  /// Bytes per step and time inside MPI so far, for this rank.
  public var statistics: String? {
    let perStep = max(steps, 1)
    let overlap =
      overlapsExchange
      ? ", \(gradientBytes == 0 ? 0 : 100 * bytesDuringBackward / gradientBytes) % of the gradient sent during backward"
      : ""
    return
      "rank \(world.rank): \(steps) steps, sent \(world.bytesSent / perStep) B/step, received \(world.bytesReceived / perStep) B/step, \(Int(world.secondsInMPI * 1000)) ms in MPI calls\(overlap)"
  }
}

/// Where backward stands on this rank's shards, shared by the workers and the progress thread.
struct OverlapState: Sendable {
  /// Per layer: local shards whose backward has finished it.
  var done: [Int] = []
  /// The next layer whose slices go out (from the last down); −1 when all have.
  var next = -1
  /// Shards this rank computes in this step.
  var localShards = 0

  init() {}

  /// A step of `localShards` local shards over `layers` layers, none done yet.
  init(layers: Int, localShards: Int) {
    done = [Int](repeating: 0, count: layers)
    next = layers - 1
    self.localShards = localShards
  }
}
