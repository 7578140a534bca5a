import Dispatch

/// Runs work on up to `count` workers through `DispatchQueue.concurrentPerform`.
///
/// Workers only compute; each writes its own buffers or its own ranges.
/// One `concurrentPerform` wakes the pool once (~40–60 µs here), so callers
/// batch a whole phase of a step into one call.
public struct Workers: Sendable {
  /// Upper bound on concurrent workers (`--threads`).
  public let count: Int

  /// Up to `count` workers (at least one).
  public init(count: Int) {
    self.count = max(1, count)
  }

  /// Calls `body(worker, workerCount)` for every worker; returns when all are done.
  ///
  /// With one worker the body runs on the calling thread, with no dispatch.
  public func run(workers: Int, _ body: @Sendable (Int, Int) -> Void) {
    let n = max(1, min(workers, count))
    if n == 1 {
      body(0, 1)
    } else {
      DispatchQueue.concurrentPerform(iterations: n) { worker in body(worker, n) }
    }
  }
}
