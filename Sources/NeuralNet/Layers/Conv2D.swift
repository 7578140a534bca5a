import NNBatchCore

// 2-D convolution, channels first: A = f(W ⋆ X + b), lowered to GEMM by im2col.
//
// Notation (one sample; B rows in a batch):
//   C input channels, H × W input height × width
//   F filters (output channels), kh × kw kernel, sh × sw strides
//   top, left: padding rows above / columns left of the image (0 for valid)
//   OH × OW output height × width, P = OH·OW output positions
//   K = C·kh·kw, one receptive field; k = (c·kh + i)·kw + j
//   X [B, C, H, W]   input            W [F, C, kh, kw] = [F, K]  kernel
//   Z [B, F, OH, OW] = W ⋆ X + b      b [F]                      biases
//   Z[n][f][oh][ow] = b[f] + Σ_c,i,j W[f][c][i][j] · X[n][c][oh·sh + i − top][ow·sw + j − left]
//   (the cross-correlation every framework calls convolution; X is 0 outside the image)
//
// Lowering, for a group of G samples n0 ..< n0 + G (G from the shapes, see `groupSize`):
//   col [K, G·P]: col[k][g·P + p] = X[n0 + g][c][oh·sh + i − top][ow·sw + j − left]   (im2col)
//   (for `same`, read from Xpad [G, C, PH, PW], the group's images copied once inside a
//   border of zeros, so every col row is OW contiguous floats with no edge cases)
//   Y   [F, G·P] = W · col                       (gemm NN: M = F, N = G·P, K = K)
//   Z[n0 + g][f][p] = Y[f][g·P + p] + b[f]       (one pass: bias, samples back to [F, P], ReLU)
// Backward, from dZ [B, F, P] (the gradient before f):
//   db[f] = Σ_n Σ_p dZ[n][f][p]
//   dY  [F, G·P] gathered from dZ (the inverse of the pass above)
//   dW += dY · colᵀ   [F, K]                     (gemm NT, summed over the groups)
//   dcol = Wᵀ · dY    [K, G·P]                   (gemm TN), then col2im adds each
//   dcol[k][g·P + p] into dX[n0 + g][c][oh·sh + i − top][ow·sw + j − left]
//   (for `same`, into a zeroed dXpad whose interior is then copied out: each pixel
//   receives the same additions in the same order as without the border)

/// A 2-D convolution: `filters` kernels slid over a channels-first image, plus a bias, then an activation.
///
/// Input: one sample is an image [C, H, W] row-major: C channels, each H rows
/// (height) of W columns (width). Output: [F, OH, OW], F = `filters`, with
/// OH × OW given by `padding` and `stride` (valid: ⌊(H − kh) / sh⌋ + 1;
/// same: ⌈H / sh⌉, the extra padding row at the bottom and column on the
/// right, as in TensorFlow and Keras).
///
/// Parameters, in storage order: `kernel` [filters, channels, kh, kw], then
/// `biases` [filters] when `bias` is set. The kernel's axis order is
/// PyTorch's and ONNX's (OIHW): weights load from and export to them without
/// a transpose, and each filter's receptive field, K = C·kh·kw values, is
/// contiguous, so the kernel is the [F, K] left operand of the im2col GEMM
/// as stored.
///
/// Settings: `filters` (F ≥ 1), `kernel` (kh × kw, each ≥ 1, no larger than
/// the padded input), `stride` (sh × sw ≥ 1, default 1), `padding` (`valid`
/// or `same`), `activation`, `bias`.
///
/// ### See Also
/// - ``MaxPool2D``
/// - ``AvgPool2D``
/// - ``Flatten``
/// - ``Dense``
public struct Conv2D: Layer {
  /// A convolution's settings: `{"type": "conv2d", "filters": 32, "kernel": 5, "activation": "relu"}`.
  public struct Spec: LayerSpec {
    /// The kind's name in configs and checkpoints.
    public static let kind = "conv2d"

    /// Number of filters F: the output's channels.
    public var filters: Int
    /// Kernel height × width (kh × kw).
    public var kernel: Size2D
    /// Steps between windows, down × across (sh × sw).
    public var stride: Size2D
    /// Valid (no padding) or same (zero padding to ⌈H / sh⌉ × ⌈W / sw⌉ outputs).
    public var padding: Padding
    /// The non-linearity applied to the outputs.
    public var activation: Activation
    /// Whether each filter adds a bias.
    public var bias: Bool

    /// `filters` kernels of `kernel`, moved by `stride`, with `padding`, then `activation`.
    public init(
      filters: Int, kernel: Size2D, stride: Size2D = 1, padding: Padding = .valid,
      activation: Activation, bias: Bool = true
    ) {
      self.filters = filters
      self.kernel = kernel
      self.stride = stride
      self.padding = padding
      self.activation = activation
      self.bias = bias
    }

    /// The settings in a line: `conv2d 32 5×5 valid relu`, with `stride 2×2` and `no bias` when so.
    public var description: String {
      let strideText = stride == 1 ? "" : " stride \(stride)"
      return
        "\(Self.kind) \(filters) \(kernel)\(strideText) \(padding.rawValue) \(activation.rawValue)\(bias ? "" : " no bias")"
    }

    /// The product of `factors`, or nil beyond 2⁴⁰ (far past any memory, and far from overflow).
    static func product(_ factors: [Int]) -> Int? { checkedProduct(factors, atMost: 1 << 40) }

    /// The layer on images of `input` shape [C, H, W].
    public func build(input: Shape, parameterOffset: Int) throws(LayerShapeError) -> any Layer {
      let image = try ImageShape(input, kind: Self.kind)
      guard filters > 0 else { throw LayerShapeError(expected: "filters ≥ 1, found \(filters)") }
      guard kernel.isPositive else {
        throw LayerShapeError(expected: "a kernel of at least 1×1, found \(kernel)")
      }
      guard stride.isPositive else {
        throw LayerShapeError(expected: "a stride of at least 1×1, found \(stride)")
      }
      // The layer's buffers are products of these sizes (the output is never larger
      // than the input): refuse sizes whose products would not fit, before computing any.
      let field = Self.product([image.channels, kernel.height, kernel.width])
      let sizes = [
        field, field.flatMap { Self.product([$0, filters]) },
        field.flatMap { Self.product([$0 + filters, image.height, image.width]) },
      ]
      guard sizes.allSatisfy({ $0 != nil }) else {
        throw LayerShapeError(
          expected: "sizes whose products fit in memory, found \(filters) filters of \(kernel) on \(input)")
      }
      let geometry = ConvGeometry(
        image: image, filters: filters, kernel: kernel, stride: stride, padding: padding)
      let padded = Size2D(geometry.paddedHeight, geometry.paddedWidth)
      guard kernel.height <= padded.height, kernel.width <= padded.width else {
        let what = padding == .valid ? "the input's \(padded)" : "the padded input's \(padded)"
        throw LayerShapeError(
          expected: "a kernel no larger than \(what) (\(padding.rawValue) padding), found \(kernel)")
      }
      guard geometry.outHeight > 0, geometry.outWidth > 0 else {
        throw LayerShapeError(
          expected: "an output of at least 1×1, found \(geometry.outHeight)×\(geometry.outWidth)")
      }
      return Conv2D(spec: self, geometry: geometry, parameterOffset: parameterOffset)
    }
  }

  /// The settings.
  public let spec: Spec
  /// W [F, C, kh, kw], row-major (OIHW).
  public let kernel: ParameterTensor
  /// b [F], when the layer has biases.
  public let biases: ParameterTensor?
  /// [C, H, W].
  public let inputShape: Shape
  /// [F, OH, OW].
  public let outputShape: Shape
  /// `kernel`, then `biases` if any.
  public let parameters: [ParameterTensor]
  /// Sizes, padding and the im2col group size.
  private(set) var geometry: ConvGeometry
  /// The kernel that computes the passes: the rule's choice for this CPU, or one a run sets (`with(kernel:)`).
  public private(set) var convolutionKernel: ConvolutionKernel

  init(spec: Spec, geometry: ConvGeometry, parameterOffset: Int) {
    self.spec = spec
    self.geometry = geometry
    let g = geometry
    convolutionKernel = ConvolutionKernel.rule(
      kernelHeight: g.kernelHeight, kernelWidth: g.kernelWidth, channels: g.channels)
    kernel = ParameterTensor(
      name: "kernel", shape: [spec.filters, g.channels, g.kernelHeight, g.kernelWidth],
      offset: parameterOffset)
    biases =
      spec.bias
      ? ParameterTensor(name: "biases", shape: [spec.filters], offset: parameterOffset + kernel.count)
      : nil
    inputShape = [g.channels, g.height, g.width]
    outputShape = [spec.filters, g.outHeight, g.outWidth]
    parameters = [kernel] + (biases.map { [$0] } ?? [])
  }

  /// The same layer lowering `samples` images per GEMM: a test hook for many groups on small shapes.
  package func grouped(by samples: Int) -> Conv2D {
    precondition(samples > 0, "a group holds at least one sample")
    var layer = self
    layer.geometry.groupSize = samples
    return layer
  }

  /// The same layer computed by `kernel`.
  public func with(kernel: ConvolutionKernel) -> Conv2D {
    var layer = self
    layer.convolutionKernel = kernel
    return layer
  }

  /// Samples per im2col GEMM (from the shapes).
  package var groupSize: Int { geometry.groupSize }

  /// The activation after W ⋆ X + b.
  public var activation: Activation { spec.activation }
  /// F·K per output position.
  public var multiplyAdds: Int { spec.filters * geometry.fieldSize * geometry.positions }

  /// col [K, G·P] (reused as dcol in backward), Y [F, G·P], and for `same` Xpad [G, C, PH, PW]; G = `groupSize` capped at `rows`.
  ///
  /// The oneDNN kernel needs it too: a mixed-precision pass runs im2col (oneDNN's
  /// bf16 convolutions are not part of the rule).
  public func scratchCount(rows: Int) -> Int {
    let samples = min(geometry.groupSize, max(rows, 1))
    return (geometry.fieldSize + spec.filters) * samples * geometry.positions
      + geometry.paddedCount(samples: samples)
  }

  /// Kernel from `initializer` (fan-in C·kh·kw, fan-out F·kh·kw), in storage order; biases zero.
  public func initialize(
    _ parameters: UnsafeMutablePointer<Float>, with initializer: Initializer,
    using generator: inout SeededGenerator
  ) {
    let field = geometry.kernelHeight * geometry.kernelWidth
    initializer.fill(
      parameters + kernel.offset, count: kernel.count, fanIn: geometry.fieldSize,
      fanOut: spec.filters * field, using: &generator)
    if let biases { (parameters + biases.offset).update(repeating: 0, count: biases.count) }
  }

  // MARK: Forward and backward

  /// Per group of samples: im2col, Y = W · col, then Z = Y + b back in [F, P] per sample, and A = f(Z) in place.
  public func forward(
    parameters: UnsafePointer<Float>, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
    rows: Int, scratch: UnsafeMutablePointer<Float>, context: PassContext
  ) {
    let g = geometry
    let filters = spec.filters
    let positions = g.positions
    let w = parameters + kernel.offset  // [F, K]
    let b = biases.map { parameters + $0.offset }  // [F]
    let group = g.groupSize
    let relu = spec.activation == .relu
    if let kernels = oneDNNKernels(context) {
      // Z = W ⋆ X + b with ReLU as oneDNN's post-op, on the whole shard at once.
      kernels.runConvolution(key(rows: rows, pass: .forward), input, w, output, b)
      if !relu { spec.activation.forward(output, rows: rows, columns: filters * positions) }
      return
    }
    var first = 0
    while first < rows {
      let samples = min(group, rows - first)
      let n = samples * positions  // columns of col and Y
      let col = scratch  // [K, n]
      let y = scratch + g.fieldSize * n  // [F, n]
      let padded = y + filters * n  // Xpad [samples, C, PH, PW] for same
      g.im2col(input + first * g.inputElements, samples: samples, padded: padded, into: col)
      gemm(
        .none, .none, m: filters, n: n, k: g.fieldSize, alpha: 1, a: w, lda: g.fieldSize, b: col,
        ldb: n, beta: 0, c: y, ldc: n, kernels: context.kernels)
      // Z[first + s][f][·] = Y[f][s·P ..< (s + 1)·P] + b[f], with ReLU in the same pass.
      for s in 0..<samples {
        let z = output + (first + s) * filters * positions
        for f in 0..<filters {
          ShortVectors.copy(
            y + f * n + s * positions, adding: b?[f] ?? 0, to: z + f * positions, count: positions,
            relu: relu)
        }
      }
      if !relu {
        // f on the group's rows while they are still in cache (f works row by row).
        spec.activation.forward(
          output + first * filters * positions, rows: samples, columns: filters * positions)
      }
      first += samples
    }
  }

  /// db = Σ dZ; per group, last first: dY from dZ, dW += dY · colᵀ, and dX by col2im of Wᵀ · dY when asked.
  ///
  /// The last group's col is still in scratch from the forward, so only the
  /// other groups redo their im2col.
  public func backward(
    parameters: UnsafePointer<Float>, input: UnsafePointer<Float>, output: UnsafePointer<Float>,
    outputGradient dZ: UnsafePointer<Float>, rows: Int, gradient: UnsafeMutablePointer<Float>,
    inputGradient: UnsafeMutablePointer<Float>?, scratch: UnsafeMutablePointer<Float>,
    context: PassContext
  ) {
    let g = geometry
    let filters = spec.filters
    let positions = g.positions
    let w = parameters + kernel.offset  // [F, K]
    let dW = gradient + kernel.offset  // [F, K]
    if let kernels = oneDNNKernels(context) {
      // dW and db from X and dZ, then dX from dZ and W: each overwrites its output.
      kernels.runConvolutionBackward(
        weights: key(rows: rows, pass: .backwardWeights), data: key(rows: rows, pass: .backwardData),
        input: input, outputGradient: dZ, kernel: w, gradient: dW,
        biasGradient: biases.map { UnsafeRawPointer(gradient + $0.offset) },
        inputGradient: inputGradient.map { UnsafeRawPointer($0) })
      return
    }
    if let biases {
      // db[f] = Σ_n Σ_p dZ[n][f][p], each (n, f) summed in 8 lanes first.
      let db = gradient + biases.offset
      db.update(repeating: 0, count: filters)
      for r in 0..<rows {
        for f in 0..<filters {
          db[f] += ShortVectors.sum(dZ + (r * filters + f) * positions, count: positions)
        }
      }
    }
    let group = g.groupSize
    let groups = (rows + group - 1) / group
    for index in stride(from: groups - 1, through: 0, by: -1) {
      let first = index * group
      let samples = min(group, rows - first)
      let n = samples * positions
      let col = scratch  // [K, n]; dcol after dW is done
      let staged = scratch + g.fieldSize * n  // [F, n]
      let padded = staged + filters * n  // Xpad, then dXpad [samples, C, PH, PW] for same
      // dY [F, n]: one sample's dZ is already [F, P]; several are gathered.
      let dY: UnsafePointer<Float>
      if samples == 1 {
        dY = dZ + first * filters * positions
      } else {
        for s in 0..<samples {
          let source = dZ + (first + s) * filters * positions
          for f in 0..<filters {
            ShortVectors.copy(source + f * positions, to: staged + f * n + s * positions, count: positions)
          }
        }
        dY = UnsafePointer(staged)
      }
      if index != groups - 1 {
        g.im2col(input + first * g.inputElements, samples: samples, padded: padded, into: col)
      }
      gemm(
        .none, .transposed, m: filters, n: g.fieldSize, k: n, alpha: 1, a: dY, lda: n, b: col, ldb: n,
        beta: index == groups - 1 ? 0 : 1, c: dW, ldc: g.fieldSize, kernels: context.kernels)
      if let inputGradient {
        gemm(
          .transposed, .none, m: g.fieldSize, n: n, k: filters, alpha: 1, a: w, lda: g.fieldSize, b: dY,
          ldb: n, beta: 0, c: col, ldc: n, kernels: context.kernels)
        g.col2im(col, samples: samples, padded: padded, into: inputGradient + first * g.inputElements)
      }
    }
  }
}

extension Conv2D {
  /// The worker's kernels when this pass runs on oneDNN: the layer's kernel is, and the pass is f32.
  ///
  /// A mixed-precision pass (bf16 operands) runs im2col, whose products take
  /// bf16; a pass without a worker's kernels (setup code, tests) gets fresh ones.
  private func oneDNNKernels(_ context: PassContext) -> MatmulKernels? {
    guard convolutionKernel == .onednn else { return nil }
    guard let kernels = context.kernels else { return MatmulKernels() }
    return kernels.isMixedPrecision ? nil : kernels
  }

  /// The oneDNN primitive key of `pass` on `rows` samples.
  package func key(rows: Int, pass: ConvolutionPass) -> ConvolutionKey {
    ConvolutionKey(
      geometry, filters: spec.filters, rows: rows, bias: biases != nil, relu: spec.activation == .relu,
      layout: .blocked, pass: pass)
  }
}

/// A convolution's sizes and padding, and the im2col / col2im kernels.
struct ConvGeometry: Hashable {
  let channels: Int
  let height: Int
  let width: Int
  let kernelHeight: Int
  let kernelWidth: Int
  let padding: Padding
  let strideHeight: Int
  let strideWidth: Int
  /// Padding rows above the image / columns left of it (the smaller halves for `same`).
  let top: Int
  let left: Int
  let outHeight: Int
  let outWidth: Int
  /// Samples per im2col group: as many as keep col and Y within `scratchBudget`, at least one.
  var groupSize: Int

  /// Floats of scratch (col [K, G·P] and Y [F, G·P]) a group aims at: 512 KiB, one Zen 3 L2.
  ///
  /// A group of G samples makes one GEMM with N = G·P columns. One sample
  /// per GEMM leaves N small (64 for LeNet's second convolution) and repacks
  /// the kernel for every sample; the whole shard at once writes a col of
  /// megabytes (13 MB for that layer at 64 rows) that goes out to memory and
  /// back. Groups whose scratch stays near L2 keep N in the hundreds or
  /// thousands (LeNet at 64 rows: 3 samples, N = 1728, then 2 samples,
  /// N = 128). The size follows from the shapes alone, so it never changes
  /// results between machines or thread counts.
  static let scratchBudget = 1 << 17

  init(image: ImageShape, filters: Int, kernel: Size2D, stride: Size2D, padding: Padding) {
    channels = image.channels
    height = image.height
    width = image.width
    kernelHeight = kernel.height
    kernelWidth = kernel.width
    strideHeight = stride.height
    strideWidth = stride.width
    self.padding = padding
    switch padding {
    case .valid:
      top = 0
      left = 0
      outHeight = height >= kernel.height ? (height - kernel.height) / stride.height + 1 : 0
      outWidth = width >= kernel.width ? (width - kernel.width) / stride.width + 1 : 0
    case .same:
      outHeight = (height + stride.height - 1) / stride.height
      outWidth = (width + stride.width - 1) / stride.width
      top = max((outHeight - 1) * stride.height + kernel.height - height, 0) / 2
      left = max((outWidth - 1) * stride.width + kernel.width - width, 0) / 2
    }
    let field = channels * kernel.height * kernel.width
    groupSize = max(1, Self.scratchBudget / max((field + filters) * outHeight * outWidth, 1))
  }

  /// Rows of the input with its padding: H for valid, max(H, (OH − 1)·sh + kh) for same.
  var paddedHeight: Int {
    padding == .valid ? height : max(height, (outHeight - 1) * strideHeight + kernelHeight)
  }
  /// Columns of the input with its padding: W for valid, max(W, (OW − 1)·sw + kw) for same.
  var paddedWidth: Int {
    padding == .valid ? width : max(width, (outWidth - 1) * strideWidth + kernelWidth)
  }

  /// K = C·kh·kw.
  var fieldSize: Int { channels * kernelHeight * kernelWidth }
  /// P = OH·OW.
  var positions: Int { outHeight * outWidth }
  /// C·H·W.
  var inputElements: Int { channels * height * width }

  /// Whether windows reach outside the image, so im2col reads a zero-bordered copy.
  var isPadded: Bool { paddedHeight != height || paddedWidth != width }

  /// Floats of Xpad [samples, C, PH, PW]: 0 when no window leaves the image.
  func paddedCount(samples: Int) -> Int {
    isPadded ? samples * channels * paddedHeight * paddedWidth : 0
  }

  /// Xpad [samples, C, PH, PW]: each image at (top, left) inside zeros.
  private func pad(_ input: UnsafePointer<Float>, samples: Int, into padded: UnsafeMutablePointer<Float>) {
    let (ph, pw) = (paddedHeight, paddedWidth)
    padded.update(repeating: 0, count: samples * channels * ph * pw)
    for plane in 0..<(samples * channels) {
      let source = input + plane * height * width
      let target = padded + plane * ph * pw + top * pw + left
      for h in 0..<height { ShortVectors.copy(source + h * width, to: target + h * pw, count: width) }
    }
  }

  /// col [K, samples·P] from `samples` images at `input` ([samples, C, H, W]); 0 where a window leaves the image.
  ///
  /// `padded` holds `paddedCount(samples:)` floats of scratch.
  func im2col(
    _ input: UnsafePointer<Float>, samples: Int, padded: UnsafeMutablePointer<Float>,
    into col: UnsafeMutablePointer<Float>
  ) {
    let (ph, pw) = isPadded ? (paddedHeight, paddedWidth) : (height, width)
    let source: UnsafePointer<Float>
    if isPadded {
      pad(input, samples: samples, into: padded)
      source = UnsafePointer(padded)
    } else {
      source = input
    }
    let positions = self.positions
    let n = samples * positions
    for c in 0..<channels {
      for i in 0..<kernelHeight {
        for j in 0..<kernelWidth {
          let row = col + ((c * kernelHeight + i) * kernelWidth + j) * n
          for s in 0..<samples {
            let image = source + (s * channels + c) * ph * pw + i * pw + j
            for oh in 0..<outHeight {
              let from = image + oh * strideHeight * pw
              let target = row + s * positions + oh * outWidth
              if strideWidth == 1 {
                ShortVectors.copy(from, to: target, count: outWidth)
              } else {
                for t in 0..<outWidth { target[t] = from[t * strideWidth] }
              }
            }
          }
        }
      }
    }
  }

  /// dX [samples, C, H, W] = the sum of dcol's entries over every window each pixel is in (col2im).
  ///
  /// `padded` holds `paddedCount(samples:)` floats of scratch.
  func col2im(
    _ col: UnsafePointer<Float>, samples: Int, padded: UnsafeMutablePointer<Float>,
    into dX: UnsafeMutablePointer<Float>
  ) {
    let (ph, pw) = isPadded ? (paddedHeight, paddedWidth) : (height, width)
    let target = isPadded ? padded : dX
    target.update(repeating: 0, count: samples * channels * ph * pw)
    let positions = self.positions
    let n = samples * positions
    for c in 0..<channels {
      for i in 0..<kernelHeight {
        for j in 0..<kernelWidth {
          let row = col + ((c * kernelHeight + i) * kernelWidth + j) * n
          for s in 0..<samples {
            let image = target + (s * channels + c) * ph * pw + i * pw + j
            for oh in 0..<outHeight {
              let source = row + s * positions + oh * outWidth
              let to = image + oh * strideHeight * pw
              if strideWidth == 1 {
                ShortVectors.add(source, to: to, count: outWidth)
              } else {
                for t in 0..<outWidth { to[t * strideWidth] += source[t] }
              }
            }
          }
        }
      }
    }
    guard isPadded else { return }
    for plane in 0..<(samples * channels) {
      let from = padded + plane * ph * pw + top * pw + left
      let image = dX + plane * height * width
      for h in 0..<height { ShortVectors.copy(from + h * pw, to: image + h * width, count: width) }
    }
  }
}

extension Conv2D.Spec {
  /// The one kernel axis order this version writes and reads (`kernel_axes`).
  static let kernelAxes = "filters,channels,kh,kw"

  /// The conv2d kind: `{"type": "conv2d", "filters": F, "kernel": K, "stride": S, "padding": P, "activation": NAME, "bias": BOOL}`.
  ///
  /// Its checkpoint group also holds `channels` (of its input, checked against
  /// the previous layer) and `kernel_axes`, the kernel's axis order, which a
  /// reader refuses to guess: only "filters,channels,kh,kw" reads.
  public static let declaration = LayerKind(
    Self.self,
    settings: [
      LayerSetting("filters", .integer(1...(1 << 16)), doc: "Number of filters: the output's channels."),
      LayerSetting("kernel", .size(1...(1 << 16)), doc: "Kernel height × width."),
      LayerSetting("stride", .size(1...(1 << 16)), default: .value(.size(1)), doc: "Steps between windows."),
      .choice(
        "padding", Padding.self, default: .valid, doc: "Valid (none) or same (zeros to ⌈H / sh⌉ outputs)."),
      .choice(
        "activation", Activation.self, default: .linear, doc: "The non-linearity applied to the outputs."),
      LayerSetting(
        "bias", .flag(tensor: "biases"), default: .model("bias"), doc: "Whether each filter adds a bias."),
    ],
    shape: .spatial,
    stored: [
      .setting("activation"),
      .input(
        "channels", min: 1, value: { $0.dimensions.first ?? 0 },
        mismatch: { stored, input in
          input.rank == 3 && input.dimensions[0] == stored
            ? nil
            : "\(input.rank == 3 ? String(input.dimensions[0]) : "an image input") (the previous layer's output \(input))"
        }),
      .setting("filters"), .setting("kernel"), .setting("stride"), .setting("padding"), .setting("bias"),
      .constant("kernel_axes", kernelAxes),
    ],
    rule: { values in
      values["activation"] == .choice(Activation.softmax.rawValue)
        ? ("activation", "softmax is for the last (dense) layer; a conv2d layer takes relu, tanh, ...") : nil
    },
    summary: { spec, input in
      let channels = input.dimensions.first ?? 0
      let stride = spec.stride == 1 ? "" : " stride \(spec.stride)"
      return
        "\(spec.kernel)×\(channels) → \(spec.filters)\(stride) \(spec.padding.rawValue)  \(spec.activation.rawValue)\(spec.bias ? "" : "  no bias")"
    },
    make: {
      Self(
        filters: $0.integer("filters"), kernel: $0.size("kernel"), stride: $0.size("stride"),
        padding: $0.choice("padding", Padding.self), activation: $0.choice("activation", Activation.self),
        bias: $0.flag("bias"))
    },
    values: {
      [
        .integer($0.filters), .size($0.kernel), .size($0.stride), .choice($0.padding.rawValue),
        .choice($0.activation.rawValue), .flag($0.bias),
      ]
    })
}
