import HDF5Store
import NNBatchCore
import NeuralNet
import Parallel

/// A training set streamed from disk: its rows, block plan and scalings; targets are held in memory.
///
/// Only the inputs stream: targets ([N, C], 4 bytes per value) are read
/// once in the statistics pass and kept, scaled, so that class and range
/// checks, the target scaling and the fingerprint are exactly the in-memory ones.
public final class StreamedTrainingSet: Sendable {
  /// The file's rows.
  package let source: any RowSource
  /// Blocks and windows.
  public let plan: BlockPlan
  /// Targets of every sample [N, C], scaled.
  public let targets: Matrix
  /// The scaling of the inputs, applied as windows are read.
  public let scaler: AffineScaler
  /// Windows the prefetch ring holds at most (the one in use and those read ahead).
  public let ringWindows = 3
  /// Rows this process read in the statistics pass (0 on a group's ranks other than 0).
  package let passRows: Int

  init(source: any RowSource, plan: BlockPlan, targets: Matrix, scaler: AffineScaler, passRows: Int) {
    self.source = source
    self.plan = plan
    self.targets = targets
    self.scaler = scaler
    self.passRows = passRows
  }

  /// Features per sample.
  public var features: Int { source.features }
}

/// How a resumed run reads its data: as the checkpoint it continues did.
public enum ResumedReading: Sendable, Equatable {
  /// The checkpoint's run loaded its data whole (no `/data@stream`).
  case inMemory
  /// It streamed with this plan.
  case streamed(String)
}

extension DataLoader {
  /// The training data streamed from disk, or nil when it is read whole (see docs/streaming.md for the choice).
  ///
  /// In a process group of several ranks, rank 0 alone runs the statistics
  /// pass over the whole file and sends its results to the others.
  static func prepareStreamed(
    _ config: some DataPlan, scalers saved: (features: AffineScaler, targets: AffineScaler)?,
    resumed: ResumedReading?, group: (any ProcessGroup)?
  ) throws(NNBatchError) -> PreparedData? {
    let settings = config.data.stream
    let name = config.data.source.description
    if let resumed, let enabled = settings.enabled, enabled != (resumed != .inMemory) {
      throw NNBatchError(
        .usage,
        "\(config.file): $.data.stream: \(enabled), but the checkpoint's run \(enabled ? "loaded its data whole" : "streamed it"), which orders samples differently; remove data.stream to continue as it did"
      )
    }
    let wanted = resumed.map { $0 != .inMemory } ?? settings.enabled
    if wanted == false { return nil }
    var opened: (any RowSource)?
    var openFailure: NNBatchError?
    do throws(NNBatchError) {
      opened = try config.data.source.openRows(task: config.task)
      if opened == nil && wanted == true {
        throw NNBatchError(
          .usage,
          "\(config.file): $.data.stream: \(config.data.sourceName) data cannot stream (hdf5, idx, npy and images can); set data.stream false"
        )
      }
    } catch {
      // The automatic choice loads what cannot stream (gzipped IDX); the in-memory read reports real problems.
      if wanted != nil { throw error }
      openFailure = error
    }
    var streams = opened != nil
    if wanted == nil, let opened {
      let bytes = checkedProduct([
        opened.rows, opened.features + opened.targetColumns, MemoryLayout<Float>.size,
      ])
      streams = StreamSettings.shouldStreamAutomatically(bytes: bytes)
    }
    if wanted == nil, let group, group.size > 1 {
      // Rank 0 decides for all: budgets differ between hosts, and a rank that
      // loads while another streams would wait in another collective for ever.
      let decided = group.broadcast(group.rank == 0 ? [streams ? 1 : 0] : []).first == 1
      if decided && opened == nil {
        throw openFailure
          ?? NNBatchError(
            .usage,
            "\(name): rank \(group.rank) cannot stream this data, which rank 0 streams (data.stream absent)")
      }
      streams = decided
    }
    guard streams, let source = opened else { return nil }
    let columns = source.targetColumns
    if config.validationSplit > 0 {
      throw NNBatchError(
        .usage,
        "\(config.file): $.data.validation_split: streamed data cannot hold out random rows; give data.validation (a separate source) or set data.stream false"
      )
    }
    let plan: BlockPlan
    if case .streamed(let text)? = resumed {
      guard let recorded = BlockPlan.parse(text, rows: source.rows) else {
        throw NNBatchError(.usage, "\(name): the checkpoint's /data@stream \"\(text)\" is not a block plan")
      }
      plan = recorded
    } else {
      plan = settings.plan(
        rows: source.rows, features: source.features, preferredBlockRows: source.preferredBlockRows)
    }
    try MemoryBudget.require(
      checkedProduct([source.rows, max(columns, 1) + 2, 8]), for: "the targets and the epoch's order",
      in: name)
    // The prefetch ring's windows (and the one being consumed), and the statistics pass's block.
    let windowBuffers = checkedProduct([plan.windowRows, source.features, MemoryLayout<Float>.size, 4])
    let passBlock = checkedProduct([plan.blockRows, source.features, MemoryLayout<Float>.size])
    try MemoryBudget.require(
      checkedSum([windowBuffers, passBlock]),
      for:
        "the prefetch ring (4 windows of \(plan.windowBlocks) blocks of \(plan.blockRows) rows; data.stream_window, data.stream_block_rows)",
      in: name)

    // A group's ranks other than 0 get the pass's results from rank 0, which alone reads the whole file.
    let group = group.flatMap { $0.size > 1 ? $0 : nil }
    var fromRoot: StreamPassMessage?
    if let group, group.rank != 0 {
      fromRoot = try StreamPassMessage.decode(
        group.broadcast([]), rank: group.rank, rows: source.rows, columns: columns)
    }
    var sent = false
    do throws(NNBatchError) {
      let targets = fromRoot?.targets ?? Matrix(rows: source.rows, columns: columns)  // [N, C]
      var statistics = ScalingStatistics(kind: config.scaling, columns: source.features)
      var hash = XXH64()
      var rowsPassed = 0
      if fromRoot == nil {
        // Pass 1 (and 2 for standardize): statistics, checks and the fingerprint, block by block in file order.
        hash.update([Int64(source.rows), Int64(source.features)])
        let passRows = plan.blockRows
        let block = Matrix(rows: passRows, columns: source.features)  // [passRows, F]
        var start = 0
        while start < source.rows {
          let count = min(passRows, source.rows - start)
          try source.read(start..<(start + count), inputs: block.storage.pointer, targets: targets.row(start))
          for r in 0..<count {
            let x = block.row(r)
            for j in 0..<source.features where !x[j].isFinite {
              throw NNBatchError(
                .usage,
                "\(name): training sample \(start + r + 1), feature \(j): expected a finite number, found \(x[j])"
              )
            }
          }
          hash.update(
            UnsafeRawBufferPointer(start: block.storage.pointer, count: count * source.features * 4))
          statistics.first(block, rows: count)
          start += count
          rowsPassed += count
        }
        if statistics.needsSecondPass {
          start = 0
          while start < source.rows {
            let count = min(passRows, source.rows - start)
            try source.read(start..<(start + count), inputs: block.storage.pointer, targets: nil)
            statistics.second(block, rows: count)
            start += count
            rowsPassed += count
          }
        }
        hash.update([Int64(targets.rows), Int64(targets.columns)])
        hash.update(
          UnsafeRawBufferPointer(start: targets.storage.pointer, count: targets.rows * targets.columns * 4))
      }

      var validation: Dataset?
      var labels = source.labels
      if let v = config.validation {
        let raw = try read(v, task: config.task, labels: source.labels)
        if !raw.labels.isEmpty { labels = raw.labels }
        guard raw.inputs.columns == source.features else {
          throw NNBatchError(
            .usage,
            "\(v.source.description): validation data has \(raw.inputs.columns) features, training data has \(source.features)"
          )
        }
        validation = Dataset(inputs: raw.inputs, targets: raw.targets)
        for matrix in [raw.inputs, raw.targets] {
          hash.update([Int64(matrix.rows), Int64(matrix.columns)])
          hash.update(
            UnsafeRawBufferPointer(start: matrix.storage.pointer, count: matrix.rows * matrix.columns * 4))
        }
      }
      hash.update(labels.joined(separator: "\u{0}"))
      let fingerprint = fromRoot?.fingerprint ?? checksumText(hash.finalize())

      // The training set seen without its inputs: targets only, for the checks shared with in-memory data.
      let train = Dataset(inputs: Matrix(rows: source.rows, columns: 0), targets: targets)
      try requireTwoClasses(train, config: config, labels: labels)
      let sampleShape = try config.sampleShape(features: source.features, sourceShape: source.sampleShape)
      let scaler: AffineScaler
      if let fromRoot {
        scaler = fromRoot.scaler
      } else if let saved, saved.features.kind == config.scaling,
        saved.features.shift.count == source.features
      {
        scaler = saved.features
      } else {
        let fitted = statistics.finish()
        warnAboutConstantColumns(fitted.constantColumns, what: "feature", config: config)
        scaler = fitted.scaler
      }
      if let validation { scaler.apply(to: validation.inputs) }
      let targetScaler: AffineScaler
      if let fromRoot {
        targetScaler = fromRoot.targetScaler
      } else if let saved, saved.targets.kind == config.targetScaling,
        saved.targets.shift.count == (config.targetScaling == .none ? 0 : columns)
      {
        targetScaler = saved.targets
      } else {
        let fitted = AffineScaler.fitReporting(config.targetScaling, to: targets)
        warnAboutConstantColumns(fitted.constantColumns, what: "target", config: config)
        targetScaler = fitted.scaler
      }
      if let group, group.rank == 0 {
        sent = true
        _ = group.broadcast(
          StreamPassMessage(
            fingerprint: fingerprint, scaler: scaler, targetScaler: targetScaler, targets: targets
          )
          .encoded())
      }
      try check(
        PreparedData(
          train: train, validation: validation, labels: labels, scaler: scaler, targetScaler: .identity,
          sampleShape: sampleShape),
        against: config, classes: source.classes)
      targetScaler.apply(to: targets)
      if let validation { targetScaler.apply(to: validation.targets) }
      var prepared = PreparedData(
        train: train, validation: validation, labels: labels, scaler: scaler, targetScaler: targetScaler,
        sampleShape: sampleShape, fingerprint: fingerprint)
      prepared.stream = StreamedTrainingSet(
        source: source, plan: plan, targets: targets, scaler: scaler, passRows: rowsPassed)
      return prepared
    } catch {
      if let group, group.rank == 0, !sent { _ = group.broadcast(StreamPassMessage.failed) }
      throw error
    }
  }
}
