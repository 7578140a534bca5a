import NNBatchCore
import NeuralNet

// From the data's features to the network's input shape, and the network built on it.
//
//   data.shape (config)  or  the source's own shape (IDX [N, H, W] -> [1, H, W])  or  [features]
//     -> the sample shape, checked against the features
//     -> the network's input: the sample shape, or [features] when the layers start with dense
//        (an MLP on images sees flat pixels, as before shapes existed)

extension Config {
  /// Largest rank `data.shape` may have ([C, H, W]).
  static let maximumShapeRank = 3

  /// Reads `data.shape`: 1 to 3 positive integers, such as [1, 8, 8].
  static func decodeShape(_ d: ObjectReader) -> Shape? {
    guard let items = d.array("shape") else { return nil }
    var dimensions: [Int] = []
    for item in items {
      guard case .number(let value, _, _) = item, item.isInteger, value >= 1, value < 16_777_216
      else {
        d.report(
          "shape", "expected an array of positive integers such as [1, 8, 8], found \(item.summary) in it")
        return nil
      }
      dimensions.append(Int(value))
    }
    guard checkedProduct(dimensions, atMost: 1 << 28) != nil else {
      d.report(
        "shape",
        "expected at most 2^28 values per sample, found \(Shape(dimensions)) (the product overflows or exceeds it)"
      )
      return nil
    }
    guard (1...maximumShapeRank).contains(dimensions.count) else {
      d.report(
        "shape",
        "expected 1 to \(maximumShapeRank) sizes ([features] or [channels, height, width]), found \(dimensions.count)"
      )
      return nil
    }
    return Shape(dimensions)
  }

  /// One sample's shape: `data.shape`, else the source's (`sourceShape`), else [features].
  ///
  /// Throws a usage error naming `$.data.shape` when it does not hold `features` values.
  public func sampleShape(features: Int, sourceShape: Shape?) throws(NNBatchError) -> Shape {
    guard let dataShape else { return sourceShape ?? [features] }
    guard dataShape.elements == features else {
      let product = dataShape.dimensions.map(String.init).joined(separator: "×")
      throw NNBatchError(
        .usage,
        "\(file): $.data.shape: expected the product of \(dataShape) (\(product) = \(dataShape.elements)) to equal the data's \(features) features per sample"
      )
    }
    return dataShape
  }

  /// The network's input for samples of `sample` shape: flat when the first layer that
  /// cares about shapes needs a flat input (an MLP on images), else the sample shape itself.
  public func networkInput(sample: Shape) -> Shape {
    let first = layers.lazy.map { LayerKinds.shapeRule($0.kind) }.first { $0 != .keepsShape }
    return first == .flat ? [sample.elements] : sample
  }

  /// The network of `layers` on `input`; a misfit is one line naming the layer's config path.
  ///
  /// Residual shortcuts are resolved on `input` first (on a copy: call
  /// `resolveShortcuts` to keep `layers` and `layerPaths` in step with the result).
  public func architecture(input: Shape) throws(NNBatchError) -> Architecture {
    if !residualShortcuts.isEmpty {
      var resolved = self
      try resolved.resolveShortcuts(input: input)
      return try resolved.architecture(input: input)
    }
    do {
      return try Architecture(
        input: input, layers: layers, inputs: layerInputs ?? layers.indices.map { [$0 - 1] })
    } catch {
      func path(_ index: Int) -> String {
        index < layerPaths.count ? layerPaths[index] : "$.model.layers[\(index)]"
      }
      switch error {
      case .inputCount(let index, let kind, let found, let expected):
        throw NNBatchError(
          .usage,
          "\(file): \(path(index)).inputs: the \(kind) layer takes \(expected) input\(expected == "one" ? "" : "s"), found \(found)"
        )
      case .merge(let index, let kind, let inputs, let expected):
        let shapes = inputs.map(\.description).joined(separator: ", ")
        throw NNBatchError(
          .usage,
          "\(file): \(path(index)): \(kind) layer cannot merge inputs of shapes \(shapes): expected \(expected)"
        )
      case .unusedOutput(let index):
        throw NNBatchError(
          .usage,
          "\(file): \(path(index)): its output feeds no layer; expected every layer but the last to be an input of a later one (name it in an \"inputs\" list, or remove it)"
        )
      default: break
      }
      guard case .layer(let index, let kind, let shape, let expected) = error else {
        throw NNBatchError(.usage, "\(file): $.model.layers: \(error)")
      }
      let path = path(index)
      var message =
        "\(file): \(path): \(kind) layer cannot take input of shape \(shape): expected \(expected)"
      if shape.rank == 1 && index == 0 && LayerKinds.shapeRule(kind).takesImages {
        message += " (flat data: give one sample's shape as data.shape, such as [1, 8, 8])"
      }
      throw NNBatchError(.usage, message)
    }
  }

  /// Outputs per sample of the network on samples of `sample` shape, or nil when the layers do not fit it.
  public func outputs(sample: Shape) -> Int? {
    var resolved = self
    do {
      try resolved.resolveShortcuts(input: networkInput(sample: sample))
    } catch {
      return nil
    }
    do {
      return try Architecture(
        input: networkInput(sample: sample), layers: resolved.layers,
        inputs: resolved.layerInputs ?? resolved.layers.indices.map { [$0 - 1] }
      ).outputs
    } catch {
      return nil
    }
  }
}

extension Config {
  /// Refuses a run in which a batch_norm layer would normalise a shard holding one value per channel.
  ///
  /// Training normalises each shard with its own statistics; a shard of one
  /// row on a flat input (or a [C, 1, 1] one) has no variance, as PyTorch
  /// refuses a training batch of one. The shards that occur: full ones of
  /// `shard_size`, the last shard of a full batch (batch_size mod
  /// shard_size), and, unless `drop_last`, those of the epoch's short last
  /// batch (`trainingSamples` mod batch_size rows).
  public func requireBatchNormShards(_ architecture: Architecture, trainingSamples: Int) throws(NNBatchError)
  {
    guard
      let index = architecture.layers.firstIndex(where: { ($0 as? BatchNorm)?.positions == 1 })
    else { return }
    let layer = index < layerPaths.count ? layerPaths[index] : "$.model.layers[\(index)]"
    let why =
      "batch_norm at \(layer) normalises each shard with the shard's own statistics, and one row of \(architecture.layers[index].inputShape) has one value per unit: no variance"
    if shardSize == 1 {
      throw NNBatchError(.usage, "\(file): $.training.shard_size: \(why); expected a shard_size ≥ 2, found 1")
    }
    if batchSize % shardSize == 1 {
      throw NNBatchError(
        .usage,
        "\(file): $.training.batch_size: batches of \(batchSize) in shards of \(shardSize) end in a shard of 1 row; \(why); expected batch_size mod shard_size ≠ 1"
      )
    }
    let last = trainingSamples % batchSize
    if !dropLast, last > 0, last == 1 || last % shardSize == 1 {
      throw NNBatchError(
        .usage,
        "\(file): $.training.batch_size: \(trainingSamples) training samples in batches of \(batchSize) (shards of \(shardSize)) leave a last batch of \(last) rows whose last shard has 1 row; \(why); set training.drop_last, or change batch_size or shard_size"
      )
    }
  }
}
