import Foundation
import NeuralNet
import XCTest

/// Conv2D, pooling and flatten: forward against naive references, gradients by central differences, refusals.
final class ConvolutionTests: XCTestCase {
  // MARK: Conv2D

  private func conv(
    _ input: Shape, filters: Int, kernel: Size2D, stride: Size2D = 1, padding: Padding,
    activation: Activation = .tanh, bias: Bool = true, offset: Int = 5
  ) throws -> Conv2D {
    let spec = Conv2D.Spec(
      filters: filters, kernel: kernel, stride: stride, padding: padding, activation: activation, bias: bias)
    return try XCTUnwrap(try spec.build(input: input, parameterOffset: offset) as? Conv2D)
  }

  func testConvShapesTensorsAndCost() throws {
    let layer = try conv([3, 7, 5], filters: 4, kernel: Size2D(3, 2), stride: Size2D(2, 1), padding: .same)
    XCTAssertEqual(layer.kind, "conv2d")
    XCTAssertEqual(layer.outputShape, [4, 4, 5])
    XCTAssertEqual(layer.parameters.map(\.name), ["kernel", "biases"])
    XCTAssertEqual(layer.parameters.map(\.shape), [[4, 3, 3, 2], [4]])
    XCTAssertEqual(layer.parameters.map(\.offset), [5, 5 + 72])
    XCTAssertEqual(layer.multiplyAdds, 4 * 18 * 20)
    XCTAssertEqual(layer.spec.description, "conv2d 4 3×2 stride 2×1 same tanh")
    let valid = try conv(
      [1, 28, 28], filters: 32, kernel: 5, padding: .valid, activation: .relu, bias: false)
    XCTAssertEqual(valid.outputShape, [32, 24, 24])
    XCTAssertEqual(valid.parameters.map(\.name), ["kernel"])
    XCTAssertEqual(valid.spec.description, "conv2d 32 5×5 valid relu no bias")
  }

  func testConvForwardMatchesADirectConvolutionOnOddShapes() throws {
    var g = SeededGenerator(seed: 21)
    let cases: [(Shape, Int, Size2D, Size2D, Padding)] = [
      ([1, 7, 9], 3, 3, 1, .valid),
      ([3, 9, 7], 5, Size2D(3, 5), Size2D(2, 3), .valid),
      ([2, 11, 5], 4, 4, 2, .same),
      ([3, 5, 5], 2, 7, 3, .same),  // the kernel is larger than the image: padding makes it fit
      ([2, 6, 7], 3, Size2D(2, 3), Size2D(1, 2), .same),
      ([1, 1, 1], 2, 1, 1, .valid),
      ([2, 10, 19], 3, 3, 1, .same),  // rows of 19: the 8-float vector copies and their tails
    ]
    for ((input, filters, kernel, stride, padding), (activation, bias)) in product(
      cases, [(Activation.tanh, true), (.relu, true), (.relu, false), (.linear, false)])
    {
      let rows = 3
      let layer = try conv(
        input, filters: filters, kernel: kernel, stride: stride, padding: padding, activation: activation,
        bias: bias)
      let total = 5 + layer.parameterCount
      let parameters = FloatBuffer(count: total)
      for i in 0..<total { parameters[i] = g.nextFloat() - 0.5 }
      let x = FloatBuffer((0..<(rows * input.elements)).map { _ in g.nextFloat() * 2 - 1 })
      let reference = LayerReference.convolution(
        layer, theta: parameters.array.map(Double.init), x: x.array.map(Double.init), rows: rows)
      // im2col with one group for the whole batch, then one or two samples per group, and oneDNN.
      let im2col = layer.with(kernel: .im2col)
      for candidate in [im2col, im2col.grouped(by: 1), im2col.grouped(by: 2), layer.with(kernel: .onednn)] {
        let output = FloatBuffer(count: rows * layer.outputShape.elements)
        let scratch = FloatBuffer(count: candidate.scratchCount(rows: rows))
        candidate.forward(
          parameters: parameters.pointer, input: x.pointer, output: output.pointer, rows: rows,
          scratch: scratch.pointer, context: .inference)
        XCTAssertEqual(reference.count, output.count)
        for i in 0..<output.count {
          XCTAssertEqual(
            Double(output[i]), reference[i], accuracy: 1e-5, "\(layer.spec) on \(input), value \(i)")
        }
      }
    }
  }

  func testSamePaddingPutsTheExtraRowAtTheBottomAndTheExtraColumnOnTheRight() throws {
    // 4×4 image, 2×2 kernel of ones, stride 1: one padding row and column, both after the image.
    let layer = try conv(
      [1, 4, 4], filters: 1, kernel: 2, padding: .same, activation: .linear, bias: false, offset: 0)
    XCTAssertEqual(layer.outputShape, [1, 4, 4])
    let parameters = FloatBuffer([1, 1, 1, 1])
    let x = FloatBuffer((0..<16).map { Float($0) })
    let output = FloatBuffer(count: 16)
    let scratch = FloatBuffer(count: layer.scratchCount(rows: 1))
    layer.forward(
      parameters: parameters.pointer, input: x.pointer, output: output.pointer, rows: 1,
      scratch: scratch.pointer,
      context: .inference)
    XCTAssertEqual(output[0], 0 + 1 + 4 + 5, "no padding above or left")
    XCTAssertEqual(output[3], 3 + 7, "the right column sees padding")
    XCTAssertEqual(output[12], 12 + 13, "the bottom row sees padding")
    XCTAssertEqual(output[15], 15, "the corner sees only itself")
    // 5 wide, kernel 4, stride 2: out 3, padding 3 = 1 left + 2 right.
    let strided = try conv([1, 1, 5], filters: 1, kernel: Size2D(1, 4), stride: 2, padding: .same, offset: 0)
    XCTAssertEqual(strided.outputShape, [1, 1, 3])
  }

  func testConvGradients() throws {
    // stride 1 and 2, same and valid, odd kernels and images, several channels, with and without bias.
    let cases: [(Shape, Int, Size2D, Size2D, Padding, Activation, Bool)] = [
      ([2, 5, 7], 3, 3, 1, .valid, .tanh, true),
      ([3, 7, 5], 2, Size2D(3, 2), 2, .same, .sigmoid, false),
      ([1, 9, 7], 4, 3, 2, .valid, .relu, true),
      ([2, 5, 6], 2, 4, Size2D(1, 2), .same, .linear, true),
      ([3, 5, 5], 3, 5, 1, .same, .leakyRelu, false),
      ([2, 4, 3], 1, 3, 3, .same, .tanh, true),
      ([1, 3, 12], 2, 3, 1, .same, .tanh, true),  // rows of 12: vector adds in col2im
    ]
    var seed: UInt64 = 4000
    for (input, filters, kernel, stride, padding, activation, bias) in cases {
      let layer = try conv(
        input, filters: filters, kernel: kernel, stride: stride, padding: padding, activation: activation,
        bias: bias)
      let im2col = layer.with(kernel: .im2col)
      for candidate in [im2col, im2col.grouped(by: 2), layer.with(kernel: .onednn)] {
        seed += 1
        LayerReference.checkGradients(
          candidate, rows: 3, seed: seed, what: "\(layer.spec) on \(input) by \(candidate.convolutionKernel)")
      }
    }
  }

  /// Forward, backward-data and backward-weights of every kernel path against the direct convolution in Double.
  func testEveryKernelPathMatchesTheDirectConvolutionInAllThreePasses() throws {
    var g = SeededGenerator(seed: 77)
    let cases: [(Shape, Int, Size2D, Size2D, Padding, Activation, Bool, Int)] = [
      ([1, 7, 9], 3, 3, 1, .valid, .relu, true, 3),
      ([3, 9, 7], 5, Size2D(3, 5), Size2D(2, 3), .valid, .linear, true, 2),
      ([5, 11, 5], 7, 4, 2, .same, .tanh, false, 3),  // even kernel: one more padding row below
      ([3, 5, 5], 2, 7, 3, .same, .relu, true, 1),  // the kernel is larger than the image
      ([2, 6, 7], 3, Size2D(2, 3), Size2D(1, 2), .same, .linear, true, 4),
      ([17, 6, 6], 9, 1, 2, .valid, .linear, false, 3),  // a 1×1 stride-2 projection
      ([16, 8, 8], 32, 3, 2, .same, .relu, false, 5),  // resnet-small's stride-2 convolution
      ([32, 12, 12], 64, 5, 1, .valid, .relu, true, 2),  // LeNet's second convolution
      ([1, 1, 1], 2, 1, 1, .valid, .relu, true, 1),
    ]
    for (input, filters, kernel, stride, padding, activation, bias, rows) in cases {
      let layer = try conv(
        input, filters: filters, kernel: kernel, stride: stride, padding: padding, activation: activation,
        bias: bias)
      let total = 5 + layer.parameterCount
      let theta = (0..<total).map { _ in g.nextFloat() - 0.5 }
      let x = (0..<(rows * input.elements)).map { _ in g.nextFloat() * 2 - 1 }
      let dZ = (0..<(rows * layer.outputShape.elements)).map { _ in g.nextFloat() * 2 - 1 }
      let reference = LayerReference.convolution(
        layer, theta: theta.map(Double.init), x: x.map(Double.init), rows: rows)
      let (dX, dTheta) = Self.directBackward(layer, theta: theta, x: x, dZ: dZ, rows: rows)
      for kernelPath in ConvolutionKernel.allCases {
        let candidate = layer.with(kernel: kernelPath)
        let what = "\(layer.spec) on \(input) × \(rows) by \(kernelPath)"
        let parameters = FloatBuffer(theta)
        let output = FloatBuffer(count: rows * layer.outputShape.elements)
        let scratch = FloatBuffer(count: candidate.scratchCount(rows: rows))
        let input = FloatBuffer(x)
        candidate.forward(
          parameters: parameters.pointer, input: input.pointer, output: output.pointer, rows: rows,
          scratch: scratch.pointer, context: .inference)
        Self.assertClose(output.array, reference, what: "\(what): forward")
        let gradient = FloatBuffer([Float](repeating: 99, count: total))
        let inputGradient = FloatBuffer([Float](repeating: 99, count: rows * layer.inputShape.elements))
        let outputGradient = FloatBuffer(dZ)
        candidate.backward(
          parameters: parameters.pointer, input: input.pointer, output: output.pointer,
          outputGradient: outputGradient.pointer, rows: rows, gradient: gradient.pointer,
          inputGradient: inputGradient.pointer, scratch: scratch.pointer, context: .inference)
        Self.assertClose(inputGradient.array, dX, what: "\(what): backward data")
        let own = layer.parameters.map(\.range).reduce(into: Set<Int>()) { $0.formUnion($1) }
        for p in 0..<total where !own.contains(p) {
          XCTAssertEqual(gradient[p], 99, "\(what): parameter \(p) is not the layer's")
        }
        Self.assertClose(
          own.sorted().map { gradient[$0] }, own.sorted().map { dTheta[$0] },
          what: "\(what): backward weights")
        // Weights alone (no dX asked), after a fresh forward (im2col's backward reads the
        // last group's col the forward left in scratch): the same parameter gradient.
        candidate.forward(
          parameters: parameters.pointer, input: input.pointer, output: output.pointer, rows: rows,
          scratch: scratch.pointer, context: .inference)
        let weightsOnly = FloatBuffer(count: total)
        candidate.backward(
          parameters: parameters.pointer, input: input.pointer, output: output.pointer,
          outputGradient: outputGradient.pointer, rows: rows, gradient: weightsOnly.pointer,
          inputGradient: nil,
          scratch: scratch.pointer, context: .inference)
        Self.assertClose(
          own.sorted().map { weightsOnly[$0] }, own.sorted().map { dTheta[$0] },
          what: "\(what): backward weights without dX")
      }
    }
  }

  /// dX, and dW, db at their offsets in a flat vector of `theta`'s size, from dZ (the gradient before the activation).
  static func directBackward(_ layer: Conv2D, theta: [Float], x: [Float], dZ: [Float], rows: Int) -> (
    [Double], [Double]
  ) {
    let spec = layer.spec
    let (c, h, w) = (
      layer.inputShape.dimensions[0], layer.inputShape.dimensions[1], layer.inputShape.dimensions[2]
    )
    let (kh, kw) = (spec.kernel.height, spec.kernel.width)
    let (oh, top) = LayerReference.axis(h, kernel: kh, stride: spec.stride.height, padding: spec.padding)
    let (ow, left) = LayerReference.axis(w, kernel: kw, stride: spec.stride.width, padding: spec.padding)
    let f = spec.filters
    let tensors = Dictionary(uniqueKeysWithValues: layer.parameters.map { ($0.name, $0) })
    let kernel = tensors["kernel"]!
    var dX = [Double](repeating: 0, count: rows * c * h * w)
    var dTheta = [Double](repeating: 0, count: theta.count)
    for n in 0..<rows {
      for filter in 0..<f {
        for y in 0..<oh {
          for xo in 0..<ow {
            let g = Double(dZ[((n * f + filter) * oh + y) * ow + xo])
            if let biases = tensors["biases"] { dTheta[biases.offset + filter] += g }
            for channel in 0..<c {
              for i in 0..<kh {
                for j in 0..<kw {
                  let ih = y * spec.stride.height + i - top
                  let iw = xo * spec.stride.width + j - left
                  guard ih >= 0, ih < h, iw >= 0, iw < w else { continue }
                  let wIndex = kernel.offset + ((filter * c + channel) * kh + i) * kw + j
                  let xIndex = ((n * c + channel) * h + ih) * w + iw
                  dX[xIndex] += g * Double(theta[wIndex])
                  dTheta[wIndex] += g * Double(x[xIndex])
                }
              }
            }
          }
        }
      }
    }
    return (dX, dTheta)
  }

  /// Each value within 1e-5 of the largest |reference| (f32 sums in another order).
  static func assertClose(
    _ values: [Float], _ reference: [Double], what: String, file: StaticString = #filePath, line: UInt = #line
  ) {
    XCTAssertEqual(values.count, reference.count, what, file: file, line: line)
    let scale = max(1, reference.map(abs).max() ?? 0)
    var failures = 0
    for (index, (value, expected)) in zip(values, reference).enumerated()
    where abs(Double(value) - expected) > 1e-5 * scale && failures < 3 {
      failures += 1
      XCTFail("\(what): value \(index) is \(value), expected \(expected)", file: file, line: line)
    }
  }

  /// A worker makes each oneDNN primitive once (per pass and row count) and reuses it every step after.
  func testOneDNNPrimitivesAreMadeOncePerWorkerAndReused() throws {
    let layer = try conv([3, 9, 9], filters: 8, kernel: 3, padding: .same, activation: .relu).with(
      kernel: .onednn)
    let kernels = MatmulKernels()
    let context = PassContext.training(seed: 1, step: 0).with(kernels: kernels)
    let parameters = FloatBuffer(count: 5 + layer.parameterCount)
    let gradient = FloatBuffer(count: 5 + layer.parameterCount)
    let x = FloatBuffer(count: 4 * layer.inputShape.elements)
    let output = FloatBuffer(count: 4 * layer.outputShape.elements)
    let dX = FloatBuffer(count: 4 * layer.inputShape.elements)
    let scratch = FloatBuffer(count: layer.scratchCount(rows: 4))
    var first: [Float] = []
    for step in 0..<3 {
      for rows in [4, 3] {  // a full shard, then a short last one
        layer.forward(
          parameters: parameters.pointer, input: x.pointer, output: output.pointer, rows: rows,
          scratch: scratch.pointer, context: context)
        layer.backward(
          parameters: parameters.pointer, input: x.pointer, output: output.pointer,
          outputGradient: output.pointer,
          rows: rows, gradient: gradient.pointer, inputGradient: dX.pointer, scratch: scratch.pointer,
          context: context)
      }
      XCTAssertEqual(kernels.convolutionCount, 6, "three passes × two row counts, made on the first step")
      if step == 0 { first = gradient.array } else { XCTAssertEqual(gradient.array, first, "the same bits") }
    }
    XCTAssertFalse(kernels.convolutionImplementations.isEmpty)
    XCTAssertEqual(kernels.primitiveCount, 0, "no matmul: the convolution runs on its own primitives")
  }

  /// LeNet's second convolution on oneDNN: its backward-data pass reads the blocked dZ its
  /// backward-weights pass made (one reorder, not two), and dX is the one a separate pass gives.
  func testABackwardReordersItsOutputGradientOnceForBothPasses() throws {
    let layer = try conv([32, 12, 12], filters: 64, kernel: 5, padding: .valid, activation: .relu).with(
      kernel: .onednn)
    let rows = 64  // the shard LeNet runs: oneDNN picks layouts by the minibatch too
    var g = SeededGenerator(seed: 31)
    let x = FloatBuffer((0..<(rows * layer.inputShape.elements)).map { _ in g.nextFloat() - 0.5 })
    let parameters = FloatBuffer((0..<(5 + layer.parameterCount)).map { _ in (g.nextFloat() - 0.5) / 8 })
    let dZ = FloatBuffer((0..<(rows * layer.outputShape.elements)).map { _ in g.nextFloat() - 0.5 })
    let scratch = FloatBuffer(count: layer.scratchCount(rows: rows))
    let kernels = MatmulKernels()
    let context = PassContext.training(seed: 1, step: 0).with(kernels: kernels)
    let gradient = FloatBuffer(count: 5 + layer.parameterCount)
    let dX = FloatBuffer(count: x.count)
    layer.backward(
      parameters: parameters.pointer, input: x.pointer, output: dZ.pointer, outputGradient: dZ.pointer,
      rows: rows, gradient: gradient.pointer, inputGradient: dX.pointer, scratch: scratch.pointer,
      context: context)
    guard kernels.convolutionImplementations.allSatisfy({ $0.hasPrefix("jit") }) else {
      throw XCTSkip("oneDNN runs \(kernels.convolutionImplementations) here, not its blocked jit kernels")
    }
    XCTAssertEqual(kernels.sharedDiffDstCount, 1)
    // The same pass alone (its own reorder of dZ) gives the same bits.
    let alone = MatmulKernels()
    let dXAlone = FloatBuffer(count: x.count)
    alone.runConvolution(
      layer.key(rows: rows, pass: .backwardData), dZ.pointer, parameters.pointer + 5, dXAlone.pointer, nil)
    XCTAssertEqual(alone.sharedDiffDstCount, 0)
    XCTAssertEqual(dX.array.map(\.bitPattern), dXAlone.array.map(\.bitPattern))
  }

  func testTheKernelRuleFollowsTheMeasuredTable() throws {
    func rule(_ size: Int, by other: Int? = nil, channels: Int = 32, on isa: String) -> ConvolutionKernel {
      ConvolutionKernel.rule(kernelHeight: size, kernelWidth: other ?? size, channels: channels, isa: isa)
    }
    // docs/convolution-kernels.md: oneDNN's blocked kernels won every measured shape on AVX-512.
    for isa in ["avx512_core", "avx512_core_bf16", "avx512_core_amx"] {
      for size in [1, 3, 5] {
        XCTAssertEqual(rule(size, on: isa), .onednn, isa)
        XCTAssertEqual(rule(size, channels: 1, on: isa), .onednn, "\(isa): a first layer too")
      }
      XCTAssertEqual(rule(7, on: isa), .im2col, "unmeasured")
      XCTAssertEqual(rule(3, by: 5, on: isa), .im2col, "unmeasured")
    }
    // On AVX2 only 3×3 layers of 16 channels or more won.
    for isa in ["avx2", "avx2_vnni"] {
      XCTAssertEqual(rule(3, channels: 16, on: isa), .onednn, isa)
      XCTAssertEqual(rule(3, channels: 64, on: isa), .onednn, isa)
      XCTAssertEqual(rule(3, channels: 1, on: isa), .im2col, "\(isa): a one-channel first layer lost")
      XCTAssertEqual(rule(3, channels: 8, on: isa), .im2col, "\(isa): unmeasured")
      XCTAssertEqual(rule(5, on: isa), .im2col, "\(isa): 5×5 tied")
      XCTAssertEqual(rule(1, on: isa), .im2col, "\(isa): 1×1 lost")
    }
    for size in [1, 3, 5] { XCTAssertEqual(rule(size, on: "sse41"), .im2col, "no figures") }
    // A built layer takes the rule's choice for this CPU.
    let layer = try conv([32, 12, 12], filters: 64, kernel: 5, padding: .valid, activation: .relu)
    XCTAssertEqual(
      layer.convolutionKernel, ConvolutionKernel.rule(kernelHeight: 5, kernelWidth: 5, channels: 32))
    XCTAssertEqual(layer.with(kernel: .im2col).convolutionKernel, .im2col)
  }

  func testConvIsGroupedToKeepItsColumnBufferSmall() throws {
    // LeNet's convolutions at 64 rows: groups of 3 and 2 samples, scratch for one group only.
    let first = try conv([1, 28, 28], filters: 32, kernel: 5, padding: .valid, activation: .relu)
    let second = try conv([32, 12, 12], filters: 64, kernel: 5, padding: .valid, activation: .relu)
    XCTAssertEqual(first.groupSize, 3)
    XCTAssertEqual(first.scratchCount(rows: 64), (25 + 32) * 3 * 576)
    XCTAssertEqual(second.groupSize, 2)
    XCTAssertEqual(second.scratchCount(rows: 64), (800 + 64) * 2 * 64)
    XCTAssertEqual(second.scratchCount(rows: 1), (800 + 64) * 64)
  }

  func testConvRefusals() {
    func message(_ input: Shape, _ spec: any LayerSpec) -> String {
      do {
        _ = try Architecture(input: input, layers: [spec])
        return "built"
      } catch {
        return "\(error)"
      }
    }
    XCTAssertEqual(
      message([1, 4, 4], Conv2D.Spec(filters: 2, kernel: 5, activation: .relu)),
      "layer 0 (conv2d) cannot take input of shape [1, 4, 4]: expected a kernel no larger than the input's 4×4 (valid padding), found 5×5"
    )
    XCTAssertEqual(
      message([1, 4, 4], Conv2D.Spec(filters: 2, kernel: 3, stride: Size2D(0, 1), activation: .relu)),
      "layer 0 (conv2d) cannot take input of shape [1, 4, 4]: expected a stride of at least 1×1, found 0×1")
    XCTAssertEqual(
      message([1, 4, 4], Conv2D.Spec(filters: 0, kernel: 3, activation: .relu)),
      "layer 0 (conv2d) cannot take input of shape [1, 4, 4]: expected filters ≥ 1, found 0")
    XCTAssertEqual(
      message([1, 4, 4], Conv2D.Spec(filters: 1, kernel: Size2D(0, 2), activation: .relu)),
      "layer 0 (conv2d) cannot take input of shape [1, 4, 4]: expected a kernel of at least 1×1, found 0×2")
    XCTAssertEqual(
      message([16], Conv2D.Spec(filters: 1, kernel: 3, activation: .relu)),
      "layer 0 (conv2d) cannot take input of shape [16]: expected an image [channels, height, width] (rank 3), found rank 1; a spatial layer like conv2d cannot follow a flatten, dense or global pooling layer"
    )
    XCTAssertEqual(
      message([4, 4], Conv2D.Spec(filters: 1, kernel: 3, activation: .relu)),
      "layer 0 (conv2d) cannot take input of shape [4, 4]: expected an image [channels, height, width] (rank 3), found rank 2; a single-channel image is [1, height, width]"
    )
  }

  // MARK: Pooling

  func testPoolingForwardGradientsAndShapes() throws {
    var seed: UInt64 = 4100
    let cases: [(Shape, Size2D, Size2D?)] = [
      ([2, 6, 6], 2, nil),
      ([3, 7, 5], Size2D(3, 2), nil),  // trailing row and column unused
      ([2, 5, 7], 3, Size2D(1, 2)),  // overlapping windows
      ([1, 4, 4], 4, nil),
    ]
    for (input, size, stride) in cases {
      for spec in [MaxPool2D.Spec(size: size, stride: stride), AvgPool2D.Spec(size: size, stride: stride)]
        as [any LayerSpec]
      {
        seed += 1
        let layer = try spec.build(input: input, parameterOffset: 0)
        let s = stride ?? size
        XCTAssertEqual(
          layer.outputShape,
          [
            input.dimensions[0], (input.dimensions[1] - size.height) / s.height + 1,
            (input.dimensions[2] - size.width) / s.width + 1,
          ])
        XCTAssertEqual(layer.parameterCount, 0)
        LayerReference.checkGradients(layer, rows: 2, seed: seed, what: "\(spec) on \(input)")
      }
    }
    XCTAssertEqual(MaxPool2D.Spec(size: 2).description, "max_pool2d 2×2")
    XCTAssertEqual(AvgPool2D.Spec(size: 3, stride: 1).description, "avg_pool2d 3×3 stride 1×1")
  }

  /// 2×2 stride-2 max pooling runs eight windows per vector: on rows of 8, 16 and 18 windows
  /// (a remainder for the scalar loop) and values full of ties, the maxima and the recorded
  /// first maxima are those a plain scan in row-major order gives.
  func testPairedMaxPoolMatchesAPlainScanWithTies() throws {
    var g = SeededGenerator(seed: 77)
    for input: Shape in [
      [2, 4, 16], [3, 6, 37], [1, 5, 32], [2, 2, 2], [2, 8, 8], [1, 24, 24], [1, 4, 26],
    ] {
      let layer = try MaxPool2D.Spec(size: 2).build(input: input, parameterOffset: 0)
      let (c, h, w) = (input.dimensions[0], input.dimensions[1], input.dimensions[2])
      let (oh, ow) = (h / 2, w / 2)
      let rows = 2
      let x = FloatBuffer((0..<(rows * c * h * w)).map { _ in Float(g.nextIndex(below: 3)) - 1 })
      let output = FloatBuffer(count: rows * c * oh * ow)
      let scratch = FloatBuffer(count: layer.scratchCount(rows: rows))
      let none = FloatBuffer(count: 1)
      layer.forward(
        parameters: none.pointer, input: x.pointer, output: output.pointer, rows: rows,
        scratch: scratch.pointer, context: .inference)
      for plane in 0..<(rows * c) {
        for i in 0..<oh {
          for j in 0..<ow {
            var best = 2 * i * w + 2 * j
            for candidate in [best + 1, best + w, best + w + 1]
            where x[plane * h * w + candidate] > x[plane * h * w + best] {
              best = candidate
            }
            let o = (plane * oh + i) * ow + j
            XCTAssertEqual(output[o], x[plane * h * w + best], "\(input) plane \(plane) window \(i), \(j)")
            XCTAssertEqual(scratch[o], Float(best), "\(input) plane \(plane) window \(i), \(j)")
          }
        }
      }
      // Backward: each window's gradient at its recorded maximum, zero elsewhere (also
      // the trailing row or column no window covers), a -0 gradient arriving as +0.
      let dA = FloatBuffer((0..<output.count).map { $0 % 5 == 0 ? -0.0 : Float($0 % 7) - 3 })
      let dX = FloatBuffer((0..<x.count).map { _ in Float(99) })
      layer.backward(
        parameters: none.pointer, input: x.pointer, output: output.pointer, outputGradient: dA.pointer,
        rows: rows, gradient: none.pointer, inputGradient: dX.pointer, scratch: scratch.pointer,
        context: .inference)
      var expected = [Float](repeating: 0, count: x.count)
      for plane in 0..<(rows * c) {
        for o in 0..<(oh * ow) {
          expected[plane * h * w + Int(scratch[plane * oh * ow + o])] += dA[plane * oh * ow + o]
        }
      }
      XCTAssertEqual(dX.array.map(\.bitPattern), expected.map(\.bitPattern), "\(input) backward")
    }
  }

  func testMaxPoolTiesGiveTheGradientToTheFirstMaximumInRowMajorOrder() throws {
    let layer = try MaxPool2D.Spec(size: 2).build(input: [1, 2, 4], parameterOffset: 0)
    // Window 0: [[1, 3], [3, 0]] (tie between (0, 1) and (1, 0)); window 1: [[2, 2], [2, 2]].
    let x = FloatBuffer([1, 3, 2, 2, 3, 0, 2, 2])
    let output = FloatBuffer(count: 2)
    let none = FloatBuffer(count: 1)
    let scratch = FloatBuffer(count: layer.scratchCount(rows: 1))
    XCTAssertEqual(scratch.count, 2, "one argmax per output")
    layer.forward(
      parameters: none.pointer, input: x.pointer, output: output.pointer, rows: 1, scratch: scratch.pointer,
      context: .inference)
    XCTAssertEqual(output.array, [3, 2])
    let dA = FloatBuffer([10, 20])
    let dX = FloatBuffer(count: 8)
    layer.backward(
      parameters: none.pointer, input: x.pointer, output: output.pointer, outputGradient: dA.pointer, rows: 1,
      gradient: none.pointer, inputGradient: dX.pointer, scratch: scratch.pointer, context: .inference)
    XCTAssertEqual(dX.array, [0, 10, 20, 0, 0, 0, 0, 0])

    // Any other window goes through the general loop, with the same rule: 2×3, three 5s.
    let wide = try MaxPool2D.Spec(size: Size2D(2, 3)).build(input: [1, 2, 3], parameterOffset: 0)
    let y = FloatBuffer([1, 5, 2, 5, 0, 5])
    let one = FloatBuffer(count: 1)
    let wideScratch = FloatBuffer(count: wide.scratchCount(rows: 1))
    wide.forward(
      parameters: none.pointer, input: y.pointer, output: one.pointer, rows: 1, scratch: wideScratch.pointer,
      context: .inference)
    XCTAssertEqual(one[0], 5)
    let dY = FloatBuffer(count: 6)
    let seven = FloatBuffer([7])
    wide.backward(
      parameters: none.pointer, input: y.pointer, output: one.pointer,
      outputGradient: seven.pointer,
      rows: 1, gradient: none.pointer, inputGradient: dY.pointer, scratch: wideScratch.pointer,
      context: .inference)
    XCTAssertEqual(dY.array, [0, 7, 0, 0, 0, 0])
  }

  func testPoolRefusals() {
    func message(_ input: Shape, _ spec: any LayerSpec) -> String {
      do {
        _ = try Architecture(input: input, layers: [spec])
        return "built"
      } catch {
        return "\(error)"
      }
    }
    XCTAssertEqual(
      message([2, 3, 5], MaxPool2D.Spec(size: 4)),
      "layer 0 (max_pool2d) cannot take input of shape [2, 3, 5]: expected a pool window that fits the input's 3×5 (valid windows only), found 4×4"
    )
    XCTAssertEqual(
      message([2, 3, 5], AvgPool2D.Spec(size: 2, stride: Size2D(1, 0))),
      "layer 0 (avg_pool2d) cannot take input of shape [2, 3, 5]: expected a stride of at least 1×1, found 1×0"
    )
    XCTAssertEqual(
      message([2, 3, 5], MaxPool2D.Spec(size: Size2D(0, 1))),
      "layer 0 (max_pool2d) cannot take input of shape [2, 3, 5]: expected a pool size of at least 1×1, found 0×1"
    )
  }

  // MARK: Flatten and whole networks

  func testFlattenSharesItsInputAndSpatialLayersAfterItAreRefused() throws {
    let architecture = try Architecture(
      input: [2, 5, 5],
      layers: [
        Conv2D.Spec(filters: 3, kernel: 3, activation: .relu), Flatten.Spec(),
        Dense.Spec(units: 4, activation: .softmax),
      ])
    XCTAssertEqual(architecture.layers.map(\.outputShape), [[3, 3, 3], [27], [4]])
    XCTAssertEqual(architecture.layers.map(\.sharesInput), [false, true, false])
    let workspace = Workspace(architecture: architecture, capacity: 2, targetColumns: 1)
    XCTAssertEqual(workspace.activations[1].count, 0, "flatten has no buffer of its own")
    XCTAssertEqual(Flatten.Spec().description, "flatten")

    do {
      _ = try Architecture(
        input: [1, 8, 8],
        layers: [Flatten.Spec(), MaxPool2D.Spec(size: 2), Dense.Spec(units: 2, activation: .softmax)])
      XCTFail("a pool after a flatten must be refused")
    } catch {
      XCTAssertEqual(
        "\(error)",
        "layer 1 (max_pool2d) cannot take input of shape [64]: expected an image [channels, height, width] (rank 3), found rank 1; a spatial layer like max_pool2d cannot follow a flatten, dense or global pooling layer"
      )
    }
    // A dense layer straight after a spatial one is refused as before: the flatten is explicit.
    XCTAssertThrowsError(
      try Architecture(
        input: [1, 8, 8],
        layers: [
          Conv2D.Spec(filters: 2, kernel: 3, activation: .relu), Dense.Spec(units: 2, activation: .softmax),
        ])
    ) { error in
      XCTAssertEqual(
        "\(error)",
        "layer 1 (dense) cannot take input of shape [2, 6, 6]: expected a flat input [features] with at least one feature"
      )
    }
  }

  /// conv → pool → flatten → dense softmax, end to end through `Network.lossAndGradient` against a Double reference.
  func testSmallCNNEndToEnd() throws {
    for (pool, seed) in [
      (MaxPool2D.Spec(size: 2) as any LayerSpec, UInt64(31)), (AvgPool2D.Spec(size: 2), 32),
    ] {
      let architecture = try Architecture(
        input: [2, 7, 7],
        layers: [
          Conv2D.Spec(filters: 3, kernel: 3, padding: .same, activation: .tanh), pool,
          Conv2D.Spec(filters: 2, kernel: 2, stride: 1, activation: .sigmoid, bias: false), Flatten.Spec(),
          Dense.Spec(units: 3, activation: .softmax),
        ])
      XCTAssertEqual(architecture.layers.map(\.outputShape), [[3, 7, 7], [3, 3, 3], [2, 2, 2], [8], [3]])
      let network = Network(architecture: architecture, loss: .crossEntropy)
      var g = SeededGenerator(seed: seed)
      let parameters = FloatBuffer(count: architecture.parameterCount)
      Initializer.xavierUniform.initialize(parameters, for: architecture, using: &g)
      for layer in architecture.layers {
        for tensor in layer.parameters where tensor.name == "biases" {
          for p in tensor.range { parameters[p] = g.nextFloat() - 0.5 }
        }
      }
      let rows = 3
      let x = (0..<(rows * 98)).map { _ in g.nextFloat() * 2 - 1 }
      let t = (0..<rows).map { _ in Float(g.nextIndex(below: 3)) }
      let gradient = FloatBuffer(count: architecture.parameterCount)
      let workspace = Workspace(architecture: architecture, capacity: rows, targetColumns: 1)
      let lossSum = network.lossAndGradient(
        parameters: parameters.pointer, input: x, targets: t, targetColumns: 1, rows: rows,
        workspace: workspace,
        gradient: gradient.pointer)

      func referenceLoss(_ theta: [Double]) -> Double {
        LayerReference.crossEntropyLoss(architecture, theta: theta, x: x, t: t, rows: rows)
      }
      let theta = parameters.array.map(Double.init)
      XCTAssertEqual(lossSum, referenceLoss(theta), accuracy: 1e-4, "loss, \(pool)")
      LayerReference.checkNetworkGradient(gradient, at: theta, loss: referenceLoss, what: "\(pool)")
      // Forward alone gives the same outputs as the pass inside lossAndGradient.
      let predicted = network.predict(parameters: parameters, inputs: matrix(x, rows: rows))
      var a = x.map(Double.init)
      for layer in architecture.layers { a = LayerReference.forward(layer, theta: theta, x: a, rows: rows) }
      for i in 0..<a.count { XCTAssertEqual(Double(predicted.storage.pointer[i]), a[i], accuracy: 1e-5) }
    }
  }

  /// A flatten first or last, or two in a row: the shared buffers still line up.
  func testFlattenAnywhereInTheNetwork() throws {
    let specs: [[any LayerSpec]] = [
      [Flatten.Spec(), Dense.Spec(units: 3, activation: .softmax)],
      [
        Conv2D.Spec(filters: 2, kernel: 2, activation: .tanh), Flatten.Spec(), Flatten.Spec(),
        Dense.Spec(units: 3, activation: .softmax),
      ],
      [Conv2D.Spec(filters: 3, kernel: 3, activation: .tanh), Flatten.Spec()],
    ]
    for (index, layers) in specs.enumerated() {
      let architecture = try Architecture(input: [1, 3, 3], layers: layers)
      // Cross-entropy fuses a softmax output layer; the flatten-last network ends in tanh, so squared error.
      let loss: Loss = index == 2 ? .sse : .crossEntropy
      let network = Network(architecture: architecture, loss: loss)
      var g = SeededGenerator(seed: 50 + UInt64(index))
      let parameters = FloatBuffer(count: architecture.parameterCount)
      Initializer.xavierUniform.initialize(parameters, for: architecture, using: &g)
      let rows = 2
      let x = (0..<(rows * 9)).map { _ in g.nextFloat() }
      let columns = loss == .sse ? 3 : 1
      let t = (0..<(rows * columns)).map { _ in loss == .sse ? g.nextFloat() : Float(g.nextIndex(below: 3)) }
      let gradient = FloatBuffer(count: architecture.parameterCount)
      let lossSum = network.lossAndGradient(
        parameters: parameters.pointer, input: x, targets: t, targetColumns: columns, rows: rows,
        workspace: Workspace(architecture: architecture, capacity: rows, targetColumns: columns),
        gradient: gradient.pointer)
      func referenceLoss(_ theta: [Double]) -> Double {
        var a = x.map(Double.init)
        for layer in architecture.layers { a = LayerReference.forward(layer, theta: theta, x: a, rows: rows) }
        if loss == .sse { return zip(a, t).map { ($0 - Double($1)) * ($0 - Double($1)) }.reduce(0, +) }
        return (0..<rows).map { -log(a[$0 * 3 + Int(t[$0])]) }.reduce(0, +)
      }
      let theta = parameters.array.map(Double.init)
      XCTAssertEqual(lossSum, referenceLoss(theta), accuracy: 1e-4, "network \(index)")
      LayerReference.checkNetworkGradient(gradient, at: theta, loss: referenceLoss, what: "network \(index)")
    }
  }

  private func product<A, B>(_ a: [A], _ b: [B]) -> [(A, B)] {
    a.flatMap { x in b.map { (x, $0) } }
  }

  private func matrix(_ values: [Float], rows: Int) -> Matrix {
    let m = Matrix(rows: rows, columns: values.count / rows)
    for i in 0..<values.count { m.storage.pointer[i] = values[i] }
    return m
  }
}
