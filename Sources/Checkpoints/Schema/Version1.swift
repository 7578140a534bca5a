import Foundation
import HDF5Store
import NNBatchCore
import NeuralNet

// Format version 1 (nnbatch 0.1.0), read only. Its layout:
//
//     /                       attrs: format, format_version = 1, nnbatch_version, created, config,
//                             step, epoch, batch_in_epoch, samples_seen, content_checksum
//     /model                  attrs: bias (0/1), layers
//     /model/layer_i          attrs: activation, inputs, units (dense only); datasets weights, biases
//     /optimizer              attrs: kind, step, hyper-parameters (float64; nesterov 0.0/1.0)
//     /optimizer/<slot>/layer_i/{weights,biases}
//     /history/loss, /history/<series>     float64
//     /state                  attrs (float64): epoch_loss_sum, epoch_samples, best_metric,
//                             best_epoch, stale_epochs; datasets rng, epoch_rng uint64 [4]
//     /data                   attrs: task, labels (JSON), scaling, target_scaling;
//                             datasets scale_shift, scale_factor, target_shift, target_factor
//
// Its content checksum hashes the fields in a fixed order (`Version1Record.checksum`),
// so the file is first read as those fields, verified, then converted.

/// A version 1 file's fields, as that version's checksum sees them.
private struct Version1Record {
  var nnbatchVersion = ""
  var config = ""
  var step = 0
  var epoch = 0
  var batchInEpoch = 0
  var samplesSeen = 0
  var layers: [(activation: String, inputs: Int, units: Int)] = []
  var bias = false
  var parameters: [Float] = []
  var optimizerKind = ""
  var hyperparameters: [String: Double] = [:]
  var optimizerStep = 0
  var optimizerSlots: [String: [Float]] = [:]
  var lossHistory: [Double] = []
  var epochHistory: [String: [Double]] = [:]
  var rngState: [UInt64] = []
  var epochRNGState: [UInt64] = []
  var stateValues: [String: Double] = [:]
  var task = ""
  var labels: [String] = []
  var scaling = ""
  var scaleShift: [Float] = []
  var scaleFactor: [Float] = []
  var targetScaling = ""
  var targetShift: [Float] = []
  var targetFactor: [Float] = []

  /// Weights (and biases) of `group`'s layer_i sub-groups, flat, in the model's shapes.
  func flat(_ group: NodeReader) throws -> [Float] {
    var flat: [Float] = []
    for (index, layer) in layers.enumerated() {
      let stored = try group.group("layer_\(index)")
      flat += try stored.floats("weights", shape: [layer.inputs, layer.units])
      if bias {
        flat += try stored.floats("biases", shape: [layer.units])
      } else if stored.hasDataset("biases") {
        // Version 1 has one flag for the model; a layer holding biases anyway contradicts it.
        throw SchemaError("/model@bias: expected 1 (\(stored.childPath("biases")) holds biases), found 0")
      }
    }
    return flat
  }

  /// The version 1 content checksum: XXH64 of the fields in this order.
  var checksum: UInt64 {
    var h = XXH64()
    h.update(Checkpoint.formatName)
    h.update(nnbatchVersion)
    h.update(config)
    h.update([Int64(step), Int64(epoch), Int64(batchInEpoch), Int64(samplesSeen)])
    h.update([Int64(layers.count), bias ? 1 : 0])
    for layer in layers {
      h.update(layer.activation)
      h.update([Int64(layer.inputs), Int64(layer.units)])
    }
    h.update([Int64(parameters.count)])
    h.update(parameters)
    h.update(optimizerKind)
    for key in hyperparameters.keys.sorted() {
      h.update(key)
      h.update([hyperparameters[key] ?? 0])
    }
    h.update([Int64(optimizerStep)])
    for key in optimizerSlots.keys.sorted() {
      h.update(key)
      let values = optimizerSlots[key] ?? []
      h.update([Int64(values.count)])
      h.update(values)
    }
    h.update([Int64(lossHistory.count)])
    h.update(lossHistory)
    for key in epochHistory.keys.sorted() {
      h.update(key)
      let values = epochHistory[key] ?? []
      h.update([Int64(values.count)])
      h.update(values)
    }
    h.update(rngState)
    h.update(epochRNGState)
    for key in stateValues.keys.sorted() {
      h.update(key)
      h.update([stateValues[key] ?? 0])
    }
    h.update(task)
    h.update([Int64(labels.count)])
    for label in labels { h.update(label) }
    h.update(scaling)
    h.update([Int64(scaleShift.count)])
    h.update(scaleShift)
    h.update(scaleFactor)
    h.update(targetScaling)
    h.update([Int64(targetShift.count)])
    h.update(targetShift)
    h.update(targetFactor)
    return h.finalize()
  }
}

extension Checkpoint {
  /// Reads a version 1 tree: its fields, their checksum, then the typed checkpoint.
  static func decodeVersion1(_ root: NodeReader) throws -> (checkpoint: Checkpoint, checksum: String) {
    var record = Version1Record()
    record.nnbatchVersion = try root.string("nnbatch_version")
    record.config = try root.string("config")
    record.step = try root.counter("step")
    record.epoch = try root.counter("epoch")
    record.batchInEpoch = try root.counter("batch_in_epoch")
    record.samplesSeen = try root.counter("samples_seen")

    // The model: dense layers, one bias setting; read as stored, typed after the checksum.
    let model = try root.group("model")
    record.bias = try model.flag("bias")
    for index in 0..<(try Architecture.layerCount(model)) {
      let group = try model.group("layer_\(index)")
      record.layers.append(
        (try group.string("activation"), try group.int("inputs", min: 1), try group.int("units", min: 1)))
    }
    record.parameters = try record.flat(model)

    let optimizer = try root.group("optimizer")
    record.optimizerKind = try optimizer.string("kind")
    record.optimizerStep = try optimizer.counter("step")
    for name in optimizer.node.attributes.keys where name != "kind" && name != "step" {
      record.hyperparameters[name] = try optimizer.double(name)
    }
    for name in optimizer.node.groups.keys {
      record.optimizerSlots[name] = try record.flat(optimizer.group(name))
    }

    let history = try root.group("history")
    for name in history.node.datasets.keys {
      if name == "loss" {
        record.lossHistory = try history.doubles(name)
      } else {
        record.epochHistory[name] = try history.doubles(name)
      }
    }

    let state = try root.group("state")
    record.rngState = try state.words("rng", count: 4)
    record.epochRNGState = try state.words("epoch_rng", count: 4)
    for name in state.node.attributes.keys {
      record.stateValues[name] = try state.double(name)
    }

    let data = try root.group("data")
    record.task = try data.string("task")
    record.labels = try DataFacts.decodeLabels(data)
    record.scaling = try data.string("scaling")
    record.scaleShift = try data.floatVector("scale_shift")
    record.scaleFactor = try data.floatVector("scale_factor")
    record.targetScaling = try data.string("target_scaling")
    record.targetShift = try data.floatVector("target_shift")
    record.targetFactor = try data.floatVector("target_factor")

    let stored = try root.string("content_checksum")
    let computed = checksumText(record.checksum)
    guard stored == computed else {
      throw SchemaError("content checksum mismatch: file says \(stored), contents hash to \(computed)")
    }

    // Verified: now the typed values, where an unknown name is an error.
    var specs: [any LayerSpec] = []
    var shape = Shape([record.layers[0].inputs])
    for index in record.layers.indices {
      // Version 1 stores dense layers without `kind` or `bias`: the bias is the model's.
      let spec = try LayerSchemas.decode(
        Dense.Spec.declaration, model.group("layer_\(index)"), input: shape,
        known: ["bias": .flag(record.bias)])
      specs.append(spec)
      shape = [Dense.Spec.declaration.values(of: spec).integer("units")]
    }
    let architecture = try Architecture.build(input: [record.layers[0].inputs], specs, model)
    try DataFacts.checkLabels(
      record.labels, outputs: architecture.outputs, path: data.attributePath("labels"))
    let generators = try GeneratorStates.decode(state)
    let counters = try version1Counters(record, state: state)
    let facts = DataFacts(
      task: try data.choice("task", LearningTask.self, what: "task"), labels: record.labels,
      features: try DataFacts.scaler(
        data.choice("scaling", Scaling.self, what: "scaling"), shift: record.scaleShift,
        factor: record.scaleFactor, width: architecture.inputs,
        paths: (data.childPath("scale_shift"), data.childPath("scale_factor")), of: "inputs"),
      targets: try DataFacts.scaler(
        data.choice("target_scaling", Scaling.self, what: "scaling"), shift: record.targetShift,
        factor: record.targetFactor, width: architecture.outputs,
        paths: (data.childPath("target_shift"), data.childPath("target_factor")), of: "outputs"))
    let checkpoint = Checkpoint(
      nnbatchVersion: record.nnbatchVersion, created: try root.string("created"), config: record.config,
      counters: counters, architecture: architecture, parameters: record.parameters,
      optimizer: try OptimizerSnapshot.decode(optimizer, architecture: architecture),
      generator: generators.generator, epochGenerator: generators.epochGenerator,
      lossHistory: record.lossHistory, epochHistory: EpochHistory(series: record.epochHistory), data: facts)
    return (checkpoint, stored)
  }

  /// Version 1 kept the loop's values as float64 attributes of /state under these names.
  private static func version1Counters(_ record: Version1Record, state: NodeReader) throws -> RunCounters {
    // Version 1 wrote the epoch sums in every file, and the best-metric values together.
    func value(_ name: String) throws -> Double {
      guard let value = record.stateValues[name] else {
        throw SchemaError("\(state.attributePath(name)): missing")
      }
      return value
    }
    func whole(_ name: String) throws -> Int {
      let value = try value(name)
      guard value >= 0, value == value.rounded(), value < 0x1p53 else {
        throw SchemaError("\(state.attributePath(name)): expected a whole number ≥ 0, found \(value)")
      }
      return Int(value)
    }
    var counters = RunCounters(
      step: record.step, epoch: record.epoch, batchInEpoch: record.batchInEpoch,
      samplesSeen: record.samplesSeen,
      epochLossSum: try value("epoch_loss_sum"), epochSamples: try whole("epoch_samples"))
    if let value = record.stateValues["best_metric"] {
      counters.best = BestMetric(
        value: value, epoch: try whole("best_epoch"), staleEpochs: try whole("stale_epochs"))
    }
    return counters
  }
}
