import Checkpoints
import Foundation
import NNBatchCore
import NNBatchData
import NeuralNet

/// `nnbatch inspect`: a human (or JSON) summary of a checkpoint.
public enum Inspect {
  /// The summary of checkpoint `path`.
  public static func run(path: String, json: Bool) throws(NNBatchError) -> String {
    let model = try SavedModel.load(path)
    let c = model.checkpoint
    let counters = c.counters
    let layers = c.architecture.layerDescriptions
    let names = model.layerNames
    let hyper = c.optimizer.settings.hyperParameters
    if json {
      let object: [String: Any] = [
        "path": model.path, "format_version": model.file.formatVersion, "nnbatch_version": c.nnbatchVersion,
        "created": c.created, "step": counters.step, "epoch": counters.epoch,
        "batch_in_epoch": counters.batchInEpoch, "samples_seen": counters.samplesSeen,
        "input_shape": c.architecture.inputShape.dimensions,
        "layers": zip(layers, c.architecture.layers).enumerated().map { index, pair in
          let (description, layer) = pair
          var entry: [String: Any] = [
            "kind": description.kind, "inputs": layer.inputShape.elements,
            "input_shape": layer.inputShape.dimensions, "output_shape": layer.outputShape.dimensions,
            "parameters": layer.parameterCount,
          ]
          for setting in description.settings { entry[setting.key] = setting.value.jsonValue }
          if let inputs = c.architecture.inputNames(ofLayer: index) { entry["input_layers"] = inputs }
          if let name = names?[index] { entry["name"] = name }
          return entry
        },
        "parameters": c.parameters.count, "optimizer": c.optimizer.settings.kind.rawValue,
        "optimizer_step": c.optimizer.step,
        "hyperparameters": Dictionary(uniqueKeysWithValues: hyper.map { p in (p.name, jsonValue(p.value)) }),
        "last_loss": c.lossHistory.last ?? NSNull(), "epoch_history": c.epochHistory.series,
        "task": c.data.task.rawValue, "labels": c.data.labels, "scaling": c.data.features.kind.rawValue,
        "target_scaling": c.data.targets.kind.rawValue, "config": c.config, "checksum": model.file.checksum,
        "kernel_library": c.kernels?.library ?? NSNull(), "kernel_cpu": c.kernels?.cpu ?? NSNull(),
        "kernel_convolutions": c.kernels?.convolutionsText ?? NSNull(),
      ]
      return try prettyJSON(object.merging(trainableCounts(c.architecture)) { $1 })
    }
    var lines: [String] = []
    lines.append("checkpoint  \(model.path)")
    lines.append(
      "format      \(Checkpoint.formatName) v\(model.file.formatVersion), nnbatch \(c.nnbatchVersion), written \(c.created)"
    )
    lines.append("checksum    \(model.file.checksum) (verified)")
    lines.append(
      "kernels     \(c.kernels?.description ?? "not recorded (written before nnbatch recorded them)")")
    let position =
      counters.batchInEpoch == 0
      ? "\(counters.epoch) epochs done"
      : "epoch \(counters.epoch + 1) in progress (\(counters.batchInEpoch) batches done)"
    lines.append("progress    step \(counters.step), \(position), \(counters.samplesSeen) samples seen")
    let kinds = Set(layers.map(\.kind)).sorted().joined(separator: "/")
    lines.append(
      "model       \(layers.count) \(kinds) layers, \(grouped(c.parameters.count)) parameters, input \(c.architecture.inputShape)"
    )
    lines.append(contentsOf: summaryTable(c.architecture, names: names))
    let settings = settingsText(hyper)
    lines.append(
      "optimizer   \(c.optimizer.settings.kind.rawValue) (step \(c.optimizer.step)) \(settings.joined(separator: " "))"
    )
    lines.append(
      "loss        \(model.config.loss.rawValue), last \(c.lossHistory.last.map(format6) ?? "n/a") over \(c.lossHistory.count) steps"
    )
    for (key, values) in c.epochHistory.series.sorted(by: { $0.key < $1.key }) {
      if let last = values.last { lines.append("  \(key)  \(format6(last))") }
    }
    var data = "data        task \(c.data.task.rawValue), scaling \(c.data.features.kind.rawValue)"
    if c.data.targets.kind != .none { data += ", target scaling \(c.data.targets.kind.rawValue)" }
    if let imputer = c.data.imputer {
      let filled = imputer.fill.lazy.filter { !$0.isNaN }.count
      data += ", missing values filled in \(filled) of \(imputer.inputWidth) features"
      let indicators = imputer.outputWidth - imputer.inputWidth
      if indicators > 0 { data += " (+\(indicators) indicator column\(indicators == 1 ? "" : "s"))" }
    }
    if !c.data.labels.isEmpty { data += ", labels \(c.data.labels.joined(separator: ","))" }
    lines.append(data)
    if let encoder = c.data.encoder {
      // The model's inputs are the encoded width; the data it reads has the raw columns.
      lines.append(
        "features    \(encoder.inputWidth) raw columns, \(encoder.outputWidth) after one-hot encoding")
      for column in encoder.columns {
        let shown = column.categories.prefix(10).map { excerpt($0, limit: 20) }.joined(separator: ", ")
        let more = column.categories.count > 10 ? ", ..." : ""
        lines.append(
          "categorical \(excerpt(column.name)) (\(column.categories.count) categories: \(shown)\(more))")
      }
    }
    lines.append("config")
    lines.append(
      contentsOf: c.config.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 })
    return lines.joined(separator: "\n")
  }

  /// The layers as a table like Keras's `model.summary()`: kind, output shape, parameters, settings.
  ///
  /// With `names` (the config's: `stem`, `block1.conv1`), a name column follows
  /// the layer's index and a graph's inputs are shown by name where they have one.
  static func summaryTable(_ architecture: Architecture, names: [String?]? = nil) -> [String] {
    let descriptions = architecture.layerDescriptions
    // A graph gets an "inputs" column after the kind; a chain's table is as it always was.
    let graph = !architecture.isChain
    func row(_ cells: [String], name: String, inputs: String) -> [String] {
      let named = names == nil ? [cells[0]] : [cells[0], name]
      return named + (graph ? [cells[1], inputs] : [cells[1]]) + cells[2...]
    }
    func label(_ producer: Int) -> String {
      producer < 0 ? "input" : (names?[producer] ?? "layer_\(producer)")
    }
    var rows: [[String]] = [
      row(["layer", "kind", "output shape", "parameters", "settings"], name: "name", inputs: "inputs")
    ]
    rows.append(row(["input", "", "\(architecture.inputShape)", "", ""], name: "", inputs: ""))
    for (i, (layer, description)) in zip(architecture.layers, descriptions).enumerated() {
      rows.append(
        row(
          [
            "layer_\(i)", description.kind, "\(layer.outputShape)", grouped(layer.parameterCount),
            description.summary,
          ], name: names?[i] ?? "",
          inputs: graph ? architecture.layerInputs[i].map(label).joined(separator: ", ") : ""))
    }
    rows.append(
      row(
        ["total", "", "", grouped(architecture.parameterCount), trainableText(architecture)], name: "",
        inputs: ""))
    let count = rows[0].count
    let widths = (0..<(count - 1)).map { column in rows.map { $0[column].count }.max() ?? 0 }
    return rows.map { row in
      var cells = (0..<(count - 2)).map { row[$0].padding(toLength: widths[$0], withPad: " ", startingAt: 0) }
      cells.append(String(repeating: " ", count: widths[count - 2] - row[count - 2].count) + row[count - 2])
      cells.append(row[count - 1])
      let line = "  " + cells.joined(separator: "  ")
      return String(line.reversed().drop(while: { $0 == " " }).reversed())
    }
  }

  /// "all trainable", or with layer state the trainable and non-trainable counts (as Keras's summary).
  static func trainableText(_ architecture: Architecture) -> String {
    let trainable = architecture.trainableParameterCount
    guard trainable < architecture.parameterCount else { return "all trainable" }
    return
      "\(grouped(trainable)) trainable, \(grouped(architecture.parameterCount - trainable)) non-trainable (layer state)"
  }

  /// The JSON summary's trainable and non-trainable counts: none unless the model has layer state.
  static func trainableCounts(_ architecture: Architecture) -> [String: Any] {
    let trainable = architecture.trainableParameterCount
    guard trainable < architecture.parameterCount else { return [:] }
    return [
      "trainable_parameters": trainable, "non_trainable_parameters": architecture.parameterCount - trainable,
    ]
  }

  /// `n` with thousands separated by commas: 1,234,567.
  static func grouped(_ n: Int) -> String {
    let digits = String(n.magnitude)
    var result = ""
    for (i, digit) in digits.enumerated() {
      if i > 0 && (digits.count - i) % 3 == 0 { result.append(",") }
      result.append(digit)
    }
    return n < 0 ? "-" + result : result
  }

  /// `value` with every NaN or infinite number replaced by null, as the JSON logs write them.
  ///
  /// JSON has no such numbers and JSONSerialization refuses them (with an
  /// exception text, not an error); a checkpoint can hold them in its
  /// validation history or, crafted, in any float attribute.
  static func finiteJSON(_ value: Any) -> Any {
    switch value {
    case let number as Double: return number.isFinite ? number : NSNull()
    case let array as [Any]: return array.map(finiteJSON)
    case let object as [String: Any]: return object.mapValues(finiteJSON)
    default: return value
    }
  }

  private static func jsonValue(_ value: HyperParameter.Value) -> Any {
    switch value {
    case .number(let number): return number
    case .flag(let flag): return flag
    }
  }
}

extension Inspect {
  /// The model a config describes, before any training: data, layers with their shapes and
  /// parameters, optimizer, and the memory its buffers take at `threads` threads.
  ///
  /// The data is read (or, for streamed files, its header and statistics
  /// pass), since the input shape and the number of classes come from it;
  /// nothing is written.
  public static func run(config path: String, threads: Int, json: Bool) throws(NNBatchError) -> String {
    var config = try Config.load(path: path)
    let data = try DataLoader.prepare(config)
    try config.resolveShortcuts(input: config.networkInput(sample: data.sampleShape))
    let architecture = try config.architecture(input: config.networkInput(sample: data.sampleShape))
    let memory = Trainer.memoryEstimate(
      architecture, config: config, threads: threads, targetColumns: data.train.targetColumns,
      validationRows: data.validation?.count ?? 0)
    let budget = MemoryBudget.current()
    let layers = architecture.layerDescriptions
    let names =
      config.layerNames.count == layers.count && config.layerNames.contains { $0 != nil }
      ? config.layerNames : nil
    let hyper = config.optimizer.hyperParameters
    let validation = data.validation?.count ?? 0
    if json {
      var object: [String: Any] = [
        "config": path, "name": config.name, "task": config.task.rawValue,
        "training_samples": data.train.count, "validation_samples": validation, "labels": data.labels,
        "input_shape": architecture.inputShape.dimensions,
        "layers": zip(layers, architecture.layers).enumerated().map { index, pair in
          let (description, layer) = pair
          var entry: [String: Any] = [
            "kind": description.kind, "input_shape": layer.inputShape.dimensions,
            "output_shape": layer.outputShape.dimensions, "parameters": layer.parameterCount,
          ]
          for setting in description.settings { entry[setting.key] = setting.value.jsonValue }
          if let inputs = architecture.inputNames(ofLayer: index) { entry["input_layers"] = inputs }
          if let name = names?[index] { entry["name"] = name }
          return entry
        },
        "parameters": architecture.parameterCount, "optimizer": config.optimizer.kind.rawValue,
        "hyperparameters": Dictionary(uniqueKeysWithValues: hyper.map { p in (p.name, jsonValue(p.value)) }),
        "threads": threads, "memory_budget_bytes": budget.bytes, "memory_budget_limit": budget.limit,
      ]
      object["model_memory_bytes"] = memory.bytes ?? NSNull()
      return try prettyJSON(object.merging(trainableCounts(architecture)) { $1 })
    }
    var lines: [String] = []
    lines.append("config      \(path) (not trained)")
    var dataLine =
      "data        \(data.train.count) training samples\(validation > 0 ? ", \(validation) validation" : ""), task \(config.task.rawValue)"
    if !data.labels.isEmpty { dataLine += ", \(data.labels.count) classes" }
    if data.stream != nil { dataLine += ", streamed" }
    lines.append(dataLine)
    let kinds = Set(layers.map(\.kind)).sorted().joined(separator: "/")
    lines.append(
      "model       \(layers.count) \(kinds) layers, \(grouped(architecture.parameterCount)) parameters, input \(architecture.inputShape)"
    )
    lines.append(contentsOf: summaryTable(architecture, names: names))
    let settings = settingsText(hyper)
    lines.append("optimizer   \(config.optimizer.kind.rawValue) \(settings.joined(separator: " "))")
    lines.append("loss        \(config.loss.rawValue), batch \(config.batchSize), shard \(config.shardSize)")
    let total = memory.bytes.map(MemoryBudget.format) ?? "more than \(Int.max) bytes"
    let fits = memory.bytes.map { $0 <= budget.bytes } ?? false
    lines.append(
      "memory      \(total) for the model at \(threads) thread\(threads == 1 ? "" : "s") (\(memory.parts)); nnbatch may use \(budget)\(fits ? "" : ": TOO MUCH, training would refuse it")"
    )
    return lines.joined(separator: "\n")
  }
}

extension Inspect {
  /// `object` as pretty-printed JSON with sorted keys, NaN and infinities as null.
  private static func prettyJSON(_ object: [String: Any]) throws(NNBatchError) -> String {
    do {
      let data = try JSONSerialization.data(
        withJSONObject: finiteJSON(object), options: [.prettyPrinted, .sortedKeys])
      return String(decoding: data, as: UTF8.self)
    } catch {
      throw NNBatchError(.failure, "cannot encode JSON: \(error)")
    }
  }

  /// "learning_rate=0.01 momentum=0.9 nesterov=false", as the optimizer line shows them.
  private static func settingsText(_ hyper: [HyperParameter]) -> [String] {
    hyper.map { p in
      if case .number(let value) = p.value { return "\(p.name)=\(format6(value))" }
      return p.description
    }
  }
}

extension Architecture {
  /// The layers layer `index` reads ("input", "layer_2"), for a graph; nil for a chain.
  fileprivate func inputNames(ofLayer index: Int) -> [String]? {
    isChain ? nil : layerInputs[index].map { $0 < 0 ? "input" : "layer_\($0)" }
  }
}
