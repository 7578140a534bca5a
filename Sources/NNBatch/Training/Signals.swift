@preconcurrency import Dispatch
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
/// step, writes a checkpoint and exits with the signal's code. A second
/// signal exits at once; saves are atomic, so no checkpoint is harmed.
public final class StopSignals: @unchecked Sendable {
  // Sources are created and resumed in init and never mutated after.
  private let received = Atomic<Int32>(0)
  private let training = Atomic<Bool>(false)
  private let cleanup = Mutex<[@Sendable () -> Void]>([])
  private var sources: [any DispatchSourceSignal] = []

  /// The signals handled: interrupt, terminate, and hang-up (a closed terminal or SSH session).
  public static let handled: [Int32] = [SIGINT, SIGTERM, SIGHUP]

  /// Installs the handlers (the default actions are ignored while they live).
  public init() {
    let queue = DispatchQueue(label: "nnbatch.signals")
    for sig in Self.handled {
      _ = Glibc.signal(sig, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: sig, queue: queue)
      source.setEventHandler { [self] in
        let (exchanged, _) = received.compareExchange(expected: 0, desired: sig, ordering: .relaxed)
        if !training.load(ordering: .relaxed) {
          // Setup: nothing written yet but the run's lock, which goes too.
          for action in cleanup.withLock({ $0 }) { action() }
          let note = "stopped by signal \(sig) during setup; nothing written\n"
          _ = note.withCString { write(STDERR_FILENO, $0, strlen($0)) }
          _exit(128 + sig)
        }
        if !exchanged {
          // Second signal: leave now. Checkpoint files are renamed into
          // place only when complete, so nothing on disk is damaged.
          _exit(128 + sig)
        }
      }
      source.resume()
      sources.append(source)
    }
  }

  /// From now on a signal stops the run after the current step (with a checkpoint).
  public func beginTraining() {
    training.store(true, ordering: .relaxed)
  }

  /// Runs `action` before exiting on a signal during setup (removing the lock file).
  package func onSetupExit(_ action: @escaping @Sendable () -> Void) {
    cleanup.withLock { $0.append(action) }
  }

  /// The first signal received, or nil.
  public var receivedSignal: Int32? {
    let value = received.load(ordering: .relaxed)
    return value == 0 ? nil : value
  }

  /// Exit code for the received signal (130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP).
  public var exitCode: Int32? { receivedSignal.map { 128 + $0 } }
}
