// The layer seam: what a layer kind provides, and how one is described before shapes are known.
//
// A layer kind is one file in this folder (see Dense.swift, Conv2D.swift,
// Pooling.swift, Flatten.swift, Dropout.swift) with two types:
// - its *spec* (`LayerSpec`): kind name and settings, as written in a config
//   or a checkpoint; it builds the layer once the input shape is known;
// - the *layer* (`Layer`): shapes, parameter tensors, initialisation,
//   multiply-adds, forward and backward on a batch.
// - its *declaration* (`LayerKind`, see LayerKind.swift): settings with type,
//   default, range and doc, its shape rule and stored attributes, registered
//   by one line in `LayerKinds.all`. The config reader (NNBatch), the
//   checkpoint schema (Checkpoints), `inspect` and NNBatchKit derive from it.
// `Architecture` itself takes any `LayerSpec`.
//
// Notation: B rows (samples); every buffer is row-major with one row per
// sample, a sample being `shape.elements` floats in the shape's axis order.
//   X [B, input.elements]   the layer's input (the previous layer's output)
//   Z [B, output.elements]  the output before the activation
//   A [B, output.elements]  A = f(Z), the layer's output
// Parameters and their gradients live in one flat buffer for the whole
// network; a layer reads and writes only its own tensors' ranges of it.

/// The shape of one sample: [features] for dense data, [C, H, W] for images.
public struct Shape: Sendable, Hashable, CustomStringConvertible, ExpressibleByArrayLiteral {
  /// Sizes of the axes, outermost first.
  public var dimensions: [Int]

  /// A shape with these axis sizes.
  public init(_ dimensions: [Int]) {
    self.dimensions = dimensions
  }

  /// A shape written as a literal, such as `[3, 28, 28]`.
  public init(arrayLiteral dimensions: Int...) {
    self.dimensions = dimensions
  }

  /// Number of axes.
  public var rank: Int { dimensions.count }

  /// Floats per sample: the product of the axis sizes.
  public var elements: Int { dimensions.reduce(1, *) }

  /// The shape as written in messages: `[3, 28, 28]`.
  public var description: String { "[\(dimensions.map(String.init).joined(separator: ", "))]" }
}

/// One named parameter tensor of a layer and where it lives in the flat parameter buffer.
public struct ParameterTensor: Sendable, Hashable {
  /// Its name in checkpoints: `weights`, `biases`, ...
  public let name: String
  /// Its shape, row-major.
  public let shape: Shape
  /// Index of its first element in the flat parameter (and gradient, optimizer-slot) buffers.
  public let offset: Int
  /// Who updates it: the optimizer (`trainable`) or the layer's own rule (`state`).
  public let role: Role

  /// What changes a tensor's values during training.
  public enum Role: Sendable, Hashable {
    /// Learned: the optimizer steps it along its gradient.
    case trainable
    /// Non-trainable state (running statistics): the layer's `updateState` merges each batch's statistics into it.
    case state
  }

  /// A tensor `name` of `shape` stored from `offset` on, trainable unless `role` says otherwise.
  public init(name: String, shape: Shape, offset: Int, role: Role = .trainable) {
    self.name = name
    self.shape = shape
    self.offset = offset
    self.role = role
  }

  /// Whether it is non-trainable state, updated by its layer rather than the optimizer.
  public var isState: Bool { role == .state }

  /// Number of elements.
  public var count: Int { shape.elements }

  /// Its range of the flat buffer.
  public var range: Range<Int> { offset..<(offset + count) }
}

/// Why a layer cannot take its input: what it expected, for the architecture's error.
public struct LayerShapeError: Error, Sendable, Hashable {
  /// What the layer needs, such as "a flat input [features]".
  public let expected: String

  /// A refusal that says what the layer expected.
  public init(expected: String) {
    self.expected = expected
  }
}

/// A layer as a config or checkpoint describes it: its kind and settings, before shapes are known.
public protocol LayerSpec: Sendable, Hashable, CustomStringConvertible {
  /// The kind's name in configs and checkpoints, such as `dense`.
  static var kind: String { get }

  /// The activation the layer ends in (`linear` for none).
  var activation: Activation { get }

  /// The layer for samples of shape `input`, its parameters stored from `parameterOffset` on.
  ///
  /// Throws when the input does not fit the settings (e.g. a kernel larger than the image).
  func build(input: Shape, parameterOffset: Int) throws(LayerShapeError) -> any Layer
}

extension LayerSpec {
  /// The kind's name, such as `dense`.
  public var kind: String { Self.kind }

  /// Whether `other` is of the same kind with the same settings.
  public func isEqual(to other: any LayerSpec) -> Bool {
    (other as? Self) == self
  }
}

/// A layer with known shapes: parameters, initialisation, cost, forward and backward on a batch.
///
/// Layers are immutable values; the parameters and every buffer are passed
/// in, so one layer serves all workers at once.
public protocol Layer: Sendable {
  /// The settings type of this kind.
  associatedtype Spec: LayerSpec

  /// The settings the layer was built from.
  var spec: Spec { get }

  /// Shape of one input sample.
  var inputShape: Shape { get }

  /// Shape of one output sample.
  var outputShape: Shape { get }

  /// The layer's parameter tensors in storage order, with their offsets in the flat buffer.
  var parameters: [ParameterTensor] { get }

  /// The activation its forward ends in. Backward starts *before* it: the
  /// network applies `activation.backward`, or the loss fuses it for the last layer.
  var activation: Activation { get }

  /// Multiply-adds of one sample's forward pass (the engine's cost estimate).
  var multiplyAdds: Int { get }

  /// Floats of scratch the layer needs for `rows` rows (e.g. an im2col buffer); 0 for none.
  ///
  /// The workspace keeps one such buffer per layer, valid from a forward
  /// to the backward that follows it on the same rows.
  func scratchCount(rows: Int) -> Int

  /// Writes initial values of the layer's tensors into `parameters` (the flat buffer).
  ///
  /// Draws from `generator` in a fixed order, so a seed gives the same network.
  func initialize(
    _ parameters: UnsafeMutablePointer<Float>, with initializer: Initializer,
    using generator: inout SeededGenerator)

  /// Whether the output is the input itself read with another shape (`Flatten`).
  ///
  /// The network then passes the input's buffer on as the output and calls
  /// neither `forward` nor `backward`: dX is dZ, no copy either way. Such a
  /// layer has no parameters and a `linear` activation.
  var sharesInput: Bool { get }

  /// Whether a training pass depends on the context's random key (seed, step, positions): dropout.
  ///
  /// Engines refuse to train such a network without a real step context.
  var isStochastic: Bool { get }

  /// A = f(Z) of `rows` rows: reads X [rows, input.elements], writes A [rows, output.elements].
  ///
  /// `parameters` is the flat buffer; `scratch` holds `scratchCount(rows:)`
  /// floats; `context` says whether this is training and where the rows sit
  /// (row r is at position `context.firstPosition + r` of the epoch).
  func forward(
    parameters: UnsafePointer<Float>, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
    rows: Int, scratch: UnsafeMutablePointer<Float>, context: PassContext)

  /// From dZ [rows, output.elements]: the layer's parameter gradients and, if asked, dX.
  ///
  /// `input` and `output` are the X and A of the forward on these rows.
  /// Gradients of the *sum* over rows overwrite the layer's ranges of the
  /// flat `gradient` (for a state tensor: its statistic, see `updateState`); `inputGradient` (dX [rows, input.elements], before the
  /// previous layer's activation) is nil for the first layer. `context` is
  /// the one the forward ran with.
  func backward(
    parameters: UnsafePointer<Float>, input: UnsafePointer<Float>, output: UnsafePointer<Float>,
    outputGradient: UnsafePointer<Float>, rows: Int, gradient: UnsafeMutablePointer<Float>,
    inputGradient: UnsafeMutablePointer<Float>?, scratch: UnsafeMutablePointer<Float>,
    context: PassContext)

  /// Merges a batch's statistics into elements `elements` of `tensor`, one of its state tensors.
  ///
  /// During a training backward the layer writes, at a state tensor's range
  /// of the gradient buffer, its rows' contribution to the statistic (a sum
  /// over the rows, like a gradient). The engine adds the shards'
  /// contributions in shard order, unscaled by the loss reduction, and calls
  /// this instead of the optimizer: `statistics[k]` is the batch's sum for
  /// element `elements.lowerBound + k` and `state[k]` that element's value.
  /// Element-wise: element k may read only `state[k]` and `statistics[k]`,
  /// because an engine may split a tensor into any sub-ranges (MPI ranks).
  func updateState(
    _ tensor: ParameterTensor, elements: Range<Int>, state: UnsafeMutablePointer<Float>,
    statistics: UnsafePointer<Float>, batch: StateBatch)
}

extension Layer {
  /// The kind's name, such as `dense`.
  public var kind: String { Spec.kind }

  /// Number of parameters of the layer.
  public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }

  /// Layers need no scratch unless they say so.
  public func scratchCount(rows: Int) -> Int { 0 }

  /// Layers write their own output unless they say so.
  public var sharesInput: Bool { false }

  /// Layers compute the same in every pass unless they say so.
  public var isStochastic: Bool { false }

  /// A layer that declares a state tensor must say how it is updated.
  public func updateState(
    _ tensor: ParameterTensor, elements: Range<Int>, state: UnsafeMutablePointer<Float>,
    statistics: UnsafePointer<Float>, batch: StateBatch
  ) {
    preconditionFailure("layer \(kind) declares state tensor \(tensor.name) but no updateState rule")
  }
}

/// A layer without parameters (pooling, flatten, dropout, merges, activation): nothing to store or draw.
public protocol ParameterFreeLayer: Layer {}

extension ParameterFreeLayer {
  /// None.
  public var parameters: [ParameterTensor] { [] }

  /// Nothing to draw.
  public func initialize(
    _ parameters: UnsafeMutablePointer<Float>, with initializer: Initializer,
    using generator: inout SeededGenerator
  ) {}
}
