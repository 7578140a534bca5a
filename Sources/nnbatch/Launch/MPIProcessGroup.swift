import Distributed
import NNBatch
import NNBatchCore
import NeuralNet
import Parallel

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The ranks of an `mpirun` launch, as the trainer's `ProcessGroup`.
///
/// Made only when the environment says mpirun started this process, so a
/// plain run never initialises MPI (a singleton `MPI_Init` costs ~0.3 s).
final class MPIProcessGroup: ProcessGroup, @unchecked Sendable {
  let world: MPIWorld
  private var engine: MPIEngine?

  var rank: Int { world.rank }
  var size: Int { world.size }

  private init(world: MPIWorld) {
    self.world = world
  }

  /// The group of this process when `mpirun` started it, else nil (and MPI untouched).
  static func ifLaunched() throws(NNBatchError) -> MPIProcessGroup? {
    guard MPIWorld.launchedByMPIRun else { return nil }
    do {
      return MPIProcessGroup(world: try MPIWorld())
    } catch {
      throw NNBatchError(.failure, "\(error)")
    }
  }

  func makeEngine(
    network: Network, plan: ShardPlan, threads: Int, targetColumns: Int, optimizer: OptimizerSettings,
    precision: Precision, stopCode: @escaping @Sendable () -> Int32?
  ) -> any TrainingEngine {
    let engine = MPIEngine(
      network: network, plan: plan, threads: threads, targetColumns: targetColumns, optimizer: optimizer,
      precision: precision, world: world, stopCode: stopCode)
    self.engine = engine
    world.stopRequested = { stopCode() != nil }
    return engine
  }

  func broadcast(_ bytes: [UInt8]) -> [UInt8] {
    let count = world.broadcast(bytes.count)
    var buffer = world.rank == 0 ? bytes : [UInt8](repeating: 0, count: count)
    buffer.withUnsafeMutableBytes { raw in
      guard let base = raw.baseAddress else { return }
      world.broadcast(base, count: count)
    }
    return buffer
  }

  func setTimeout(seconds: Double) {
    world.timeout = seconds
  }

  func setOverlap(_ overlap: Bool) throws(NNBatchError) {
    guard broadcast([overlap ? 1 : 0]) == [1] else { return }
    do {
      try world.overlapExchange()
    } catch {
      throw NNBatchError(.failure, "\(error)")
    }
  }

  func agree(stop: Int32?) -> Int32? {
    world.allGather(stop ?? 0).first { $0 != 0 }
  }

  /// After a run every rank finished: statistics if `NNBATCH_MPI_STATS` is set, then `MPI_Finalize`.
  func finish() throws(NNBatchError) {
    if getenv("NNBATCH_MPI_STATS") != nil, let line = engine?.statistics {
      writeToStandardError(line + "\n")
    }
    do {
      try world.finalize()
    } catch {
      throw NNBatchError(.failure, "\(error)")
    }
  }

  /// `error` with every line naming this rank.
  func naming(_ error: any Error) -> any Error {
    guard let error = error as? NNBatchError else { return error }
    return NNBatchError(error.kind, error.lines.map { $0.hasPrefix("rank ") ? $0 : "rank \(rank): \($0)" })
  }
}
