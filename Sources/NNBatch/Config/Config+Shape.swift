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
  public func architecture(input: Shape) throws(NNBatchError) -> Architecture {
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
      if shape.rank == 1 && index == 0 && LayerKinds.shapeRule(kind) == .spatial {
        message += " (flat data: give one sample's shape as data.shape, such as [1, 8, 8])"
      }
      throw NNBatchError(.usage, message)
    }
  }

  /// Outputs per sample of the network on samples of `sample` shape, or nil when the layers do not fit it.
  public func outputs(sample: Shape) -> Int? {
    do {
      return try Architecture(
        input: networkInput(sample: sample), layers: layers,
        inputs: layerInputs ?? layers.indices.map { [$0 - 1] }
      ).outputs
    } catch {
      return nil
    }
  }
}
