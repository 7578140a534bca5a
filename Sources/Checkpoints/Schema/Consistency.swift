import Foundation
import NNBatchCore
import NeuralNet

// What the fields of a decoded checkpoint must say about each other. Every
// reader of a checkpoint (inspect, predict, evaluate, export, resume,
// --init-from) goes through `CheckpointFile.read`, which runs these checks
// after decoding either format version, so that no later code does
// arithmetic on, or indexes with, a counter that a crafted file chose.
//
// The relations hold for every file nnbatch writes:
//
// - each counter (/@step, /@epoch, /@batch_in_epoch, /@samples_seen,
//   /optimizer@step, /state@epoch_samples, best_epoch, stale_epochs) is in
//   0...2⁵³−1 (`Checkpoint.maximumCounter`; checked while decoding);
// - /optimizer@step = /@step: one optimizer update per step;
// - /@step ≥ /@epoch + /@batch_in_epoch: every epoch takes at least one step;
// - /@samples_seen ≥ /@step and /state@epoch_samples ≥ /@batch_in_epoch:
//   every step trains on at least one row; /state@epoch_samples ≤
//   /@samples_seen; at an epoch's start (/@batch_in_epoch = 0) both epoch
//   sums are 0;
// - /history/loss has one value per step, /history/train_loss one per epoch,
//   and every other stored epoch series (learning rate, validation) one per
//   epoch too;
// - the best-metric epoch is in 1.../@epoch and its stale epochs at most the
//   epochs since;
// - /data@labels are distinct and non-empty.
//
// Layers' bias flags against their stored tensors are checked where the
// layers are decoded (Layers/, Version1.swift); against the config text in
// `checkBiasAgainstConfig` below.

extension Checkpoint {
  /// The largest value a counter may hold: 2⁵³−1.
  ///
  /// Every count is then exact as a Double (epoch sums, JSON output and
  /// logs hold them as numbers) and leaves 2¹⁰ times its range before an
  /// Int overflows, so the loop's `+ 1`s and sums of counters cannot trap.
  public static let maximumCounter = (1 << 53) - 1

  /// "an integer in 0...2⁵³−1 (9007199254740991)", for messages.
  static let counterRangeText = "an integer in 0...2⁵³−1 (\(maximumCounter))"

  /// Refuses a checkpoint whose fields contradict each other; the error names the HDF5 path.
  ///
  /// `formatVersion` says where the file keeps bias flags (version 1: one `/model@bias`).
  func checkConsistency(formatVersion: Int) throws(SchemaError) {
    let c = counters
    if optimizer.step != c.step {
      throw SchemaError(
        "/optimizer@step: expected \(c.step) (one update per step, /@step), found \(optimizer.step)")
    }
    // Both at most 2⁵³−1: the sum cannot overflow.
    if c.step < c.epoch + c.batchInEpoch {
      throw SchemaError(
        "/@step: expected at least \(c.epoch + c.batchInEpoch) (/@epoch \(c.epoch) + /@batch_in_epoch \(c.batchInEpoch): every epoch takes a step), found \(c.step)"
      )
    }
    if c.samplesSeen < c.step {
      throw SchemaError(
        "/@samples_seen: expected at least \(c.step) (one row per step, /@step), found \(c.samplesSeen)")
    }
    if c.epochSamples < c.batchInEpoch || c.epochSamples > c.samplesSeen {
      throw SchemaError(
        "/state@epoch_samples: expected \(c.batchInEpoch)...\(c.samplesSeen) (at least one row per batch of the epoch, /@batch_in_epoch; at most /@samples_seen), found \(c.epochSamples)"
      )
    }
    if c.batchInEpoch == 0 && (c.epochSamples != 0 || c.epochLossSum != 0) {
      throw SchemaError(
        "/state@epoch_samples: expected 0 and /state@epoch_loss_sum 0 at an epoch's start (/@batch_in_epoch 0), found \(c.epochSamples) and \(c.epochLossSum)"
      )
    }
    if lossHistory.count != c.step {
      throw SchemaError(
        "/history/loss: expected \(c.step) values (one per step, /@step), found \(lossHistory.count)")
    }
    // train_loss is written every epoch; other series are stored only when not empty.
    let series = [("train_loss", epochHistory.trainLoss)] + epochHistory.series.sorted { $0.key < $1.key }
    for (name, values) in series where values.count != c.epoch {
      throw SchemaError(
        "/history/\(name): expected \(c.epoch) values (one per epoch, /@epoch), found \(values.count)")
    }
    if let best = c.best {
      if best.epoch < 1 || best.epoch > c.epoch {
        throw SchemaError(
          "/state@best_epoch: expected an epoch in 1...\(c.epoch) (/@epoch), found \(best.epoch)")
      }
      if best.staleEpochs > c.epoch - best.epoch {
        throw SchemaError(
          "/state@stale_epochs: expected at most \(c.epoch - best.epoch) (epochs since /state@best_epoch \(best.epoch)), found \(best.staleEpochs)"
        )
      }
    }
    var seen: [String: Int] = [:]
    for (index, label) in data.labels.enumerated() {
      if label.isEmpty {
        throw SchemaError("/data@labels: expected non-empty labels, found an empty label at index \(index)")
      }
      if let first = seen[label] {
        throw SchemaError(
          "/data@labels: expected distinct labels, found \(jsonQuoted(label)) at indices \(first) and \(index)"
        )
      }
      seen[label] = index
    }
    try checkBiasAgainstConfig(path: { formatVersion == 1 ? "/model@bias" : "/model/layer_\($0)@bias" })
  }

  /// Refuses a file whose config text (/@config) gives a layer a bias setting its stored layer does not have.
  ///
  /// The config's layers with parameters (dense, the default kind, and
  /// conv2d) are the model's dense and conv2d layers in order (an implied
  /// flatten has none); each has `bias`, else `model.bias`, else true. A
  /// config text that is not such an object is left to the commands that
  /// parse it (resume refuses it; predict and inspect do not need it).
  /// `path` gives the HDF5 path of layer i's flag.
  func checkBiasAgainstConfig(path: (Int) -> String) throws(SchemaError) {
    guard let root = try? JSONParser.parse(config), let model = root["model"],
      let items = model["layers"]?.arrayValue
    else { return }
    let modelBias = model["bias"]?.boolValue ?? true
    // Each layer with parameters the config writes, in order, with its bias; a residual block's
    // projection shortcut (Config+Residual.swift) is optional: it exists only when shapes change.
    func entries(_ items: [JSONValue]) -> [(bias: Bool, optional: Bool)] {
      items.flatMap { item -> [(bias: Bool, optional: Bool)] in
        let kind = item["type"]?.stringValue ?? "dense"
        if kind == "residual" {
          let inner = item["layers"]?.arrayValue ?? []
          let normalized = inner.contains { $0["type"]?.stringValue == "batch_norm" }
          return entries(inner) + [(!normalized && modelBias, true)]
        }
        guard kind == "dense" || kind == "conv2d" else { return [] }
        return [(item["bias"]?.boolValue ?? modelBias, false)]
      }
    }
    let layers = architecture.layers
    let stored = layers.enumerated().compactMap { index, layer -> (Int, Bool)? in
      if let dense = layer.spec as? Dense.Spec { return (index, dense.bias) }
      if let conv = layer.spec as? Conv2D.Spec { return (index, conv.bias) }
      return nil
    }
    // A projection shortcut is the layer an add takes as its second input, directly or through one batch_norm.
    func isShortcut(_ index: Int) -> Bool {
      var end = index
      if end + 1 < layers.count, layers[end + 1] is BatchNorm, architecture.layerInputs[end + 1] == [end] {
        end += 1
      }
      let add = end + 1
      return add < layers.count && layers[add] is Add
        && architecture.layerInputs[add].dropFirst().first == end
    }
    var configured: [(index: Int, wanted: Bool)] = []
    var next = 0
    for entry in entries(items) {
      if entry.optional && !(next < stored.count && isShortcut(stored[next].0)) { continue }
      configured.append((next < stored.count ? stored[next].0 : -1, entry.bias))
      next += 1
    }
    guard configured.count == stored.count else {
      throw SchemaError(
        "/@config: expected \(stored.count) dense and conv2d layers (as /model holds), found \(configured.count) in $.model.layers"
      )
    }
    for ((index, bias), (_, wanted)) in zip(stored, configured) where bias != wanted {
      throw SchemaError(
        "\(path(index)): expected \(wanted ? 1 : 0) (/@config gives layer_\(index) bias \(wanted)), found \(bias ? 1 : 0)"
      )
    }
  }
}
