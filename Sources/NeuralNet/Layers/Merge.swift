// The merge seam: layer kinds that combine the outputs of several layers.
//
// A merge layer takes two or more inputs (named in the layer graph, see
// `Architecture`) and is run by `Network` input by input ("slot" by slot),
// so that no pass needs an array of pointers:
//   forward:  Z = merge(X_0, X_1, ...)   slot 0 writes Z, each later slot adds its part
//             A = f(Z)                   the network applies the activation afterwards
//   backward: dX_s = ∂Z/∂X_s · dZ        per slot, overwritten or added to (when the
//                                        input feeds other layers too: branches sum)
// Merges have no parameters and no scratch.

/// A layer kind that combines several inputs, such as `add` or `concatenate`.
public protocol MergeLayerSpec: LayerSpec {
  /// The layer for inputs of the `inputs` shapes (two or more, in the order they are named:
  /// `Architecture` refuses fewer before it asks).
  func build(inputs: [Shape]) throws(LayerShapeError) -> any MergeLayer
}

extension MergeLayerSpec {
  /// A merge of a single input is refused: it names its inputs in the layer graph.
  public func build(input: Shape, parameterOffset: Int) throws(LayerShapeError) -> any Layer {
    throw LayerShapeError(expected: "two or more inputs (name them in \"inputs\")")
  }
}

/// A built merge layer: how each input enters the output, forward and backward.
public protocol MergeLayer: ParameterFreeLayer {
  /// The shapes of its inputs, in order.
  var inputShapes: [Shape] { get }

  /// Z's part from input `slot`: X_s [rows, inputShapes[s].elements] into Z [rows, output.elements].
  ///
  /// Slot 0 overwrites what it writes of Z, later slots add (add) or write
  /// their own columns (concatenate); the activation is applied afterwards.
  func merge(slot: Int, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, rows: Int)

  /// dX_s [rows, inputShapes[s].elements] from dZ [rows, output.elements]; added to when `accumulate`.
  func split(
    slot: Int, outputGradient: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>,
    rows: Int, accumulate: Bool)
}

extension MergeLayer {
  /// The first input's shape.
  public var inputShape: Shape { inputShapes[0] }
  /// None.
  public var multiplyAdds: Int { 0 }

  /// Not used: `Network` runs a merge slot by slot.
  public func forward(
    parameters: UnsafePointer<Float>, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
    rows: Int, scratch: UnsafeMutablePointer<Float>, context: PassContext
  ) {
    preconditionFailure("a merge layer runs input by input (Network.forward)")
  }

  /// Not used: `Network` runs a merge slot by slot.
  public func backward(
    parameters: UnsafePointer<Float>, input: UnsafePointer<Float>, output: UnsafePointer<Float>,
    outputGradient: UnsafePointer<Float>, rows: Int, gradient: UnsafeMutablePointer<Float>,
    inputGradient: UnsafeMutablePointer<Float>?, scratch: UnsafeMutablePointer<Float>,
    context: PassContext
  ) {
    preconditionFailure("a merge layer runs input by input (Network.lossAndGradient)")
  }
}

/// `target[i] = source[i]`, or `+=` when `accumulate`, for `count` floats (8 lanes at a time).
@inline(__always)
func copyOrAdd(
  _ source: UnsafePointer<Float>, into target: UnsafeMutablePointer<Float>, count: Int, accumulate: Bool
) {
  if accumulate {
    ShortVectors.add(source, to: target, count: count)
  } else {
    ShortVectors.copy(source, to: target, count: count)
  }
}
