// Non-trainable layer state (running statistics), next to the trainable parameters.
//
// A layer declares a state tensor among its `parameters` with role `.state`,
// so the state sits in the flat layout: initialised by the layer, saved and
// restored with the other tensors. What differs is who changes it:
//
//   backward   writes the rows' statistic (a sum over rows) at the tensor's
//              range of the gradient buffer, as it writes a gradient
//   reduce     adds the shards' statistics in shard order (unscaled), like
//              gradients; they count towards finiteness, not towards the norm
//   apply      the optimizer steps the trainable ranges only; each state
//              element gets its layer's `updateState` instead
//
// A network without state has one trainable range covering every parameter,
// and the engines run exactly the loops they run without this file.

/// The batch whose statistics `Layer.updateState` merges.
public struct StateBatch: Sendable, Hashable {
  /// Rows in the batch: the statistics are sums over these.
  public var rows: Int
  /// Shards the rows were computed in (each normalises with its own rows).
  public var shards: Int

  /// A batch of `rows` rows in `shards` shards.
  public init(rows: Int, shards: Int) {
    self.rows = rows
    self.shards = shards
  }
}

extension Architecture {
  /// Whether some layer holds non-trainable state.
  public var hasState: Bool {
    layers.contains { layer in layer.parameters.contains(where: \.isState) }
  }

  /// Every state tensor with the index of its layer, in layout order.
  public var stateTensors: [(layer: Int, tensor: ParameterTensor)] {
    layers.enumerated().flatMap { index, layer in
      layer.parameters.filter(\.isState).map { (layer: index, tensor: $0) }
    }
  }

  /// The ranges the optimizer steps: trainable tensors, adjacent ones merged, in layout order.
  ///
  /// Without state this is one range of every parameter (none for a network without parameters).
  public var trainableRanges: [Range<Int>] {
    var ranges: [Range<Int>] = []
    for layer in layers {
      for tensor in layer.parameters where !tensor.isState && tensor.count > 0 {
        if let last = ranges.last, last.upperBound == tensor.offset {
          ranges[ranges.count - 1] = last.lowerBound..<tensor.range.upperBound
        } else {
          ranges.append(tensor.range)
        }
      }
    }
    return ranges
  }

  /// Number of trainable parameters (`parameterCount` less the state).
  public var trainableParameterCount: Int {
    parameterCount - stateTensors.reduce(0) { $0 + $1.tensor.count }
  }
}
