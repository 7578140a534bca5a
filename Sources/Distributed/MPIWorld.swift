import CMPI

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// MPI_COMM_WORLD of a process started by `mpirun`: every MPI call of nnbatch goes through here.
///
/// Each wrapper checks its return code (the communicator returns errors
/// instead of aborting), and counts the bytes it sends to and receives from
/// other ranks and the time spent inside MPI, for `NNBATCH_MPI_STATS`.
/// MPI is initialised `MPI_THREAD_SERIALIZED` (Open MPI treats it as
/// `FUNNELED`: only `MULTIPLE` adds locks), because the config that may ask
/// for a second thread is read after `MPI_Init`. Calls come from the
/// trainer's thread only: the workers compute, it exchanges. With
/// `distributed.overlap` (`overlapExchange()`), while backward runs a
/// progress thread (`ProgressThread`) alone calls MPI instead: it sends each
/// layer's gradient as soon as it is done and keeps the transfers moving.
/// Off by default: on this project's 2-core machine it cost more than it hid
/// (README, "Overlapping the exchange with backward").
///
/// No exchange waits without bound. Each is nonblocking, polled against
/// `timeout` seconds. A rank that gives up names whom it waited for: it pings
/// every other rank on a communicator of their own and names those that send
/// no pong within a moment (every rank answers pings while it polls, so a
/// rank stuck in an exchange answers, a lost one does not; a collective alone
/// cannot tell who is missing). It then writes one line and exits 1 without
/// `MPI_Abort` (which may itself wait for a lost host): mpirun sees the exit
/// and ends the job. A rank whose launcher (orted or mpirun) dies is killed
/// with it (`PR_SET_PDEATHSIG`).
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

  /// Seconds an exchange may wait for the other ranks (`distributed.timeout_s`).
  public var timeout: Double = MPIWorld.defaultTimeout
  /// The default `timeout`: long enough to survive a network outage of a few seconds.
  public static let defaultTimeout = 30.0
  /// Whether this rank was asked to stop (a signal); read while an exchange waits.
  public var stopRequested: (@Sendable () -> Bool)?
  /// Every rank's host name, by rank (for the messages).
  public private(set) var hosts: [String] = []
  /// The thread that drives MPI during backward; nil when the exchange is not overlapped.
  private(set) var progress: ProgressThread?
  /// The thread level MPI provided (`MPI_THREAD_SERIALIZED` or above lets another thread call it in turn, as the overlap needs).
  private let providedThreadLevel: Int32

  private let comm: MPI_Comm
  /// A duplicate of `comm` that carries only pings (tag 1) and pongs (tag 2): no tag can clash.
  private var beats: MPI_Comm?
  /// The posted receive of any rank's ping (null before `beats` exists and after `finalize`).
  private var pingRequest: MPI_Request? = nnb_mpi_request_null()
  /// The ping received, and the pong and ping sent (their values are not read).
  private let pingBuffers: UnsafeMutablePointer<Int64>
  /// Per rank: a pong receive, then a ping send (used only while naming the missing).
  private let pingRequests: UnsafeMutablePointer<MPI_Request?>
  /// Per rank: when the ping whose pong is awaited was sent (`MPI_Wtime`).
  private var pingSent: [Double] = []

  /// Whether this process was started by `mpirun` (Open MPI or a PMIx launcher).
  ///
  /// Only then is MPI initialised: a singleton `MPI_Init` costs ~0.3 s.
  public static var launchedByMPIRun: Bool {
    getenv("OMPI_COMM_WORLD_SIZE") != nil || getenv("PMIX_RANK") != nil
  }

  /// Initialises MPI (once per process) and reads rank and size.
  public init() throws(MPIError) {
    // Killed with the orted (or mpirun) that started it: a rank outliving its job would spin for ever.
    let launcher = getppid()
    if nnb_set_parent_death_signal(SIGKILL) != 0 {
      throw MPIError(
        call: "prctl(PR_SET_PDEATHSIG): \(String(cString: strerror(errno))); it", code: 0, rank: nil)
    }
    // Gone before the signal was set: then the parent is another process now.
    if getppid() != launcher {
      throw MPIError(
        call: "the launcher (orted or mpirun) exited before this rank started; it", code: 0, rank: nil)
    }
    var provided: Int32 = 0
    let code = MPI_Init_thread(nil, nil, nnb_mpi_thread_serialized(), &provided)
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
    pingBuffers = .allocate(capacity: 3 + size)
    pingBuffers.initialize(repeating: 0, count: 3 + size)
    pingRequests = .allocate(capacity: 2 * size)
    pingRequests.initialize(repeating: nnb_mpi_request_null(), count: 2 * size)
    pingSent = [Double](repeating: 0, count: size)
    guard provided >= nnb_mpi_thread_funneled() else {
      throw MPIError(call: "MPI_Init_thread (MPI_THREAD_FUNNELED not provided)", code: 0, rank: rank)
    }
    providedThreadLevel = provided
    var duplicate: MPI_Comm?
    var request: MPI_Request? = nnb_mpi_request_null()
    timed("MPI_Comm_idup", sent: 0, received: 0) { MPI_Comm_idup(comm, &duplicate, &request) }
    complete("MPI_Comm_idup", &request, count: 1)
    beats = duplicate
    postPingReceive()
    hosts = gatherHostNames()
  }

  /// Starts the progress thread: an engine made after this call sends each layer's gradient during backward.
  ///
  /// Every rank must call it, or none, and before it makes its engine: the
  /// overlapped exchange sends one message per layer where the other sends
  /// one per shard, and an engine sizes its requests for the one it was made with.
  public func overlapExchange() throws(MPIError) {
    guard progress == nil else { return }
    guard providedThreadLevel >= nnb_mpi_thread_serialized() else {
      // init refused anything below FUNNELED.
      throw MPIError(
        call:
          "the progress thread needs MPI_THREAD_SERIALIZED, this MPI library provides only MPI_THREAD_FUNNELED",
        code: -1, rank: rank)
    }
    do {
      progress = try ProgressThread()
    } catch {
      throw MPIError(call: error.lines.joined(separator: "; "), code: -1, rank: nil)
    }
  }

  deinit {
    pingBuffers.deallocate()
    pingRequests.deallocate()
  }

  /// Every rank's `MPI_Get_processor_name` (its host name), by rank.
  private func gatherHostNames() -> [String] {
    let width = Int(nnb_mpi_max_processor_name())
    var own = [CChar](repeating: 0, count: width)
    var length: Int32 = 0
    if MPI_Get_processor_name(&own, &length) != nnb_mpi_success() { length = 0 }
    var all = [CChar](repeating: 0, count: width * size)
    var request: MPI_Request? = nnb_mpi_request_null()
    own.withUnsafeBufferPointer { send in
      all.withUnsafeMutableBufferPointer { receive in
        timed("MPI_Iallgather", sent: width * (size - 1), received: width * (size - 1)) {
          MPI_Iallgather(
            send.baseAddress, Int32(width), nnb_mpi_byte(), receive.baseAddress, Int32(width), nnb_mpi_byte(),
            comm, &request)
        }
        complete("MPI_Iallgather", &request, count: 1)
      }
    }
    return (0..<size).map { p in
      let bytes = all[(p * width)..<((p + 1) * width)].prefix { $0 != 0 }
      return String(decoding: bytes.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
  }

  /// Ends MPI after a run that every rank finished (not after a failure: then the process just exits).
  public func finalize() throws(MPIError) {
    // A barrier with a deadline first: MPI_Finalize would wait for a lost rank without one.
    var request: MPI_Request? = nnb_mpi_request_null()
    timed("MPI_Ibarrier", sent: 0, received: 0) { MPI_Ibarrier(comm, &request) }
    complete("MPI_Ibarrier", &request, count: 1)
    if pingRequest != nnb_mpi_request_null() {
      // The ping receive never completes now: cancelled, then completed as cancelled.
      _ = MPI_Cancel(&pingRequest)
      _ = MPI_Wait(&pingRequest, nnb_mpi_status_ignore())
    }
    for p in 0..<size where pingRequests[2 * p] != nnb_mpi_request_null() {
      _ = MPI_Cancel(pingRequests + 2 * p)
      _ = MPI_Wait(pingRequests + 2 * p, nnb_mpi_status_ignore())
    }
    if beats != nil {
      let code = MPI_Comm_free(&beats)
      guard code == nnb_mpi_success() else { throw MPIError(call: "MPI_Comm_free", code: code, rank: rank) }
    }
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
    var request: MPI_Request? = nnb_mpi_request_null()
    timed("MPI_Iallgatherv", sent: mine * 8 * (size - 1), received: (total - mine) * 8) {
      MPI_Iallgatherv(
        nnb_mpi_in_place(), 0, nnb_mpi_double(), buffer, counts, displacements, nnb_mpi_double(), comm,
        &request)
    }
    complete("MPI_Iallgatherv", &request, count: 1)
  }

  /// Every rank's range `[displacement, + count)` of `buffer` copied to all ranks, in place.
  func allGatherInPlace(_ buffer: UnsafeMutablePointer<Float>, counts: [Int32], displacements: [Int32]) {
    var request: MPI_Request? = nnb_mpi_request_null()
    timed(
      "MPI_Iallgatherv", sent: Int(counts[rank]) * 4 * (size - 1),
      received: (counts.reduce(0) { $0 + Int($1) } - Int(counts[rank])) * 4
    ) {
      MPI_Iallgatherv(
        nnb_mpi_in_place(), 0, nnb_mpi_float(), buffer, counts, displacements, nnb_mpi_float(), comm,
        &request)
    }
    complete("MPI_Iallgatherv", &request, count: 1)
  }

  /// Every rank's `counts[rank]` floats at `send` gathered on rank 0 into `receive` at `displacements`.
  func gather(
    _ send: UnsafePointer<Float>, counts: [Int32], displacements: [Int32],
    into receive: UnsafeMutablePointer<Float>?
  ) {
    let isRoot = rank == 0
    var request: MPI_Request? = nnb_mpi_request_null()
    timed(
      "MPI_Igatherv", sent: isRoot ? 0 : Int(counts[rank]) * 4,
      received: isRoot ? (counts.reduce(0) { $0 + Int($1) } - Int(counts[0])) * 4 : 0
    ) {
      MPI_Igatherv(
        send, counts[rank], nnb_mpi_float(), receive, counts, displacements, nnb_mpi_float(), 0, comm,
        &request)
    }
    complete("MPI_Igatherv", &request, count: 1)
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
      var request: MPI_Request? = nnb_mpi_request_null()
      timed("MPI_Ibcast", sent: isRoot ? n * (size - 1) : 0, received: isRoot ? 0 : n) {
        MPI_Ibcast(buffer + offset, Int32(n), nnb_mpi_byte(), 0, comm, &request)
      }
      complete("MPI_Ibcast", &request, count: 1)
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
    var request: MPI_Request? = nnb_mpi_request_null()
    timed("MPI_Iallgather", sent: 4 * (size - 1), received: 4 * (size - 1)) {
      MPI_Iallgather(&send, 1, nnb_mpi_int(), &receive, 1, nnb_mpi_int(), comm, &request)
    }
    complete("MPI_Iallgather", &request, count: 1)
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

  /// Tests `count` posted requests once (completed ones become null), which moves their transfers on; true when all are done.
  ///
  /// No deadline here: the trainer's thread completes them later with `waitAll`.
  func test(_ requests: UnsafeMutablePointer<MPI_Request?>, count: Int) -> Bool {
    guard count > 0 else { return true }
    var done: Int32 = 0
    let code = MPI_Testall(Int32(count), requests, &done, nnb_mpi_statuses_ignore())
    if code != nnb_mpi_success() { fail(MPIError(call: "MPI_Testall", code: code, rank: rank)) }
    return done != 0
  }

  /// Waits for `count` posted requests.
  func waitAll(_ requests: UnsafeMutablePointer<MPI_Request?>, count: Int) {
    guard count > 0 else { return }
    complete("MPI_Waitall", requests, count: count)
  }

  // MARK: - Deadlines

  /// Polls `count` requests until all are done, answering pings meanwhile.
  ///
  /// Past `timeout` seconds (or on a stop request after a long wait) it
  /// names the ranks that do not answer a ping and exits 1. Pings start once
  /// a wait passes `probeAfter` s, and are repeated, so the names are known
  /// before any rank gives up (a rank that has exited can no longer answer).
  private func complete(_ call: StaticString, _ requests: UnsafeMutablePointer<MPI_Request?>, count: Int) {
    let start = MPI_Wtime()
    let deadline = start + timeout
    var done: Int32 = 0
    while true {
      let code = MPI_Testall(Int32(count), requests, &done, nnb_mpi_statuses_ignore())
      if code != nnb_mpi_success() { fail(MPIError(call: "\(call)", code: code, rank: rank)) }
      if done != 0 { break }
      let now = MPI_Wtime()
      // A step's waits are short: pings (sent after 3 s of waiting) are answered once a wait is not.
      guard now - start > Self.answerAfter else { continue }
      answerPings()
      if now - start > Self.probeAfter { probe(now: now, since: start) }
      // mpirun that lost a host's daemon (TCP keepalive) stops the others with SIGTERM and, 1 s
      // later, SIGKILL: a rank stopped in a long wait says whom it waited for before it goes.
      let stopped = now - start > Self.stoppedWait && stopRequested?() == true
      if now > deadline || stopped {
        let reason =
          stopped && now <= deadline
          ? "stopped by a signal after waiting \(Self.format((now - start).rounded())) s" : nil
        let silent = (0..<size).filter { isSilent($0, now: now) }
        let probed = now - start > Self.probeAfter + Self.pongWait
        timedOut(call, missing: probed ? silent : unanswered(within: stopped ? 0.4 : 2), reason: reason)
      }
    }
    secondsInMPI += MPI_Wtime() - start
  }

  /// Posts the receive of the next ping from any rank.
  private func postPingReceive() {
    guard let beats, size > 1 else { return }
    let code = MPI_Irecv(pingBuffers, 1, nnb_mpi_long_long(), nnb_mpi_any_source(), 1, beats, &pingRequest)
    if code != nnb_mpi_success() { fail(MPIError(call: "MPI_Irecv (ping)", code: code, rank: rank)) }
  }

  /// Answers every ping that has come with a pong (fire and forget: the request is freed at once).
  private func answerPings() {
    guard let beats, pingRequest != nnb_mpi_request_null() else { return }
    while true {
      var flag: Int32 = 0
      var status = MPI_Status()
      guard MPI_Test(&pingRequest, &flag, &status) == nnb_mpi_success(), flag != 0 else { return }
      var pong: MPI_Request? = nnb_mpi_request_null()
      if MPI_Isend(pingBuffers + 1, 1, nnb_mpi_long_long(), status.MPI_SOURCE, 2, beats, &pong)
        == nnb_mpi_success()
      {
        _ = MPI_Request_free(&pong)
      }
      postPingReceive()
    }
  }

  /// A wait longer than this (seconds) answers pings: rarer MPI calls in a step's short waits.
  static let answerAfter = 0.5
  /// A wait longer than this (seconds) pings the other ranks.
  static let probeAfter = 3.0
  /// A rank whose pong has not come this long (seconds) after its ping is silent.
  static let pongWait = 2.0

  /// Pings each rank not pinged since `start` whose last pong has come, and collects pongs.
  ///
  /// Once per wait: a rank that has answered is there, and a later ping to a
  /// rank that has since exited would make Open MPI try to reconnect to it.
  private func probe(now: Double, since start: Double) {
    guard let beats else { return }
    for p in 0..<size where p != rank {
      if pingRequests[2 * p] != nnb_mpi_request_null() {
        var flag: Int32 = 0
        _ = MPI_Test(pingRequests + 2 * p, &flag, nnb_mpi_status_ignore())
        continue
      }
      guard pingSent[p] < start else { continue }
      pingSent[p] = now
      _ = MPI_Irecv(pingBuffers + 3 + p, 1, nnb_mpi_long_long(), Int32(p), 2, beats, pingRequests + 2 * p)
      var ping: MPI_Request? = nnb_mpi_request_null()
      if MPI_Isend(pingBuffers + 2, 1, nnb_mpi_long_long(), Int32(p), 1, beats, &ping) == nnb_mpi_success() {
        _ = MPI_Request_free(&ping)
      }
    }
  }

  /// Whether rank `p`'s pong is still awaited `pongWait` s after its ping.
  private func isSilent(_ p: Int, now: Double) -> Bool {
    p != rank && pingRequests[2 * p] != nnb_mpi_request_null() && now - pingSent[p] > Self.pongWait
  }

  /// The ranks that send no pong within `seconds` of a ping from this one (answering theirs meanwhile).
  private func unanswered(within seconds: Double) -> [Int] {
    guard let beats, size > 1 else { return [] }
    for p in 0..<size where p != rank && pingRequests[2 * p] == nnb_mpi_request_null() {
      _ = MPI_Irecv(pingBuffers + 3 + p, 1, nnb_mpi_long_long(), Int32(p), 2, beats, pingRequests + 2 * p)
      _ = MPI_Isend(pingBuffers + 2, 1, nnb_mpi_long_long(), Int32(p), 1, beats, pingRequests + 2 * p + 1)
    }
    let end = MPI_Wtime() + seconds
    var answered = [Bool](repeating: false, count: size)
    answered[rank] = true
    while MPI_Wtime() < end && answered.contains(false) {
      answerPings()
      for p in 0..<size where !answered[p] {
        var flag: Int32 = 0
        if MPI_Test(pingRequests + 2 * p, &flag, nnb_mpi_status_ignore()) == nnb_mpi_success(), flag != 0 {
          answered[p] = true
        }
      }
    }
    return (0..<size).filter { !answered[$0] }
  }

  /// A wait longer than this (seconds) is not a step's: a stop signal then ends it at once.
  ///
  /// A graceful stop (every rank signalled, all stop after the same step)
  /// meets no longer wait unless a step's compute takes this long.
  static let stoppedWait = 10.0

  /// One line naming the ranks and hosts that did not answer (in time, or before `reason`), then exit 1.
  ///
  /// No `MPI_Abort`: it may itself wait for a lost host. mpirun sees the exit and ends the job.
  private func timedOut(_ call: StaticString, missing: [Int], reason: String? = nil) -> Never {
    let who =
      missing.isEmpty
      ? "the other ranks"
      : missing.map { p in "rank \(p)" + (p < hosts.count ? " on host \(hosts[p])" : "") }
        .joined(separator: ", ")
    let here = rank < hosts.count ? " on host \(hosts[rank])" : ""
    let when = reason.map { "; \($0)" } ?? " within \(Self.format(timeout)) s (distributed.timeout_s)"
    let line =
      "error: rank \(rank)\(here): no answer from \(who)\(when) in \(call); the last checkpoint stays as it was\n"
    _ = line.withCString { write(STDERR_FILENO, $0, strlen($0)) }
    fflush(stdout)
    _exit(1)
  }

  /// `seconds` as written in a config: no trailing `.0`.
  static func format(_ seconds: Double) -> String {
    seconds == seconds.rounded() && abs(seconds) < 1e15 ? String(Int(seconds)) : String(seconds)
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
  /// Its return code (-1: no MPI call failed, `call` is the whole message).
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
    let place = rank.map { "rank \($0): " } ?? ""
    // Code -1: not an MPI call, `call` is the whole message; code 0: a failure MPI did not report.
    if code == -1 { return place + call }
    return code == nnb_mpi_success() ? "\(place)\(call) failed" : "\(place)\(call) failed: \(message)"
  }
}

extension Optional where Wrapped == UnsafeMutableRawPointer {
  /// The pointer of a non-empty buffer (`withUnsafeMutableBytes` of an 8-byte value is never nil).
  fileprivate var unsafelyNonNil: UnsafeMutableRawPointer {
    guard let self else { preconditionFailure("an 8-byte buffer has an address") }
    return self
  }
}
