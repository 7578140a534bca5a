import Foundation
import HDF5Store
import NNBatchCore
import NeuralNet

// Format version 2: the whole file.
//
//     /            attrs: format = "nnbatch-checkpoint", format_version = 2, requires,
//                  nnbatch_version, created, config, content_checksum, the
//                  counters of RunState.swift, and (optional, since the
//                  oneDNN kernels) kernel_library and kernel_cpu, and (optional,
//                  with conv2d layers) kernel_convolutions: each conv2d layer's
//                  kernel in layer order, "im2col" or "onednn", comma-separated
//     /model       Model.swift and Layers/*.swift
//     /optimizer   Optimizer.swift
//     /history     History.swift
//     /state       RunState.swift
//     /data        Data.swift
//
// Extending version 2 without a new version number:
//
// - A new layer kind is a new `kind` value under /model/layer_i with its own
//   attributes and tensors (an entry in Layers/). A reader that does not know
//   the kind refuses the file naming /model/layer_i@kind.
// - A new optional entry (an attribute or a dataset or group anywhere) is
//   ignored by readers that do not know it, and still covered by the content
//   checksum, which hashes every entry of the file.
// - An entry that a reader must understand to use the file correctly is
//   named in the root `requires` attribute (comma-separated feature names);
//   readers refuse files that require a feature they do not list in
//   `Checkpoint.understoodRequirements`, naming the feature. Names so far:
//   "layer_state" (a model with non-trainable layer state, see Model.swift),
//   "layer_graph" (a model that is not a chain), "imputation" (features filled
//   by /data/imputation, see Data.swift), "learning_rate_override" (a base
//   learning rate set by a Swift API callback, see RunState.swift),
//   "memory_data" (samples given in memory by the Swift API, described by
//   /data/memory and never stored, see Data.swift).
// - Anything else (moving or changing the meaning of an existing entry)
//   bumps `format_version`; every earlier version stays readable.
//
// Content checksum: XXH64 over every group, dataset and attribute but
// /@created and /@content_checksum, in sorted path order (HDF5Node.digest),
// stored as "xxh64:" and 16 hex digits.

/// Paths the content checksum leaves out: the write time and the checksum itself.
let unchecksummedPaths: Set<String> = ["/@created", "/@content_checksum"]

extension Checkpoint {
  /// The file's tree, with its content checksum.
  package func encode() -> HDF5Node {
    var root = HDF5Node()
    root.set("format", Checkpoint.formatName)
    root.set("format_version", Checkpoint.formatVersion)
    root.set("requires", requirements.joined(separator: ","))
    root.set("nnbatch_version", nnbatchVersion)
    root.set("created", created)
    root.set("config", config)
    if let kernels {
      root.set("kernel_library", kernels.library)
      root.set("kernel_cpu", kernels.cpu)
      if let text = kernels.convolutionsText { root.set("kernel_convolutions", text) }
    }
    var state = counters.encode(root: &root)
    GeneratorStates.encode(generator, epochGenerator, into: &state)
    root.groups["state"] = state
    root.groups["model"] = architecture.encodeModel(parameters: parameters)
    root.groups["optimizer"] = optimizer.encode(architecture)
    root.groups["history"] = epochHistory.encode(loss: lossHistory)
    root.groups["data"] = data.encode()
    Checkpoint.seal(&root)
    return root
  }

  /// Sets (or replaces) the root's content checksum to match the tree.
  package static func seal(_ root: inout HDF5Node) {
    root.set("content_checksum", checksumText(root.digest(excluding: unchecksummedPaths)))
  }

  /// The format version of a file's tree, checked against what this build reads.
  static func version(of root: NodeReader) throws -> Int {
    guard root.has("format"), try root.string("format") == formatName else {
      throw SchemaError("not an nnbatch checkpoint (no format=\"\(formatName)\")")
    }
    let version = try root.int("format_version")
    try checkNotNewer(version)
    guard readableVersions.contains(version) else {
      throw SchemaError(
        "format version \(version) is not a version this build reads (\(readableVersions.lowerBound)...\(readableVersions.upperBound))"
      )
    }
    return version
  }

  /// Refuses a format version newer than this build reads, as a newer-format error.
  static func checkNotNewer(_ version: Int) throws(SchemaError) {
    if version > formatVersion {
      throw SchemaError(
        "format version \(version) is newer than this build reads (\(readableVersions.lowerBound)...\(readableVersions.upperBound)); use a newer nnbatch",
        isNewerFormat: true)
    }
  }

  /// Decodes a version 2 tree after checking what it requires and its content checksum.
  static func decodeVersion2(_ root: NodeReader) throws -> (checkpoint: Checkpoint, checksum: String) {
    let required = try root.string("requires").split(separator: ",").map {
      $0.trimmingCharacters(in: .whitespaces)
    }
    for feature in required where !feature.isEmpty && !understoodRequirements.contains(feature) {
      throw SchemaError(
        "\(root.attributePath("requires")): the file requires \"\(feature)\", which this build does not support; use a newer nnbatch",
        isNewerFormat: true)
    }
    let stored = try root.string("content_checksum")
    let computed = checksumText(root.node.digest(excluding: unchecksummedPaths))
    guard stored == computed else {
      throw SchemaError("content checksum mismatch: file says \(stored), contents hash to \(computed)")
    }
    let state = try root.group("state")
    let (architecture, parameters) = try Architecture.decodeModel(root.group("model"))
    if architecture.hasState && !required.contains(layerStateRequirement) {
      throw SchemaError(
        "\(root.attributePath("requires")): expected \"\(layerStateRequirement)\" (the model has layer state), found \"\(required.joined(separator: ","))\""
      )
    }
    let generators = try GeneratorStates.decode(state)
    let history = try EpochHistory.decode(root.group("history"))
    let checkpoint = Checkpoint(
      nnbatchVersion: try root.string("nnbatch_version"), created: try root.string("created"),
      config: try root.string("config"), counters: try RunCounters.decode(root: root, state: state),
      architecture: architecture, parameters: parameters,
      optimizer: try OptimizerSnapshot.decode(root.group("optimizer"), architecture: architecture),
      generator: generators.generator, epochGenerator: generators.epochGenerator, lossHistory: history.loss,
      epochHistory: history.epochs, data: try DataFacts.decode(root.group("data"), architecture: architecture)
    )
    if checkpoint.data.imputer != nil && !required.contains(imputationRequirement) {
      throw SchemaError(
        "\(root.attributePath("requires")): expected \"\(imputationRequirement)\" (the file has /data/imputation), found \"\(required.joined(separator: ","))\""
      )
    }
    if checkpoint.data.encoder != nil && !required.contains(categoricalRequirement) {
      throw SchemaError(
        "\(root.attributePath("requires")): expected \"\(categoricalRequirement)\" (the file has /data/categorical), found \"\(required.joined(separator: ","))\""
      )
    }
    if checkpoint.data.memory != nil && !required.contains(memoryDataRequirement) {
      throw SchemaError(
        "\(root.attributePath("requires")): expected \"\(memoryDataRequirement)\" (the file has /data/memory), found \"\(required.joined(separator: ","))\""
      )
    }
    var withKernels = checkpoint
    if root.has("kernel_library") {
      withKernels.kernels = KernelProvenance(
        library: try root.string("kernel_library"),
        cpu: root.has("kernel_cpu") ? try root.string("kernel_cpu") : "unknown",
        convolutions: try convolutionKernels(root, architecture: architecture))
    }
    return (withKernels, stored)
  }

  /// `kernel_convolutions`: one known kernel per conv2d layer of `architecture`, or nil when absent.
  static func convolutionKernels(_ root: NodeReader, architecture: Architecture) throws
    -> [ConvolutionKernel]?
  {
    guard root.has("kernel_convolutions") else { return nil }
    let text = try root.string("kernel_convolutions")
    let names = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
    let known = ConvolutionKernel.allCases.map(\.rawValue).joined(separator: ", ")
    var kernels: [ConvolutionKernel] = []
    for name in names {
      guard let kernel = ConvolutionKernel(rawValue: name) else {
        throw SchemaError(
          "\(root.attributePath("kernel_convolutions")): expected kernels among \(known), found \"\(name)\"")
      }
      kernels.append(kernel)
    }
    let expected = architecture.convolutionKernels.count
    guard kernels.count == expected else {
      throw SchemaError(
        "\(root.attributePath("kernel_convolutions")): expected one kernel per conv2d layer (\(expected)), found \(kernels.count) in \"\(text)\""
      )
    }
    return kernels
  }
}
