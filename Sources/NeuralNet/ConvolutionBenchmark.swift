// The figures behind the convolution kernel rule (`tools/bench-conv`): each conv2d
// layer's forward, backward-data and backward-weights passes on one shard, single
// thread, through the im2col path and through oneDNN's convolution primitives on
// plain (NCHW/OIHW) and blocked layouts, the blocked ones with their reorders.
// Times are medians of the repeats; the im2col backward-data figure is, as in
// `profileLayers`, (weights and dX) minus weights alone.

import NNBatchCore

/// One pass of one convolution shape, timed on every path, in seconds.
package struct ConvolutionTiming: Sendable, Hashable {
  /// The layer's index in its architecture.
  package var layer: Int
  /// `N×C×H×W → F kh×kw /s pad`.
  package var shape: String
  package var pass: ConvolutionPass
  package var im2col: Double
  /// oneDNN on plain layouts, and the implementation it picked (nil time: no primitive).
  package var plain: Double?
  package var plainImplementation: String
  /// oneDNN on its preferred layouts, reorders included.
  package var blocked: Double?
  package var blockedImplementation: String
  /// Largest |oneDNN plain − im2col| over the pass's output, relative to its largest |value|.
  package var plainDifference: Double
}

/// Times every pass of `layer` on `rows` random rows through each path, `repeats` times each.
package func benchmarkConvolution(layer: Conv2D, index: Int, rows: Int, repeats: Int) -> [ConvolutionTiming] {
  let layer = layer.with(kernel: .im2col)
  let g = layer.geometry
  let filters = layer.spec.filters
  var generator = SeededGenerator(seed: 1)
  func random(_ count: Int) -> FloatBuffer {
    let buffer = FloatBuffer(count: max(count, 1))
    for i in 0..<count { buffer.pointer[i] = Float.random(in: -1..<1, using: &generator) }
    return buffer
  }
  let x = random(rows * g.inputElements)
  // The layer's tensors sit at its offsets in the network's flat parameters.
  let parameters = random(layer.parameters.map { $0.offset + $0.count }.max() ?? 0)
  let dZ = random(rows * filters * g.positions)
  let z = FloatBuffer(count: rows * filters * g.positions)
  let zOneDNN = FloatBuffer(count: rows * filters * g.positions)
  let dX = FloatBuffer(count: rows * g.inputElements)
  let dXOneDNN = FloatBuffer(count: rows * g.inputElements)
  let gradient = FloatBuffer(count: parameters.count)
  let gradientOneDNN = FloatBuffer(count: parameters.count)
  let scratch = FloatBuffer(count: layer.scratchCount(rows: rows))
  let kernels = MatmulKernels()
  let context = PassContext.training(seed: 1, step: 1).with(kernels: kernels)
  let p = UnsafePointer(parameters.pointer)
  let w = UnsafeRawPointer(p + layer.kernel.offset)
  let b = layer.biases.map { UnsafeRawPointer(p + $0.offset) }

  func median(_ body: () -> Void) -> Double { medianSeconds(repeats: repeats, body) }
  func difference(_ a: FloatBuffer, _ b: FloatBuffer, count: Int) -> Double {
    var largest = 0.0
    var scale = 0.0
    for i in 0..<count {
      largest = max(largest, Double(abs(a.pointer[i] - b.pointer[i])))
      scale = max(scale, Double(abs(a.pointer[i])))
    }
    return scale > 0 ? largest / scale : largest
  }

  let forward = median {
    layer.forward(
      parameters: p, input: x.pointer, output: z.pointer, rows: rows, scratch: scratch.pointer,
      context: context)
  }
  let weights = median {
    layer.backward(
      parameters: p, input: x.pointer, output: UnsafePointer(z.pointer), outputGradient: dZ.pointer,
      rows: rows,
      gradient: gradient.pointer, inputGradient: nil, scratch: scratch.pointer, context: context)
  }
  let both = median {
    layer.backward(
      parameters: p, input: x.pointer, output: UnsafePointer(z.pointer), outputGradient: dZ.pointer,
      rows: rows,
      gradient: gradient.pointer, inputGradient: dX.pointer, scratch: scratch.pointer, context: context)
  }
  // The reference outputs: backward reads the last group's col the forward left in scratch.
  layer.forward(
    parameters: p, input: x.pointer, output: z.pointer, rows: rows, scratch: scratch.pointer, context: context
  )
  layer.backward(
    parameters: p, input: x.pointer, output: UnsafePointer(z.pointer), outputGradient: dZ.pointer, rows: rows,
    gradient: gradient.pointer, inputGradient: dX.pointer, scratch: scratch.pointer, context: context)
  let im2col: [ConvolutionPass: Double] = [
    .forward: forward, .backwardWeights: weights, .backwardData: max(0, both - weights),
  ]

  let s = g.strideHeight == 1 && g.strideWidth == 1 ? "" : " /\(g.strideHeight)"
  let shape =
    "\(rows)×\(g.channels)×\(g.height)×\(g.width) → \(filters) \(g.kernelHeight)×\(g.kernelWidth)\(s) \(g.padding.rawValue)"
  return ConvolutionPass.allCases.map { pass in
    var timing = ConvolutionTiming(
      layer: index, shape: shape, pass: pass, im2col: im2col[pass] ?? 0, plain: nil, plainImplementation: "-",
      blocked: nil, blockedImplementation: "-", plainDifference: 0)
    for layout in ConvolutionLayout.allCases {
      let key = ConvolutionKey(
        g, filters: filters, rows: rows, bias: layer.biases != nil, relu: layer.activation == .relu,
        layout: layout, pass: pass)
      guard let convolution = try? DNNLConvolution(key) else { continue }
      let arena = UnsafeMutableRawPointer(
        kernels.floatBuffer(slot: -6, count: (convolution.arenaBytes + 3) / 4))
      let db = layer.biases.map { UnsafeRawPointer(gradientOneDNN.pointer + $0.offset) }
      let run: () -> Void = {
        do {
          switch pass {
          case .forward: try convolution.run(x.pointer, w, zOneDNN.pointer, b, arena: arena)
          case .backwardData: try convolution.run(dZ.pointer, w, dXOneDNN.pointer, nil, arena: arena)
          case .backwardWeights:
            try convolution.run(
              x.pointer, dZ.pointer, gradientOneDNN.pointer + layer.kernel.offset, db, arena: arena)
          }
        } catch {
          fatalError("\(error)")
        }
      }
      let time = median(run)
      if layout == .plain {
        timing.plain = time
        timing.plainImplementation = convolution.implementation
        switch pass {
        case .forward:
          if layer.activation != .relu {
            layer.activation.forward(zOneDNN.pointer, rows: rows, columns: filters * g.positions)
          }
          timing.plainDifference = difference(z, zOneDNN, count: rows * filters * g.positions)
        case .backwardData: timing.plainDifference = difference(dX, dXOneDNN, count: rows * g.inputElements)
        case .backwardWeights:
          timing.plainDifference = difference(gradient, gradientOneDNN, count: gradient.count)
        }
      } else {
        timing.blocked = time
        timing.blockedImplementation = convolution.implementation
      }
    }
    return timing
  }
}
