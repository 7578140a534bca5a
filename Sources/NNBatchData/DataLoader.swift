import NNBatchCore
import NeuralNet
import Parallel

/// Training and validation data, ready for the engine.
public struct PreparedData: Sendable {
  /// Training samples (scaled).
  public var train: Dataset
  /// Validation samples (scaled), if any.
  public var validation: Dataset?
  /// Class labels in class-index order.
  public var labels: [String]
  /// The scaling fitted on the training split.
  public var scaler: AffineScaler
  /// The regression-target scaling fitted on the training split (`data.scale_targets`).
  public var targetScaler: AffineScaler
  /// A digest of the samples before scaling (see `DataLoader.fingerprint(of:)`); empty when not computed.
  public var fingerprint: String
  /// One sample's shape: `data.shape`, the source's own (IDX images [1, H, W]), or [features].
  public var sampleShape: Shape
  /// The streamed training set, when the inputs stream from disk; `train` then holds its targets and no inputs.
  public var stream: StreamedTrainingSet?
  /// The training source's names of its target columns (a CSV header), else nil.
  public var targetNames: [String]?
  /// The missing-value filling fitted on the training split (`data.missing`), applied before `scaler`; nil without one.
  public var imputer: Imputer?
  /// The one-hot encoding of categorical feature columns learned from the training split, applied first; nil without one.
  public var encoder: CategoricalEncoder?

  /// Prepared samples; `sampleShape` nil means flat samples [features].
  public init(
    train: Dataset, validation: Dataset?, labels: [String], scaler: AffineScaler, targetScaler: AffineScaler,
    sampleShape: Shape? = nil, fingerprint: String = ""
  ) {
    self.train = train
    self.validation = validation
    self.labels = labels
    self.scaler = scaler
    self.targetScaler = targetScaler
    self.sampleShape = sampleShape ?? [train.features]
    self.fingerprint = fingerprint
  }
}

/// Training and validation samples before scaling, as the config selects them.
package struct SelectedData {
  /// The training samples (all of `data` when nothing is held out).
  package var train: Dataset
  /// The validation samples: `data.validation`, or the rows `data.validation_split` holds out.
  package var validation: Dataset?
  /// Class labels in class-index order.
  package var labels: [String]
  /// Classes known from the training source (synthetic, idx), else nil.
  package var classes: Int?
  /// One sample's shape as the training source gives it (IDX images), else nil.
  package var sourceShape: Shape?
  /// The training source's names of its target columns (a CSV header), else nil.
  package var targetNames: [String]? = nil
  /// One `data.missing` rule per feature column when cells may be missing (NaN), else nil.
  package var missingRules: [MissingRule]? = nil
  /// The training source's categorical feature columns, categories by code (first appearance), else nil.
  package var categorical: [CategoricalColumn]? = nil
  /// The separate validation source's categorical columns; nil when the validation rows share the training codes.
  package var validationCategorical: [CategoricalColumn]? = nil
}

/// Reads data sources through their readers, splits, scales and checks them against the model.
public enum DataLoader {
  /// Reads `config`'s training data (and validation data), splits, scales and checks it.
  ///
  /// A resumed run passes the scalings its checkpoint holds: statistics
  /// fitted when the run started are part of the run, so a resumed run
  /// scales exactly as the run it continues did (whatever the current
  /// fitting code computes). Ones of another kind than the config's are
  /// ignored; the resume check reports that difference. Over mpirun
  /// (`group`), a streamed file's statistics pass runs on rank 0 only.
  public static func prepare(
    _ config: some DataPlan, scalers saved: (features: AffineScaler, targets: AffineScaler)? = nil,
    resumed: ResumedReading? = nil, group: (any ProcessGroup)? = nil
  )
    throws(NNBatchError) -> PreparedData
  {
    try config.requireDataFiles()
    if let streamed = try prepareStreamed(config, scalers: saved, resumed: resumed, group: group) {
      return streamed
    }
    let selected = try select(config, labels: [])
    var train = selected.train
    var validation = selected.validation
    // Missing values are filled with training-split statistics before anything else looks at the features.
    var imputer: Imputer?
    var missingRules = selected.missingRules
    var encoder: CategoricalEncoder?
    if let columns = selected.categorical {
      // Categories come from the training split only: a validation-only category encodes as zeros.
      let fitted = try fitCategories(columns, train: train.inputs, rules: missingRules, config: config)
      encoder = fitted
      train = Dataset(
        inputs: try encode(train.inputs, codes: columns, encoder: fitted), targets: train.targets)
      if let v = validation {
        let codes = selected.validationCategorical ?? columns
        validation = Dataset(inputs: try encode(v.inputs, codes: codes, encoder: fitted), targets: v.targets)
      }
      // The one-hot columns have no missing values left for the imputer.
      missingRules = missingRules.map { rules in
        rules.indices.flatMap { j in
          let n = fitted.columns.first { $0.position == j }?.categories.count
          return n.map { [MissingRule](repeating: .refuse, count: $0) } ?? [rules[j]]
        }
      }
    }
    if let rules = missingRules {
      let fitted = Imputer.fit(rules, to: train.inputs)
      if let j = fitted.emptyColumns.first {
        throw NNBatchError(
          .usage,
          "\(config.data.source.description): feature \(j) (0-based): data.missing needs at least one value in the training split to compute its statistic from, found every one of \(train.count) missing; give it a constant"
        )
      }
      imputer = fitted.imputer
      train = Dataset(inputs: fitted.imputer.apply(to: train.inputs), targets: train.targets)
      if let v = validation {
        validation = Dataset(inputs: fitted.imputer.apply(to: v.inputs), targets: v.targets)
      }
    }
    try requireTwoClasses(train, config: config, labels: selected.labels)
    let sampleShape = try config.sampleShape(features: train.features, sourceShape: selected.sourceShape)
    let fingerprint = fingerprint(of: selected)
    let scaler: AffineScaler
    if let saved, saved.features.kind == config.scaling, saved.features.shift.count == train.features {
      scaler = saved.features
    } else {
      let fitted = AffineScaler.fitReporting(config.scaling, to: train.inputs)
      warnAboutConstantColumns(fitted.constantColumns, what: "feature", config: config)
      scaler = fitted.scaler
    }
    scaler.apply(to: train.inputs)
    if let validation { scaler.apply(to: validation.inputs) }
    let targetScaler: AffineScaler
    if let saved, saved.targets.kind == config.targetScaling,
      saved.targets.shift.count == (config.targetScaling == .none ? 0 : train.targetColumns)
    {
      targetScaler = saved.targets
    } else {
      let fitted = AffineScaler.fitReporting(config.targetScaling, to: train.targets)
      warnAboutConstantColumns(fitted.constantColumns, what: "target", config: config)
      targetScaler = fitted.scaler
    }
    // Targets are checked in their own units first, then scaled.
    try check(
      PreparedData(
        train: train, validation: validation, labels: selected.labels, scaler: scaler,
        targetScaler: .identity, sampleShape: sampleShape),
      against: config, classes: selected.classes)
    targetScaler.apply(to: train.targets)
    if let validation { targetScaler.apply(to: validation.targets) }
    var prepared = PreparedData(
      train: train, validation: validation, labels: selected.labels, scaler: scaler,
      targetScaler: targetScaler, sampleShape: sampleShape, fingerprint: fingerprint)
    prepared.targetNames = selected.targetNames
    prepared.imputer = imputer
    prepared.encoder = encoder
    return prepared
  }

  /// The encoder of `columns` (categories by code) learned from the codes in `train`, sorted by code point.
  static func fitCategories(
    _ columns: [CategoricalColumn], train: Matrix, rules: [MissingRule]?, config: some DataPlan
  ) throws(NNBatchError) -> CategoricalEncoder {
    let name = config.data.source.description
    var fitted: [CategoricalColumn] = []
    for column in columns {
      var counts = [Int](repeating: 0, count: column.categories.count)
      for r in 0..<train.rows where !train[r, column.position].isNaN {
        counts[Int(train[r, column.position])] += 1
      }
      let seen = CategoricalEncoder.sorted(
        column.categories.indices.filter { counts[$0] > 0 }.map { column.categories[$0] })
      guard !seen.isEmpty else {
        throw NNBatchError(
          .usage,
          "\(name): categorical column \"\(excerpt(column.name))\": expected at least one category in the training split, found every value missing"
        )
      }
      var fill: Int?
      if var rule = rules?[column.position], rule != .refuse {
        // A default rule is written for the numbers: a category has no mean, median or
        // constant of that kind, so under it a categorical column takes its most frequent
        // category (no indicator). A rule written for the column itself must say so.
        if config.data.missing.columns[column.name] == nil { rule = MissingRule(.mostFrequent) }
        guard rule.strategy == .mostFrequent, !rule.indicator else {
          throw NNBatchError(
            .usage,
            "\(name): data.missing for categorical column \"\(excerpt(column.name))\": expected most_frequent (without indicator) or refuse, found \(MissingPolicy(fallback: rule).description)"
          )
        }
        // The most frequent category; among equally frequent ones the first in code-point order.
        var bestCount = 0
        for (i, category) in seen.enumerated() {
          let n = counts[column.categories.firstIndex(of: category) ?? 0]
          if n > bestCount {
            bestCount = n
            fill = i
          }
        }
      }
      fitted.append(
        CategoricalColumn(position: column.position, name: column.name, categories: seen, fill: fill))
    }
    return CategoricalEncoder(inputWidth: train.columns, columns: fitted)
  }

  /// `inputs` whose categorical cells hold codes of `codes`' tables, one-hot encoded by `encoder`.
  static func encode(_ inputs: Matrix, codes: [CategoricalColumn], encoder: CategoricalEncoder)
    throws(NNBatchError) -> Matrix
  {
    guard inputs.columns == encoder.inputWidth else {
      throw NNBatchError(
        .usage,
        "validation data has \(inputs.columns) features, training data has \(encoder.inputWidth)")
    }
    let recoded = Matrix(rows: inputs.rows, columns: inputs.columns, values: inputs.storage.array)
    for column in encoder.columns {
      guard let table = codes.first(where: { $0.position == column.position }) else {
        throw NNBatchError(
          .usage,
          "validation data: column \"\(excerpt(column.name))\" has numbers, but it is categorical in the training data; name it in data.categorical"
        )
      }
      let index = Dictionary(column.categories.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
      let map = table.categories.map { Float(index[$0] ?? -1) }
      for r in 0..<recoded.rows where !recoded[r, column.position].isNaN {
        recoded.row(r)[column.position] = map[Int(recoded[r, column.position])]
      }
    }
    return encoder.apply(to: recoded).matrix
  }

  /// A classifier trained on one class learns nothing: refuse it.
  static func requireTwoClasses(_ train: Dataset, config: some DataPlan, labels: [String])
    throws(NNBatchError)
  {
    guard config.task == .classification, train.targetColumns == 1, train.count > 0 else { return }
    let t = train.targets.storage.pointer
    let first = t[0]
    for r in 1..<train.count where t[r] != first { return }
    let shown = Int(first) >= 0 && Int(first) < labels.count ? "\"\(labels[Int(first)])\"" : "\(first)"
    throw NNBatchError(
      .usage,
      "\(config.data.source.description): classification needs at least two classes in the training data, found one (every one of \(train.count) samples is \(shown))"
    )
  }

  /// Warns about columns whose spread is too small to scale (they get factor 1).
  static func warnAboutConstantColumns(_ constant: [Int], what: String, config: some DataPlan) {
    guard !constant.isEmpty else { return }
    let shown =
      constant.prefix(10).map(String.init).joined(separator: ", ") + (constant.count > 10 ? ", ..." : "")
    Warnings.emit(
      "\(config.data.source.description): \(constant.count) \(what) column\(constant.count == 1 ? "" : "s") (0-based: \(shown)) \(constant.count == 1 ? "is" : "are") constant or nearly so in the training data; scaled with factor 1 (shifted only) instead of dividing by a spread of about zero"
    )
  }

  /// Reads `config.data` and splits off its validation samples, unscaled.
  ///
  /// Training (`prepare`) and `evaluate` both call it, so the validation
  /// rows evaluate reports on are the ones training held out. `labels`
  /// orders class labels as the training data did (empty: discover them).
  package static func select(_ config: some DataPlan, labels known: [String]) throws(NNBatchError)
    -> SelectedData
  {
    let raw = try read(config.data, task: config.task, labels: known)
    // Every source checks this itself; this is the guard for the next one.
    guard raw.inputs.columns > 0, raw.inputs.rows > 0 else {
      throw NNBatchError(
        .usage,
        "\(config.data.source.description): expected at least one sample of at least one feature, found \(raw.inputs.rows) samples of \(raw.inputs.columns) features"
      )
    }
    var selected = try split(raw, config: config)
    selected.missingRules = raw.missingRules
    selected.categorical = raw.categorical
    return selected
  }

  private static func split(_ raw: RawData, config: some DataPlan) throws(NNBatchError) -> SelectedData {
    var labels = raw.labels
    let all = Dataset(inputs: raw.inputs, targets: raw.targets)
    if let v = config.validation {
      let rawValidation = try read(v, task: config.task, labels: raw.labels)
      if !rawValidation.labels.isEmpty { labels = rawValidation.labels }
      guard rawValidation.inputs.columns == raw.inputs.columns else {
        throw NNBatchError(
          .usage,
          "\(v.source.description): validation data has \(rawValidation.inputs.columns) features, training data has \(raw.inputs.columns)"
        )
      }
      var selected = SelectedData(
        train: all, validation: Dataset(inputs: rawValidation.inputs, targets: rawValidation.targets),
        labels: labels, classes: raw.classes, sourceShape: raw.sampleShape, targetNames: raw.targetNames)
      selected.validationCategorical = rawValidation.categorical ?? []
      return selected
    }
    if config.validationSplit > 0 {
      let split = try holdOut(all, fraction: config.validationSplit, seed: config.seed, file: config.file)
      return SelectedData(
        train: split.train, validation: split.validation, labels: labels, classes: raw.classes,
        sourceShape: raw.sampleShape, targetNames: raw.targetNames)
    }
    return SelectedData(
      train: all, validation: nil, labels: labels, classes: raw.classes, sourceShape: raw.sampleShape,
      targetNames: raw.targetNames)
  }

  /// The seeded hold-out of `data.validation_split`: `fraction` of the rows for validation, in file order.
  ///
  /// The one place that decides which rows are held out.
  package static func holdOut(_ all: Dataset, fraction: Double, seed: UInt64, file: String)
    throws(NNBatchError)
    -> (train: Dataset, validation: Dataset)
  {
    let n = all.count
    let held = Int((Double(n) * fraction).rounded())
    guard held >= 1 && held < n else {
      throw NNBatchError(
        .usage,
        "\(file): data.validation_split \(fraction) of \(n) samples leaves \(held) for validation and \(n - held) for training; both need at least one"
      )
    }
    var generator = SeededGenerator(seed: seed ^ 0x5EED_5EED_0000_0001)
    var order = Array(0..<n)
    generator.shuffle(&order)
    let validation = Array(order[0..<held]).sorted()
    let train = Array(order[held...]).sorted()
    return (all.subset(train), all.subset(validation))
  }

  /// Checks targets against the loss and the output layer.
  package static func check(
    _ data: PreparedData, against config: some DataPlan, classes: Int?, firstSample: Int = 0
  )
    throws(NNBatchError)
  {
    // Layers that do not fit the data are reported when the network is built.
    guard let outputs = config.outputs(sample: data.sampleShape) else { return }
    let name = config.data.source.description
    let columns = data.train.targetColumns
    if config.loss == .crossEntropy && columns == 1 {
      let needed = max(classes ?? 0, data.labels.count)
      if needed > outputs {
        throw NNBatchError(
          .usage,
          "\(name): the data has \(needed) classes but the last layer has \(outputs) units; set its units to \(needed)"
        )
      }
    }
    if !config.loss.accepts(targetColumns: columns, outputs: outputs) {
      throw NNBatchError(
        .usage,
        "\(name): targets have \(columns) column(s) but the last layer has \(outputs) units (loss \(config.loss.rawValue))"
      )
    }
    for (set, dataset) in [("training", Optional(data.train)), ("validation", data.validation)] {
      guard let dataset else { continue }
      try checkValues(
        dataset, set: set, source: name, config: config, scaler: data.scaler, outputs: outputs,
        firstSample: firstSample)
    }
  }

  /// Checks values of `dataset` whose inputs are already scaled by `scaler`.
  ///
  /// Raw inputs were finite when read (each reader checks), so a feature
  /// that is not finite here came out of the scaling: the message says so,
  /// as predict's and evaluate's do, instead of blaming the data.
  private static func checkValues(
    _ dataset: Dataset, set: String, source: String, config: some DataPlan, scaler: AffineScaler,
    outputs: Int,
    firstSample: Int
  ) throws(NNBatchError) {
    let classIndices = config.loss == .crossEntropy && dataset.targetColumns == 1
    for r in 0..<dataset.count {
      let sample = firstSample + r + 1
      let x = dataset.inputs.row(r)
      for j in 0..<dataset.features where !x[j].isFinite {
        guard scaler.kind != .none, j < scaler.shift.count else {
          throw NNBatchError(
            .usage,
            "\(source): \(set) sample \(sample), feature \(j): expected a finite number, found \(x[j])")
        }
        throw NNBatchError(
          .usage,
          "\(source): \(set) sample \(sample), feature \(j): expected a value that stays finite under data.scale \"\(scaler.kind.rawValue)\" (shift \(scaler.shift[j]), factor \(scaler.factor[j]) fitted on the training data), found \(x[j]) after scaling: the feature's values overflow 32-bit floats; rescale them (e.g. to other units) before training"
        )
      }
      let t = dataset.targets.row(r)
      for j in 0..<dataset.targetColumns {
        let v = t[j]
        if !v.isFinite {
          throw NNBatchError(
            .usage, "\(source): \(set) sample \(sample), target \(j): expected a finite number, found \(v)")
        }
        if classIndices && (v != v.rounded() || v < 0 || Int(v) >= outputs) {
          throw NNBatchError(
            .usage,
            "\(source): \(set) sample \(sample): expected a class index in 0...\(outputs - 1), found \(v)")
        }
        if config.loss == .binaryCrossEntropy && (v < 0 || v > 1) {
          throw NNBatchError(
            .usage,
            "\(source): \(set) sample \(sample), target \(j): binary_cross_entropy needs targets in [0, 1], found \(v)"
          )
        }
      }
    }
  }

  /// Reads one source whole.
  ///
  /// `labels` maps class labels of a validation or evaluation set to the
  /// training set's indices. Training shuffles across every row and fits
  /// the scaler on all of them, so it gathers the reader's blocks here; a
  /// streamed training set (`prepareStreamed`) shuffles by blocks and fits the scaler in a pass.
  public static func read(_ data: DataConfig, task: LearningTask, labels: [String] = []) throws(NNBatchError)
    -> RawData
  {
    try data.source.open(task: task, labels: labels).readAll()
  }
}
