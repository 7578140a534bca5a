import Synchronization

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Graceful stop on SIGINT, SIGTERM and SIGHUP.
///
/// During setup (config, data loading, building the model) nothing has been
/// written yet, so a signal exits at once with its code (130, 143, 129):
/// loading a large file or a slow libhdf5 read need not run to the end
/// first. Once training has begun (`beginTraining()`), the first signal sets
/// a flag that the training loop reads after each step: it finishes the
/// step, writes a checkpoint and exits with the first signal's code. A
/// second SIGINT or SIGTERM exits at once; saves are atomic, so no
/// checkpoint is harmed. A SIGHUP after the first signal is ignored: closing
/// a terminal right after Ctrl-C sends one, and it must not cancel the save
/// the user's Ctrl-C asked for.
///
/// The handler is a plain `sigaction` handler, installed before `init`
/// returns (a dispatch source is armed asynchronously and missed signals
/// sent right after start-up), and does only async-signal-safe work:
/// atomics, `unlink`, `rmdir`, `write` of a static message, `_exit`.
public final class StopSignals: Sendable {
  /// The signals handled: interrupt, terminate, and hang-up (a closed terminal or SSH session).
  public static let handled: [Int32] = [SIGINT, SIGTERM, SIGHUP]

  /// Installs the handlers for the life of the process.
  public init() {
    // Touch the shared state now: its lazy initialization is not signal-safe.
    let state = stopState
    state.received.store(0, ordering: .relaxed)
    state.training.store(false, ordering: .relaxed)
    var mask = sigset_t()
    sigemptyset(&mask)
    for sig in Self.handled { sigaddset(&mask, sig) }
    // A parent may start nnbatch with these signals blocked (the mask is
    // inherited across exec); a blocked signal would never be handled.
    pthread_sigmask(SIG_UNBLOCK, &mask, nil)
    for sig in Self.handled {
      var action = sigaction()
      action.__sigaction_handler.sa_handler = { sig in handleStopSignal(sig) }
      sigemptyset(&action.sa_mask)
      action.sa_flags = SA_RESTART
      sigaction(sig, &action, nil)
    }
  }

  /// From now on a signal stops the run after the current step (with a checkpoint).
  public func beginTraining() {
    stopState.training.store(true, ordering: .relaxed)
  }

  /// Files to remove when a signal ends setup: the run's lock file, and its folder if empty.
  ///
  /// The paths are copied to C strings now: the handler may not allocate.
  package func removeOnSetupExit(file: String, folder: String?) {
    stopState.lockFile.store(Int(bitPattern: strdup(file)), ordering: .relaxed)
    if let folder { stopState.folder.store(Int(bitPattern: strdup(folder)), ordering: .relaxed) }
  }

  /// The first signal received, or nil.
  public var receivedSignal: Int32? {
    let value = stopState.received.load(ordering: .relaxed)
    return value == 0 ? nil : value
  }

  /// Exit code for the received signal (130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP).
  public var exitCode: Int32? { receivedSignal.map { 128 + $0 } }
}

/// What the signal handler reads and writes; lock-free atomics only.
private final class StopState: Sendable {
  let received = Atomic<Int32>(0)
  let training = Atomic<Bool>(false)
  /// C strings (as bit patterns) of paths to remove when a signal ends setup; 0: none.
  let lockFile = Atomic<Int>(0)
  let folder = Atomic<Int>(0)
}

private let stopState = StopState()

/// The signal handler: async-signal-safe calls only.
private func handleStopSignal(_ sig: Int32) {
  let state = stopState
  let (first, _) = state.received.compareExchange(expected: 0, desired: sig, ordering: .relaxed)
  if !state.training.load(ordering: .relaxed) {
    // Setup: nothing written yet but the run's lock, which goes too.
    if let file = UnsafePointer<CChar>(bitPattern: state.lockFile.load(ordering: .relaxed)) { unlink(file) }
    if let folder = UnsafePointer<CChar>(bitPattern: state.folder.load(ordering: .relaxed)) { rmdir(folder) }
    let message: StaticString =
      switch sig {
      case SIGINT: "stopped by SIGINT during setup; nothing written\n"
      case SIGHUP: "stopped by SIGHUP during setup; nothing written\n"
      default: "stopped by SIGTERM during setup; nothing written\n"
      }
    _ = write(STDERR_FILENO, message.utf8Start, message.utf8CodeUnitCount)
    _exit(128 + sig)
  }
  if !first && sig != SIGHUP {
    // A second SIGINT or SIGTERM: leave now. Checkpoint files are renamed
    // into place only when complete, so nothing on disk is damaged. A
    // SIGHUP comes from a closed terminal, not from the user: the save goes on.
    _exit(128 + sig)
  }
}
