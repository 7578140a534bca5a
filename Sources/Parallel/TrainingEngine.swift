import NeuralNet

// The engine seam: a training step as compute -> reduce -> apply.
//
// 1. compute: every shard of the batch runs forward and backward into its
//    own gradient buffer; the shard losses are added in shard order.
// 2. reduce: the parameter vector is cut into fixed chunks (`ChunkPlan`,
//    decided by the parameter count alone); per chunk, the shard gradients
//    are added in shard order and scaled by the batch reduction, and the
//    chunk's Σ g² and finiteness are recorded. The global norm is the sum of
//    the chunk sums in chunk order.
// 3. apply: the optimizer updates the parameters chunk by chunk with the
//    clip factor, and only once the whole gradient is known to be finite.
//
// The in-process engine (`DataParallelEngine`) runs the three phases on
// threads. A multi-process engine keeps compute, replaces reduce by an
// exchange of chunk ranges followed by the same shard-order adds, and
// applies to its own range only: who adds, and where, never changes what
// is added in which order.

/// The result of the compute phase: the batch loss; the shard gradients stay in the engine.
public struct ComputedBatch: Sendable, Hashable {
  /// Rows in the batch.
  public var rows: Int
  /// Shards the batch was cut into.
  public var shards: Int
  /// The batch loss: Σ of the shard loss sums in shard order, times `gradientScale`.
  public var loss: Double
  /// The batch reduction: 1 / rows for a mean loss, 1 for a sum.
  public var gradientScale: Double

  /// A computed batch (for engines in other modules, which run their own phases).
  public init(rows: Int, shards: Int, loss: Double, gradientScale: Double) {
    self.rows = rows
    self.shards = shards
    self.loss = loss
    self.gradientScale = gradientScale
  }
}

/// The result of the reduce phase: the gradient's global L2 norm and whether every entry is finite.
public struct ReducedGradient: Sendable, Hashable {
  /// The batch it was reduced from.
  public var batch: ComputedBatch
  /// L2 norm of the reduced gradient (before clipping).
  public var norm: Double
  /// Whether every entry (and the norm) is finite; only then may it be applied.
  public var isFinite: Bool

  /// A reduced gradient of `batch` with its global norm and finiteness.
  public init(batch: ComputedBatch, norm: Double, isFinite: Bool) {
    self.batch = batch
    self.norm = norm
    self.isFinite = isFinite
  }
}

/// What one training step produced.
public struct StepOutcome: Sendable, Hashable {
  /// The batch loss (after the loss's reduction).
  public var loss: Double
  /// L2 norm of the reduced gradient, before clipping (NaN when the loss was not finite).
  public var gradientNorm: Double
  /// Rows in the batch.
  public var rows: Int
  /// False when the loss or any gradient entry was NaN or infinite; the
  /// parameters and the optimizer state (its step count too) are then untouched.
  public var isFinite: Bool

  /// An outcome of a step of `rows` rows.
  public init(loss: Double, gradientNorm: Double, rows: Int, isFinite: Bool) {
    self.loss = loss
    self.gradientNorm = gradientNorm
    self.rows = rows
    self.isFinite = isFinite
  }
}

/// A training step as compute, reduce and apply: what the trainer depends on.
public protocol TrainingEngine: AnyObject, Sendable {
  /// The network being trained.
  var network: Network { get }
  /// The workers of this process (`--threads`).
  var workers: Workers { get }

  /// Compute: the loss and each shard's gradient for the rows `indices` of `data`.
  ///
  /// `indices` are row numbers of `data`; their count must be between 1 and
  /// the batch size the engine was set up for. `context` is a training
  /// context: the run's seed, the step's number, and the position in the
  /// epoch's order of the first of `indices` (row r of the batch is at
  /// `context.firstPosition + r`); dropout masks are keyed by them.
  func compute(
    parameters: FloatBuffer, data: Dataset, indices: ArraySlice<Int>, context: PassContext
  ) -> ComputedBatch

  /// Reduce: the shard gradients of `batch` added in shard order and scaled, with norm and finiteness.
  func reduce(_ batch: ComputedBatch) -> ReducedGradient

  /// Apply: one update of the engine's optimizer from a finite reduced gradient, clipped to its clip norm.
  func apply(_ gradient: ReducedGradient, parameters: FloatBuffer, learningRate: Double)

  /// The whole optimizer state, for a checkpoint; nil where this process does not hold it.
  ///
  /// The engine owns the state: one process holds it whole; a process
  /// group's engine holds its range and gathers the whole on rank 0 here
  /// (collective: every rank calls it at the same point).
  func optimizerState() -> OptimizerState?

  /// Continues from a resumed run's whole optimizer state (a group engine keeps its range).
  func restoreOptimizer(_ state: OptimizerState)

  /// The stop code the group agreed on in the last step's exchange; nil for one process.
  var agreedStop: Int32? { get }

  /// The rows of a batch of `rows` rows this process computes (its shards' rows, maybe none); all for one process.
  func computedRows(inBatchOf rows: Int) -> Range<Int>

  /// What the exchange between processes cost so far, one line (`NNBATCH_MPI_STATS`); nil for one process.
  var statistics: String? { get }

  /// Loss and metric sums of `parameters` on all rows of `data`, in order.
  ///
  /// With `targetScale`, MAE and R² are in the targets' original units. With
  /// `outputs` ([data.count, outputs]), every row's model outputs are written there too.
  func evaluate(parameters: FloatBuffer, data: Dataset, targetScale: AffineScaler?, outputs: Matrix?)
    -> MetricSums
}

extension TrainingEngine {
  /// One process agrees with itself: a stop is its own signal, read by the trainer.
  public var agreedStop: Int32? { nil }

  /// One process computes every row.
  public func computedRows(inBatchOf rows: Int) -> Range<Int> { 0..<rows }

  /// No exchange, nothing to report.
  public var statistics: String? { nil }

  /// Compute for a network without dropout, whose passes need no seed or step.
  ///
  /// The batch's first row is taken to sit at `indices.startIndex` of the
  /// epoch (true for a slice of the epoch's order). A network with dropout
  /// must call `compute(parameters:data:indices:context:)` with its step.
  public func compute(parameters: FloatBuffer, data: Dataset, indices: ArraySlice<Int>) -> ComputedBatch {
    precondition(
      !network.architecture.isStochastic,
      "a network with dropout needs the step's seed and number: pass a training context")
    return compute(
      parameters: parameters, data: data, indices: indices,
      context: .training(seed: 0, step: 0, firstPosition: indices.startIndex))
  }

  /// One step of a network without dropout: `step(…, context:)` with a context that needs no seed or step.
  public func step(
    parameters: FloatBuffer, data: Dataset, indices: ArraySlice<Int>, learningRate: Double
  ) -> StepOutcome {
    precondition(
      !network.architecture.isStochastic,
      "a network with dropout needs the step's seed and number: pass a training context")
    return step(
      parameters: parameters, data: data, indices: indices,
      learningRate: learningRate, context: .training(seed: 0, step: 0, firstPosition: indices.startIndex))
  }

  /// One step on the rows `indices` of `data`: compute, reduce, then apply if everything is finite.
  ///
  /// A step whose loss or gradient is not finite changes nothing and says so.
  /// `context` as for `compute`: `.training(seed: seed, step: step,
  /// firstPosition: p)` where p is the position of the batch's first row in
  /// the epoch's order.
  public func step(
    parameters: FloatBuffer, data: Dataset, indices: ArraySlice<Int>, learningRate: Double,
    context: PassContext
  ) -> StepOutcome {
    let batch = compute(parameters: parameters, data: data, indices: indices, context: context)
    guard batch.loss.isFinite else {
      return StepOutcome(loss: batch.loss, gradientNorm: .nan, rows: batch.rows, isFinite: false)
    }
    let gradient = reduce(batch)
    let outcome = StepOutcome(
      loss: batch.loss, gradientNorm: gradient.norm, rows: batch.rows, isFinite: gradient.isFinite)
    guard gradient.isFinite else { return outcome }
    apply(gradient, parameters: parameters, learningRate: learningRate)
    return outcome
  }

  /// Loss and metric sums of `parameters` on all rows of `data`, in original target units.
  public func evaluate(parameters: FloatBuffer, data: Dataset) -> MetricSums {
    evaluate(parameters: parameters, data: data, targetScale: nil, outputs: nil)
  }

  /// Loss and metric sums of `parameters` on all rows of `data`; with `targetScale` in original units.
  public func evaluate(parameters: FloatBuffer, data: Dataset, targetScale: AffineScaler?) -> MetricSums {
    evaluate(parameters: parameters, data: data, targetScale: targetScale, outputs: nil)
  }
}

/// How the parameter vector is cut for reduce and apply: fixed chunks, decided by the parameter count alone.
///
/// Chunk c covers parameters c·chunkSize ..< min((c + 1)·chunkSize, count).
/// Threads (or processes) only decide who handles a chunk, never where
/// chunks begin, so the per-chunk sums of squares are the same everywhere.
public struct ChunkPlan: Sendable, Hashable {
  /// Parameters per chunk: 64 KiB of floats, so a chunk of each buffer it touches stays in L2.
  public static let chunkSize = 16_384
  /// Parameters in all.
  public let parameterCount: Int

  /// The chunks of `parameterCount` parameters.
  public init(parameterCount: Int) {
    precondition(parameterCount >= 0, "parameter count must not be negative")
    self.parameterCount = parameterCount
  }

  /// Number of chunks.
  public var count: Int { (parameterCount + Self.chunkSize - 1) / Self.chunkSize }

  /// The parameters of chunk `chunk`.
  public func range(ofChunk chunk: Int) -> Range<Int> {
    let start = chunk * Self.chunkSize
    return start..<min(start + Self.chunkSize, parameterCount)
  }
}
