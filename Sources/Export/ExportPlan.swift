import NNBatch
// What an exported model computes, step by step, in terms both exporters share.
//
// Notation: N samples; a sample is [F] features for flat data or an image
// [C, H, W] (channels first, nnbatch's layout). A format writes one operator
// (or a few) per step, in order, and refuses the step it cannot express.
// Which values a step reads is `ExportPlan.walk`'s one rule: the input
// scaling reads the raw input; a layer's first step the outputs of the layers
// it reads (`layerInputs`, the graph: −1 is the scaled input); its activation
// step its own first step's output; the target restoring the last layer's.
// A chain is the case where each step reads the one before it. A tabular model
// (data.categorical, data.missing) has a front end before the steps, from the raw
// CSV columns to the network's input row (`tabular`, TabularInput.swift); the
// walk's input is then that row.
import NNBatchCore
import NeuralNet

/// One step of an exported model's forward pass, with its parameters copied out of the flat buffer.
enum ExportStep: Sendable {
  /// x' = (x − shift) · factor per input value; `shift` and `factor` have the input sample's shape.
  case scaleInputs(shift: [Float], factor: [Float], shape: Shape)
  /// Z = X · W + b: W [inputs, units] row-major, b [units] or nil.
  case dense(index: Int, weights: [Float], inputs: Int, units: Int, biases: [Float]?)
  /// Z = W ⋆ X + b: W [F, C, kh, kw] (OIHW), b [F] or nil; `pads` is [top, left, bottom, right].
  case conv2d(
    index: Int, kernel: [Float], shape: [Int], biases: [Float]?, stride: Size2D, pads: [Int], padding: Padding
  )
  /// Max of each window, valid windows only.
  case maxPool(index: Int, size: Size2D, stride: Size2D)
  /// Mean of each window, valid windows only (every mean is over ph·pw values).
  case avgPool(index: Int, size: Size2D, stride: Size2D)
  /// Mean of each channel over its whole plane: [C, H, W] → [C].
  case globalAvgPool(index: Int)
  /// Maximum of each channel over its whole plane: [C, H, W] → [C].
  case globalMaxPool(index: Int)
  /// [C, H, W] read as [C·H·W], row-major.
  case flatten(index: Int)
  /// Identity at inference; `rate` kept for formats that record it.
  case dropout(index: Int, rate: Double)
  /// Inference batch normalization per channel (axis 1): γ (x − mean) / √(variance + ε) + β, each [C];
  /// `momentum` is nnbatch's m (weight of the new batch), kept for formats that record it.
  case batchNorm(
    index: Int, gamma: [Float], beta: [Float], mean: [Float], variance: [Float], epsilon: Double,
    momentum: Double)
  /// A = f(Z) of the layer `index`; never `.linear` (no step is made for it).
  case activation(index: Int, Activation)
  /// The element-wise sum of the layer's inputs, all of one shape.
  case add(index: Int)
  /// The layer's inputs joined along a sample's first axis (axis 1 of [N, C, H, W] or [N, F]).
  case concatenate(index: Int)
  /// The layer's input unchanged (an `activation` layer, whose activation step follows).
  case identity(index: Int)
  /// y = y' / factor + shift per output (regression targets back in their own units).
  case restoreTargets(shift: [Float], factor: [Float])
}

extension ExportStep {
  /// The layer whose step this is; nil for the input scaling and the target restoring.
  var layer: Int? {
    switch self {
    case .scaleInputs, .restoreTargets: return nil
    case .dense(let index, _, _, _, _), .conv2d(let index, _, _, _, _, _, _), .maxPool(let index, _, _),
      .avgPool(let index, _, _), .globalAvgPool(let index), .globalMaxPool(let index), .flatten(let index),
      .dropout(let index, _), .batchNorm(let index, _, _, _, _, _, _), .activation(let index, _),
      .add(let index), .concatenate(let index), .identity(let index):
      return index
    }
  }
}

/// A checkpoint's model as the sequence of steps from raw inputs to `nnbatch predict`'s outputs.
package struct ExportPlan: Sendable {
  /// Shape of one raw input sample.
  var inputShape: Shape
  /// For each layer, the layers it reads (−1: the network's input, after scaling): the graph.
  var layerInputs: [[Int]]
  /// Each layer's output shape (one sample).
  var layerShapes: [Shape]
  /// Whether every layer reads the one before it alone.
  var isChain: Bool
  /// Floats per output sample.
  var outputs: Int
  /// The steps, input side first.
  var steps: [ExportStep]
  /// Whether the model classifies (outputs are probabilities).
  var isClassifier: Bool
  /// Class names, one per output (two for a single sigmoid output).
  var labels: [String]
  /// The config's name, for model names.
  var name: String
  /// How raw CSV rows become the network's input (categorical columns, missing values), or nil:
  /// the input is then the network's own.
  var tabular: TabularInput?

  /// The plan of `model`; throws (exit 2) for a layer kind no exporter knows.
  init(_ model: SavedModel, format: ExportFormat) throws(NNBatchError) {
    try self.init(
      architecture: model.network.architecture, parameters: model.parameters.array, scaler: model.scaler,
      targetScaler: model.targetScaler, isClassifier: model.isClassifier, labels: model.labels,
      name: model.config.name, path: model.path, format: format)
    if model.encoder != nil || model.imputer != nil {
      guard inputShape.rank == 1 else {
        throw NNBatchError(
          .usage,
          "\(model.path): data.categorical or data.missing on samples of shape \(inputShape): the \(format.rawValue) export encodes flat rows only"
        )
      }
      tabular = try TabularInput(
        encoder: model.encoder, imputer: model.imputer, width: inputShape.elements, path: model.path,
        format: format)
    }
  }

  /// The plan of a model given by its parts; `labels` as `SavedModel.labels` gives them.
  ///
  /// Throws (exit 2) for a layer kind no exporter knows, naming the layer, `path` and `format`,
  /// and for a number that is not finite (both formats store float32), naming its tensor:
  /// the one check of what an export writes, since every number of both formats comes from here.
  package init(
    architecture: Architecture, parameters: [Float], scaler: AffineScaler, targetScaler: AffineScaler,
    isClassifier: Bool, labels known: [String], name: String, path: String, format: ExportFormat
  ) throws(NNBatchError) {
    inputShape = architecture.inputShape
    layerInputs = architecture.layerInputs
    layerShapes = architecture.layers.map(\.outputShape)
    isChain = architecture.isChain
    outputs = architecture.outputs
    self.isClassifier = isClassifier
    self.name = name
    var steps: [ExportStep] = []
    if !scaler.isIdentity {
      try Self.requireFinite(
        scaler.shift, "the input scaling's shift", of: "feature", path: path, format: format)
      try Self.requireFinite(
        scaler.factor, "the input scaling's factor", of: "feature", path: path, format: format)
      steps.append(.scaleInputs(shift: scaler.shift, factor: scaler.factor, shape: inputShape))
    }
    func values(_ tensor: ParameterTensor?) -> [Float]? {
      tensor.map { Array(parameters[$0.range]) }
    }
    for (index, layer) in architecture.layers.enumerated() {
      for tensor in layer.parameters {
        try Self.requireFinite(
          parameters[tensor.range], "layer_\(index)/\(tensor.name)", of: "element", path: path, format: format
        )
      }
      switch layer {
      case let dense as Dense:
        steps.append(
          .dense(
            index: index, weights: values(dense.weights) ?? [], inputs: dense.inputs, units: dense.units,
            biases: values(dense.biases)))
      case let conv as Conv2D:
        let spec = conv.spec
        let input = conv.inputShape.dimensions  // [C, H, W]
        let output = conv.outputShape.dimensions  // [F, OH, OW]
        var pads = [0, 0, 0, 0]
        if spec.padding == .same {
          // nnbatch's split (Spatial.swift, `Padding.same`): the smaller half on top / left.
          let rows = max((output[1] - 1) * spec.stride.height + spec.kernel.height - input[1], 0)
          let columns = max((output[2] - 1) * spec.stride.width + spec.kernel.width - input[2], 0)
          pads = [rows / 2, columns / 2, rows - rows / 2, columns - columns / 2]
        }
        steps.append(
          .conv2d(
            index: index, kernel: values(conv.kernel) ?? [], shape: conv.kernel.shape.dimensions,
            biases: values(conv.biases), stride: spec.stride, pads: pads, padding: spec.padding))
      case let pool as MaxPool2D:
        steps.append(.maxPool(index: index, size: pool.spec.size, stride: pool.spec.stride))
      case let pool as AvgPool2D:
        steps.append(.avgPool(index: index, size: pool.spec.size, stride: pool.spec.stride))
      case is GlobalAvgPool2D:
        steps.append(.globalAvgPool(index: index))
      case is GlobalMaxPool2D:
        steps.append(.globalMaxPool(index: index))
      case is Flatten:
        steps.append(.flatten(index: index))
      case let dropout as Dropout:
        steps.append(.dropout(index: index, rate: dropout.spec.rate))
      case let norm as BatchNorm:
        steps.append(
          .batchNorm(
            index: index, gamma: values(norm.gamma) ?? [], beta: values(norm.beta) ?? [],
            mean: values(norm.runningMean) ?? [], variance: values(norm.runningVar) ?? [],
            epsilon: norm.spec.epsilon, momentum: norm.spec.momentum))
      case is ActivationLayer:
        steps.append(.identity(index: index))  // its activation step follows, as for any layer's
      case is Add:
        steps.append(.add(index: index))
      case is Concatenate:
        steps.append(.concatenate(index: index))
      default:
        throw NNBatchError(
          .usage,
          "\(path): layer \(index) (\(layer.kind)): the \(format.rawValue) export does not know this layer kind"
        )
      }
      if layer.activation != .linear {
        steps.append(.activation(index: index, layer.activation))
      }
    }
    if !isClassifier && !targetScaler.isIdentity {
      try Self.requireFinite(
        targetScaler.shift, "the target scaling's shift", of: "output", path: path, format: format)
      try Self.requireFinite(
        targetScaler.factor, "the target scaling's factor", of: "output", path: path, format: format)
      // y / 0 has no value to export (predict's own outputs are infinite then).
      if let j = targetScaler.factor.firstIndex(of: 0) {
        throw NNBatchError(
          .usage,
          "\(path): the target scaling's factor, output \(j): expected a nonzero factor to divide by, found 0; the \(format.rawValue) export cannot express this model"
        )
      }
      steps.append(.restoreTargets(shift: targetScaler.shift, factor: targetScaler.factor))
    }
    self.steps = steps
    labels = outputs == 1 && isClassifier ? (known.count == 2 ? known : ["0", "1"]) : known
  }

  /// Runs `visit` on each step with the values it reads (see the notes at the top), starting from
  /// the raw `input`; returns the last step's value: the model's output.
  func walk<Value, Failure: Error>(input: Value, _ visit: (ExportStep, [Value]) throws(Failure) -> Value)
    throws(Failure) -> Value
  {
    var scaled = input
    var current = input
    var outputs: [Int: Value] = [:]
    for step in steps {
      guard let index = step.layer else {
        if case .scaleInputs = step {
          scaled = try visit(step, [input])
          current = scaled
        } else {
          current = try visit(step, [current])
        }
        continue
      }
      // A layer's own output, once its first step ran; else the outputs of the layers it reads.
      let reads =
        outputs[index].map { [$0] } ?? layerInputs[index].map { $0 < 0 ? scaled : outputs[$0] ?? scaled }
      current = try visit(step, reads)
      outputs[index] = current
    }
    return current
  }

  /// Throws (exit 2) naming `tensor`, the index and the value when one of `values` is not finite.
  ///
  /// `element` names what an index counts ("feature", "output", "element").
  static func requireFinite(
    _ values: some Collection<Float>, _ tensor: String, of element: String, path: String, format: ExportFormat
  ) throws(NNBatchError) {
    guard let (index, value) = values.enumerated().first(where: { !$0.element.isFinite }) else { return }
    throw NNBatchError(
      .usage,
      "\(path): \(tensor), \(element) \(index): expected a number finite as a 32-bit float, found \(value); the \(format.rawValue) export cannot store it"
    )
  }
}
