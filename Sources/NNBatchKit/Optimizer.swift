import NNBatchCore
import NNBatchData

/// How parameters are updated from their gradients.
public struct Optimizer: Sendable {
  let json: JSONText

  /// Stochastic gradient descent, optionally with (Nesterov) momentum.
  public static func sgd(learningRate: Double, momentum: Double = 0, nesterov: Bool = false) -> Optimizer {
    var pairs: [(String, JSONText)] = [("kind", .string("sgd")), ("learning_rate", .decimal(learningRate))]
    if momentum != 0 { pairs.append(("momentum", .decimal(momentum))) }
    if nesterov { pairs.append(("nesterov", .bool(true))) }
    return Optimizer(json: .object(pairs))
  }

  /// Adam (Kingma and Ba).
  public static func adam(learningRate: Double = 0.001) -> Optimizer {
    Optimizer(json: .object([("kind", .string("adam")), ("learning_rate", .decimal(learningRate))]))
  }

  /// A value of an optimizer's own hyper-parameter: a number or a yes/no setting.
  public enum Value: Sendable, ExpressibleByFloatLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByBooleanLiteral
  {
    /// A number (`alpha`, `momentum`).
    case number(Double)
    /// A yes/no setting (`centered`, `nesterov`).
    case flag(Bool)

    /// A number.
    public init(floatLiteral value: Double) { self = .number(value) }
    /// A number.
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    /// A flag.
    public init(booleanLiteral value: Bool) { self = .flag(value) }
  }

  /// Any optimizer nnbatch knows, by its config name and keys (`"adam"`, `["beta2": 0.99]`).
  ///
  /// The names are those of the config's `optimizer` object (README, "Config
  /// reference"); an unknown kind, key or value is reported when training
  /// starts, as for a JSON config.
  public init(kind: String, learningRate: Double? = nil, _ settings: KeyValuePairs<String, Value> = [:]) {
    var pairs: [(String, JSONText)] = [("kind", .string(kind))]
    if let learningRate { pairs.append(("learning_rate", .decimal(learningRate))) }
    for (key, value) in settings {
      switch value {
      case .number(let number): pairs.append((key, .decimal(number)))
      case .flag(let flag): pairs.append((key, .bool(flag)))
      }
    }
    json = .object(pairs)
  }

  init(json: JSONText) {
    self.json = json
  }

  /// AdamW: Adam with decoupled weight decay.
  public static func adamw(learningRate: Double = 0.001, weightDecay: Double) -> Optimizer {
    Optimizer(
      json: .object([
        ("kind", .string("adamw")), ("learning_rate", .decimal(learningRate)),
        ("weight_decay", .decimal(weightDecay)),
      ]))
  }
}

/// Training samples and how they are prepared.
public struct TrainingData: Sendable {
  let source: [(String, JSONText)]
  /// The samples of an in-memory source, which the config names by fingerprint only.
  let memory: MemoryData?
  /// How input features are scaled (fitted on the training samples, saved with the model).
  public var scaling: Scaling = .none
  /// Fraction in [0, 1) of the samples held out, seeded, for validation metrics.
  public var validationSplit: Double = 0
  /// The shape of one sample, such as `[1, 8, 8]` (channels, height, width) for images given as rows.
  public var shape: [Int]?
  /// Samples of their own for validation metrics, instead of a `validationSplit`.
  public var validation: ValidationData?
  /// Other keys of the config's `data` object (`missing`, `categorical`, `augment`, `stream`, ...), as JSON.
  ///
  /// For settings without a typed property: each value is JSON text (`"\"mean\""`,
  /// `#"["colour"]"#`) and is checked, with the rest of the config, by the command
  /// line's parser.
  public var extra: KeyValuePairs<String, String> = [:]
  /// CSV feature columns encoded one-hot, by header name (`data.categorical`).
  public var categorical: [String] = []
  /// How regression targets are scaled for training (`data.scale_targets`); outputs stay in the targets' units.
  public var targetScaling: Scaling = .none

  /// What is wrong with in-memory samples (ragged rows, counts that differ, values that are not finite),
  /// reported by ``TrainingConfig`` as the config parser reports a bad `data` section.
  let problem: String?

  init(source: [(String, JSONText)], memory: MemoryData? = nil, problem: String? = nil) {
    self.source = source
    self.memory = memory
    self.problem = problem
  }

  /// `rows` as a matrix, or what keeps them from being one (`key`: the config key they stand for).
  private static func matrix(_ rows: [[Float]], _ key: String) -> (FloatMatrix?, String?) {
    let columns = rows.first?.count ?? 0
    if let bad = rows.firstIndex(where: { $0.count != columns }) {
      return (
        nil,
        "$.data.\(key)[\(bad)]: expected a row of \(columns) numbers (as row 0), found \(rows[bad].count)"
      )
    }
    return (FloatMatrix(rows), nil)
  }

  /// The first problem of samples `inputs` with `targets` rows of targets, or nil.
  private static func problem(_ inputs: FloatMatrix, targets: Int, _ key: String) -> String? {
    if inputs.rows == 0 { return "$.data.inputs: expected at least one sample, found none" }
    if inputs.columns == 0 {
      return "$.data.inputs: expected rows of at least one number, found an empty row ([])"
    }
    if targets != inputs.rows {
      return "$.data.\(key): expected \(inputs.rows) \(key) (one per input row), found \(targets)"
    }
    if let bad = inputs.values.firstIndex(where: { !$0.isFinite }) {
      return
        "$.data.inputs[\(bad / inputs.columns)][\(bad % inputs.columns)]: expected a finite number, found \(inputs.values[bad])"
    }
    return nil
  }

  /// Samples given in Swift: one row of `inputs` and one row of `targets` per sample.
  ///
  /// The samples stay in memory: configs and checkpoints name them by fingerprint and
  /// shape only (<doc:InMemoryData>), so resuming the run takes them again.
  public static func inline(inputs: [[Float]], targets: [[Float]]) -> TrainingData {
    let (x, xProblem) = matrix(inputs, "inputs")
    let (t, tProblem) = matrix(targets, "targets")
    guard let x, let t else { return TrainingData(source: [], problem: xProblem ?? tProblem) }
    return inline(inputs: x, targets: t)
  }

  /// Samples given in Swift as matrices: one row of `inputs` and one row of `targets` per sample.
  public static func inline(inputs: FloatMatrix, targets: FloatMatrix) -> TrainingData {
    var problem = problem(inputs, targets: targets.rows, "targets")
    if problem == nil, targets.columns == 0 {
      problem = "$.data.targets: expected rows of at least one number, found an empty row ([])"
    }
    if problem == nil, let bad = targets.values.firstIndex(where: { !$0.isFinite }) {
      problem =
        "$.data.targets[\(bad / targets.columns)][\(bad % targets.columns)]: expected a finite number, found \(targets.values[bad])"
    }
    if let problem { return TrainingData(source: [], problem: problem) }
    return memory(
      MemoryData(
        rows: inputs.rows, features: inputs.columns, inputs: inputs.values, targets: .values(targets.values)),
      task: nil)
  }

  /// Samples of a classifier given in Swift: one row of `inputs` and one class label per sample.
  ///
  /// The classes are the distinct labels, numbered as for a CSV file's labels: in numeric
  /// order when every label is a number, else sorted by Unicode code point. They are saved
  /// with the model, whose ``TrainedModel/classLabels`` and ``TrainedModel/classify(_:)-([[Float]])``
  /// give them back.
  public static func inline(inputs: [[Float]], labels: [String]) -> TrainingData {
    let (x, problem) = matrix(inputs, "inputs")
    guard let x else { return TrainingData(source: [], problem: problem) }
    return inline(inputs: x, labels: labels)
  }

  /// Samples of a classifier given in Swift as a matrix of inputs and one class label per row.
  public static func inline(inputs: FloatMatrix, labels: [String]) -> TrainingData {
    var problem = problem(inputs, targets: labels.count, "labels")
    if problem == nil, let bad = labels.firstIndex(where: \.isEmpty) {
      problem = "$.data.labels[\(bad)]: expected a class label, found an empty string"
    }
    if let problem { return TrainingData(source: [], problem: problem) }
    return memory(
      MemoryData(
        rows: inputs.rows, features: inputs.columns, inputs: inputs.values, targets: .labels(labels)),
      task: "classification")
  }

  private static func memory(_ data: MemoryData, task: String?) -> TrainingData {
    var source: [(String, JSONText)] = [("source", .string("memory"))] + data.configKeys
    if let task { source.append(("task", .string(task))) }
    return TrainingData(source: source, memory: data)
  }

  /// A CSV file with a header row whose column `target` holds the targets (class labels or values).
  public static func csv(path: String, target: String) -> TrainingData {
    TrainingData(
      source: [
        ("source", .string("csv")), ("path", .string(path)), ("header", .bool(true)),
        ("targets", .string(target)),
      ])
  }

  /// A folder of images with one subfolder per class, each image resized to `height`×`width` (`images`).
  ///
  /// `channels` is 1 (grey) or 3 (RGB); samples have the shape [channels, height, width].
  public static func images(path: String, height: Int, width: Int, channels: Int = 3) -> TrainingData {
    TrainingData(
      source: [
        ("source", .string("images")), ("path", .string(path)), ("channels", .int(channels)),
        ("image_size", .array([.int(height), .int(width)])),
      ])
  }

  /// Any data source nnbatch reads, by its config name and keys as JSON text (`"idx"`, `["path": "\"x.idx\""]`).
  ///
  /// The names and keys are those of the config's `data` object (README, "Config reference").
  public static func source(_ kind: String, _ keys: KeyValuePairs<String, String>) -> TrainingData {
    TrainingData(source: [("source", .string(kind))] + keys.map { ($0.key, .number($0.value)) })
  }

  /// The in-memory samples of this data and of its validation data.
  var memorySamples: [MemoryData] { [memory, validation?.memory].compactMap { $0 } }

  var json: JSONText {
    var pairs = source
    if scaling != .none { pairs.append(("scale", .string(scaling.rawValue))) }
    if validationSplit != 0 { pairs.append(("validation_split", .decimal(validationSplit))) }
    if let shape { pairs.append(("shape", .array(shape.map { .int($0) }))) }
    if let validation { pairs.append(("validation", .object(validation.source))) }
    if !categorical.isEmpty { pairs.append(("categorical", .array(categorical.map { .string($0) }))) }
    if targetScaling != .none { pairs.append(("scale_targets", .string(targetScaling.rawValue))) }
    // `.number` writes its text as given: the JSON the caller wrote.
    pairs += extra.map { ($0.key, .number($0.value)) }
    return .object(pairs)
  }
}

/// A validation source (`data.validation`): read like the training data and scaled by its statistics.
public struct ValidationData: Sendable {
  let source: [(String, JSONText)]
  let memory: MemoryData?
  let problem: String?

  /// The samples of `data` (its source only: scaling and splits are the training data's).
  public init(_ data: TrainingData) {
    source = data.source
    memory = data.memory
    problem = data.problem
  }
}

/// How input features are scaled before training and prediction.
public enum Scaling: String, Sendable, CaseIterable {
  /// Features as they are.
  case none
  /// Each feature to [0, 1] by its training minimum and maximum.
  case minmax
  /// Each feature to mean 0 and standard deviation 1 over the training samples.
  case standardize
}
