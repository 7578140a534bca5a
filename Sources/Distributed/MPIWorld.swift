import CMPI

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// MPI_COMM_WORLD of a process started by `mpirun`: every MPI call of nnbatch goes through here.
///
/// Each wrapper checks its return code (the communicator returns errors
/// instead of aborting), and counts the bytes it sends to and receives from
/// other ranks and the time spent inside MPI, for `NNBATCH_MPI_STATS`.
/// Calls come from one thread only (`MPI_THREAD_FUNNELED`): the workers
/// compute, the trainer's thread exchanges.
public final class MPIWorld: @unchecked Sendable {
  /// This process's rank.
  public let rank: Int
  /// Ranks in the world.
  public let size: Int
  /// Bytes sent to other ranks so far.
  public private(set) var bytesSent = 0
  /// Bytes received from other ranks so far.
  public private(set) var bytesReceived = 0
  /// Seconds spent inside MPI calls so far.
  public private(set) var secondsInMPI = 0.0

  private let comm: MPI_Comm

  /// Whether this process was started by `mpirun` (Open MPI or a PMIx launcher).
  ///
  /// Only then is MPI initialised: a singleton `MPI_Init` costs ~0.3 s.
  public static var launchedByMPIRun: Bool {
    getenv("OMPI_COMM_WORLD_SIZE") != nil || getenv("PMIX_RANK") != nil
  }

  /// Initialises MPI (once per process) and reads rank and size.
  public init() throws(MPIError) {
    var provided: Int32 = 0
    let code = MPI_Init_thread(nil, nil, nnb_mpi_thread_funneled(), &provided)
    guard code == nnb_mpi_success() else { throw MPIError(call: "MPI_Init_thread", code: code, rank: nil) }
    comm = nnb_mpi_comm_world()
    // Errors come back as codes (checked below), not as MPI's own abort.
    var rankValue: Int32 = 0
    var sizeValue: Int32 = 0
    let setHandler = MPI_Comm_set_errhandler(comm, nnb_mpi_errors_return())
    guard setHandler == nnb_mpi_success() else {
      throw MPIError(call: "MPI_Comm_set_errhandler", code: setHandler, rank: nil)
    }
    let rankCode = MPI_Comm_rank(comm, &rankValue)
    guard rankCode == nnb_mpi_success() else {
      throw MPIError(call: "MPI_Comm_rank", code: rankCode, rank: nil)
    }
    let sizeCode = MPI_Comm_size(comm, &sizeValue)
    guard sizeCode == nnb_mpi_success() else {
      throw MPIError(call: "MPI_Comm_size", code: sizeCode, rank: nil)
    }
    rank = Int(rankValue)
    size = Int(sizeValue)
    guard provided >= nnb_mpi_thread_funneled() else {
      throw MPIError(call: "MPI_Init_thread (MPI_THREAD_FUNNELED not provided)", code: 0, rank: rank)
    }
  }

  /// Ends MPI after a run that every rank finished (not after a failure: then the process just exits).
  public func finalize() throws(MPIError) {
    let code = MPI_Finalize()
    guard code == nnb_mpi_success() else { throw MPIError(call: "MPI_Finalize", code: code, rank: rank) }
  }

  // MARK: - Collectives (each rank calls them in the same order)

  /// Every rank's block `[displacements[p], + counts[p])` of `buffer` copied to all ranks, in place (doubles).
  func allGatherInPlace(
    _ buffer: UnsafeMutablePointer<Double>, counts: UnsafePointer<Int32>, displacements: UnsafePointer<Int32>
  ) {
    var total = 0
    for p in 0..<size { total += Int(counts[p]) }
    let mine = Int(counts[rank])
    timed("MPI_Allgatherv", sent: mine * 8 * (size - 1), received: (total - mine) * 8) {
      MPI_Allgatherv(
        nnb_mpi_in_place(), 0, nnb_mpi_double(), buffer, counts, displacements, nnb_mpi_double(), comm)
    }
  }

  /// Every rank's range `[displacement, + count)` of `buffer` copied to all ranks, in place.
  func allGatherInPlace(_ buffer: UnsafeMutablePointer<Float>, counts: [Int32], displacements: [Int32]) {
    timed(
      "MPI_Allgatherv", sent: Int(counts[rank]) * 4 * (size - 1),
      received: (counts.reduce(0) { $0 + Int($1) } - Int(counts[rank])) * 4
    ) {
      MPI_Allgatherv(
        nnb_mpi_in_place(), 0, nnb_mpi_float(), buffer, counts, displacements, nnb_mpi_float(), comm)
    }
  }

  /// Every rank's `counts[rank]` floats at `send` gathered on rank 0 into `receive` at `displacements`.
  func gather(
    _ send: UnsafePointer<Float>, counts: [Int32], displacements: [Int32],
    into receive: UnsafeMutablePointer<Float>?
  ) {
    let isRoot = rank == 0
    timed(
      "MPI_Gatherv", sent: isRoot ? 0 : Int(counts[rank]) * 4,
      received: isRoot ? (counts.reduce(0) { $0 + Int($1) } - Int(counts[0])) * 4 : 0
    ) {
      MPI_Gatherv(
        send, counts[rank], nnb_mpi_float(), receive, counts, displacements, nnb_mpi_float(), 0, comm)
    }
  }

  /// Rank 0's `count` bytes at `buffer` on every rank.
  ///
  /// Sent in pieces of at most 1 GiB: MPI counts are 32-bit, and a
  /// checkpoint image (weights and Adam's two slots) passes 2 GiB at about
  /// 180M parameters.
  public func broadcast(_ buffer: UnsafeMutableRawPointer, count: Int) {
    let isRoot = rank == 0
    let piece = 1 << 30
    var offset = 0
    while offset < count {
      let n = min(piece, count - offset)
      timed("MPI_Bcast", sent: isRoot ? n * (size - 1) : 0, received: isRoot ? 0 : n) {
        MPI_Bcast(buffer + offset, Int32(n), nnb_mpi_byte(), 0, comm)
      }
      offset += n
    }
  }

  /// Rank 0's `value` on every rank.
  public func broadcast(_ value: Int) -> Int {
    var copy = Int64(value)
    withUnsafeMutableBytes(of: &copy) { broadcast($0.baseAddress.unsafelyNonNil, count: 8) }
    return Int(copy)
  }

  /// Every rank's `value`, in rank order.
  public func allGather(_ value: Int32) -> [Int32] {
    var send = value
    var receive = [Int32](repeating: 0, count: size)
    timed("MPI_Allgather", sent: 4 * (size - 1), received: 4 * (size - 1)) {
      MPI_Allgather(&send, 1, nnb_mpi_int(), &receive, 1, nnb_mpi_int(), comm)
    }
    return receive
  }

  // MARK: - Point to point

  /// Posts a send of `count` floats to `destination`; complete it with `waitAll`.
  func send(
    _ buffer: UnsafePointer<Float>, count: Int, to destination: Int, tag: Int,
    request: UnsafeMutablePointer<MPI_Request?>
  ) {
    timed("MPI_Isend", sent: count * 4, received: 0) {
      MPI_Isend(buffer, Int32(count), nnb_mpi_float(), Int32(destination), Int32(tag), comm, request)
    }
  }

  /// Posts a receive of `count` floats from `source`; complete it with `waitAll`.
  func receive(
    _ buffer: UnsafeMutablePointer<Float>, count: Int, from source: Int, tag: Int,
    request: UnsafeMutablePointer<MPI_Request?>
  ) {
    timed("MPI_Irecv", sent: 0, received: count * 4) {
      MPI_Irecv(buffer, Int32(count), nnb_mpi_float(), Int32(source), Int32(tag), comm, request)
    }
  }

  /// Waits for `count` posted requests.
  func waitAll(_ requests: UnsafeMutablePointer<MPI_Request?>, count: Int) {
    guard count > 0 else { return }
    timed("MPI_Waitall", sent: 0, received: 0) {
      MPI_Waitall(Int32(count), requests, nnb_mpi_statuses_ignore())
    }
  }

  // MARK: - Errors

  /// Runs one MPI call, adds its time and bytes, and ends the job if it failed.
  ///
  /// A failed collective leaves the ranks out of step, so there is nothing
  /// to recover: the message names this rank and the call, and
  /// `MPI_Abort` ends every rank (mpirun then exits non-zero).
  @inline(__always)
  private func timed(_ call: StaticString, sent: Int, received: Int, _ body: () -> Int32) {
    let start = MPI_Wtime()
    let code = body()
    secondsInMPI += MPI_Wtime() - start
    bytesSent += sent
    bytesReceived += received
    if code != nnb_mpi_success() { fail(MPIError(call: "\(call)", code: code, rank: rank)) }
  }

  private func fail(_ error: MPIError) -> Never {
    let line = "error: \(error)\n"
    _ = line.withCString { write(STDERR_FILENO, $0, strlen($0)) }
    _ = MPI_Abort(comm, 1)
    exit(1)
  }

  /// Start offsets of consecutive blocks of `counts` elements.
  static func offsets(_ counts: [Int32]) -> [Int32] {
    var offsets: [Int32] = []
    offsets.reserveCapacity(counts.count)
    var sum: Int32 = 0
    for count in counts {
      offsets.append(sum)
      sum += count
    }
    return offsets
  }
}

/// A failed MPI call: which, its error string, and on which rank.
public struct MPIError: Error, CustomStringConvertible, Sendable {
  /// The MPI function that failed.
  public let call: String
  /// Its return code.
  public let code: Int32
  /// The rank it failed on, when known.
  public let rank: Int?

  /// The call, MPI's message for the code, and the rank.
  public var description: String {
    var buffer = [CChar](repeating: 0, count: 512)
    var length: Int32 = 0
    let message =
      MPI_Error_string(code, &buffer, &length) == nnb_mpi_success()
      ? String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
      : "MPI error \(code)"
    return "\(rank.map { "rank \($0): " } ?? "")\(call) failed: \(message)"
  }
}

extension Optional where Wrapped == UnsafeMutableRawPointer {
  /// The pointer of a non-empty buffer (`withUnsafeMutableBytes` of an 8-byte value is never nil).
  fileprivate var unsafelyNonNil: UnsafeMutableRawPointer {
    guard let self else { preconditionFailure("an 8-byte buffer has an address") }
    return self
  }
}
