import NNBatchCore

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
  /// How input features are scaled (fitted on the training samples, saved with the model).
  public var scaling: Scaling = .none
  /// Fraction in [0, 1) of the samples held out, seeded, for validation metrics.
  public var validationSplit: Double = 0
  /// The shape of one sample, such as `[1, 8, 8]` (channels, height, width) for images given as rows.
  public var shape: [Int]?
  /// Samples of their own for validation metrics, instead of a `validationSplit`.
  public var validation: ValidationData?

  /// Samples given in Swift: one row of `inputs` and one row of `targets` per sample.
  public static func inline(inputs: [[Float]], targets: [[Float]]) -> TrainingData {
    TrainingData(
      source: [("source", .string("inline")), ("inputs", .matrix(inputs)), ("targets", .matrix(targets))])
  }

  /// A CSV file with a header row whose column `target` holds the targets (class labels or values).
  public static func csv(path: String, target: String) -> TrainingData {
    TrainingData(
      source: [
        ("source", .string("csv")), ("path", .string(path)), ("header", .bool(true)),
        ("targets", .string(target)),
      ])
  }

  var json: JSONText {
    var pairs = source
    if scaling != .none { pairs.append(("scale", .string(scaling.rawValue))) }
    if validationSplit != 0 { pairs.append(("validation_split", .decimal(validationSplit))) }
    if let shape { pairs.append(("shape", .array(shape.map { .int($0) }))) }
    if let validation { pairs.append(("validation", .object(validation.source))) }
    return .object(pairs)
  }
}

/// A validation source (`data.validation`): read like the training data and scaled by its statistics.
public struct ValidationData: Sendable {
  let source: [(String, JSONText)]

  /// The samples of `data` (its source only: scaling and splits are the training data's).
  public init(_ data: TrainingData) {
    source = data.source
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
