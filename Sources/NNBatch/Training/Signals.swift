@preconcurrency import Dispatch
import Synchronization

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Graceful stop on SIGINT and SIGTERM.
///
/// The first signal sets a flag that the training loop reads after each
/// step: it finishes the step, writes a checkpoint and exits 130 or 143.
/// A second signal exits at once; saves are atomic, so no checkpoint is
/// harmed by that.
public final class StopSignals: @unchecked Sendable {
  // Sources are created and resumed in init and never mutated after.
  private let received = Atomic<Int32>(0)
  private var sources: [any DispatchSourceSignal] = []

  /// Installs the handlers (the default actions are ignored while they live).
  public init() {
    let queue = DispatchQueue(label: "nnbatch.signals")
    for sig in [SIGINT, SIGTERM] {
      _ = Glibc.signal(sig, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: sig, queue: queue)
      source.setEventHandler { [self] in
        let (exchanged, _) = received.compareExchange(expected: 0, desired: sig, ordering: .relaxed)
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

  /// The first signal received, or nil.
  public var receivedSignal: Int32? {
    let value = received.load(ordering: .relaxed)
    return value == 0 ? nil : value
  }

  /// Exit code for the received signal (130 for SIGINT, 143 for SIGTERM).
  public var exitCode: Int32? { receivedSignal.map { 128 + $0 } }
}
