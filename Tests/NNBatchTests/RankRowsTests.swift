import NNBatch
import NNBatchData
import NeuralNet
import XCTest

/// A rank's rows of a streamed epoch (mpirun): which positions it computes, the runs it reads, and nothing else.
final class RankRowsTests: XCTestCase {
  /// The engine's share: shards ⌊r·S/R⌋ ..< ⌊(r+1)·S/R⌋ of a batch, as rows (shards of `shard` rows).
  private func computed(rank: Int, ranks: Int, shard: Int) -> (Int) -> Range<Int> {
    { rows in
      let shards = (rows + shard - 1) / shard
      let first = rank * shards / ranks
      let end = (rank + 1) * shards / ranks
      return first == end ? 0..<0 : (first * shard)..<min(end * shard, rows)
    }
  }

  func testCoalesceJoinsRowsConsecutiveInTheFileAndInTheBuffer() {
    // File rows 3,4,5 land in buffer rows 10,11,12 (one run); 6 goes elsewhere (a block that
    // does not follow in the buffer); 8 is after a gap; 20,21 given out of order.
    let runs = RowRun.coalesce([
      (file: 21, buffer: 1), (file: 4, buffer: 11), (file: 3, buffer: 10), (file: 6, buffer: 40),
      (file: 5, buffer: 12), (file: 8, buffer: 13), (file: 20, buffer: 0),
    ])
    XCTAssertEqual(
      runs,
      [
        RowRun(rows: 3..<6, bufferRow: 10), RowRun(rows: 6..<7, bufferRow: 40),
        RowRun(rows: 8..<9, bufferRow: 13), RowRun(rows: 20..<22, bufferRow: 0),
      ])
    XCTAssertEqual(runs[0].bufferRows, 10..<13)
    XCTAssertEqual(RowRun.coalesce([]), [])
  }

  func testEveryUsedPositionBelongsToExactlyOneRank() {
    // 203 samples in batches of 50 (last: 3 rows, one shard of 8); with drop_last 4 batches only.
    for (batches, used) in [(5, 203), (4, 200)] {
      for ranks in 1...4 {
        let shares = (0..<ranks).map {
          RankRows(
            rows: 203, batchSize: 50, batches: batches,
            computedRows: computed(rank: $0, ranks: ranks, shard: 8))
        }
        for p in 0..<203 {
          let owners = shares.filter { $0.contains(position: p) }.count
          XCTAssertEqual(owners, p < used ? 1 : 0, "position \(p), \(ranks) ranks, \(batches) batches")
        }
        XCTAssertEqual(shares.map(\.count).reduce(0, +), used)
        for share in shares {
          XCTAssertEqual(share.count, (0..<203).filter { share.contains(position: $0) }.count)
        }
      }
    }
  }

  /// A row source of `rows` × 2 values (row r is [r, -r]) that records every row it reads.
  private final class RecordingRows: RowSource, @unchecked Sendable {
    let rows: Int
    var read: [Int] = []
    init(rows: Int) { self.rows = rows }
    var features: Int { 2 }
    var targetColumns: Int { 0 }
    var labels: [String] { [] }
    var classes: Int? { nil }
    var sampleShape: Shape? { nil }
    var preferredBlockRows: Int? { nil }
    var name: String { "recording" }
    var inputBytesPerRow: Int { 8 }
    func read(_ range: Range<Int>, inputs: UnsafeMutablePointer<Float>, targets: UnsafeMutablePointer<Float>?)
    {
      for (i, r) in range.enumerated() {
        inputs[2 * i] = Float(r)
        inputs[2 * i + 1] = -Float(r)
        read.append(r)
      }
    }
  }

  func testTheRingReadsOnlyTheRanksRowsAndLeavesTheOthersUntouched() throws {
    let plan = BlockPlan(rows: 203, blockRows: 7, windowBlocks: 3)
    var generator = SeededGenerator(seed: 4)
    let order = plan.epochOrder(shuffle: true, using: &generator)
    for rank in 0..<3 {
      let mine = RankRows(
        rows: 203, batchSize: 50, batches: 5, computedRows: computed(rank: rank, ranks: 3, shard: 8))
      let source = RecordingRows(rows: 203)
      let ring = try PrefetchRing(
        source: source, order: order, firstWindow: 0, scaler: .identity, capacity: 3, rank: mine)
      var seen: [Int] = []
      for k in 0..<order.windows {
        let window = try XCTUnwrap(try ring.window(k))
        let positions = order.windowStarts[k]..<order.windowStarts[k + 1]
        let wanted = Set(positions.filter { mine.contains(position: $0) }.map { order.order[$0] })
        for row in order.blocks(ofWindow: k).flatMap({ plan.range(ofBlock: $0) }) {
          let values = window.row(order.bufferRow(of: row))
          // Buffers are reused: a row not read holds what an earlier window put there, never this row.
          if wanted.contains(row) {
            XCTAssertEqual([values[0], values[1]], [Float(row), -Float(row)], "rank \(rank) row \(row)")
          } else if row != 0 {
            XCTAssertNotEqual(values[0], Float(row), "rank \(rank) row \(row) was read")
          }
        }
        seen += wanted
      }
      let count = ring.readCount
      ring.stop()
      XCTAssertEqual(source.read.sorted(), seen.sorted(), "rank \(rank)")
      XCTAssertEqual(count.rows, mine.count)
      XCTAssertEqual(count.bytes, 8 * mine.count)
      XCTAssertLessThan(count.reads, count.rows, "runs of consecutive rows are one read")
    }
  }
}
