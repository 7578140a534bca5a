import Foundation
import HDF5Store

/// `nnbatch inspect`: a human (or JSON) summary of a checkpoint.
public enum Inspect {
  /// The summary of checkpoint `path`.
  public static func run(path: String, json: Bool) throws(NNBatchError) -> String {
    let model = try SavedModel.load(path)
    let c = model.checkpoint
    if json {
      let object: [String: Any] = [
        "path": path, "format_version": Checkpoint.formatVersion, "nnbatch_version": c.nnbatchVersion,
        "created": c.created, "step": c.step, "epoch": c.epoch, "batch_in_epoch": c.batchInEpoch,
        "samples_seen": c.samplesSeen, "bias": c.bias,
        "layers": c.layers.map { ["activation": $0.activation, "inputs": $0.inputs, "units": $0.units] },
        "parameters": c.parameters.count, "optimizer": c.optimizerKind, "optimizer_step": c.optimizerStep,
        "hyperparameters": c.hyperparameters, "last_loss": c.lossHistory.last ?? NSNull(),
        "epoch_history": c.epochHistory, "task": c.task, "labels": c.labels, "scaling": c.scaling,
        "config": c.config, "checksum": c.checksumText,
      ]
      do {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        return String(decoding: data, as: UTF8.self)
      } catch {
        throw NNBatchError(.failure, "cannot encode JSON: \(error)")
      }
    }
    var lines: [String] = []
    lines.append("checkpoint  \(path)")
    lines.append(
      "format      \(Checkpoint.formatName) v\(Checkpoint.formatVersion), nnbatch \(c.nnbatchVersion), written \(c.created)"
    )
    lines.append("checksum    \(c.checksumText) (verified)")
    let position =
      c.batchInEpoch == 0
      ? "\(c.epoch) epochs done" : "epoch \(c.epoch + 1) in progress (\(c.batchInEpoch) batches done)"
    lines.append("progress    step \(c.step), \(position), \(c.samplesSeen) samples seen")
    lines.append(
      "model       \(c.layers.count) dense layers, \(c.parameters.count) parameters, bias \(c.bias ? "yes" : "no")"
    )
    for (i, layer) in c.layers.enumerated() {
      lines.append("  layer_\(i)   [\(layer.inputs), \(layer.units)]  \(layer.activation)")
    }
    let hyper = c.hyperparameters.keys.sorted().map { "\($0)=\(format6(c.hyperparameters[$0] ?? 0))" }
    lines.append("optimizer   \(c.optimizerKind) (step \(c.optimizerStep)) \(hyper.joined(separator: " "))")
    lines.append(
      "loss        \(model.config.loss.rawValue), last \(c.lossHistory.last.map(format6) ?? "n/a") over \(c.lossHistory.count) steps"
    )
    for key in c.epochHistory.keys.sorted() {
      if let last = c.epochHistory[key]?.last { lines.append("  \(key)  \(format6(last))") }
    }
    lines.append(
      "data        task \(c.task), scaling \(c.scaling)\(c.labels.isEmpty ? "" : ", labels \(c.labels.joined(separator: ","))")"
    )
    lines.append("config")
    lines.append(
      contentsOf: c.config.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 })
    return lines.joined(separator: "\n")
  }
}
