import Foundation
import NNBatchCore
import NNBatchData
import NeuralNet

/// Early stopping (`training.early_stopping`).
public struct EarlyStopping: Sendable, Equatable {
  /// Metric watched: val_loss, val_accuracy, train_loss.
  public var monitor: String
  /// Epochs without improvement before stopping.
  public var patience: Int
  /// Smallest change that counts as an improvement.
  public var minDelta: Double
}

/// Logs beyond the terminal (`logging`); `--tensorboard` and `--log-csv` override them.
public struct LoggingConfig: Sendable, Equatable {
  /// Folder of TensorBoard event files (`logging.tensorboard`).
  public var tensorboard: String?
  /// CSV file of per-epoch metrics (`logging.csv`).
  public var csv: String?

  /// No logs beyond the terminal.
  public init(tensorboard: String? = nil, csv: String? = nil) {
    self.tensorboard = tensorboard
    self.csv = csv
  }
}

/// The whole run configuration.
public struct Config: Sendable {
  /// The config file path.
  public var file: String
  /// The JSON text, saved in checkpoints.
  public var text: String
  /// Run name (default: the file name without extension).
  public var name: String
  /// Seed of initial weights, shuffling and the validation split.
  public var seed: UInt64
  /// Training data.
  public var data: DataConfig
  /// Separate validation data, if any.
  public var validation: DataConfig?
  /// Seeded hold-out fraction of the training data for validation.
  public var validationSplit: Double
  /// Feature scaling.
  public var scaling: Scaling
  /// Scaling of regression targets (`data.scale_targets`).
  public var targetScaling: Scaling
  /// Layers of the network, input side first: the config's, plus the flatten implied before
  /// the first dense layer after a spatial one.
  public var layers: [any LayerSpec]
  /// The config path of each of `layers` ("$.model.layers[3]"); an implied flatten has its dense layer's.
  public var layerPaths: [String]
  /// For a layer graph, each of `layers`' inputs (indices into `layers`, −1: the input); nil for a chain.
  public var layerInputs: [[Int]]? = nil
  /// Each of `layers`' name: its `name`, a residual block's own names (`block1.conv1`), nil for none.
  public var layerNames: [String?] = []
  /// Residual blocks whose shortcut waits for the input shape (`resolveShortcuts`); empty once resolved.
  package var residualShortcuts: [ResidualShortcut] = []
  /// `data.shape`: one sample's shape, such as [1, 8, 8], when the config gives it.
  public var dataShape: Shape?
  /// Weight initialiser.
  public var initializer: Initializer
  /// Whether layers have biases (`model.bias`, the default of every dense layer).
  public var bias: Bool
  /// Training loss.
  public var loss: Loss
  /// Optimizer.
  public var optimizer: OptimizerSettings
  /// Learning-rate schedule (its `totalSteps` is filled in once the data size is known).
  public var schedule: LearningRateSchedule
  /// Epochs to train.
  public var epochs: Int
  /// Samples per mini-batch.
  public var batchSize: Int
  /// Samples per shard (fixed by the config so results never depend on threads).
  public var shardSize: Int
  /// Shuffle the training samples every epoch.
  public var shuffle: Bool
  /// Drop the last batch of an epoch when it is short.
  public var dropLast: Bool
  /// Element type of the training products (`training.precision`): f32, or bf16 mixed precision.
  public var precision: Precision = .f32
  /// Early stopping, if configured.
  public var earlyStopping: EarlyStopping?
  /// Per-class weights of the training loss (`training.class_weight`), if any.
  public var classWeight: ClassWeightSetting? = nil
  /// Checkpoint folder.
  public var checkpointDir: String
  /// Save every this many steps.
  public var checkpointEverySteps: Int?
  /// Save every this many epochs.
  public var checkpointEveryEpochs: Int?
  /// Step checkpoints to keep.
  public var keep: Int
  /// Keep the best checkpoint by the monitored metric as best.h5.
  public var keepBest: Bool
  /// Metric for keep_best when there is no early stopping.
  public var bestMonitor: String
  /// TensorBoard and CSV logs.
  public var logging = LoggingConfig()
  /// Seconds a rank of an mpirun launch waits for the others in any exchange before it exits 1.
  public var distributedTimeout = Config.defaultDistributedTimeout
  /// `distributed.overlap`: whether ranks send each layer's gradient while backward still runs (no effect on the bits).
  public var distributedOverlap = false
  /// `data.augment`: training-time augmentation of image samples; nil when absent.
  public var augment: AugmentSettings?

  /// The default `distributed.timeout_s`: a network outage of a few seconds passes, a lost host ends the job.
  public static let defaultDistributedTimeout = 30.0

  /// The task: configured, or inferred from the loss.
  public var task: LearningTask {
    data.task ?? (loss == .crossEntropy || loss == .binaryCrossEntropy ? .classification : .regression)
  }

  /// Whether larger values of metric `monitor` are better (accuracy, R², precision, recall, F1, AUC).
  public static func maximizes(_ monitor: String) -> Bool {
    !monitor.hasSuffix("loss") && monitor != "val_mae"
  }

  /// Most epochs a run may have: per-epoch history is kept in memory and in checkpoints.
  public static let maximumEpochs = 10_000_000

  /// Metrics that early stopping and keep_best can watch.
  public static let monitors =
    ["val_loss", "val_accuracy", "val_mae", "val_r2", "train_loss"] + ClassifierMetrics.names

  /// Refuses a classifier's metric that this run never measures: on a regression, or
  /// an AUC on more than two classes (`outputs`: the model's).
  public func requireMonitorFits(outputs: Int) throws(NNBatchError) {
    guard earlyStopping != nil || keepBest else { return }
    let monitor = earlyStopping?.monitor ?? bestMonitor
    let path = earlyStopping != nil ? "$.training.early_stopping.monitor" : "$.checkpoint.monitor"
    var problem: String?
    if ClassifierMetrics.names.contains(monitor) && task != .classification {
      problem =
        "\(monitor) is measured for classification; this run is a regression (use val_loss, val_mae or val_r2)"
    } else if ClassifierMetrics.rankingNames.contains(monitor) && max(outputs, 2) != 2 {
      problem =
        "\(monitor) is measured for two classes; this model has \(outputs) (use val_f1_macro, val_accuracy, ...)"
    }
    if let problem { throw NNBatchError(.usage, "\(file): \(path): \(problem)") }
  }

  /// Default shard size: half a batch, clamped to 16...128 and at most the batch.
  ///
  /// Measured on `big` (batch 256, 2 threads): shards of 32, 64, 128, 256 ran
  /// at 11.7k, 15.0k, 16.9k, 9.5k samples/s; 128 rows keep sgemm efficient
  /// while two shards still feed two cores.
  public static func defaultShardSize(batchSize: Int) -> Int {
    min(batchSize, min(128, max(16, batchSize / 2)))
  }
}

extension Config {
  /// Reads and validates the config at `path`, reporting every problem.
  public static func load(path: String) throws(NNBatchError) -> Config {
    guard FileManager.default.fileExists(atPath: path) else {
      throw NNBatchError(.usage, "\(path): no such config file")
    }
    guard let data = FileManager.default.contents(atPath: path) else {
      throw NNBatchError(.usage, "\(path): cannot read the config file")
    }
    guard let text = String(validating: data, as: UTF8.self) else {
      throw NNBatchError(.usage, "\(path): the config file is not valid UTF-8")
    }
    return try parse(text: text, file: path)
  }

  /// Parses and validates config `text` that came from `file`.
  public static func parse(text: String, file: String) throws(NNBatchError) -> Config {
    let json: JSONValue
    do {
      json = try JSONParser.parse(text)
    } catch {
      throw NNBatchError(
        diagnostics: [
          Diagnostic(file: file, location: error.location, message: "invalid JSON: \(error.message)")
        ])
    }
    let sink = DiagnosticSink(file: file)
    let config = decode(json, text: text, file: file, sink: sink)
    if let config, sink.diagnostics.isEmpty { return config }
    throw NNBatchError(diagnostics: sink.diagnostics)
  }

  private static func decode(_ json: JSONValue, text: String, file: String, sink: DiagnosticSink)
    -> Config?
  {
    guard let root = ObjectReader.make(json, path: "$", sink: sink) else { return nil }
    let defaultName = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
    let name = root.string("name") ?? defaultName
    // The name becomes a folder name (checkpoints/NAME): no '/', and no NUL, which would cut the path short.
    if name.isEmpty || name.contains("/") || name.utf8.contains(0) {
      let shown = name.replacingOccurrences(of: "\u{0}", with: "\\u0000")
      root.report("name", "expected a non-empty name without '/' or NUL, found \"\(shown)\"")
    }
    let seed = UInt64(root.int("seed", min: 0) ?? 0)

    // Model first: the data's checks use its output width.
    var layers: [any LayerSpec] = []
    var layerPaths: [String] = []
    var layerInputs: [[Int]]?
    var layerNames: [String?] = []
    var shortcuts: [ResidualShortcut] = []
    var initializer = Initializer.xavierUniform
    var bias = true
    if let model = root.object("model") {
      bias = model.bool("bias") ?? bias
      if let items = model.array("layers") {
        if items.isEmpty { model.report("layers", "expected at least one layer, found none") }
        var reader = LayerListReader(defaults: LayerDefaults(bias: bias), sink: sink)
        reader.read(items, path: model.childPath("layers"), block: nil)
        layers = reader.specs
        // Indices below are config indices only when every layer decoded.
        if reader.complete {
          for (i, layer) in layers.enumerated() where layer.activation == .softmax && i != layers.count - 1 {
            sink.report(
              reader.sources[i].value, "\(reader.sources[i].path).activation",
              "softmax is only allowed on the last layer (layer \(layers.count - 1)), found it on layer \(i)")
          }
          // A config without `inputs` (nor residual blocks) is a chain: layer l reads layer l − 1.
          let graph = reader.links.resolve(sink: sink)
          let resolved = LayerConfigs.withImpliedFlatten(
            layers, inputs: graph ?? layers.indices.map { [$0 - 1] }, paths: reader.sources.map(\.path),
            names: reader.links.names)
          (layers, layerPaths, layerNames) = (resolved.layers, resolved.paths, resolved.names)
          layerInputs = graph == nil ? nil : resolved.inputs
          // The implied flattens shift indices: each add's is where it landed.
          shortcuts = reader.shortcuts.map { shortcut in
            var moved = shortcut
            moved.add = resolved.moved[shortcut.add]
            return moved
          }
        }
      } else {
        model.missing("layers", "an array of {\"units\": N, \"activation\": NAME}")
      }
      initializer = model.choice("init", Initializer.self, what: "initializer") ?? initializer
      model.finish()
    } else if !root.has("model") {
      root.missing("model", "an object with \"layers\"")
    }

    let loss = root.choice("loss", Loss.self, what: "loss")
    if !root.has("loss") {
      root.missing("loss", "one of \(Loss.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    if let loss, let last = layers.last, !loss.fits(outputActivation: last.activation),
      let required = loss.requiredActivation
    {
      root.report(
        "loss",
        "loss \(loss.rawValue) needs a \(required.rawValue) output layer, found \(last.activation.rawValue)")
    }

    var optimizer = OptimizerSettings(kind: .sgd)
    var schedule = LearningRateSchedule()
    if let o = root.object("optimizer") {
      let named = o.choice("kind", OptimizerKind.self, what: "optimizer")
      if !o.has("kind") {
        o.missing("kind", "one of \(OptimizerKind.allCases.map(\.rawValue).joined(separator: ", "))")
      }
      // Without a known kind, which hyper-parameters belong is unknown too.
      if named == nil { o.ignoreUnreadKeys() }
      let kind = named ?? .sgd
      optimizer = Config.readOptimizer(o, kind: kind)
      if let s = o.object("schedule") {
        schedule.kind = s.choice("kind", ScheduleKind.self, what: "schedule") ?? .constant
        schedule.warmupSteps = s.int("warmup_steps", min: 0) ?? 0
        switch schedule.kind {
        case .constant: break
        case .step:
          schedule.everyEpochs = s.int("every_epochs", min: 1) ?? 1
          schedule.factor = s.double("factor", min: 0, exclusiveMin: true, max: 1) ?? 0.1
        case .exponential:
          schedule.gamma = s.double("gamma", min: 0, exclusiveMin: true, max: 1) ?? 0.95
        case .cosine:
          schedule.floor = s.double("floor", min: 0) ?? 0
          if schedule.floor > optimizer.learningRate {
            s.report(
              "floor",
              "expected a floor ≤ the learning rate \(optimizer.learningRate), found \(schedule.floor)")
          }
        }
        s.finish()
      }
      o.finish()
    } else if !root.has("optimizer") {
      root.missing("optimizer", "an object with \"kind\" and \"learning_rate\"")
    }

    var epochs = 10
    var batchSize = 32
    var shardSize: Int?
    var shuffle = true
    var dropLast = false
    var precision = Precision.f32
    var earlyStopping: EarlyStopping?
    var classWeight: ClassWeightSetting?
    if let t = root.object("training") {
      epochs = t.int("epochs", min: 0, max: Config.maximumEpochs) ?? epochs
      batchSize = t.int("batch_size", min: 1, max: 1 << 20) ?? batchSize
      shardSize = t.int("shard_size", min: 1)
      if let s = shardSize, s > batchSize {
        t.report("shard_size", "expected a shard size ≤ batch_size \(batchSize), found \(s)")
      }
      shuffle = t.bool("shuffle") ?? shuffle
      dropLast = t.bool("drop_last") ?? dropLast
      precision = t.choice("precision", Precision.self, what: "precision") ?? precision
      classWeight = ClassWeightSetting.decode(t)
      if let e = t.object("early_stopping") {
        let monitors = Config.monitors
        var monitor = e.string("monitor") ?? "val_loss"
        if !monitors.contains(monitor) {
          var message = "unknown metric \"\(monitor)\"; expected one of \(monitors.joined(separator: ", "))"
          if let guess = suggestion(for: monitor, among: monitors) {
            message += " (did you mean \"\(guess)\"?)"
          }
          e.report("monitor", message)
          monitor = "val_loss"
        }
        earlyStopping = EarlyStopping(
          monitor: monitor, patience: e.int("patience", min: 1) ?? 5,
          minDelta: e.double("min_delta", min: 0) ?? 0)
        e.finish()
      }
      t.finish()
    }

    var checkpointDir = "checkpoints/\(name)"
    var everySteps: Int?
    var everyEpochs: Int?
    var keep = 3
    var keepBest = false
    var bestMonitor = earlyStopping?.monitor ?? "val_loss"
    if let c = root.object("checkpoint") {
      checkpointDir = c.path("dir") ?? checkpointDir
      everySteps = c.int("every_steps", min: 1)
      everyEpochs = c.int("every_epochs", min: 1)
      keep = c.int("keep", min: 1) ?? keep
      keepBest = c.bool("keep_best") ?? false
      if let monitor = c.string("monitor") {
        if Config.monitors.contains(monitor) {
          bestMonitor = monitor
        } else {
          var message =
            "unknown metric \"\(monitor)\"; expected one of \(Config.monitors.joined(separator: ", "))"
          if let guess = suggestion(for: monitor, among: Config.monitors) {
            message += " (did you mean \"\(guess)\"?)"
          }
          c.report("monitor", message)
        }
      }
      c.finish()
    }
    if everySteps == nil && everyEpochs == nil { everyEpochs = 1 }

    var logging = LoggingConfig()
    if let l = root.object("logging") {
      logging = LoggingConfig(tensorboard: l.path("tensorboard"), csv: l.path("csv"))
      l.finish()
    }
    var distributedTimeout = Config.defaultDistributedTimeout
    var distributedOverlap = false
    if let d = root.object("distributed") {
      // At most a day: a longer wait is a hang by another name.
      distributedTimeout =
        d.double("timeout_s", min: 0, exclusiveMin: true, max: 86_400) ?? distributedTimeout
      distributedOverlap = d.bool("overlap") ?? false
      d.finish()
    }

    var dataConfig: DataConfig?
    var validation: DataConfig?
    var validationSplit = 0.0
    var scaling = Scaling.none
    var targetScaling = Scaling.none
    var dataShape: Shape?
    var augment: AugmentSettings?
    if let d = root.object("data") {
      dataConfig = DataConfig.decode(d, seed: seed, sink: sink)
      dataConfig?.stream = StreamSettings.decode(d)
      dataShape = decodeShape(d)
      validationSplit = d.double("validation_split", min: 0, max: 1, exclusiveMax: true) ?? 0
      scaling = d.choice("scale", Scaling.self, what: "scaling") ?? .none
      targetScaling = d.choice("scale_targets", Scaling.self, what: "scaling") ?? .none
      augment = d.object("augment").map(AugmentSettings.decode)
      var missing = MissingPolicy.refuse
      if let value = d.value("missing") {
        missing = MissingPolicy.decode(value, path: d.childPath("missing"), sink: sink) ?? .refuse
        if dataConfig?.allowMissing(missing) == false {
          d.report(
            "missing",
            "missing values are read from CSV files only; this source is \(dataConfig?.sourceName ?? "")")
        }
      }
      var categorical: [String] = []
      if let items = d.array("categorical") {
        for (i, item) in items.enumerated() {
          guard let name = item.stringValue, !name.isEmpty else {
            sink.report(
              item, "\(d.childPath("categorical"))[\(i)]", "expected a column name, found \(item.typeName)")
            continue
          }
          if categorical.contains(name) {
            sink.report(item, "\(d.childPath("categorical"))[\(i)]", "column \"\(name)\" is listed twice")
          }
          categorical.append(name)
        }
        if !categorical.isEmpty, dataConfig?.declareCategorical(categorical) == false {
          d.report(
            "categorical",
            "categorical columns are read from CSV files only; this source is \(dataConfig?.sourceName ?? "")"
          )
        }
      }
      if let v = d.object("validation") {
        validation = DataConfig.decode(v, seed: seed, sink: sink)
        // Validation rows are filled with the training split's statistics.
        _ = validation?.allowMissing(missing)
        _ = validation?.declareCategorical(categorical)
        v.finish()
        if validationSplit > 0 {
          d.report("validation_split", "give either validation_split or a validation source, not both")
        }
      }
      d.finish()
    } else if !root.has("data") {
      root.missing("data", "an object with \"source\"")
    }
    root.finish()

    guard let dataConfig, let loss, !layers.isEmpty else { return nil }
    if let es = earlyStopping, es.monitor.hasPrefix("val_"), validation == nil, validationSplit == 0 {
      sink.report(
        at: nil, "$.training.early_stopping.monitor",
        "monitor \(es.monitor) needs validation data (data.validation_split or data.validation)")
    }
    let isClassification =
      dataConfig.task == .classification
      || (dataConfig.task == nil && (loss == .crossEntropy || loss == .binaryCrossEntropy))
    if targetScaling != .none && isClassification {
      sink.report(
        at: nil, "$.data.scale_targets",
        "target scaling is for regression; this run classifies (task or loss), found scale_targets \"\(targetScaling.rawValue)\""
      )
    }
    if classWeight != nil && !isClassification {
      sink.report(
        at: nil, "$.training.class_weight",
        "class weights are for classification; this run is a regression (task or loss)")
    }
    if keepBest, bestMonitor.hasPrefix("val_"), validation == nil, validationSplit == 0 {
      sink.report(
        at: nil, "$.checkpoint.keep_best",
        "keep_best watches \(bestMonitor), which needs validation data (data.validation_split or data.validation); or set checkpoint.monitor to train_loss"
      )
    }
    var config = Config(
      file: file, text: text, name: name, seed: seed, data: dataConfig, validation: validation,
      validationSplit: validationSplit, scaling: scaling, targetScaling: targetScaling, layers: layers,
      layerPaths: layerPaths, dataShape: dataShape, initializer: initializer,
      bias: bias, loss: loss, optimizer: optimizer, schedule: schedule, epochs: epochs,
      batchSize: batchSize, shardSize: shardSize ?? defaultShardSize(batchSize: batchSize), shuffle: shuffle,
      dropLast: dropLast, earlyStopping: earlyStopping, checkpointDir: checkpointDir,
      checkpointEverySteps: everySteps, checkpointEveryEpochs: everyEpochs, keep: keep,
      keepBest: keepBest, bestMonitor: bestMonitor)
    config.logging = logging
    config.distributedTimeout = distributedTimeout
    config.distributedOverlap = distributedOverlap
    config.precision = precision
    config.classWeight = classWeight
    config.layerInputs = layerInputs
    config.layerNames = layerNames
    config.residualShortcuts = shortcuts
    config.augment = augment
    return config
  }
}

extension Config {
  /// `optimizer`'s hyper-parameters for `kind`, read and checked from the family's declaration.
  ///
  /// The keys every family takes (learning_rate, weight_decay, clip_norm)
  /// first, then the family's own, each against its declared range; then
  /// the rule's checks across values. A key of another family is left
  /// unread, so the reader's `finish()` names it as unknown.
  static func readOptimizer(_ o: ObjectReader, kind: OptimizerKind) -> OptimizerSettings {
    var settings = OptimizerSettings(kind: kind)
    settings.learningRate = o.double("learning_rate", min: 0, exclusiveMin: true) ?? settings.learningRate
    settings.weightDecay = o.double("weight_decay", min: 0) ?? settings.weightDecay
    settings.clipNorm = o.double("clip_norm", min: 0, exclusiveMin: true)
    for spec in kind.rule.hyperParameters {
      switch spec.kind {
      case .number(_, let r):
        if let value = o.double(
          spec.name, min: r.min, exclusiveMin: r.exclusiveMin, max: r.max, exclusiveMax: r.exclusiveMax)
        {
          // The update loops run in Float: a value that rounds to infinity, or to 0 where 0 is
          // out of range (an epsilon of 1e-50 divides 0 by 0), is refused here, not as a NaN later.
          let rounded = Float(value)
          if !rounded.isFinite || (rounded == 0 && r.exclusiveMin && r.min == 0) {
            o.report(
              spec.name,
              "expected a number a 32-bit float holds (\(r.text), between \(Float.leastNonzeroMagnitude) and \(Float.greatestFiniteMagnitude) in size), found \(value)"
            )
          } else {
            settings[spec.name] = .number(value)
          }
        }
      case .flag:
        if let value = o.bool(spec.name) { settings[spec.name] = .flag(value) }
      }
    }
    for problem in kind.rule.problems(settings) { o.report(problem.key, problem.message) }
    return settings
  }
}
