import Foundation
import NNBatch
// The ONNX writer: an `ExportPlan` as an ONNX ModelProto (opset 17, IR version 8).
//
// Graph (N samples, dynamic):
//   input  float [N, F] or [N, C, H, W]  raw features, as `nnbatch predict` reads them
//                                         (a tabular model: its numeric columns, and one string
//                                         input per categorical column; `tabularInput`)
//   Sub, Mul                              input scaling (x − shift) · factor, when fitted
//   Gemm | MatMul, Conv, MaxPool,
//   AveragePool, Flatten, activations,
//   BatchNormalization, Add, Concat       one node per layer step (dropout: none), each on the
//                                         values it reads (`ExportPlan.walk`: a graph's edges)
//   GlobalAveragePool | GlobalMaxPool,
//   then Flatten                          global pooling: ONNX keeps [N, C, 1, 1], nnbatch gives [N, C]
//   Div, Add                              target restoring y / factor + shift (regression)
//   output float [N, outputs]             what `predict` prints: probabilities or values
//   label  string [N]                     classifiers only: the predicted class's name
// The messages are the generated Onnx_* types (Generated/onnx.pb.swift).
import NNBatchCore
import NNBatchData
import NeuralNet
import SwiftProtobuf

/// Builds and serializes the ONNX model of an `ExportPlan`.
enum ONNXExport {
  /// The default-domain operator set the graph uses.
  static let opset: Int64 = 17
  /// IR version 8 is the one that goes with opset 17.
  static let irVersion: Int64 = 8

  /// The ai.onnx.ml operator set of a tabular model's Imputer and OneHotEncoder (the one of IR version 8).
  static let mlOpset: Int64 = 3

  /// The serialized ModelProto of `plan`.
  static func encode(_ plan: ExportPlan, path: String) throws(NNBatchError) -> [UInt8] {
    let model = try self.model(plan, path: path)
    do {
      let data: Data = try model.serializedBytes()
      return [UInt8](data)
    } catch {
      throw NNBatchError(.failure, "\(path): cannot serialize the onnx model: \(error)")
    }
  }

  /// The ModelProto of `plan`; throws (exit 2) for a categorical column whose name cannot be an input's.
  static func model(_ plan: ExportPlan, path: String) throws(NNBatchError) -> Onnx_ModelProto {
    var graph = GraphBuilder()
    let start: String
    if let tabular = plan.tabular {
      start = try graph.tabularInput(tabular, path: path)
    } else {
      let inputDims: [Int64?] = [nil] + plan.inputShape.dimensions.map { Int64($0) }
      graph.graph.input.append(valueInfo("input", dims: inputDims, type: .float))
      start = "input"
    }
    var current = plan.walk(input: start) { step, inputs in graph.add(step, inputs: inputs) }
    // A fixed name for consumers: `session.run(["output"], ...)` whatever the last step was.
    current = graph.identity(current, as: "output")
    graph.graph.output.append(valueInfo(current, dims: [nil, Int64(plan.outputs)], type: .float))
    if plan.isClassifier {
      let label = graph.labelNodes(probabilities: current, plan: plan)
      graph.graph.output.append(valueInfo(label, dims: [nil], type: .string))
    }
    graph.graph.name = plan.name
    graph.graph.docString =
      "nnbatch model '\(plan.name)': raw inputs to what `nnbatch predict` returns"
      + (plan.isClassifier ? " (class probabilities, and the predicted label)" : "")

    var model = Onnx_ModelProto()
    model.irVersion = irVersion
    model.producerName = "nnbatch"
    model.producerVersion = nnbatchVersion
    var opsetID = Onnx_OperatorSetIdProto()
    opsetID.domain = ""
    opsetID.version = opset
    model.opsetImport = [opsetID]
    if plan.tabular != nil {
      var ml = Onnx_OperatorSetIdProto()
      ml.domain = "ai.onnx.ml"
      ml.version = mlOpset
      model.opsetImport.append(ml)
    }
    model.graph = graph.graph
    model.metadataProps = metadata(plan).map { key, value in
      var entry = Onnx_StringStringEntryProto()
      entry.key = key
      entry.value = value
      return entry
    }
    return model
  }

  /// `metadata_props`: the producer's version, the task and the class labels (a JSON array).
  static func metadata(_ plan: ExportPlan) -> [(String, String)] {
    var entries = [
      ("nnbatch_version", nnbatchVersion),
      ("task", plan.isClassifier ? "classification" : "regression"),
    ]
    if plan.isClassifier {
      entries.append(("labels", JSONText.array(plan.labels)))
    }
    if let tabular = plan.tabular {
      entries.append(("columns", tabular.metadata(codes: false).text))
    }
    return entries
  }

  /// A graph input or output named `name` of element `type` and `dims` (nil: the dynamic batch axis "N").
  static func valueInfo(_ name: String, dims: [Int64?], type: Onnx_TensorProto.DataType)
    -> Onnx_ValueInfoProto
  {
    var shape = Onnx_TensorShapeProto()
    shape.dim = dims.map { size in
      var dimension = Onnx_TensorShapeProto.Dimension()
      if let size { dimension.dimValue = size } else { dimension.dimParam = "N" }
      return dimension
    }
    var tensor = Onnx_TypeProto.Tensor()
    tensor.elemType = Int32(type.rawValue)
    tensor.shape = shape
    var info = Onnx_ValueInfoProto()
    info.name = name
    info.type.tensorType = tensor
    return info
  }
}

/// Appends nodes and initializers with unique names.
struct GraphBuilder {
  /// The graph so far.
  var graph = Onnx_GraphProto()
  private var used: Set<String> = ["input", "output", "label"]

  /// `base` if free, else `base_2`, `base_3` and so on.
  mutating func unique(_ base: String) -> String {
    var name = base
    var n = 1
    while used.contains(name) {
      n += 1
      name = "\(base)_\(n)"
    }
    used.insert(name)
    return name
  }

  /// A float initializer `name` of `dims` holding `values` (row-major).
  @discardableResult
  mutating func constant(_ base: String, _ values: [Float], dims: [Int]) -> String {
    precondition(values.count == dims.reduce(1, *), "initializer \(base): values do not fill its shape")
    return initializer(base, .float, dims: dims) { $0.floatData = values }
  }

  /// A string initializer `name` of shape [count].
  mutating func constant(_ base: String, strings: [String]) -> String {
    initializer(base, .string, dims: [strings.count]) { $0.stringData = strings.map { Data($0.utf8) } }
  }

  /// An int64 initializer of shape [count].
  mutating func constant(_ base: String, ints: [Int64]) -> String {
    initializer(base, .int64, dims: [ints.count]) { $0.int64Data = ints }
  }

  /// Adds an initializer named after `base` of `type` and `dims`, its values set by `fill`; returns its name.
  private mutating func initializer(
    _ base: String, _ type: Onnx_TensorProto.DataType, dims: [Int], fill: (inout Onnx_TensorProto) -> Void
  ) -> String {
    var tensor = Onnx_TensorProto()
    tensor.name = unique(base)
    tensor.dataType = Int32(type.rawValue)
    tensor.dims = dims.map { Int64($0) }
    fill(&tensor)
    graph.initializer.append(tensor)
    return tensor.name
  }

  /// Appends node `op` (of operator set `domain`, "" the default) on `inputs` and returns its (single) output's name.
  mutating func node(
    _ op: String, _ inputs: [String], name: String, attributes: [Onnx_AttributeProto] = [],
    domain: String = ""
  ) -> String {
    var node = Onnx_NodeProto()
    node.opType = op
    node.domain = domain
    node.name = unique(name)
    node.input = inputs
    node.output = [node.name]
    node.attribute = attributes
    graph.node.append(node)
    return node.name
  }

  /// Appends Identity from `input` to the value `output` (a reserved name) and returns `output`.
  mutating func identity(_ input: String, as output: String) -> String {
    var node = Onnx_NodeProto()
    node.opType = "Identity"
    node.name = unique("\(output)_identity")
    node.input = [input]
    node.output = [output]
    graph.node.append(node)
    return output
  }

  /// The nodes of `step` on the values `inputs` (one, or a merge's several); returns the step's output value.
  mutating func add(_ step: ExportStep, inputs: [String]) -> String {
    let input = inputs[0]
    switch step {
    case .scaleInputs(let shift, let factor, let shape):
      // Broadcast over the batch axis: the constants have one sample's shape.
      let shiftName = constant("input_shift", shift, dims: shape.dimensions)
      let factorName = constant("input_factor", factor, dims: shape.dimensions)
      let centred = node("Sub", [input, shiftName], name: "input_centred")
      return node("Mul", [centred, factorName], name: "input_scaled")
    case .dense(let index, let weights, let inputs, let units, let biases):
      let w = constant("layer\(index)_weights", weights, dims: [inputs, units])
      guard let biases else { return node("MatMul", [input, w], name: "layer\(index)_dense") }
      let b = constant("layer\(index)_biases", biases, dims: [units])
      return node("Gemm", [input, w, b], name: "layer\(index)_dense")
    case .conv2d(let index, let kernel, let shape, let biases, let stride, let pads, _):
      let w = constant("layer\(index)_kernel", kernel, dims: shape)
      var inputs = [input, w]
      if let biases { inputs.append(constant("layer\(index)_biases", biases, dims: [shape[0]])) }
      return node(
        "Conv", inputs, name: "layer\(index)_conv2d",
        attributes: [
          .ints("kernel_shape", [shape[2], shape[3]]), .ints("strides", [stride.height, stride.width]),
          .ints("pads", pads), .ints("dilations", [1, 1]), .int("group", 1),
        ])
    case .maxPool(let index, let size, let stride):
      return node(
        "MaxPool", [input], name: "layer\(index)_max_pool2d",
        attributes: [
          .ints("kernel_shape", [size.height, size.width]), .ints("strides", [stride.height, stride.width]),
          .ints("pads", [0, 0, 0, 0]),
        ])
    case .avgPool(let index, let size, let stride):
      // Valid windows only, so no mean ever counts padding (count_include_pad is moot).
      return node(
        "AveragePool", [input], name: "layer\(index)_avg_pool2d",
        attributes: [
          .ints("kernel_shape", [size.height, size.width]), .ints("strides", [stride.height, stride.width]),
          .ints("pads", [0, 0, 0, 0]), .int("count_include_pad", 0),
        ])
    case .globalAvgPool(let index):
      return globalPool("GlobalAveragePool", input, name: "layer\(index)_global_avg_pool2d")
    case .globalMaxPool(let index):
      return globalPool("GlobalMaxPool", input, name: "layer\(index)_global_max_pool2d")
    case .flatten(let index):
      return node("Flatten", [input], name: "layer\(index)_flatten", attributes: [.int("axis", 1)])
    case .dropout:
      return input  // identity at inference
    case .batchNorm(let index, let gamma, let beta, let mean, let variance, let epsilon, _):
      // Inference form (training_mode 0): the running averages; the channel axis is 1 for [N, C, H, W] and [N, F].
      let c = gamma.count
      let inputs = [
        input, constant("layer\(index)_gamma", gamma, dims: [c]),
        constant("layer\(index)_beta", beta, dims: [c]),
        constant("layer\(index)_running_mean", mean, dims: [c]),
        constant("layer\(index)_running_var", variance, dims: [c]),
      ]
      return node(
        "BatchNormalization", inputs, name: "layer\(index)_batch_norm",
        attributes: [.float("epsilon", Float(epsilon))])
    case .activation(let index, let activation):
      let name = "layer\(index)_\(activation.rawValue)"
      switch activation {
      case .sigmoid: return node("Sigmoid", [input], name: name)
      case .tanh: return node("Tanh", [input], name: name)
      case .relu: return node("Relu", [input], name: name)
      case .leakyRelu:
        return node("LeakyRelu", [input], name: name, attributes: [.float("alpha", Activation.leakySlope)])
      case .softmax: return node("Softmax", [input], name: name, attributes: [.int("axis", -1)])
      case .linear: return input
      }
    case .add(let index):
      // ONNX's Add takes two: ((x0 + x1) + x2) ..., the order in which nnbatch sums.
      var sum = input
      for (k, other) in inputs.dropFirst().enumerated() {
        sum = node("Add", [sum, other], name: k == 0 ? "layer\(index)_add" : "layer\(index)_add_\(k + 1)")
      }
      return sum
    case .concatenate(let index):
      // A sample's first axis: channels of [N, C, H, W], features of [N, F].
      return node("Concat", inputs, name: "layer\(index)_concatenate", attributes: [.int("axis", 1)])
    case .identity:
      return input
    case .restoreTargets(let shift, let factor):
      // predict's order: y' / factor, then + shift (AffineScaler.restore).
      let factorName = constant("target_factor", factor, dims: [factor.count])
      let shiftName = constant("target_shift", shift, dims: [shift.count])
      let divided = node("Div", [input, factorName], name: "target_unscaled")
      return node("Add", [divided, shiftName], name: "target_restored")
    }
  }

  /// Node `op` (GlobalAveragePool, GlobalMaxPool) on `input`, then a Flatten: ONNX keeps
  /// [N, C, 1, 1], nnbatch's output is [N, C].
  mutating func globalPool(_ op: String, _ input: String, name: String) -> String {
    let pooled = node(op, [input], name: name)
    return node("Flatten", [pooled], name: "\(name)_flat", attributes: [.int("axis", 1)])
  }

  /// Nodes from the probabilities to the predicted label's name: `predict`'s first CSV column.
  ///
  /// Softmax: the first largest probability (ArgMax, as `predict`'s argmax);
  /// a single sigmoid output: the second label when p ≥ 0.5.
  mutating func labelNodes(probabilities: String, plan: ExportPlan) -> String {
    let names = constant("class_labels", strings: plan.labels)
    let index: String
    if plan.outputs == 1 {
      let half = constant("half", [0.5], dims: [])
      let positive = node("GreaterOrEqual", [probabilities, half], name: "is_positive")
      let asInt = node("Cast", [positive], name: "positive_index", attributes: [.int("to", 7)])
      let shape = constant("label_shape", ints: [-1])
      index = node("Reshape", [asInt, shape], name: "label_index")
    } else {
      index = node(
        "ArgMax", [probabilities], name: "label_index",
        attributes: [.int("axis", 1), .int("keepdims", 0), .int("select_last_index", 0)])
    }
    let gathered = node("Gather", [names, index], name: "label_gather", attributes: [.int("axis", 0)])
    return identity(gathered, as: "label")
  }
}

extension GraphBuilder {
  /// The graph inputs of a tabular model and the nodes from them to the encoded row (the network's
  /// input before scaling); returns the row's value.
  ///
  /// Inputs: `input` float [N, numeric] (the numeric columns in CSV order, NaN
  /// where missing; absent when every column is categorical) and, per
  /// categorical column, a string tensor [N, 1] named after the column (the
  /// cell's text without surrounding white space). Nodes: Imputer (NaN → the
  /// saved value; NaN where nnbatch refuses a missing value, so the outputs are
  /// NaN), OneHotEncoder (the saved categories in order, zeros = 1: an unseen
  /// category is all zeros) then Flatten; where a column fills missing cells, the
  /// missing markers are extra categories that a 0/1 MatMul folds into the fill
  /// category; IsNaN, Gather, Cast for the indicator columns; one Concat, and a
  /// Gather that puts the columns in training order.
  mutating func tabularInput(_ tabular: TabularInput, path: String) throws(NNBatchError) -> String {
    var names: Set<String> = []
    for column in tabular.categorical {
      guard !["input", "output", "label"].contains(column.name), names.insert(column.name).inserted else {
        throw NNBatchError(
          .usage,
          "\(path): categorical column \"\(column.name)\": its onnx input would share its name with another input or output (input, output, label, or a column); rename the column and retrain"
        )
      }
    }
    // Claimed first, so that no initializer or node takes a column's name.
    for name in names { _ = unique(name) }
    var pieces: [String] = []
    let n = tabular.numericCount
    if n > 0 {
      graph.input.append(ONNXExport.valueInfo("input", dims: [nil, Int64(n)], type: .float))
      pieces.append(
        tabular.fills
          ? node(
            "Imputer", ["input"], name: "missing_filled",
            attributes: [
              .floats("imputed_value_floats", tabular.fill), .float("replaced_value_float", .nan),
            ],
            domain: "ai.onnx.ml")
          : "input")
    }
    let markers = CSVSource.missingMarkers.sorted()
    for column in tabular.categorical {
      graph.input.append(ONNXExport.valueInfo(column.name, dims: [nil, 1], type: .string))
      let k = column.categories.count
      let categories = column.categories + (column.fill == nil ? [] : markers)
      let hot = node(
        "OneHotEncoder", [column.name], name: "\(column.name)_one_hot",
        attributes: [.strings("cats_strings", categories), .int("zeros", 1)], domain: "ai.onnx.ml")
      var flat = node("Flatten", [hot], name: "\(column.name)_one_hot_flat", attributes: [.int("axis", 1)])
      if let fill = column.fill {
        // [k + markers, k]: the identity on the categories, each marker's row the fill category's.
        var fold = [Float](repeating: 0, count: categories.count * k)
        for i in 0..<categories.count { fold[i * k + (i < k ? i : fill)] = 1 }
        let w = constant("\(column.name)_missing_fold", fold, dims: [categories.count, k])
        flat = node("MatMul", [flat, w], name: "\(column.name)_one_hot_filled")
      }
      pieces.append(flat)
    }
    if !tabular.indicators.isEmpty {
      let missing = node("IsNaN", ["input"], name: "missing")
      let flagged = node(
        "Gather", [missing, constant("indicator_columns", ints: tabular.indicators.map { Int64($0) })],
        name: "missing_flagged", attributes: [.int("axis", 1)])
      pieces.append(node("Cast", [flagged], name: "missing_indicators", attributes: [.int("to", 1)]))
    }
    // The pieces side by side: numeric, each column's categories, indicators; then training's order.
    var offsets: [Int] = []
    var next = n
    for column in tabular.categorical {
      offsets.append(next)
      next += column.categories.count
    }
    let order: [Int64] = tabular.sources.map { source in
      switch source {
      case .numeric(let k): return Int64(k)
      case .category(let c, let i): return Int64(offsets[c] + i)
      case .indicator(let k): return Int64(next + (tabular.indicators.firstIndex(of: k) ?? 0))
      }
    }
    let joined =
      pieces.count == 1 ? pieces[0] : node("Concat", pieces, name: "encoded", attributes: [.int("axis", 1)])
    if order == (0..<Int64(order.count)).map({ $0 }) { return joined }
    return node(
      "Gather", [joined, constant("encoded_order", ints: order)], name: "encoded_row",
      attributes: [.int("axis", 1)])
  }
}

extension Onnx_AttributeProto {
  /// An INTS attribute.
  static func ints(_ name: String, _ values: [Int]) -> Onnx_AttributeProto {
    var attribute = Onnx_AttributeProto()
    attribute.name = name
    attribute.type = .ints
    attribute.ints = values.map { Int64($0) }
    return attribute
  }

  /// An INT attribute.
  static func int(_ name: String, _ value: Int) -> Onnx_AttributeProto {
    var attribute = Onnx_AttributeProto()
    attribute.name = name
    attribute.type = .int
    attribute.i = Int64(value)
    return attribute
  }

  /// A FLOATS attribute.
  static func floats(_ name: String, _ values: [Float]) -> Onnx_AttributeProto {
    var attribute = Onnx_AttributeProto()
    attribute.name = name
    attribute.type = .floats
    attribute.floats = values
    return attribute
  }

  /// A STRINGS attribute (UTF-8).
  static func strings(_ name: String, _ values: [String]) -> Onnx_AttributeProto {
    var attribute = Onnx_AttributeProto()
    attribute.name = name
    attribute.type = .strings
    attribute.strings = values.map { Data($0.utf8) }
    return attribute
  }

  /// A FLOAT attribute.
  static func float(_ name: String, _ value: Float) -> Onnx_AttributeProto {
    var attribute = Onnx_AttributeProto()
    attribute.name = name
    attribute.type = .float
    attribute.f = value
    return attribute
  }
}
