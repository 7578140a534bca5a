import NNBatchCore

// Concatenate: inputs joined along the sample's first axis (channels of an image, features of a vector).
//
// Notation: B rows; input s has shape [C_s, rest...] with E_s = C_s · |rest| elements.
//   Z [B, Σ E_s]: row b is X_0[b] followed by X_1[b], ...  (so channels stack, C·H·W order kept)
//   A = f(Z)
// Backward: dX_s[b] = the columns of dZ[b] that X_s[b] filled.

/// Its inputs side by side along the first axis of a sample (channels, or features), then an optional activation.
///
/// Every axis but the first must agree: [8, 14, 14] and [4, 14, 14] give [12, 14, 14].
/// `{"type": "concatenate", "inputs": ["a", "b"]}`.
public struct Concatenate: MergeLayer {
  /// A concatenate layer's settings: its activation (linear by default).
  public struct Spec: MergeLayerSpec, ActivationSettingSpec {
    /// The kind's name in configs and checkpoints.
    public static let kind = "concatenate"

    /// The non-linearity applied to the joined output.
    public var activation: Activation

    /// Inputs joined along their first axis, followed by `activation`.
    public init(activation: Activation = .linear) {
      self.activation = activation
    }

    /// The layer on inputs whose shapes agree on every axis but the first.
    public func build(inputs: [Shape]) throws(LayerShapeError) -> any MergeLayer {
      let rest = Array(inputs[0].dimensions.dropFirst())
      guard inputs.allSatisfy({ $0.rank == inputs[0].rank && Array($0.dimensions.dropFirst()) == rest })
      else {
        throw LayerShapeError(
          expected:
            "inputs that differ only in their first axis, found \(inputs.map(\.description).joined(separator: ", "))"
        )
      }
      // Checked here, before `outputShape` multiplies: chained concatenates double a size each time.
      let channels = checkedSum(inputs.map { $0.dimensions[0] })
      guard let channels, checkedProduct([channels] + rest, atMost: 1 << 40) != nil else {
        throw LayerShapeError(expected: "at most 2⁴⁰ values per sample in the joined output")
      }
      return Concatenate(spec: self, inputShapes: inputs)
    }
  }

  /// The settings.
  public let spec: Spec
  /// The inputs' shapes, in order.
  public let inputShapes: [Shape]

  /// [Σ C_s, rest...].
  public var outputShape: Shape {
    var dimensions = inputShapes[0].dimensions
    dimensions[0] = inputShapes.reduce(0) { $0 + $1.dimensions[0] }
    return Shape(dimensions)
  }
  /// The spec's activation.
  public var activation: Activation { spec.activation }

  /// Where input `slot`'s values start in an output row, and how many there are.
  private func columns(ofSlot slot: Int) -> (start: Int, count: Int) {
    let start = inputShapes[..<slot].reduce(0) { $0 + $1.elements }
    return (start, inputShapes[slot].elements)
  }

  /// Z[b, start..<start+E_s] = X_s[b].
  public func merge(slot: Int, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, rows: Int) {
    let (start, count) = columns(ofSlot: slot)
    let width = outputShape.elements
    for r in 0..<rows {
      (output + r * width + start).update(from: input + r * count, count: count)
    }
  }

  /// dX_s[b] = dZ[b, start..<start+E_s], added to when `accumulate`.
  public func split(
    slot: Int, outputGradient: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>,
    rows: Int, accumulate: Bool
  ) {
    let (start, count) = columns(ofSlot: slot)
    let width = outputShape.elements
    for r in 0..<rows {
      copyOrAdd(
        outputGradient + r * width + start, into: inputGradient + r * count, count: count,
        accumulate: accumulate)
    }
  }
}

extension Concatenate.Spec {
  /// The concatenate kind: `{"type": "concatenate", "inputs": [A, B, ...], "activation": NAME}`.
  public static let declaration = activationKind(doc: "The non-linearity applied to the joined output.")
}
