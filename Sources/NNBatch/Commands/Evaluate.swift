import Foundation
import NNBatchCore
import NNBatchData
import NeuralNet
import Parallel

/// `nnbatch evaluate`: a checkpoint's loss and metrics on a data set.
public enum Evaluate {
  /// Loss and metrics of checkpoint `path` on a data set (its own, or `dataConfig`'s).
  ///
  /// `dataConfig` is a config (a JSON object) or a data file; a data file's format is
  /// `format` (csv, idx, hdf5) or, when nil, detected from its first bytes; "-" is standard input.
  public static func run(
    checkpoint path: String, dataConfig: String?, format: String? = nil, threads: Int
  ) throws(NNBatchError) -> String {
    guard let dataConfig, dataConfig == StandardInput.argument else {
      return try evaluate(checkpoint: path, dataConfig: dataConfig, format: format, threads: threads)
    }
    return try StandardInput.reading(dataConfig) { (file) throws(NNBatchError) in
      try evaluate(checkpoint: path, dataConfig: file, format: format, threads: threads)
        .replacingOccurrences(of: file, with: "standard input")
    }
  }

  /// Rows evaluated at a time for samples of `features` values: whole 256-row
  /// batches of the evaluation plan (so the sums added block by block are the
  /// sums of the whole set, bit for bit), up to 64 of them or about 32 MiB of inputs.
  package static func blockRows(features: Int) -> Int {
    let batches = (32 << 20) / max(256 * 4 * features, 1)
    return 256 * min(max(batches, 1), 64)
  }

  /// The sums of a checkpoint's model over `opened`'s samples, block by block, and its confusion
  /// counts (with every sample's positive-class score for a binary classifier).
  package static func measure(model: SavedModel, opened: EvaluationReader, threads: Int)
    throws(NNBatchError) -> (sums: MetricSums, confusion: ConfusionCounts)
  {
    let source = opened.name
    let features = model.rawFeatures
    guard opened.reader.features == features else {
      throw NNBatchError(
        .usage, "\(source): \(opened.reader.features) features, but the model takes \(features)")
    }
    let rows = blockRows(features: features)
    let columns = opened.reader.targetColumns
    // A block's inputs and targets, and the model's outputs for the confusion matrix.
    let blockBytes = checkedProduct([rows, features + columns + model.network.architecture.outputs, 4])
    try MemoryBudget.require(blockBytes, for: "a block of \(rows) samples", in: source)
    let engine = Parallel.DataParallelEngine(
      network: model.network, plan: Parallel.ShardPlan(batchSize: 256, shardSize: 64),
      threads: threads, targetColumns: columns)
    var sums = MetricSums()
    var confusion = ConfusionCounts(classes: max(model.network.architecture.outputs, 2))
    var seen = 0
    var unseen: [Int] = []  // per categorical column: values training never saw
    while let block = try opened.read({ () throws(NNBatchError) in try opened.reader.next(maxRows: rows) }) {
      guard let targets = block.targets, targets.columns > 0 else {
        throw NNBatchError(.usage, "\(source): expected targets to evaluate against, found none")
      }
      let inputs = try model.prepareInputs(block.inputs, source: source, before: seen, unseen: &unseen)
      let dataset = Dataset(inputs: inputs, targets: targets)  // [rows, F], [rows, C]
      let prepared = PreparedData(
        train: dataset, validation: nil, labels: model.checkpoint.data.labels, scaler: model.scaler,
        targetScaler: model.targetScaler, sampleShape: model.network.architecture.inputShape)
      try DataLoader.check(prepared, against: opened.config, classes: nil, firstSample: seen)
      // The loss is computed as in training (scaled targets); MAE and R² in the targets' units.
      model.targetScaler.apply(to: dataset.targets)
      sums = engine.evaluate(
        parameters: model.parameters, data: dataset, targetScale: model.targetScaler, continuing: sums)
      if sums.nonFiniteSamples > 0 {
        // Rare, so the row is found again the way predict computes it, for predict's message.
        try model.checkOutputs(model.outputs(scaled: dataset.inputs), source: source, before: seen)
        throw NNBatchError(
          .usage,
          "\(source): samples \(seen + 1)...\(seen + dataset.count): expected finite outputs, found \(sums.nonFiniteSamples) sample(s) with a non-finite output"
        )
      }
      if model.isClassifier {
        if confusion.isBinary {
          // AUC is no sum over blocks: every sample's score is kept, within the budget.
          try MemoryBudget.require(
            checkedSum([
              blockBytes,
              checkedProduct([seen + dataset.count, ConfusionCounts.scoreBytesPerSample]),
            ]),
            for: "the scores of \(seen + dataset.count) samples (for ROC and PR AUC) and a block",
            in: source)
        }
        confusion.count(model: model, dataset: dataset)
      }
      seen += dataset.count
    }
    guard seen > 0 else { throw SavedModel.noSamples(in: source) }
    model.reportUnseen(unseen)
    return (sums, confusion)
  }

  private static func evaluate(
    checkpoint path: String, dataConfig: String?, format: String?, threads: Int
  ) throws(NNBatchError) -> String {
    let model = try SavedModel.load(path)
    let opened = try reader(
      config: model.config, data: dataConfig, format: format, labels: model.checkpoint.data.labels,
      categories: model.categoriesByPosition)
    let source = opened.name
    let (sums, measured) = try measure(model: model, opened: opened, threads: threads)
    var confusion = measured
    var lines = ["evaluated \(model.path) on \(source): \(sums.samples) samples"]
    let lossNote =
      model.targetScaler.kind == .none
      ? "" : ", on targets scaled by data.scale_targets \(model.targetScaler.kind.rawValue)"
    lines.append(
      "loss       \(format6(sums.reducedLoss(model.network.loss))) (\(model.network.loss.rawValue)\(lossNote))"
    )
    if model.isClassifier {
      lines.append("accuracy   \(String(format: "%.4f", sums.accuracy)) (\(sums.correct)/\(sums.samples))")
      let labels = model.checkpoint.data.labels
      lines.append(contentsOf: confusion.lines(labels: labels, samples: sums.samples))
      lines.append(contentsOf: confusion.reportLines(labels: labels))
      lines.append(contentsOf: confusion.rankingLines(labels: labels))
    } else {
      lines.append("mae        \(format6(sums.meanAbsoluteError))")
      lines.append("r2         \(format6(sums.rSquared))")
    }
    return lines.joined(separator: "\n")
  }

  /// The samples to evaluate on, block by block, with the config that reads them and their name for messages.
  ///
  /// Without `data`: the run's validation samples, the very rows training
  /// held out (`DataLoader.select`), or its training data when it had none.
  /// With a config (a file holding a JSON object, unless `format` is given): all of that config's
  /// `data`. With a data file: read like the training data (same CSV
  /// columns, HDF5 dataset names; `IMAGES,LABELS` for IDX).
  ///
  /// Sources that can stream (HDF5, uncompressed IDX, .npy) are read from
  /// disk block by block unless their `data.stream` is false, so a set
  /// larger than memory can be evaluated; the others (CSV, gzip, inline,
  /// synthetic), and rows held out by `validation_split`, are read whole.
  package static func reader(
    config: Config, data: String?, format: String?, labels: [String], categories: [Int: [String]]? = nil
  )
    throws(NNBatchError) -> EvaluationReader
  {
    var config = config
    // Categorical cells are read as the trained model's category indices, whichever source is read.
    config.data.useCategories(categories)
    config.validation?.useCategories(categories)
    guard let data else {
      if config.validationSplit == 0 {
        let (set, name, key) =
          config.validation.map { ($0, "the checkpoint's validation data", "$.data.validation") }
          ?? (config.data, "the checkpoint's training data", "$.data")
        try set.requireFiles(at: key, in: config.file)
        if let streamed = try streamed(set, task: config.task, labels: labels) {
          return EvaluationReader(reader: streamed, config: config, name: name, format: nil)
        }
      }
      try config.requireDataFiles()
      let selected = try DataLoader.select(config, labels: labels)
      let (set, name) =
        selected.validation.map { ($0, "the checkpoint's validation data") }
        ?? (selected.train, "the checkpoint's training data")
      return EvaluationReader(reader: whole(set, labels: labels), config: config, name: name, format: nil)
    }
    // A config is told from a data file by its content (a JSON object), never by its name;
    // a folder that a data source kind reads is data.
    var isConfig = false
    if format == nil && FileManager.default.fileExists(atPath: data),
      try DataSources.folderFormat(DataLocation(data)) == nil
    {
      isConfig = try FileHead(path: data).isJSONObject
    }
    if isConfig {
      let other = try Config.load(path: data)
      try other.data.requireFiles(at: "$.data", in: other.file)
      config.data = other.data
      config.validation = other.validation
      config.validationSplit = other.validationSplit
      config.data.useCategories(categories)
      let reader = try open(config.data, task: config.task, labels: labels)
      return EvaluationReader(reader: reader, config: config, name: data, format: nil)
    }
    let (source, resolved) = try fileSource(like: config.data.source, reading: data, format: format)
    config.data.source = source
    config.validation = nil
    config.validationSplit = 0
    let dataConfig = config.data
    let task = config.task
    let reader = try resolved.reading { () throws(NNBatchError) in
      try open(dataConfig, task: task, labels: labels)
    }
    return EvaluationReader(reader: reader, config: config, name: data, format: resolved)
  }

  /// The samples to evaluate on, whole (unscaled), the config that reads them, and their name for messages.
  package static func samples(config: Config, data: String?, format: String?, labels: [String])
    throws(NNBatchError) -> (Dataset, Config, String)
  {
    let opened = try reader(config: config, data: data, format: format, labels: labels)
    let raw = try opened.read { () throws(NNBatchError) in try opened.reader.readAll() }
    return (Dataset(inputs: raw.inputs, targets: raw.targets), opened.config, opened.name)
  }

  /// `set` read from disk block by block, or nil when it cannot stream or its config says not to.
  private static func streamed(_ set: DataConfig, task: LearningTask, labels: [String]) throws(NNBatchError)
    -> (
      any SampleReader
    )?
  {
    guard set.stream.enabled != false else { return nil }
    do throws(NNBatchError) {
      return try set.source.openRows(task: task, labels: labels).map { StreamedSamples($0) }
    } catch {
      // Gzipped IDX cannot stream; the whole read reports what is really wrong.
      if set.stream.enabled == nil { return nil }
      throw error
    }
  }

  /// `set` streamed if it can, else read whole.
  private static func open(_ set: DataConfig, task: LearningTask, labels: [String]) throws(NNBatchError)
    -> any SampleReader
  {
    if let reader = try streamed(set, task: task, labels: labels) { return reader }
    return try set.source.open(task: task, labels: labels)
  }

  private static func whole(_ set: Dataset, labels: [String]) -> any SampleReader {
    InMemorySamples(RawData(inputs: set.inputs, targets: set.targets, labels: labels, classes: nil))
  }

  /// The training data's source with its file(s) replaced by `argument`'s.
  ///
  /// `argument` is one file, or files separated by commas (IDX: IMAGES,LABELS)
  /// when no file has that whole name. The first file's format (`format`, or
  /// its content) must be the training data's.
  static func fileSource(like trained: any DataSource, reading argument: String, format: String?)
    throws(NNBatchError) -> (any DataSource, ResolvedFormat)
  {
    let kind = type(of: trained).name
    guard let trained = trained as? any FileDataSource else {
      throw NNBatchError(
        .usage,
        "\(argument): the model was trained on \(kind) data, so nnbatch cannot tell how to read this file; pass a config (.json) whose data section describes it"
      )
    }
    let locations =
      FileManager.default.fileExists(atPath: argument)
      ? [DataLocation(argument)] : argument.split(separator: ",").map { DataLocation(String($0)) }
    let resolved = try DataSources.resolve(locations.first ?? DataLocation(argument), format: format)
    guard resolved.kind.name == kind else {
      throw NNBatchError(
        .usage,
        "\(argument): \(resolved.kind.formatName) data (\(resolved.origin)), but the model was trained on \(kind) data, so nnbatch cannot tell how to read it; pass a config (.json) whose data section describes it"
      )
    }
    return (try trained.reading(locations, as: argument), resolved)
  }
}

/// Where `Evaluate` reads its samples from: a block reader, the config that describes them, their name.
package struct EvaluationReader {
  /// The samples, block by block.
  package let reader: any SampleReader
  /// The checkpoint's config with `data` replaced by what is evaluated.
  package let config: Config
  /// The samples' name for messages and the report.
  package let name: String
  /// The format a data file was read as, which its errors name.
  let format: ResolvedFormat?

  /// Runs `body`; its errors name the data file's format, as predict's do.
  func read<T>(_ body: () throws(NNBatchError) -> T) throws(NNBatchError) -> T {
    guard let format else { return try body() }
    return try format.reading(body)
  }
}

/// A confusion matrix counted block by block, and for two classes every sample's score.
package struct ConfusionCounts {
  private var matrix: [[Int]]
  /// The positive class's (index 1's) probability and truth per sample, for two classes only.
  package private(set) var scores: [ScoredSample] = []

  /// Bytes kept per sample for ROC and PR AUC: the array, its copy while it grows, and the sort's buffer.
  static let scoreBytesPerSample = 3 * MemoryLayout<ScoredSample>.stride

  /// Counts for a model with `classes` classes (2 for a single sigmoid output).
  init(classes: Int) {
    matrix = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
  }

  /// True for two classes (one sigmoid output or a two-way softmax): ROC and PR AUC apply.
  var isBinary: Bool { matrix.count == 2 }

  /// Adds the predictions of `model` on `dataset` (inputs scaled).
  mutating func count(model: SavedModel, dataset: Dataset) {
    // outputs: [rows, width]
    let outputs = model.network.predict(parameters: model.parameters, inputs: dataset.inputs)
    let width = outputs.columns
    for r in 0..<dataset.count {
      let predicted = width == 1 ? (outputs[r, 0] >= 0.5 ? 1 : 0) : argmax(outputs.row(r), count: width)
      let t = dataset.targets.row(r)
      let expected =
        dataset.targetColumns == 1
        ? Int(t[0] >= 0 ? t[0].rounded() : 0) : argmax(t, count: dataset.targetColumns)
      if expected < matrix.count { matrix[expected][predicted] += 1 }
      if isBinary { scores.append(ScoredSample(score: outputs[r, width - 1], positive: expected == 1)) }
    }
  }

  /// The matrix's counts, rows the true classes, columns the predicted ones.
  package var counts: [[Int]] { matrix }

  /// The logs' classifier metrics without `val_`: macro and weighted averages, `auc` and `pr_auc`.
  ///
  /// AUCs for two classes only, NaN when one class is absent. Sorts the kept scores.
  package mutating func averages() -> [String: Double] {
    let report = ClassificationReport(confusion: matrix)
    var metrics: [String: Double] = [
      "precision_macro": report.macro.precision, "recall_macro": report.macro.recall,
      "f1_macro": report.macro.f1, "precision_weighted": report.weighted.precision,
      "recall_weighted": report.weighted.recall, "f1_weighted": report.weighted.f1,
    ]
    if isBinary {
      let (roc, ap) = RankingMetrics.areas(&scores)
      metrics["auc"] = roc ?? .nan
      metrics["pr_auc"] = ap ?? .nan
    }
    return metrics
  }

  /// Per-class precision, recall, F1 and support, then their macro and weighted averages.
  func reportLines(labels given: [String]) -> [String] {
    let report = ClassificationReport(confusion: matrix)
    let names = (0..<matrix.count).map { $0 < given.count ? given[$0] : "\($0)" }
    let first = max((names.map(\.count).max() ?? 0), "weighted avg".count)
    func pad(_ s: String, _ width: Int) -> String {
      String(repeating: " ", count: max(0, width - s.count)) + s
    }
    func row(_ name: String, _ s: ClassScores) -> String {
      pad(name, first)
        + [s.precision, s.recall, s.f1].map { pad(String(format: "%.4f", $0), 10) }.joined()
        + pad(String(s.support), 10)
    }
    var lines = ["per class (a ratio 0/0 counts as 0)"]
    lines.append(pad("", first) + ["precision", "recall", "f1", "support"].map { pad($0, 10) }.joined())
    for (name, scores) in zip(names, report.classes) { lines.append(row(name, scores)) }
    lines.append(row("macro avg", report.macro))
    lines.append(row("weighted avg", report.weighted))
    return lines
  }

  /// ROC AUC and PR AUC for two classes (none otherwise), or why they are undefined.
  ///
  /// Sorts the kept scores in place, so no second copy of them is made.
  mutating func rankingLines(labels given: [String]) -> [String] {
    guard isBinary else { return [] }
    let names = (0..<2).map { $0 < given.count ? given[$0] : "\($0)" }
    let (roc, ap) = RankingMetrics.areas(&scores)
    let absent = scores.contains(where: \.positive) ? names[0] : names[1]
    func line(_ name: String, _ area: Double?, _ what: String) -> String {
      let value =
        area.map { String(format: "%.4f", $0) + " (\(what)positive class \(names[1]))" }
        ?? "undefined (no samples of class \(absent))"
      return name.padding(toLength: 11, withPad: " ", startingAt: 0) + value
    }
    return [line("roc auc", roc, ""), line("pr auc", ap, "average precision, ")]
  }

  /// The matrix as text, rows the true classes, named by `labels` (or indices).
  func lines(labels given: [String], samples: Int) -> [String] {
    let classes = matrix.count
    let labels = given.isEmpty ? (0..<classes).map(String.init) : given
    let cell = max(6, (labels.map(\.count).max() ?? 1) + 1, String(samples).count + 1)
    func pad(_ s: String) -> String { String(repeating: " ", count: max(0, cell - s.count)) + s }
    var lines = ["confusion matrix (rows: true class, columns: predicted)"]
    lines.append(pad("") + labels.prefix(classes).map(pad).joined())
    for (i, row) in matrix.enumerated() {
      lines.append(pad(i < labels.count ? labels[i] : "\(i)") + row.map { pad(String($0)) }.joined())
    }
    return lines
  }
}
