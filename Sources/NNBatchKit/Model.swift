import NNBatch
import NNBatchCore
import NeuralNet

/// A network's layers, input side first, and how its weights start.
///
/// ```swift
/// let model = Model(layers: [.dense(4, activation: .sigmoid), .dense(1, activation: .sigmoid)])
/// ```
public struct Model: Sendable {
  /// The layers, input side first; the last one's units are the outputs.
  public var layers: [Layer]
  /// How weights are initialised.
  public var initializer: Initializer
  /// Whether layers have biases unless a layer says otherwise.
  public var bias: Bool

  /// A model of `layers`, initialised by `initializer`, with biases unless `bias` is false.
  public init(layers: [Layer], initializer: Initializer = .xavierUniform, bias: Bool = true) {
    self.layers = layers
    self.initializer = initializer
    self.bias = bias
  }

  var json: JSONText {
    .object([
      ("layers", .array(layers.map(\.json))), ("init", .string(initializer.rawValue)), ("bias", .bool(bias)),
    ])
  }
}

/// One layer of a ``Model``.
///
/// Each factory builds the layer kind's own settings (NeuralNet's spec) and
/// writes them as the kind's declaration says, so a kind's keys, defaults and
/// checks are declared once, in its NeuralNet file.
public struct Layer: Sendable {
  let json: JSONText

  /// A value of a layer setting.
  public enum Value: Sendable, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral,
    ExpressibleByStringLiteral
  {
    /// A whole number (`units`, `filters`).
    case integer(Int)
    /// A height × width (`kernel`, `size`); a square is also an integer.
    case size(height: Int, width: Int)
    /// A name (`activation`, `padding`).
    case name(String)
    /// A yes/no setting (`bias`).
    case flag(Bool)
    /// A number (`rate`).
    case number(Double)

    /// A whole number.
    public init(integerLiteral value: Int) { self = .integer(value) }
    /// A number.
    public init(floatLiteral value: Double) { self = .number(value) }
    /// A yes/no setting.
    public init(booleanLiteral value: Bool) { self = .flag(value) }
    /// A name.
    public init(stringLiteral value: String) { self = .name(value) }

    var layerValue: LayerValue {
      switch self {
      case .integer(let n): return .integer(n)
      case .size(let height, let width): return .size(Size2D(height, width))
      case .name(let name): return .choice(name)
      case .flag(let flag): return .flag(flag)
      case .number(let d): return .real(d)
      }
    }
  }

  /// Any layer kind nnbatch knows, by its config name and keys (`"conv2d"`, `["filters": 8, "kernel": 3]`).
  ///
  /// The names are those of the config's `model.layers` objects (README,
  /// "Config reference"); an unknown kind, key or value is reported when
  /// training starts, as for a JSON config.
  public init(kind: String, _ settings: KeyValuePairs<String, Value> = [:]) {
    json = .object(
      [("type", .string(kind))] + settings.map { ($0.key, LayerConfigs.json($0.value.layerValue)) })
  }

  /// The config object of `spec`, leaving out `inherited` settings so the model's value applies.
  init(_ spec: some NeuralNet.LayerSpec, inheriting inherited: Set<String> = []) {
    json = LayerConfigs.json(spec, inheriting: inherited)
  }

  /// A fully connected layer of `units` outputs: `activation(input · weights + biases)`.
  ///
  /// `bias` nil takes the model's ``Model/bias``.
  public static func dense(_ units: Int, activation: Activation = .linear, bias: Bool? = nil) -> Layer {
    Layer(
      Dense.Spec(units: units, activation: activation.layerActivation, bias: bias ?? true),
      inheriting: bias == nil ? ["bias"] : [])
  }

  /// A 2-D convolution of images [channels, height, width] with `filters` square kernels of side `kernel`.
  public static func conv2d(
    filters: Int, kernel: Int, stride: Int = 1, padding: Padding = .valid, activation: Activation = .linear
  ) -> Layer {
    Layer(
      Conv2D.Spec(
        filters: filters, kernel: Size2D(kernel, kernel), stride: Size2D(stride, stride),
        padding: NeuralNet.Padding(rawValue: padding.rawValue) ?? .valid,
        activation: activation.layerActivation),
      inheriting: ["bias"])
  }

  /// The largest value of each `size`×`size` window, windows `stride` apart (default: side by side).
  public static func maxPool2d(size: Int, stride: Int? = nil) -> Layer {
    Layer(MaxPool2D.Spec(size: Size2D(size, size), stride: Size2D(stride ?? size, stride ?? size)))
  }

  /// The mean of each `size`×`size` window, windows `stride` apart (default: side by side).
  public static func avgPool2d(size: Int, stride: Int? = nil) -> Layer {
    Layer(AvgPool2D.Spec(size: Size2D(size, size), stride: Size2D(stride ?? size, stride ?? size)))
  }

  /// The mean of each channel over the whole image: [C, H, W] becomes [C], for the dense layers after it.
  public static var globalAvgPool2d: Layer { Layer(GlobalAvgPool2D.Spec()) }

  /// The largest value of each channel over the whole image: [C, H, W] becomes [C].
  public static var globalMaxPool2d: Layer { Layer(GlobalMaxPool2D.Spec()) }

  /// Images [C, H, W] become vectors [C·H·W] for the dense layers after it.
  public static var flatten: Layer { Layer(Flatten.Spec()) }

  /// Zeroes a fraction `rate` in [0, 1) of the units while training; the identity when predicting.
  public static func dropout(_ rate: Double) -> Layer { Layer(Dropout.Spec(rate: rate)) }

  /// Batch normalization (per channel of images, per feature of flat samples), then `activation`.
  ///
  /// Training normalizes by each shard's statistics and keeps running averages
  /// (weight `momentum` for the newest batch), which predicting uses; `epsilon`
  /// is added to the variance. The defaults are PyTorch's.
  public static func batchNorm(
    momentum: Double = 0.1, epsilon: Double = 1e-5, activation: Activation = .linear
  )
    -> Layer
  {
    Layer(BatchNorm.Spec(momentum: momentum, epsilon: epsilon, activation: activation.layerActivation))
  }

  /// `activation` applied to its input, on samples of any shape.
  public static func activation(_ activation: Activation) -> Layer {
    Layer(ActivationLayer.Spec(activation: activation.layerActivation))
  }

  /// The sum of its ``reading(_:)`` inputs, which have one shape, then `activation`.
  public static func add(activation: Activation = .linear) -> Layer {
    Layer(Add.Spec(activation: activation.layerActivation))
  }

  /// Its ``reading(_:)`` inputs joined along their first axis (channels of images), then `activation`.
  public static func concatenate(activation: Activation = .linear) -> Layer {
    Layer(Concatenate.Spec(activation: activation.layerActivation))
  }

  /// A residual block: `layers` (a chain) plus a shortcut from the block's input, added, then `activation`.
  ///
  /// Written once and expanded when the config is read, as the config's
  /// `{"type": "residual", ...}`: the shortcut is the identity or a 1×1
  /// convolution as `shortcut` says (README, "Layer graphs"). The block's
  /// output is named by ``named(_:)``, else `block<k>`.
  public static func residual(_ layers: [Layer], activation: Activation = .linear, shortcut: Shortcut = .auto)
    -> Layer
  {
    Layer(
      json: .object([
        ("type", .string("residual")), ("layers", .array(layers.map(\.json))),
        ("activation", .string(activation.rawValue)), ("shortcut", .string(shortcut.rawValue)),
      ]))
  }

  /// This layer named `name`, so that later layers can read it (``reading(_:)``) and `inspect` shows it.
  public func named(_ name: String) -> Layer { adding("name", .string(name)) }

  /// This layer reading the outputs of the layers named `inputs` ("input": the network's input),
  /// instead of the layer before it: a layer graph.
  public func reading(_ inputs: String...) -> Layer { adding("inputs", .array(inputs.map { .string($0) })) }

  init(json: JSONText) {
    self.json = json
  }

  private func adding(_ key: String, _ value: JSONText) -> Layer {
    guard case .object(let pairs) = json else { return self }
    return Layer(json: .object(pairs.filter { $0.0 != key } + [(key, value)]))
  }
}

/// How a residual block's input reaches its add.
public enum Shortcut: String, Sendable, CaseIterable {
  /// The block's input itself; the inner layers must keep its shape.
  case identity
  /// A 1×1 conv2d (a dense layer for flat samples) to the inner layers' output shape.
  case projection
  /// The identity when the shapes agree, else the projection.
  case auto
}

/// A layer's activation function.
public enum Activation: String, Sendable, CaseIterable {
  /// 1 / (1 + e^−x).
  case sigmoid
  /// The hyperbolic tangent.
  case tanh
  /// max(0, x).
  case relu
  /// x for x > 0, else 0.01·x.
  case leakyRelu = "leaky_relu"
  /// The identity.
  case linear
  /// Exponentials normalised to sum to 1 (the last layer only).
  case softmax

  /// The same function in NeuralNet's terms (the raw values are the config's names).
  var layerActivation: NeuralNet.Activation { NeuralNet.Activation(rawValue: rawValue) ?? .linear }
}

/// How a convolution treats the image's border.
public enum Padding: String, Sendable, CaseIterable {
  /// No padding: the output is smaller than the input.
  case valid
  /// Zero padding so that, at stride 1, the output has the input's height and width.
  case same
}

/// How weights are initialised (biases start at 0).
public enum Initializer: String, Sendable, CaseIterable {
  /// Uniform in [0, 1), as the classic tutorial does.
  case uniform01
  /// Glorot/Xavier uniform: ±√(6 / (fan_in + fan_out)).
  case xavierUniform = "xavier_uniform"
  /// He uniform: ±√(6 / fan_in), for ReLU layers.
  case heUniform = "he_uniform"
  /// He normal: standard deviation √(2 / fan_in).
  case heNormal = "he_normal"
}

/// The training loss.
public enum Loss: String, Sendable, CaseIterable {
  /// Sum of squared errors, Σ(y − ŷ)², as the classic tutorial uses.
  case sse
  /// Mean squared error.
  case mse
  /// Binary cross-entropy (a sigmoid output layer).
  case binaryCrossEntropy = "binary_cross_entropy"
  /// Categorical cross-entropy (a softmax output layer).
  case crossEntropy = "cross_entropy"
}
