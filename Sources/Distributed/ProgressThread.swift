import NNBatchCore

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The thread that drives MPI while this rank's workers run backward (`MPI_THREAD_SERIALIZED`).
///
/// Open MPI's TCP transport moves data only inside MPI calls, and during
/// backward the trainer's thread computes (alone with `--threads 1`, or in
/// the worker pool). Between `begin` and `finish` this thread alone calls
/// MPI: it runs the engine's `pump` (post the sends of the layers backward
/// has finished, test the requests). It sleeps on a condition until a layer
/// is done (`wake`), then polls every `interval` seconds while its sends are
/// in flight, and sleeps again once they are done: no wake-ups during the
/// forward pass, whose cores it would only take from the workers. `finish`
/// returns once `pump` reports everything posted: from then on the
/// trainer's thread alone calls MPI again. The mutex hand-over orders every
/// MPI call of one thread before the other's, as SERIALIZED requires.
final class ProgressThread: @unchecked Sendable {
  /// What one pump found.
  struct Pumped: Sendable {
    /// Every send of the step has been posted.
    var allPosted: Bool
    /// Some posted send or receive is not complete yet (and this rank has begun sending).
    var inFlight: Bool
  }

  /// Seconds between two pumps while transfers are in flight.
  ///
  /// 200 µs moves 250 KB at 10 Gbit/s, well within the sockets' buffers.
  static let interval: Double = {
    guard let text = getenv("NNBATCH_MPI_POLL_US"), let value = Double(String(cString: text)), value > 0
    else {
      return 200e-6
    }
    return value * 1e-6
  }()

  private let mutex: UnsafeMutablePointer<pthread_mutex_t>
  private let condition: UnsafeMutablePointer<pthread_cond_t>
  /// The pump of the running exchange (nil: idle).
  private var pump: (@Sendable () -> Pumped)?
  /// Set by `finish`: end the exchange once `pump` has posted everything.
  private var finishing = false
  /// Set by `wake`: a layer is done, pump again.
  private var woken = false
  /// Set by the thread when it has handed MPI back.
  private var handedBack = false

  /// Starts the thread (idle until `begin`).
  init() throws(NNBatchError) {
    mutex = .allocate(capacity: 1)
    condition = .allocate(capacity: 1)
    guard pthread_mutex_init(mutex, nil) == 0, pthread_cond_init(condition, nil) == 0 else {
      throw NNBatchError(.failure, "cannot start the MPI progress thread: pthread_mutex_init failed")
    }
    try BackgroundThread.start(name: "MPI progress", stackSize: 1 << 20) { [self] in run() }
  }

  /// Hands MPI to this thread, which pumps until `finish`.
  func begin(_ pump: @escaping @Sendable () -> Pumped) {
    pthread_mutex_lock(mutex)
    self.pump = pump
    finishing = false
    woken = true
    handedBack = false
    pthread_cond_broadcast(condition)
    pthread_mutex_unlock(mutex)
  }

  /// A layer is done on every local shard: pump now (called by the worker that finished it).
  func wake() {
    pthread_mutex_lock(mutex)
    woken = true
    pthread_cond_broadcast(condition)
    pthread_mutex_unlock(mutex)
  }

  /// Waits until `pump` has posted every send and this thread has stopped calling MPI.
  func finish() {
    pthread_mutex_lock(mutex)
    finishing = true
    pthread_cond_broadcast(condition)
    while !handedBack { pthread_cond_wait(condition, mutex) }
    pump = nil
    pthread_mutex_unlock(mutex)
  }

  private func run() {
    var pause = timespec(tv_sec: 0, tv_nsec: Int(Self.interval * 1e9))
    pthread_mutex_lock(mutex)
    while true {
      while pump == nil || handedBack || !(woken || finishing) { pthread_cond_wait(condition, mutex) }
      woken = false
      guard let pump = self.pump else { continue }
      pthread_mutex_unlock(mutex)
      let pumped = pump()
      pthread_mutex_lock(mutex)
      if pumped.allPosted && finishing {
        handedBack = true
        pthread_cond_broadcast(condition)
        continue
      }
      if pumped.inFlight && !woken {
        // Transfers to move on: poll again soon (a wake or finish in the meantime is kept in the flags).
        pthread_mutex_unlock(mutex)
        nanosleep(&pause, nil)
        pthread_mutex_lock(mutex)
        woken = true
      }
    }
  }
}
