import Foundation
import HDF5Store
import NNBatch
// The Keras 3 writer: an `ExportPlan` as a `.keras` archive for `keras.saving.load_model`.
//
// The archive (stored zip) holds:
//   metadata.json      {"keras_version": "3.15.1", "date_saved": ..., "nnbatch_version",
//                      "task", "labels" (classifiers: the class names, one per output),
//                      "columns" (a tabular model's raw columns and codes: TabularInput)}
//   config.json        a Sequential model: InputLayer [None, *sample shape], then one or
//                      more layers per step (below), all float32, channels first; a
//                      graph or a tabular model (its front end: `frontEnd`) a Functional one
//   model.weights.h5   layers/<snake_case class name>[_k]/vars/{0,1}: the layer's
//                      variables in creation order (kernel, bias), grouped the way
//                      Keras's saving_lib names them (the k-th repeat of a class gets
//                      "_k"), plus an empty vars group per layer and at the top.
// Step to layers:
//   scaleInputs      Rescaling(scale 1, offset −shift), then Rescaling(scale factor, offset 0):
//                    x · 1 − shift, then · factor, the very float32 operations of
//                    predict. (Normalization stored variance = 1 / factor², which is
//                    infinite in float32 for a factor below 5e-20, and divided by
//                    max(sqrt(variance), 1e-7).) The vectors are Keras's "__numpy__"
//                    objects of one sample's shape.
//   dense            Dense(units, use_bias); kernel [inputs, units] as nnbatch stores it
//   conv2d           Conv2D(channels_first, padding valid|same, strides); kernel
//                    OIHW -> [kh, kw, C, F] (Keras's kernel layout in every data format)
//   maxPool/avgPool  MaxPooling2D / AveragePooling2D (channels_first, valid)
//   globalAvgPool/globalMaxPool  GlobalAveragePooling2D / GlobalMaxPooling2D
//                    (channels_first, keepdims false): [N, C]
//   flatten          Flatten(data_format = channels_last): a plain reshape of the NCHW
//                    tensor; channels_first would transpose to NHWC first
//   dropout          Dropout(rate): identity in predict
//   batchNorm        BatchNormalization(axis 1, momentum 1 − m, epsilon ε); variables
//                    gamma, beta, moving_mean, moving_variance (the running averages)
//   activation       the Dense / Conv2D's own `activation`, except leaky_relu:
//                    LeakyReLU(negative_slope = 0.01), since Keras's "leaky_relu"
//                    defaults to 0.2
//   restoreTargets   Rescaling(scale 1 / factor, offset shift): y · (1 / factor) + shift,
//                    within a rounding of predict's y / factor + shift
import NNBatchCore
import NeuralNet

/// Builds the `.keras` archive of an `ExportPlan`.
enum KerasExport {
  /// The Keras version the files are written for (and tested with).
  static let kerasVersion = "3.15.1"
  /// One Keras layer: its class, config members after name/trainable/dtype, and variables.
  struct KerasLayer {
    var className: String
    var name: String
    var config: [(String, JSONText)]
    /// Variables in Keras's creation order, with their shapes.
    var variables: [(values: [Float], shape: [Int])] = []
    /// The values it is called on (a functional model's inbound node).
    var inbound: [KerasValue] = []
    /// Where Keras finds the class: a layer's "keras.layers", or a `keras.ops` operation's module
    /// (operations have no trainable flag, dtype or weights, and are no `Model.layers`).
    var module = "keras.layers"
    /// The call's arguments when they are not `inbound` alone (an operation's NumPy constants).
    var arguments: [KerasArgument]?

    /// Whether it is a `keras.ops` operation rather than a layer.
    var isOperation: Bool { module != "keras.layers" }
  }

  /// One argument of a functional model's call: a tensor or a NumPy constant.
  enum KerasArgument {
    /// A tensor of the model.
    case tensor(KerasValue)
    /// A constant, as `numpy` writes it.
    case constant(JSONText)
  }

  /// A tensor of the functional model: the layer that makes it and one sample's shape.
  struct KerasValue {
    var name: String
    var shape: [Int]
    /// Its element type: float32, or int32 / bool inside the tabular front end.
    var dtype = "float32"
  }

  /// A functional model's input: `keras.Input(shape, dtype, name)`.
  struct KerasInput {
    var name: String
    var shape: [Int]
    var dtype: String
  }

  /// The archive bytes of `plan`.
  static func encode(_ plan: ExportPlan, path: String) throws(NNBatchError) -> [UInt8] {
    let layers = try self.layers(plan, path: path)
    let config = self.config(plan, layers: layers).text
    // Keras reads keras_version and date_saved and ignores the rest: the class
    // names travel here, since the model itself outputs probabilities only.
    var members: [(String, JSONText)] = [
      ("keras_version", .string(kerasVersion)),
      ("date_saved", .string(Self.dateText(Date()))),
      ("nnbatch_version", .string(nnbatchVersion)),
      ("task", .string(plan.isClassifier ? "classification" : "regression")),
    ]
    if plan.isClassifier { members.append(("labels", .array(plan.labels.map { .string($0) }))) }
    if let tabular = plan.tabular { members.append(("columns", tabular.metadata(codes: true))) }
    let metadata = JSONText.object(members).text
    let weights: [UInt8]
    do {
      weights = try self.weights(
        layers, functional: !plan.isChain || plan.tabular != nil, inputs: inputs(plan).map(\.name))
    } catch {
      throw NNBatchError(.failure, "\(path): cannot write the keras weights: \(error)")
    }
    var zip = StoredZip()
    do {
      try zip.add("metadata.json", Array(metadata.utf8))
      try zip.add("config.json", Array(config.utf8))
      try zip.add("model.weights.h5", weights)
    } catch {
      throw NNBatchError(.usage, "\(path): \(error)")
    }
    return zip.archive()
  }

  /// `2026-11-29@08:00:25`, as Keras dates its saves.
  static func dateText(_ date: Date) -> String {
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone(identifier: "UTC")
    formatter.dateFormat = "yyyy-MM-dd@HH:mm:ss"
    return formatter.string(from: date)
  }

  /// The Keras layers of `plan`, in order, each with the values it is called on; throws (exit 2)
  /// for what Keras cannot express.
  static func layers(_ plan: ExportPlan, path: String) throws(NNBatchError) -> [KerasLayer] {
    var layers: [KerasLayer] = []
    var input = KerasValue(name: "input", shape: plan.inputShape.dimensions)
    if let tabular = plan.tabular {
      input = frontEnd(tabular, width: plan.inputShape.elements, layers: &layers)
    }
    _ = try plan.walk(input: input) { (step, inputs) throws(NNBatchError) -> KerasValue in
      // The step's output shape: a layer's own, else (scaling, activation) its input's.
      let shape = step.layer.map { plan.layerShapes[$0].dimensions } ?? inputs[0].shape
      func call(_ layer: KerasLayer, on values: [KerasValue] = inputs, shape: [Int] = shape) -> KerasValue {
        var layer = layer
        layer.inbound = values
        layers.append(layer)
        return KerasValue(name: layer.name, shape: shape)
      }
      switch step {
      case .scaleInputs(let shift, let factor, let shape):
        // Two layers, so that the float32 operations are predict's: x − shift, then · factor.
        let shifted = call(
          rescaling("input_shift", scale: .float(1), offset: numpy(shift.map { -$0 }, shape.dimensions)))
        return call(
          rescaling("input_scaling", scale: numpy(factor, shape.dimensions), offset: .float(0)), on: [shifted]
        )
      case .dense(let index, let weights, let inputs, let units, let biases):
        var layer = KerasLayer(
          className: "Dense", name: "layer\(index)_dense",
          config: [
            ("units", .int(units)), ("activation", .string("linear")), ("use_bias", .bool(biases != nil)),
          ])
        layer.variables.append((weights, [inputs, units]))
        if let biases { layer.variables.append((biases, [units])) }
        return call(layer)
      case .conv2d(let index, let kernel, let shape, let biases, let stride, _, let padding):
        var layer = KerasLayer(
          className: "Conv2D", name: "layer\(index)_conv2d",
          config: [
            ("filters", .int(shape[0])), ("kernel_size", .array([.int(shape[2]), .int(shape[3])])),
            ("strides", .array([.int(stride.height), .int(stride.width)])),
            ("padding", .string(padding.rawValue)), ("data_format", .string("channels_first")),
            ("dilation_rate", .array([.int(1), .int(1)])), ("groups", .int(1)),
            ("activation", .string("linear")), ("use_bias", .bool(biases != nil)),
          ])
        layer.variables.append((hwio(kernel, oihw: shape), [shape[2], shape[3], shape[1], shape[0]]))
        if let biases { layer.variables.append((biases, [shape[0]])) }
        return call(layer)
      case .maxPool(let index, let size, let stride), .avgPool(let index, let size, let stride):
        let isMax: Bool
        if case .maxPool = step { isMax = true } else { isMax = false }
        return call(
          KerasLayer(
            className: isMax ? "MaxPooling2D" : "AveragePooling2D",
            name: "layer\(index)_\(isMax ? "max" : "avg")_pool2d",
            config: [
              ("pool_size", .array([.int(size.height), .int(size.width)])), ("padding", .string("valid")),
              ("strides", .array([.int(stride.height), .int(stride.width)])),
              ("data_format", .string("channels_first")),
            ]))
      case .globalAvgPool(let index), .globalMaxPool(let index):
        let isMax: Bool
        if case .globalMaxPool = step { isMax = true } else { isMax = false }
        // keepdims false: [N, C], as nnbatch gives it, so a Dense follows with no Flatten.
        return call(
          KerasLayer(
            className: isMax ? "GlobalMaxPooling2D" : "GlobalAveragePooling2D",
            name: "layer\(index)_global_\(isMax ? "max" : "avg")_pool2d",
            config: [("data_format", .string("channels_first")), ("keepdims", .bool(false))]))
      case .flatten(let index):
        return call(
          KerasLayer(
            className: "Flatten", name: "layer\(index)_flatten",
            config: [("data_format", .string("channels_last"))]))
      case .dropout(let index, let rate):
        return call(
          KerasLayer(
            className: "Dropout", name: "layer\(index)_dropout",
            config: [("rate", .double(rate)), ("seed", .null), ("noise_shape", .null)]))
      case .batchNorm(let index, let gamma, let beta, let mean, let variance, let epsilon, let momentum):
        // Keras's momentum weighs the old value: 1 − m. Axis 1: channels first, or the units of [N, F].
        var layer = KerasLayer(
          className: "BatchNormalization", name: "layer\(index)_batch_norm",
          config: [
            ("axis", .int(1)), ("momentum", .double(1 - momentum)), ("epsilon", .double(epsilon)),
            ("center", .bool(true)), ("scale", .bool(true)),
          ])
        for vector in [gamma, beta, mean, variance] { layer.variables.append((vector, [vector.count])) }
        return call(layer)
      case .add(let index):
        return call(KerasLayer(className: "Add", name: "layer\(index)_add", config: []))
      case .concatenate(let index):
        // Axis 1 of the NCHW (or [N, F]) tensor: channels, or features.
        return call(
          KerasLayer(className: "Concatenate", name: "layer\(index)_concatenate", config: [("axis", .int(1))])
        )
      case .identity:
        return inputs[0]
      case .activation(let index, let activation):
        if activation == .leakyRelu {
          return call(
            KerasLayer(
              className: "LeakyReLU", name: "layer\(index)_leaky_relu",
              config: [("negative_slope", .float(Activation.leakySlope))]))
        }
        // Folded into the layer that made the input (Dense or Conv2D) while its activation is linear;
        // otherwise (after another activation, a flatten, pooling, a merge) a Keras Activation layer.
        if let last = layers.indices.last, layers[last].name == inputs[0].name,
          let slot = layers[last].config.firstIndex(where: { $0.0 == "activation" }),
          case .string(Activation.linear.rawValue) = layers[last].config[slot].1
        {
          layers[last].config[slot].1 = .string(activation.rawValue)
          return inputs[0]
        }
        return call(
          KerasLayer(
            className: "Activation", name: "layer\(index)_\(activation.rawValue)",
            config: [("activation", .string(activation.rawValue))]))
      case .restoreTargets(let shift, let factor):
        let scale = factor.map { Float(1 / Double($0)) }
        try ExportPlan.requireFinite(
          scale, "the target scaling's 1 / factor (keras multiplies by it)", of: "output", path: path,
          format: .keras)
        return call(
          rescaling(
            "target_restoring", scale: numpy(scale, [scale.count]), offset: numpy(shift, [shift.count])))
      }
    }
    if let tabular = plan.tabular {
      // Keras refuses "/" in a name, and a functional model's names must be unique.
      var names = Set(layers.map(\.name))
      if tabular.numericCount > 0 { names.insert("input") }
      for column in tabular.categorical {
        guard !column.name.contains("/"), names.insert(column.name).inserted else {
          throw NNBatchError(
            .usage,
            "\(path): categorical column \"\(column.name)\": its keras input cannot take that name (a \"/\", or the name of another input or layer); rename the column and retrain"
          )
        }
      }
    }
    return layers
  }

  /// The inputs of `plan`'s model: `input` (the sample, or a tabular model's numeric columns) and a
  /// tabular model's categorical columns, one int32 code each.
  static func inputs(_ plan: ExportPlan) -> [KerasInput] {
    guard let tabular = plan.tabular else {
      return [KerasInput(name: "input", shape: plan.inputShape.dimensions, dtype: "float32")]
    }
    return
      (tabular.numericCount > 0
      ? [KerasInput(name: "input", shape: [tabular.numericCount], dtype: "float32")] : [])
      + tabular.categorical.map { KerasInput(name: $0.name, shape: [1], dtype: "int32") }
  }

  /// The front end of a tabular model (appended to `layers`); returns the encoded row [width].
  ///
  /// Numeric columns: where(isnan(x) ∧ fills, fill, x), NaN kept where nnbatch
  /// refuses a missing value. A categorical column's code (its category's index
  /// in the metadata's list; `unseen_code` = count for a category training never
  /// saw, `missing_code` = count + 1 for a missing cell) goes through a table
  /// (take) that sends a missing cell to the fill category (or to `unseen_code`
  /// when the column has none), then CategoryEncoding(count + 1, one_hot); the
  /// unseen slot is dropped by the final take, so an unseen category is all zeros.
  /// Indicators: cast(take(isnan(x), flagged)). One Concatenate, then a take
  /// into training's column order.
  static func frontEnd(_ tabular: TabularInput, width: Int, layers: inout [KerasLayer]) -> KerasValue {
    func op(
      _ className: String, _ name: String, _ arguments: [KerasArgument], shape: [Int], dtype: String,
      config: [(String, JSONText)] = [], module: String = "keras.src.ops.numpy"
    ) -> KerasValue {
      var layer = KerasLayer(className: className, name: name, config: config)
      layer.module = module
      layer.arguments = arguments
      layer.inbound = arguments.compactMap { if case .tensor(let value) = $0 { value } else { nil } }
      layers.append(layer)
      return KerasValue(name: name, shape: shape, dtype: dtype)
    }
    let n = tabular.numericCount
    let raw = KerasValue(name: "input", shape: [n])
    var pieces: [KerasValue] = []
    var missing: KerasValue?
    if n > 0 {
      var filled = raw
      if tabular.fills || !tabular.indicators.isEmpty {
        missing = op("Isnan", "missing", [.tensor(raw)], shape: [n], dtype: "bool")
      }
      if tabular.fills, var mask = missing {
        if tabular.fill.contains(where: \.isNaN) {
          let fills = constant(tabular.fill.map { JSONText.bool(!$0.isNaN) }, dtype: "bool")
          mask = op(
            "LogicalAnd", "missing_filled_columns", [.tensor(mask), fills], shape: [n], dtype: "bool")
        }
        let values = constant(tabular.fill.map { JSONText.float($0.isNaN ? 0 : $0) }, dtype: "float32")
        filled = op(
          "Where", "missing_filled", [.tensor(mask), values, .tensor(raw)], shape: [n], dtype: "float32")
      }
      pieces.append(filled)
    }
    for column in tabular.categorical {
      let k = column.categories.count
      let code = KerasValue(name: column.name, shape: [1], dtype: "int32")
      let table = constant(((0...k).map { $0 } + [column.fill ?? k]).map { JSONText.int($0) }, dtype: "int32")
      let mapped = op(
        "Take", "\(column.name)_code", [table, .tensor(code)], shape: [1], dtype: "int32",
        config: [("axis", .null)])
      var encoding = KerasLayer(
        className: "CategoryEncoding", name: "\(column.name)_one_hot",
        config: [("num_tokens", .int(k + 1)), ("output_mode", .string("one_hot")), ("sparse", .bool(false))])
      encoding.inbound = [mapped]
      layers.append(encoding)
      pieces.append(KerasValue(name: encoding.name, shape: [k + 1]))
    }
    if let missing, !tabular.indicators.isEmpty {
      let flagged = op(
        "Take", "missing_flagged",
        [.tensor(missing), constant(tabular.indicators.map { JSONText.int($0) }, dtype: "int32")],
        shape: [tabular.indicators.count], dtype: "bool", config: [("axis", .int(1))])
      pieces.append(
        op(
          "Cast", "missing_indicators", [.tensor(flagged)], shape: [tabular.indicators.count],
          dtype: "float32", config: [("dtype", .string("float32"))], module: "keras.src.ops.core"))
    }
    var offsets: [Int] = []
    var next = n
    for column in tabular.categorical {
      offsets.append(next)
      next += column.categories.count + 1
    }
    let order = tabular.sources.map { source in
      switch source {
      case .numeric(let k): return k
      case .category(let c, let i): return offsets[c] + i
      case .indicator(let k): return next + (tabular.indicators.firstIndex(of: k) ?? 0)
      }
    }
    var joined = pieces[0]
    if pieces.count > 1 {
      var concatenate = KerasLayer(className: "Concatenate", name: "encoded", config: [("axis", .int(1))])
      concatenate.inbound = pieces
      layers.append(concatenate)
      joined = KerasValue(name: "encoded", shape: [pieces.reduce(0) { $0 + $1.shape[0] }])
    }
    if order == Array(0..<order.count) && joined.shape == [width] { return joined }
    return op(
      "Take", "encoded_row", [.tensor(joined), constant(order.map { JSONText.int($0) }, dtype: "int32")],
      shape: [width], dtype: "float32", config: [("axis", .int(1))])
  }

  /// A one-dimensional NumPy constant of `dtype`, as Keras's serialization writes one.
  static func constant(_ values: [JSONText], dtype: String) -> KerasArgument {
    .constant(
      .object([
        ("class_name", .string("__numpy__")),
        ("config", .object([("value", .array(values)), ("dtype", .string(dtype))])),
      ]))
  }

  /// A Rescaling layer: inputs · scale + offset, each a number or a "__numpy__" array.
  static func rescaling(_ name: String, scale: JSONText, offset: JSONText) -> KerasLayer {
    KerasLayer(className: "Rescaling", name: name, config: [("scale", scale), ("offset", offset)])
  }

  /// A float32 NumPy array as Keras's serialization writes one: `{"class_name": "__numpy__", ...}`.
  static func numpy(_ values: [Float], _ shape: [Int]) -> JSONText {
    .object([
      ("class_name", .string("__numpy__")),
      (
        "config",
        .object([("value", nested(values.map { .float($0) }, shape)), ("dtype", .string("float32"))])
      ),
    ])
  }

  /// `values` ([shape] row-major) as nested JSON arrays of that shape.
  static func nested(_ values: [JSONText], _ shape: [Int]) -> JSONText {
    guard shape.count > 1 else { return .array(values) }
    let inner = shape.dropFirst().reduce(1, *)
    return .array(
      (0..<shape[0]).map { i in
        nested(Array(values[(i * inner)..<((i + 1) * inner)]), Array(shape.dropFirst()))
      })
  }

  /// W [F, C, kh, kw] (OIHW) as [kh, kw, C, F] (Keras's HWIO).
  static func hwio(_ kernel: [Float], oihw shape: [Int]) -> [Float] {
    let (f, c, kh, kw) = (shape[0], shape[1], shape[2], shape[3])
    var out = [Float](repeating: 0, count: kernel.count)
    for o in 0..<f {
      for i in 0..<c {
        for y in 0..<kh {
          for x in 0..<kw {
            out[((y * kw + x) * c + i) * f + o] = kernel[((o * c + i) * kh + y) * kw + x]
          }
        }
      }
    }
    return out
  }

  /// config.json: a chain as a Sequential model, a graph as a Functional one.
  static func config(_ plan: ExportPlan, layers: [KerasLayer]) -> JSONText {
    plan.isChain && plan.tabular == nil
      ? sequential(plan, layers: layers) : functional(plan, layers: layers, inputs: inputs(plan))
  }

  /// The Sequential model of a chain.
  static func sequential(_ plan: ExportPlan, layers: [KerasLayer]) -> JSONText {
    let batchShape = JSONText.array([.null] + plan.inputShape.dimensions.map { .int($0) })
    let input = JSONText.object([
      ("module", .string("keras.layers")), ("class_name", .string("InputLayer")),
      (
        "config",
        .object([
          ("batch_shape", batchShape), ("dtype", .string("float32")), ("sparse", .bool(false)),
          ("ragged", .bool(false)), ("name", .string("input")),
        ])
      ),
      ("registered_name", .null),
    ])
    let entries = layers.map { layer in
      JSONText.object([
        ("module", .string("keras.layers")), ("class_name", .string(layer.className)),
        (
          "config",
          .object(
            [("name", .string(layer.name)), ("trainable", .bool(true)), ("dtype", .string("float32"))]
              + layer.config)
        ),
        ("registered_name", .null),
      ])
    }
    return .object([
      ("module", .string("keras")), ("class_name", .string("Sequential")),
      (
        "config",
        .object([
          ("name", .string(plan.name)), ("trainable", .bool(true)), ("dtype", .string("float32")),
          ("layers", .array([input] + entries)), ("build_input_shape", batchShape),
        ])
      ),
      ("registered_name", .null), ("build_config", .object([("input_shape", batchShape)])),
      ("compile_config", .null),
    ])
  }

  /// The Functional model of a graph: `keras.Input`, then each layer called on the values it reads.
  ///
  /// Layers are listed as the plan makes them (each after its inputs); an
  /// inbound node names its inputs by layer (`keras_history` [name, 0, 0]),
  /// a merge's as one list argument, as `Model.get_config` writes them.
  static func functional(_ plan: ExportPlan, layers: [KerasLayer], inputs: [KerasInput]) -> JSONText {
    func shape(_ dimensions: [Int]) -> JSONText { .array([.null] + dimensions.map { .int($0) }) }
    func tensor(_ value: KerasValue) -> JSONText {
      .object([
        ("class_name", .string("__keras_tensor__")),
        (
          "config",
          .object([
            ("shape", shape(value.shape)), ("dtype", .string(value.dtype)),
            ("keras_history", .array([.string(value.name), .int(0), .int(0)])),
          ])
        ),
      ])
    }
    let inputEntries = inputs.map { input in
      JSONText.object([
        ("module", .string("keras.layers")), ("class_name", .string("InputLayer")),
        (
          "config",
          .object([
            ("batch_shape", shape(input.shape)), ("dtype", .string(input.dtype)),
            ("sparse", .bool(false)), ("ragged", .bool(false)), ("name", .string(input.name)),
          ])
        ),
        ("registered_name", .null), ("name", .string(input.name)), ("inbound_nodes", .array([])),
      ])
    }
    let entries = layers.map { layer in
      let arguments =
        layer.arguments.map { list in
          list.map { argument in
            switch argument {
            case .tensor(let value): return tensor(value)
            case .constant(let value): return value
            }
          }
        } ?? [layer.inbound.count == 1 ? tensor(layer.inbound[0]) : .array(layer.inbound.map(tensor))]
      let common: [(String, JSONText)] =
        layer.isOperation
        ? [("name", .string(layer.name))]
        : [("name", .string(layer.name)), ("trainable", .bool(true)), ("dtype", .string("float32"))]
      return JSONText.object([
        ("module", .string(layer.module)), ("class_name", .string(layer.className)),
        ("config", .object(common + layer.config)),
        ("registered_name", layer.isOperation ? .string(layer.className) : .null),
        ("name", .string(layer.name)),
        ("inbound_nodes", .array([.object([("args", .array(arguments)), ("kwargs", .object([]))])])),
      ])
    }
    let output = layers.last?.name ?? "input"
    let inputLayers = inputs.map { JSONText.array([.string($0.name), .int(0), .int(0)]) }
    return .object([
      ("module", .string("keras.src.models.functional")), ("class_name", .string("Functional")),
      (
        "config",
        .object([
          ("name", .string(plan.name)), ("trainable", .bool(true)),
          ("layers", .array(inputEntries + entries)),
          ("input_layers", inputLayers.count == 1 ? inputLayers[0] : .array(inputLayers)),
          ("output_layers", .array([.string(output), .int(0), .int(0)])),
        ])
      ),
      ("registered_name", .string("Functional")), ("build_config", .object([("input_shape", .null)])),
      ("compile_config", .null),
    ])
  }

  /// The order in which Keras lists a functional model's layers; index −1 is the InputLayer.
  ///
  /// `Functional.layers`, and so the weights file, go by depth (the longest
  /// path to the output) from the input down, then in the order a depth-first
  /// walk from the output, inputs in order, first reaches them
  /// (keras/src/ops/function.py, `map_graph`).
  /// With several `inputs`, input i is index −1 − i (operations count as nodes, as in Keras's graph).
  static func functionalOrder(_ layers: [KerasLayer], inputs: [String] = ["input"]) -> [Int] {
    var index = Dictionary(layers.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
    for (i, name) in inputs.enumerated() { index[name] = -1 - i }
    func parents(_ k: Int) -> [Int] {
      k < 0 ? [] : layers[k].inbound.map { index[$0.name] ?? -1 }
    }
    let all = inputs.indices.map { -1 - $0 }.reversed() + Array(layers.indices)
    var depth: [Int: Int] = [:]
    // Each layer comes after its inputs, so the reverse of the list visits consumers first.
    for k in all.reversed() {
      let own = depth[k, default: 0]
      depth[k] = own
      for parent in parents(k) { depth[parent] = max(depth[parent, default: 0], own + 1) }
    }
    var first: [Int: Int] = [:]
    var stack = [layers.count - 1]
    // Pre-order: a layer is numbered when reached, then its inputs are walked in order.
    while let k = stack.popLast() {
      guard first[k] == nil else { continue }
      first[k] = first.count
      stack.append(contentsOf: parents(k).reversed())
    }
    return all.filter { first[$0] != nil }.sorted {
      (depth[$0, default: 0], -(first[$0] ?? 0)) > (depth[$1, default: 0], -(first[$1] ?? 0))
    }
  }

  /// model.weights.h5: each layer's variables where Keras's saving_lib looks for them.
  ///
  /// A graph's layers go in Keras's own order (`functionalOrder`), the
  /// InputLayer among them, since the `_k` of a group name counts in that order.
  static func weights(_ layers: [KerasLayer], functional: Bool = false, inputs: [String] = ["input"]) throws
    -> [UInt8]
  {
    let file = try HDF5File.createInMemory(name: "model.weights.h5")
    let root = try file.root()
    let group = try root.createGroup("layers")
    var used: [String: Int] = [:]
    let ordered =
      functional
      ? functionalOrder(layers, inputs: inputs).map {
        $0 < 0 ? KerasLayer(className: "InputLayer", name: inputs[-1 - $0], config: []) : layers[$0]
      } : layers
    // Operations hold no weights and are no `Model.layers`.
    for layer in ordered where !layer.isOperation {
      // saving_lib: to_snake_case(class name), "_k" for the k-th repeat (k ≥ 1).
      let base = snakeCase(layer.className)
      let name: String
      if let seen = used[base] {
        used[base] = seen + 1
        name = "\(base)_\(seen + 1)"
      } else {
        used[base] = 0
        name = base
      }
      let vars = try group.createGroup(name).createGroup("vars")
      try vars.setAttribute("name", layer.name)
      for (k, variable) in layer.variables.enumerated() {
        try vars.write(variable.values, shape: variable.shape, name: String(k))
      }
    }
    try root.createGroup("vars").setAttribute("name", functional ? "functional" : "sequential")
    let bytes = try file.image()
    try file.close()
    return bytes
  }

  /// Keras's `naming.to_snake_case`: `LeakyReLU` -> `leaky_re_lu`, `Conv2D` -> `conv2d`.
  static func snakeCase(_ name: String) -> String {
    // re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name), then re.sub("([a-z])([A-Z])", r"\1_\2", ...).lower()
    let chars = Array(name)
    var first: [Character] = []
    var i = 0
    while i < chars.count {
      let c = chars[i]
      if i > 0, c.isUppercase, i + 1 < chars.count, chars[i + 1].isLowercase {
        first.append("_")
      }
      first.append(c)
      i += 1
    }
    var second: [Character] = []
    for (k, c) in first.enumerated() {
      if k > 0, c.isUppercase, first[k - 1].isLowercase {
        second.append("_")
      }
      second.append(c)
    }
    return String(second).lowercased()
  }
}
