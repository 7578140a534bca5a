import Foundation
import NNBatchCore
import NeuralNet

/// Reads an epoch's windows on a background thread into a bounded ring of buffers.
///
/// The producer (its own thread) reads window after window, each one's
/// blocks in the epoch's block order, scales the rows and hands the buffer
/// over; it waits while `capacity` windows are ready and unconsumed. The
/// consumer (the training loop) takes windows in order and releases those
/// it is done with, whose buffers are reused. Reading order and contents
/// depend only on the epoch's order, never on timing: the thread decides
/// when a window is read, not what it holds.
package final class PrefetchRing: @unchecked Sendable {
  // @unchecked: every mutable field is guarded by `condition`.
  private let condition = NSCondition()
  private var ready: [Int: Matrix] = [:]
  private var spare: [Matrix] = []
  private var failure: NNBatchError?
  private var cancelled = false
  private var finished = false
  private var count = StreamReadCount()
  private let capacity: Int

  private let source: any RowSource
  private let order: EpochOrder
  private let scaler: AffineScaler
  private let bufferRows: Int
  private let rank: RankRows?

  /// Starts reading `order`'s windows from `firstWindow` on, scaled by `scaler`, at most `capacity` ahead.
  ///
  /// With `rank`, a window's buffer gets only the rows of the positions the
  /// rank computes (its other rows are left as they were and never used);
  /// without, every block whole. Throws (exit 1) when the reading thread
  /// cannot be started: a ring without its producer would be waited on for ever.
  package init(
    source: any RowSource, order: EpochOrder, firstWindow: Int, scaler: AffineScaler, capacity: Int,
    rank: RankRows? = nil
  ) throws(NNBatchError) {
    self.source = source
    self.order = order
    self.scaler = scaler
    self.rank = rank
    self.capacity = max(2, capacity)
    bufferRows = order.plan.windowRows
    do {
      try BackgroundThread.start(name: "nnbatch-prefetch") { [self] in produce(from: firstWindow) }
    } catch {
      throw NNBatchError(error.kind, "\(source.name): cannot stream: \(error)")
    }
  }

  private func produce(from first: Int) {
    var k = first
    while k < order.windows {
      condition.lock()
      while ready.count >= capacity && !cancelled { condition.wait() }
      let buffer = cancelled ? nil : (spare.popLast() ?? Matrix(rows: bufferRows, columns: source.features))
      condition.unlock()
      guard let buffer else { break }
      var read = StreamReadCount()
      let started = monotonicSeconds()
      do throws(NNBatchError) {
        // buffer: [rows of the window's blocks, in block order, features]
        if let rank {
          let runs = RowRun.runs(ofWindow: k, in: order, for: rank)
          read.reads = try source.read(runs: runs, into: buffer)
          for run in runs {
            scaler.apply(to: buffer, rows: run.bufferRows)
            read.rows += run.rows.count
          }
        } else {
          var filled = 0
          for b in order.blocks(ofWindow: k) {
            let range = order.plan.range(ofBlock: b)
            try source.read(range, inputs: buffer.row(filled), targets: nil)
            filled += range.count
            read.reads += 1
          }
          scaler.apply(to: buffer)
          read.rows = filled
        }
        read.bytes = read.rows * source.inputBytesPerRow
        read.seconds = monotonicSeconds() - started
      } catch {
        condition.lock()
        failure = error
        condition.broadcast()
        condition.unlock()
        return
      }
      condition.lock()
      ready[k] = buffer
      count = count + read
      condition.broadcast()
      condition.unlock()
      k += 1
    }
    condition.lock()
    finished = true
    condition.broadcast()
    condition.unlock()
  }

  /// Window `k`'s buffer, waiting for the producer; windows before `k` are released.
  ///
  /// Returns nil when `stopRequested` turns true while waiting (checked every
  /// 100 ms): a signal must end the run within moments even when a read
  /// hangs (a stalled network file system), with the steps done saved.
  package func window(_ k: Int, stopRequested: () -> Bool = { false }) throws(NNBatchError) -> Matrix? {
    condition.lock()
    defer { condition.unlock() }
    while true {
      // Also windows finished while waiting: a rank may need no row of some windows (never asked for).
      for done in ready.keys where done < k {
        if let buffer = ready.removeValue(forKey: done) { spare.append(buffer) }
      }
      condition.broadcast()
      if ready[k] != nil { break }
      if let failure { throw failure }
      precondition(!finished && !cancelled, "window \(k) was never read")
      if stopRequested() { return nil }
      _ = condition.wait(until: Date(timeIntervalSinceNow: 0.1))
    }
    guard let buffer = ready[k] else { preconditionFailure("window \(k) vanished") }
    return buffer
  }

  /// What the producer has read so far.
  package var readCount: StreamReadCount {
    condition.lock()
    defer { condition.unlock() }
    return count
  }

  /// Stops the producer (after the block it is reading) and waits for it to end.
  ///
  /// With `waiting: false` it only asks: a run that ends on a signal does not
  /// wait for a read that may never return (the thread is detached and ends
  /// with the process).
  package func stop(waiting: Bool = true) {
    condition.lock()
    cancelled = true
    condition.broadcast()
    while waiting && !finished && failure == nil { condition.wait() }
    condition.unlock()
  }
}
