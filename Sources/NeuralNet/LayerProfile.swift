// Per-layer timings of one worker's pass: what `tools/profile-layers` prints.
//
// Each layer runs alone, repeatedly, on the buffers a real forward left
// behind (its true input, BN in training mode), so the kernels see the same
// shapes and memory as in training. Shapes: every buffer is [rows, elements
// of the layer's input or output], as in Network.
//   forward          A_l = f(Z_l) from X_l (merges: every slot, then f)
//   backward-weights the parameter gradients alone (inputGradient nil)
//   backward-data    (weights and dX) minus weights-only; merges: their split
//   activation       f'(A_l) ⊙ dA_l, the chain's step between layers
// Times are medians of the repeats, so one descheduled repeat does not count.

import NNBatchCore

/// Medians of one layer's passes on a shard of rows, in seconds.
package struct LayerTiming: Sendable, Hashable {
  /// The layer's index in the architecture.
  package var index: Int
  /// Its kind, such as `conv2d`.
  package var kind: String
  /// Forward multiply-adds per sample (`Layer.multiplyAdds`).
  package var multiplyAdds: Int
  /// Forward pass, activation included.
  package var forward: Double
  /// Parameter gradients alone.
  package var backwardWeights: Double
  /// The input gradient dX (0 for the first layer, which has none).
  package var backwardData: Double
  /// The activation's backward applied to this layer's output gradient (0 for the last layer: the loss fuses it).
  package var activationBackward: Double
}

/// Times every layer of `network` on `rows` rows of random data, `repeats` times each.
///
/// Runs on the calling thread with one workspace, as one training worker
/// does with its shard.
package func profileLayers(
  network: Network, parameters: FloatBuffer, rows: Int, repeats: Int, seed: UInt64 = 1
) -> [LayerTiming] {
  let architecture = network.architecture
  let layers = architecture.layers
  let workspace = Workspace(architecture: architecture, capacity: rows, targetColumns: architecture.outputs)
  var generator = SeededGenerator(seed: seed)
  let input = workspace.input.pointer
  for i in 0..<(rows * architecture.inputs) { input[i] = Float.random(in: 0..<1, using: &generator) }
  let context = PassContext.training(seed: seed, step: 1).with(kernels: workspace.kernels)
  let p = UnsafePointer(parameters.pointer)
  network.forward(parameters: p, input: input, rows: rows, workspace: workspace, context: context)

  // dZ and dX big enough for any layer; gradients in the parameter layout.
  let width = layers.map { max($0.inputShape.elements, $0.outputShape.elements) }.max() ?? 1
  let outputGradient = FloatBuffer(count: rows * width)
  let inputGradient = FloatBuffer(count: rows * width)
  let gradient = FloatBuffer(count: max(1, architecture.parameterCount))
  for i in 0..<(rows * width) { outputGradient.pointer[i] = Float.random(in: -1..<1, using: &generator) }

  func output(of l: Int) -> UnsafePointer<Float> {
    guard l >= 0 else { return UnsafePointer(input) }
    let source = architecture.outputSource[l]
    return source < 0 ? UnsafePointer(input) : UnsafePointer(workspace.activations[source].pointer)
  }
  func median(_ body: () -> Void) -> Double { medianSeconds(repeats: repeats, body) }

  var timings: [LayerTiming] = []
  for (l, layer) in layers.enumerated() {
    var timing = LayerTiming(
      index: l, kind: layer.spec.kind, multiplyAdds: layer.multiplyAdds, forward: 0, backwardWeights: 0,
      backwardData: 0, activationBackward: 0)
    defer { timings.append(timing) }
    if layer.sharesInput { continue }
    let producers = architecture.layerInputs[l]
    let a = workspace.activations[l].pointer
    let scratch = workspace.scratch[l].pointer
    let layerContext = context.forLayer(l)
    if l != layers.count - 1 {
      // Backward of f on a copy of dZ: it works in place.
      let columns = layer.outputShape.elements
      timing.activationBackward = median {
        layer.activation.backward(
          output: UnsafePointer(a), gradient: inputGradient.pointer, rows: rows, columns: columns)
      }
    }
    if let merge = layer as? any MergeLayer {
      timing.forward = median {
        for (slot, producer) in producers.enumerated() {
          merge.merge(slot: slot, input: output(of: producer), output: a, rows: rows)
        }
        merge.activation.forward(a, rows: rows, columns: merge.outputShape.elements)
      }
      timing.backwardData = median {
        for slot in producers.indices {
          merge.split(
            slot: slot, outputGradient: outputGradient.pointer, inputGradient: inputGradient.pointer,
            rows: rows,
            accumulate: slot > 0)
        }
      }
      continue
    }
    let x = output(of: producers[0])
    timing.forward = median {
      layer.forward(
        parameters: p, input: x, output: a, rows: rows, scratch: scratch, context: layerContext)
    }
    timing.backwardWeights = median {
      layer.backward(
        parameters: p, input: x, output: UnsafePointer(a), outputGradient: outputGradient.pointer, rows: rows,
        gradient: gradient.pointer, inputGradient: nil, scratch: scratch, context: layerContext)
    }
    if producers[0] >= 0 {
      let both = median {
        layer.backward(
          parameters: p, input: x, output: UnsafePointer(a), outputGradient: outputGradient.pointer,
          rows: rows,
          gradient: gradient.pointer, inputGradient: inputGradient.pointer, scratch: scratch,
          context: layerContext)
      }
      timing.backwardData = max(0, both - timing.backwardWeights)
    }
  }
  return timings
}
