import NNBatchCore
import NeuralNet

/// Processes that train one model together (MPI ranks), as the trainer sees them.
///
/// Parallel stays free of MPI: the executable fills this in when it was
/// started by `mpirun` (its `MPIProcessGroup`, over the `Distributed`
/// module's engine), and a plain run passes none. What differs for a group
/// lives behind this protocol and the engine it makes (`TrainingEngine`'s
/// `optimizerState`, `restoreOptimizer`, `agreedStop`, `computedRows`, whose
/// defaults are one process's). Rank 0 alone reports progress and touches
/// the checkpoint folder; every method here is collective (every rank calls
/// it at the same point of the run).
public protocol ProcessGroup: AnyObject, Sendable {
  /// This process's rank, 0 ..< size.
  var rank: Int { get }
  /// Processes in the group.
  var size: Int { get }

  /// This process's engine: its share of every step's shards, of the parameters and of the optimizer state.
  ///
  /// `stopCode` reads this process's own stop request (a signal's exit
  /// code); the engine carries it in each step's exchange.
  func makeEngine(
    network: Network, plan: ShardPlan, threads: Int, targetColumns: Int, optimizer: OptimizerSettings,
    precision: Precision, stopCode: @escaping @Sendable () -> Int32?
  ) -> any TrainingEngine

  /// Rank 0's `bytes` on every rank (other ranks pass anything; it is ignored).
  func broadcast(_ bytes: [UInt8]) -> [UInt8]

  /// The stop code of the lowest rank that has one, the same on every rank.
  func agree(stop: Int32?) -> Int32?

  /// How long any exchange may wait for the other processes (`distributed.timeout_s`); not collective.
  func setTimeout(seconds: Double)

  /// Sets whether the engine made next sends each layer's gradient while backward runs (`distributed.overlap`).
  ///
  /// Rank 0's setting holds on every rank (the two exchanges cut their
  /// messages differently, so ranks must not differ), and the bits are the
  /// same either way. Throws when the thread that would drive the exchange
  /// cannot start.
  func setOverlap(_ overlap: Bool) throws(NNBatchError)
}
