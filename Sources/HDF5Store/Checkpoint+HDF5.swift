import Foundation

/// A checkpoint that could not be read or did not verify.
public struct CheckpointError: Error, CustomStringConvertible, Sendable {
  /// The file.
  public let path: String
  /// What is wrong with it.
  public let reason: String

  /// An error about `path`.
  public init(path: String, reason: String) {
    self.path = path
    self.reason = reason
  }

  /// One line: "<path>: <reason>".
  public var description: String { "\(path): \(reason)" }
}

extension Checkpoint {
  /// The checkpoint as the bytes of a sealed HDF5 file, built in memory.
  public func fileImage(name: String) throws -> [UInt8] {
    var bytes = try withHDF5 {
      let file = try HDF5File.createInMemory(name: name, userBlock: FileSeal.userBlockSize)
      do {
        try writeContents(file)
        // The image leaves out the user block; the seal fills it below.
        let bytes = try file.image(prefix: FileSeal.userBlockSize)
        try file.close()
        return bytes
      } catch {
        try? file.close()  // In memory: nothing to lose; the first error is the one to report.
        throw error
      }
    }
    FileSeal.seal(&bytes)
    return bytes
  }

  /// Writes the checkpoint as a new file at `path`, replacing any file there.
  ///
  /// Not durable by itself: `CheckpointStore.save` writes to a temporary
  /// name, fsyncs and renames.
  public func write(to path: String) throws {
    try FileSystem.writeNewFile(path, bytes: fileImage(name: path))
  }

  private func writeContents(_ file: HDF5File) throws {
    let root = try file.root()
    try root.setAttribute("format", Checkpoint.formatName)
    try root.setAttribute("format_version", Checkpoint.formatVersion)
    try root.setAttribute("nnbatch_version", nnbatchVersion)
    try root.setAttribute("created", created)
    try root.setAttribute("config", config)
    try root.setAttribute("step", step)
    try root.setAttribute("epoch", epoch)
    try root.setAttribute("batch_in_epoch", batchInEpoch)
    try root.setAttribute("samples_seen", samplesSeen)
    try root.setAttribute("content_checksum", checksumText)

    let model = try root.createGroup("model")
    try model.setAttribute("bias", bias ? 1 : 0)
    try model.setAttribute("layers", layers.count)
    try writeLayers(parameters, into: model, describe: true)

    let optimizer = try root.createGroup("optimizer")
    try optimizer.setAttribute("kind", optimizerKind)
    try optimizer.setAttribute("step", optimizerStep)
    for key in hyperparameters.keys.sorted() {
      try optimizer.setAttribute(key, hyperparameters[key] ?? 0)
    }
    for key in optimizerSlots.keys.sorted() {
      let slot = try optimizer.createGroup(key)
      try writeLayers(optimizerSlots[key] ?? [], into: slot, describe: false)
    }

    let history = try root.createGroup("history")
    try history.write(lossHistory, shape: [lossHistory.count], name: "loss")
    for key in epochHistory.keys.sorted() {
      let values = epochHistory[key] ?? []
      try history.write(values, shape: [values.count], name: key)
    }

    let state = try root.createGroup("state")
    try state.write(rngState, shape: [rngState.count], name: "rng")
    try state.write(epochRNGState, shape: [epochRNGState.count], name: "epoch_rng")
    for key in stateValues.keys.sorted() {
      try state.setAttribute(key, stateValues[key] ?? 0)
    }

    let data = try root.createGroup("data")
    try data.setAttribute("task", task)
    try data.setAttribute("scaling", scaling)
    let labelsJSON = try JSONSerialization.data(withJSONObject: labels)
    try data.setAttribute("labels", String(decoding: labelsJSON, as: UTF8.self))
    try data.write(scaleShift, shape: [scaleShift.count], name: "scale_shift")
    try data.write(scaleFactor, shape: [scaleFactor.count], name: "scale_factor")
    try data.setAttribute("target_scaling", targetScaling)
    try data.write(targetShift, shape: [targetShift.count], name: "target_shift")
    try data.write(targetFactor, shape: [targetFactor.count], name: "target_factor")
  }

  private func writeLayers(_ flat: [Float], into group: HDF5Group, describe: Bool) throws {
    precondition(flat.count == expectedParameterCount, "flat buffer does not match the layers")
    for (index, (layer, offset)) in zip(layers, offsets).enumerated() {
      let child = try group.createGroup("layer_\(index)")
      if describe {
        try child.setAttribute("activation", layer.activation)
        try child.setAttribute("inputs", layer.inputs)
        try child.setAttribute("units", layer.units)
      }
      let weightCount = layer.inputs * layer.units
      try flat.withUnsafeBufferPointer { all in
        try child.write(
          UnsafeBufferPointer(rebasing: all[offset.weights..<(offset.weights + weightCount)]),
          shape: [layer.inputs, layer.units], name: "weights")
        if let biases = offset.biases {
          try child.write(
            UnsafeBufferPointer(rebasing: all[biases..<(biases + layer.units)]), shape: [layer.units],
            name: "biases")
        }
      }
    }
  }

  /// Reads and verifies the checkpoint at `path`.
  ///
  /// Throws a `CheckpointError` naming what is wrong: not HDF5, damaged
  /// (fletcher32 or metadata checksum), wrong format or version, shapes that
  /// disagree, or a content checksum that does not match.
  public static func read(from path: String) throws -> Checkpoint {
    guard FileSystem.exists(path) else {
      throw CheckpointError(path: path, reason: "no such file")
    }
    // The seal is checked first, so libhdf5 never parses a damaged file.
    try FileSeal.verify(path)
    do {
      return try withHDF5 { try readVerified(path) }
    } catch let error as CheckpointError {
      throw error
    } catch let error as HDF5Error {
      throw CheckpointError(
        path: path, reason: "unreadable or damaged: cannot \(error.operation): \(error.reason)")
    }
  }

  private static func readVerified(_ path: String) throws -> Checkpoint {
    let file = try HDF5File.openForReading(path: path)
    defer { try? file.close() }  // Read-only: nothing to lose on close.
    let root = try file.root()
    guard root.hasAttribute("format"), try root.stringAttribute("format") == formatName else {
      throw CheckpointError(path: path, reason: "not an nnbatch checkpoint (no format=\"\(formatName)\")")
    }
    let version = try root.intAttribute("format_version")
    guard version >= 1 && version <= formatVersion else {
      throw CheckpointError(
        path: path,
        reason: "format version \(version) is not supported (this build reads 1...\(formatVersion))")
    }

    let model = try root.openGroup("model")
    let bias = try model.intAttribute("bias") != 0
    let layerCount = try model.intAttribute("layers")
    guard layerCount > 0 && layerCount < 10_000 else {
      throw CheckpointError(path: path, reason: "implausible layer count \(layerCount)")
    }
    var layers: [Layer] = []
    for index in 0..<layerCount {
      let group = try model.openGroup("layer_\(index)")
      layers.append(
        Layer(
          activation: try group.stringAttribute("activation"),
          inputs: try group.intAttribute("inputs"), units: try group.intAttribute("units")))
    }
    var checkpoint = Checkpoint(
      nnbatchVersion: try root.stringAttribute("nnbatch_version"),
      created: try root.stringAttribute("created"), config: try root.stringAttribute("config"),
      step: try root.intAttribute("step"), epoch: try root.intAttribute("epoch"),
      batchInEpoch: try root.intAttribute("batch_in_epoch"),
      samplesSeen: try root.intAttribute("samples_seen"), layers: layers, bias: bias,
      parameters: [], optimizerKind: "", hyperparameters: [:], optimizerStep: 0,
      optimizerSlots: [:], lossHistory: [], epochHistory: [:], rngState: [],
      epochRNGState: [], stateValues: [:], task: "", labels: [], scaling: "none",
      scaleShift: [], scaleFactor: [])
    checkpoint.parameters = try checkpoint.readLayers(from: model, path: path)

    let optimizer = try root.openGroup("optimizer")
    checkpoint.optimizerKind = try optimizer.stringAttribute("kind")
    checkpoint.optimizerStep = try optimizer.intAttribute("step")
    for name in try optimizer.memberNames() {
      checkpoint.optimizerSlots[name] = try checkpoint.readLayers(
        from: optimizer.openGroup(name), path: path)
    }
    for name in try optimizer.attributeNames() where name != "kind" && name != "step" {
      checkpoint.hyperparameters[name] = try optimizer.doubleAttribute(name)
    }

    let history = try root.openGroup("history")
    for name in try history.memberNames() {
      let (values, shape) = try history.read(Double.self, name: name)
      guard shape.count == 1 else {
        throw CheckpointError(path: path, reason: "/history/\(name) has rank \(shape.count), expected 1")
      }
      if name == "loss" {
        checkpoint.lossHistory = values
      } else {
        checkpoint.epochHistory[name] = values
      }
    }

    let state = try root.openGroup("state")
    checkpoint.rngState = try state.read(UInt64.self, name: "rng").values
    checkpoint.epochRNGState = try state.read(UInt64.self, name: "epoch_rng").values
    for name in try state.attributeNames() {
      checkpoint.stateValues[name] = try state.doubleAttribute(name)
    }

    let data = try root.openGroup("data")
    checkpoint.task = try data.stringAttribute("task")
    checkpoint.scaling = try data.stringAttribute("scaling")
    let labelsText = try data.stringAttribute("labels")
    guard
      let labels = try? JSONSerialization.jsonObject(with: Data(labelsText.utf8)) as? [String]
    else {
      throw CheckpointError(path: path, reason: "/data@labels is not a JSON array of strings")
    }
    checkpoint.labels = labels
    checkpoint.scaleShift = try data.read(Float.self, name: "scale_shift").values
    checkpoint.scaleFactor = try data.read(Float.self, name: "scale_factor").values
    checkpoint.targetScaling = try data.stringAttribute("target_scaling")
    checkpoint.targetShift = try data.read(Float.self, name: "target_shift").values
    checkpoint.targetFactor = try data.read(Float.self, name: "target_factor").values

    let stored = try root.stringAttribute("content_checksum")
    guard stored == checkpoint.checksumText else {
      throw CheckpointError(
        path: path,
        reason: "content checksum mismatch: file says \(stored), contents hash to \(checkpoint.checksumText)")
    }
    return checkpoint
  }

  private func readLayers(from group: HDF5Group, path: String) throws -> [Float] {
    var flat: [Float] = []
    flat.reserveCapacity(expectedParameterCount)
    for (index, layer) in layers.enumerated() {
      let child = try group.openGroup("layer_\(index)")
      let (weights, shape) = try child.read(Float.self, name: "weights")
      guard shape == [layer.inputs, layer.units] else {
        throw CheckpointError(
          path: path,
          reason: "\(child.path)/weights has shape \(shape), expected [\(layer.inputs), \(layer.units)]")
      }
      flat += weights
      if bias {
        let (biases, biasShape) = try child.read(Float.self, name: "biases")
        guard biasShape == [layer.units] else {
          throw CheckpointError(
            path: path, reason: "\(child.path)/biases has shape \(biasShape), expected [\(layer.units)]")
        }
        flat += biases
      }
    }
    return flat
  }
}
