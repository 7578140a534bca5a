import HDF5Store
import NNBatchCore
import NeuralNet
import Synchronization

/// Samples a program holds in memory (the Swift API's), named in configs by fingerprint only.
///
/// The samples are never written to a config or a checkpoint: a config says
/// `{"source": "memory", "fingerprint": "xxh64:…", "rows": …, "features": …,
/// "target_columns": …}`, and the samples are looked up by that fingerprint in
/// this process (`MemoryDataStore`), where the program that trains put them.
package struct MemoryData: Sendable {
  /// A sample's targets: numbers (class indices or regression values), or class labels as text.
  package enum Targets: Sendable, Equatable {
    /// `values.count / rows` numbers per sample, row after row.
    case values([Float])
    /// One class label per sample.
    case labels([String])
  }

  /// Samples.
  package let rows: Int
  /// Features per sample.
  package let features: Int
  /// The features, row after row (`rows × features`).
  package let inputs: [Float]
  /// The targets.
  package let targets: Targets
  /// The digest the config names the samples by.
  ///
  /// XXH64 (seed 0) over, in this order: the UTF-8 text `nnbatch-memory-data-1`
  /// (its length as a little-endian UInt64, then its bytes); `rows`,
  /// `features` and `targetColumns` as little-endian Int64; a UInt8, 0 for
  /// number targets and 1 for labels; the features as little-endian float32,
  /// row after row; then the targets: number targets as float32 row after
  /// row, labels each as its UTF-8 length (little-endian UInt64) and bytes.
  /// Written as "xxh64:" and 16 hex digits, like checkpoints' other digests.
  package let fingerprint: String

  /// Target columns per sample (1 for labels).
  package var targetColumns: Int {
    switch targets {
    case .values(let values): return rows == 0 ? 0 : values.count / rows
    case .labels: return 1
    }
  }

  /// Whether the targets are class labels given as text.
  package var hasLabels: Bool {
    if case .labels = targets { return true }
    return false
  }

  /// `rows` samples of `features` features (row after row) and their `targets`.
  package init(rows: Int, features: Int, inputs: [Float], targets: Targets) {
    precondition(
      inputs.count == rows * features, "MemoryData: \(rows)×\(features) needs \(rows * features) values")
    self.rows = rows
    self.features = features
    self.inputs = inputs
    self.targets = targets
    var hash = XXH64()
    hash.update("nnbatch-memory-data-1")
    let targetColumns: Int
    switch targets {
    case .values(let values): targetColumns = rows == 0 ? 0 : values.count / rows
    case .labels: targetColumns = 1
    }
    hash.update([Int64(rows), Int64(features), Int64(targetColumns)])
    switch targets {
    case .values(let values):
      hash.update([UInt8(0)])
      hash.update(inputs)
      hash.update(values)
    case .labels(let labels):
      hash.update([UInt8(1)])
      hash.update(inputs)
      for label in labels { hash.update(label) }
    }
    fingerprint = checksumText(hash.finalize())
  }

  /// The `data` keys that stand for these samples in a config, after `source`.
  package var configKeys: [(String, JSONText)] {
    [
      ("fingerprint", .string(fingerprint)), ("rows", .int(rows)), ("features", .int(features)),
      ("target_columns", .int(targetColumns)), ("labels", .bool(hasLabels)),
    ]
  }
}

/// The in-memory samples this process holds for runs, by fingerprint.
///
/// The Swift API registers its samples for the length of a call that reads
/// them (train, evaluate, predict) and releases them after, so a config can
/// name samples without carrying them; nothing else registers any.
package enum MemoryDataStore {
  private static let entries = Mutex<[String: (data: MemoryData, uses: Int)]>([:])

  /// Makes `data` findable by its fingerprint until as many `release` calls as `register` calls.
  package static func register(_ data: MemoryData) {
    entries.withLock { entries in
      let uses = entries[data.fingerprint]?.uses ?? 0
      entries[data.fingerprint] = (data, uses + 1)
    }
  }

  /// Undoes one `register` of `fingerprint`.
  package static func release(_ fingerprint: String) {
    entries.withLock { entries in
      guard let entry = entries[fingerprint] else { return }
      entries[fingerprint] = entry.uses > 1 ? (entry.data, entry.uses - 1) : nil
    }
  }

  /// The samples registered under `fingerprint`, if any.
  package static func data(_ fingerprint: String) -> MemoryData? {
    entries.withLock { $0[fingerprint]?.data }
  }
}

/// The `memory` data source: samples the program that trains holds, named by fingerprint and shape.
package struct MemorySource: DataSource {
  /// The config name.
  package static let name = "memory"

  /// The samples' digest (`MemoryData.fingerprint`).
  package var fingerprint: String
  /// Samples.
  package var rows: Int
  /// Features per sample.
  package var features: Int
  /// Target columns per sample.
  package var targetColumns: Int
  /// Whether the targets are class labels given as text.
  package var labels: Bool

  /// For messages.
  package var description: String { "in-memory data \(fingerprint)" }

  package var settings: [DataSourceSetting] {
    [
      DataSourceSetting("fingerprint", fingerprint), DataSourceSetting("rows", rows),
      DataSourceSetting("features", features), DataSourceSetting("target_columns", targetColumns),
      DataSourceSetting("labels", labels),
    ]
  }

  /// Reads the fingerprint and shape.
  package static func decode(_ d: ObjectReader, context: DataSourceContext) -> MemorySource? {
    let fingerprint = d.string("fingerprint")
    if let fingerprint, !isDigest(fingerprint) {
      d.report(
        "fingerprint", "expected \"xxh64:\" and 16 lowercase hex digits, found \"\(excerpt(fingerprint))\"")
    }
    let rows = d.int("rows", min: 1)
    let features = d.int("features", min: 1)
    let targetColumns = d.int("target_columns", min: 1)
    let labels = d.bool("labels") ?? false
    for (key, value) in [("fingerprint", fingerprint as Any?), ("rows", rows), ("features", features)]
    where value == nil && !d.has(key) {
      d.missing(key, key == "fingerprint" ? "the samples' digest (\"xxh64:…\")" : "an integer ≥ 1")
    }
    if labels, let targetColumns, targetColumns != 1 {
      d.report("target_columns", "expected 1 (one class label per sample), found \(targetColumns)")
    }
    guard let fingerprint, isDigest(fingerprint), let rows, let features else { return nil }
    return MemorySource(
      fingerprint: fingerprint, rows: rows, features: features, targetColumns: targetColumns ?? 1,
      labels: labels)
  }

  private static func isDigest(_ text: String) -> Bool {
    let digits = text.utf8.dropFirst(6)
    return text.hasPrefix("xxh64:") && digits.count == 16
      && digits.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
  }

  /// The registered samples; with text labels, class indices in `labels` order (sorted when empty).
  package func open(task: LearningTask, labels known: [String]) throws(NNBatchError) -> any SampleReader {
    guard let data = MemoryDataStore.data(fingerprint) else {
      throw NNBatchError(
        .usage,
        "\(description) (\(rows) rows of \(features) features): not in this process; configs and checkpoints name in-memory samples by fingerprint only, so pass the same samples to the Swift API (NNBatchKit) again, or describe a file in a config's data section (evaluate --data CONFIG.json)"
      )
    }
    let inputs = Matrix(rows: data.rows, columns: data.features, values: data.inputs)
    switch data.targets {
    case .values(let values):
      let targets = Matrix(rows: data.rows, columns: data.targetColumns, values: values)
      return InMemorySamples(RawData(inputs: inputs, targets: targets))
    case .labels(let names):
      guard task == .classification else {
        throw NNBatchError(
          .usage,
          "\(description): class labels given as text need the classification task, found \(task.rawValue)")
      }
      let order: [String]
      if known.isEmpty {
        // Distinct labels by first appearance: of two canonically equal spellings, the first one names the class.
        var seen = Set<String>()
        order = ClassLabels.order(names.filter { seen.insert($0).inserted })
      } else {
        if let unknown = names.first(where: { !known.contains($0) }) {
          throw NNBatchError(
            .usage, "\(description): label \"\(excerpt(unknown))\" does not occur in the training data")
        }
        order = known
      }
      let index = Dictionary(order.enumerated().map { ($0.element, Float($0.offset)) }) { first, _ in first }
      let targets = Matrix(rows: data.rows, columns: 1, values: names.map { index[$0] ?? 0 })
      return InMemorySamples(
        RawData(inputs: inputs, targets: targets, labels: order, classes: order.count))
    }
  }
}

/// How class labels given as text are numbered: the one rule for every source that reads them.
package enum ClassLabels {
  /// `names` (distinct) in class-index order: numerically when every one is a number, else sorted as Swift
  /// compares strings (by Unicode scalar value after canonical normalization).
  package static func order(_ names: [String]) -> [String] {
    if names.allSatisfy({ Double($0) != nil }) {
      return names.sorted { Double($0) ?? 0 < Double($1) ?? 0 }
    }
    return names.sorted()
  }
}
