#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Starts threads with `pthread_create` and reports a failure to start one.
///
/// Foundation's `Thread.start()` ignores a failed `pthread_create` (EAGAIN
/// under an address-space or process limit): the body never runs and
/// whoever waits for it waits for ever. Here the status is checked and
/// becomes an error (exit 1, "cannot start ... thread").
///
/// Fault injection, for tests: with `NNBATCH_FAIL_THREAD_START=1` in the
/// environment every start fails as if the system had refused it (EAGAIN).
package enum BackgroundThread {
  /// Starts a detached thread running `body` (`name` says what it is for, in errors); throws when the system cannot start it.
  ///
  /// `stackSize` 0 keeps the system's default. The corresponding C function is `pthread_create`.
  package static func start(name: String, stackSize: Int = 0, _ body: @escaping @Sendable () -> Void)
    throws(NNBatchError)
  {
    var attributes = pthread_attr_t()
    guard pthread_attr_init(&attributes) == 0 else {
      throw NNBatchError(.failure, "cannot start the \(name) thread: pthread_attr_init failed")
    }
    defer { pthread_attr_destroy(&attributes) }
    var status = pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
    if status == 0, stackSize > 0 { status = pthread_attr_setstacksize(&attributes, stackSize) }
    guard status == 0 else {
      throw NNBatchError(.failure, "cannot start the \(name) thread: \(String(cString: strerror(status)))")
    }
    let box = Unmanaged.passRetained(Body(name: name, run: body))
    var thread = pthread_t()
    status =
      failsOnPurpose
      ? EAGAIN
      : pthread_create(
        &thread, &attributes,
        { raw in
          guard let raw else { return nil }
          let body = Unmanaged<Body>.fromOpaque(raw).takeRetainedValue()
          body.run()
          return nil
        }, box.toOpaque())
    guard status == 0 else {
      box.release()
      throw NNBatchError(
        .failure,
        "cannot start the \(name) thread: \(String(cString: strerror(status))); the system refused a new thread (a process, memory or address-space limit such as ulimit -u or -v)"
      )
    }
  }

  /// The closure and name handed to the new thread.
  private final class Body: Sendable {
    let name: String
    let run: @Sendable () -> Void
    init(name: String, run: @escaping @Sendable () -> Void) {
      self.name = name
      self.run = run
    }
  }

  /// Whether the test hook asks every start to fail.
  private static var failsOnPurpose: Bool {
    guard let value = getenv("NNBATCH_FAIL_THREAD_START") else { return false }
    return String(cString: value) == "1"
  }
}
