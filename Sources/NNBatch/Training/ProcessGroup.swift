import NeuralNet
import Parallel

/// Processes that train one model together (MPI ranks), as the trainer sees them.
///
/// The trainer stays free of MPI: the executable fills this in when it was
/// started by `mpirun`, and a plain run passes none. Rank 0 alone reports
/// progress and touches the checkpoint folder; every method here is
/// collective (every rank calls it at the same point of the run).
public protocol ProcessGroup: AnyObject, Sendable {
  /// This process's rank, 0 ..< size.
  var rank: Int { get }
  /// Processes in the group.
  var size: Int { get }

  /// This process's engine: its share of every step's shards and of the parameters.
  ///
  /// `stopCode` reads this process's own stop request (a signal's exit
  /// code); the engine carries it in each step's exchange.
  func makeEngine(
    network: Network, plan: ShardPlan, threads: Int, targetColumns: Int, optimizer: OptimizerSettings,
    precision: Precision, stopCode: @escaping @Sendable () -> Int32?
  ) -> any GroupEngine

  /// Rank 0's `bytes` on every rank (other ranks pass anything; it is ignored).
  func broadcast(_ bytes: [UInt8]) -> [UInt8]

  /// The stop code of the lowest rank that has one, the same on every rank.
  func agree(stop: Int32?) -> Int32?
}

/// A training engine spread over a process group, holding only its range of the optimizer state.
public protocol GroupEngine: TrainingEngine {
  /// The stop code agreed in the last step's exchange (the lowest rank's request), or nil.
  var agreedStop: Int32? { get }
  /// Takes this rank's range of `optimizer` (after a resume).
  func adopt(_ optimizer: OptimizerState)
  /// The whole optimizer state gathered on rank 0 (nil on other ranks); collective.
  func gatherOptimizer() -> OptimizerState?
  /// The rows of a batch of `rows` rows this rank computes (its shards' rows); it reads no others of the batch.
  func computedRows(inBatchOf rows: Int) -> Range<Int>
  /// What the exchange cost so far, one line, for `NNBATCH_MPI_STATS`.
  var statistics: String { get }
}
