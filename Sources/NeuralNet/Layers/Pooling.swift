// 2-D pooling, channels first: each output is the maximum or the mean of a window of one channel.
//
// Notation (one sample; B rows in a batch):
//   C channels, H × W input height × width
//   ph × pw window, sh × sw strides (default: the window, so windows tile the image)
//   OH = ⌊(H − ph) / sh⌋ + 1, OW = ⌊(W − pw) / sw⌋ + 1   (valid: windows wholly inside;
//   trailing rows or columns a stride skips are unused, as in PyTorch and Keras)
//   X [B, C, H, W]  input     A [B, C, OH, OW]  output (no parameters, linear activation)
//   window (oh, ow) of channel c: X[c][oh·sh + i][ow·sw + j], i < ph, j < pw
// Max:     A = max over the window;   dX[first argmax] += dA   (ties: the first in row-major order)
//          the forward keeps each argmax (its index in the channel's H × W plane, exact as a
//          Float below 2^24) in scratch [B, C, OH, OW], so backward is one add per output
// Average: A = Σ window / (ph·pw);    dX[every element] += dA / (ph·pw)
// Windows overlap when the stride is smaller than the window; backward adds.

/// What the pooling kinds' settings share: a window and its stride.
public protocol PoolingSpec: LayerSpec {
  /// Window height × width (ph × pw).
  var size: Size2D { get }
  /// Steps between windows (sh × sw).
  var stride: Size2D { get }
  /// Windows of `size` every `stride` (default: `size`, windows side by side).
  init(size: Size2D, stride: Size2D?)
}

extension PoolingSpec {
  /// Pooling has no activation.
  public var activation: Activation { .linear }

  /// `max_pool2d 2×2` (the kind and window), with `stride 1×1` when it is not the window.
  public var description: String {
    "\(Self.kind) \(size)\(stride == size ? "" : " stride \(stride)")"
  }
}

/// Max pooling: the largest value of each ph × pw window of each channel.
///
/// Input: one sample is an image [C, H, W] row-major (C channels of H rows
/// by W columns); output [C, OH, OW] with OH = ⌊(H − ph) / sh⌋ + 1 and
/// OW = ⌊(W − pw) / sw⌋ + 1 (valid windows only). No parameters.
///
/// Settings: `size` (ph × pw, each ≥ 1 and no larger than the input),
/// `stride` (sh × sw ≥ 1, default `size`). When a window holds its maximum
/// more than once, the gradient goes to the first of them in row-major
/// window order (the top row first, left to right), as PyTorch does.
///
/// ### See Also
/// - ``AvgPool2D``
/// - ``Conv2D``
/// - ``Flatten``
public struct MaxPool2D: ParameterFreeLayer {
  /// Max pooling's settings: `{"type": "max_pool2d", "size": 2}`.
  public struct Spec: PoolingSpec {
    /// The kind's name in configs and checkpoints.
    public static let kind = "max_pool2d"
    /// Window height × width (ph × pw).
    public var size: Size2D
    /// Steps between windows (sh × sw).
    public var stride: Size2D

    /// Windows of `size` every `stride` (default: `size`, windows side by side).
    public init(size: Size2D, stride: Size2D? = nil) {
      self.size = size
      self.stride = stride ?? size
    }

    /// The layer on images of `input` shape [C, H, W].
    public func build(input: Shape, parameterOffset: Int) throws(LayerShapeError) -> any Layer {
      let geometry = try PoolGeometry(input, size: size, stride: stride, kind: Self.kind)
      // Each argmax is kept as a Float index into its H × W plane: exact below 2^24.
      guard input.dimensions[1] * input.dimensions[2] < 1 << 24 else {
        throw LayerShapeError(expected: "planes of fewer than 2^24 values for max pooling, found \(input)")
      }
      return MaxPool2D(spec: self, geometry: geometry)
    }
  }

  /// The settings.
  public let spec: Spec
  let geometry: PoolGeometry

  /// [C, H, W].
  public var inputShape: Shape { geometry.inputShape }
  /// [C, OH, OW].
  public var outputShape: Shape { geometry.outputShape }
  /// Linear: the maximum itself.
  public var activation: Activation { .linear }
  /// One comparison per window element, counted as a multiply-add.
  public var multiplyAdds: Int { geometry.outputElements * geometry.window }

  /// The argmax of every output: [rows, C, OH, OW].
  public func scratchCount(rows: Int) -> Int { rows * geometry.outputElements }

  /// A[n][c][oh][ow] = max of its window; its index in the plane goes to scratch.
  public func forward(
    parameters: UnsafePointer<Float>, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
    rows: Int, scratch: UnsafeMutablePointer<Float>, context: PassContext
  ) {
    let g = geometry
    var target = output
    var index = scratch
    let pairs = g.isTwoByTwoStrideTwo
    for plane in 0..<(rows * g.channels) {
      let image = input + plane * g.plane
      for oh in 0..<g.outHeight {
        // 2×2 windows side by side (LeNet's, VGG's): eight outputs at a time.
        let done = pairs ? g.pairedRow(image, oh: oh, output: target, index: index) : 0
        target += done
        index += done
        for ow in done..<g.outWidth {
          let best = g.argmax(image, oh: oh, ow: ow)
          target.pointee = image[best]
          index.pointee = Float(best)
          target += 1
          index += 1
        }
      }
    }
  }

  /// dX = 0, then each window's dA added at its first maximum, as the forward recorded it.
  public func backward(
    parameters: UnsafePointer<Float>, input: UnsafePointer<Float>, output: UnsafePointer<Float>,
    outputGradient dA: UnsafePointer<Float>, rows: Int, gradient: UnsafeMutablePointer<Float>,
    inputGradient: UnsafeMutablePointer<Float>?, scratch: UnsafeMutablePointer<Float>,
    context: PassContext
  ) {
    guard let inputGradient else { return }
    let g = geometry
    let outputs = g.outHeight * g.outWidth
    if g.isTwoByTwoStrideTwo {
      // Windows tile the plane: every element is written once, no zeroing pass first.
      for plane in 0..<(rows * g.channels) {
        let dX = inputGradient + plane * g.plane
        for oh in 0..<g.outHeight {
          g.pairedRowBackward(
            dX, oh: oh, gradient: dA + plane * outputs + oh * g.outWidth,
            index: scratch + plane * outputs + oh * g.outWidth)
        }
        // A trailing row no window covers (odd H).
        (dX + 2 * g.outHeight * g.width).update(repeating: 0, count: (g.height - 2 * g.outHeight) * g.width)
      }
      return
    }
    inputGradient.update(repeating: 0, count: rows * g.channels * g.plane)
    for plane in 0..<(rows * g.channels) {
      let dX = inputGradient + plane * g.plane
      let source = dA + plane * outputs
      let index = scratch + plane * outputs
      for o in 0..<outputs { dX[Int(index[o])] += source[o] }
    }
  }
}

/// Average pooling: the mean of each ph × pw window of each channel.
///
/// Input: one sample is an image [C, H, W] row-major (C channels of H rows
/// by W columns); output [C, OH, OW] with OH = ⌊(H − ph) / sh⌋ + 1 and
/// OW = ⌊(W − pw) / sw⌋ + 1 (valid windows only, so every mean is over
/// ph·pw values). No parameters.
///
/// Settings: `size` (ph × pw, each ≥ 1 and no larger than the input),
/// `stride` (sh × sw ≥ 1, default `size`).
///
/// ### See Also
/// - ``MaxPool2D``
/// - ``Conv2D``
/// - ``Flatten``
public struct AvgPool2D: ParameterFreeLayer {
  /// Average pooling's settings: `{"type": "avg_pool2d", "size": 2}`.
  public struct Spec: PoolingSpec {
    /// The kind's name in configs and checkpoints.
    public static let kind = "avg_pool2d"
    /// Window height × width (ph × pw).
    public var size: Size2D
    /// Steps between windows (sh × sw).
    public var stride: Size2D

    /// Windows of `size` every `stride` (default: `size`, windows side by side).
    public init(size: Size2D, stride: Size2D? = nil) {
      self.size = size
      self.stride = stride ?? size
    }

    /// The layer on images of `input` shape [C, H, W].
    public func build(input: Shape, parameterOffset: Int) throws(LayerShapeError) -> any Layer {
      AvgPool2D(spec: self, geometry: try PoolGeometry(input, size: size, stride: stride, kind: Self.kind))
    }
  }

  /// The settings.
  public let spec: Spec
  let geometry: PoolGeometry

  /// [C, H, W].
  public var inputShape: Shape { geometry.inputShape }
  /// [C, OH, OW].
  public var outputShape: Shape { geometry.outputShape }
  /// Linear: the mean itself.
  public var activation: Activation { .linear }
  /// One add per window element.
  public var multiplyAdds: Int { geometry.outputElements * geometry.window }

  /// A[n][c][oh][ow] = (Σ window) · 1/(ph·pw), the sum row by row.
  public func forward(
    parameters: UnsafePointer<Float>, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
    rows: Int, scratch: UnsafeMutablePointer<Float>, context: PassContext
  ) {
    let g = geometry
    let scale = 1 / Float(g.window)
    var target = output
    for plane in 0..<(rows * g.channels) {
      let image = input + plane * g.plane
      for oh in 0..<g.outHeight {
        for ow in 0..<g.outWidth {
          let corner = image + oh * g.strideHeight * g.width + ow * g.strideWidth
          var sum: Float = 0
          for i in 0..<g.sizeHeight {
            let row = corner + i * g.width
            for j in 0..<g.sizeWidth { sum += row[j] }
          }
          target.pointee = sum * scale
          target += 1
        }
      }
    }
  }

  /// dX = 0, then dA · 1/(ph·pw) added to every element of each window.
  public func backward(
    parameters: UnsafePointer<Float>, input: UnsafePointer<Float>, output: UnsafePointer<Float>,
    outputGradient dA: UnsafePointer<Float>, rows: Int, gradient: UnsafeMutablePointer<Float>,
    inputGradient: UnsafeMutablePointer<Float>?, scratch: UnsafeMutablePointer<Float>,
    context: PassContext
  ) {
    guard let inputGradient else { return }
    let g = geometry
    let scale = 1 / Float(g.window)
    inputGradient.update(repeating: 0, count: rows * g.channels * g.plane)
    var source = dA
    for plane in 0..<(rows * g.channels) {
      let dX = inputGradient + plane * g.plane
      for oh in 0..<g.outHeight {
        for ow in 0..<g.outWidth {
          let share = source.pointee * scale
          let corner = dX + oh * g.strideHeight * g.width + ow * g.strideWidth
          for i in 0..<g.sizeHeight {
            let row = corner + i * g.width
            for j in 0..<g.sizeWidth { row[j] += share }
          }
          source += 1
        }
      }
    }
  }
}

/// A pooling layer's sizes, checked against its input.
struct PoolGeometry: Hashable {
  let channels: Int
  let height: Int
  let width: Int
  let sizeHeight: Int
  let sizeWidth: Int
  let strideHeight: Int
  let strideWidth: Int
  let outHeight: Int
  let outWidth: Int

  /// The geometry of `size` windows every `stride` on `input`, or the refusal.
  init(_ input: Shape, size: Size2D, stride: Size2D, kind: String) throws(LayerShapeError) {
    let image = try ImageShape(input, kind: kind)
    guard size.isPositive else {
      throw LayerShapeError(expected: "a pool size of at least 1×1, found \(size)")
    }
    guard stride.isPositive else {
      throw LayerShapeError(expected: "a stride of at least 1×1, found \(stride)")
    }
    guard size.height <= image.height, size.width <= image.width else {
      throw LayerShapeError(
        expected:
          "a pool window that fits the input's \(image.height)×\(image.width) (valid windows only), found \(size)"
      )
    }
    channels = image.channels
    height = image.height
    width = image.width
    sizeHeight = size.height
    sizeWidth = size.width
    strideHeight = stride.height
    strideWidth = stride.width
    outHeight = (height - sizeHeight) / strideHeight + 1
    outWidth = (width - sizeWidth) / strideWidth + 1
  }

  var inputShape: Shape { [channels, height, width] }
  var outputShape: Shape { [channels, outHeight, outWidth] }
  /// H·W: one channel of one sample.
  var plane: Int { height * width }
  /// ph·pw.
  var window: Int { sizeHeight * sizeWidth }
  var outputElements: Int { channels * outHeight * outWidth }

  /// 2×2 windows every 2 × 2: the case `pairedRow` runs in vectors.
  var isTwoByTwoStrideTwo: Bool { sizeHeight == 2 && sizeWidth == 2 && strideHeight == 2 && strideWidth == 2 }

  /// The first outputs of row `oh` of a 2×2 stride-2 pooling, eight at a time: their maxima
  /// to `output` and their argmax (as `argmax` gives it) to `index`; returns how many.
  ///
  /// Each vector reads 16 columns of two input rows and splits them into the windows'
  /// four corners (even and odd columns), then takes them in `argmax`'s order with the
  /// same strict `>`: the same maxima and the same first maximum, so the same bits.
  @inline(__always)
  func pairedRow(
    _ image: UnsafePointer<Float>, oh: Int, output: UnsafeMutablePointer<Float>,
    index: UnsafeMutablePointer<Float>
  ) -> Int {
    let top = UnsafeRawPointer(image + 2 * oh * width)
    let bottom = top + width * 4
    let out = UnsafeMutableRawPointer(output)
    let indices = UnsafeMutableRawPointer(index)
    let lanes = SIMD8<Float>(0, 2, 4, 6, 8, 10, 12, 14)
    var ow = 0
    // Columns 2·ow … 2·ow + 15 lie in the row: 2·(ow + 7) + 1 ≤ 2·outWidth − 1 ≤ width − 1.
    while ow + 8 <= outWidth {
      let upper = top.loadUnaligned(fromByteOffset: 8 * ow, as: SIMD16<Float>.self)
      let lower = bottom.loadUnaligned(fromByteOffset: 8 * ow, as: SIMD16<Float>.self)
      let corner = SIMD8<Float>(repeating: Float(2 * oh * width + 2 * ow)) + lanes
      var maximum = upper.evenHalf
      var best = corner
      @inline(__always) func consider(_ candidate: SIMD8<Float>, _ offset: Float) {
        let larger = candidate .> maximum
        maximum.replace(with: candidate, where: larger)
        best.replace(with: corner + offset, where: larger)
      }
      consider(upper.oddHalf, 1)
      consider(lower.evenHalf, Float(width))
      consider(lower.oddHalf, Float(width + 1))
      out.storeBytes(of: maximum, toByteOffset: 4 * ow, as: SIMD8<Float>.self)
      indices.storeBytes(of: best, toByteOffset: 4 * ow, as: SIMD8<Float>.self)
      ow += 8
    }
    // Four more windows (rows of 4 or 12 windows, as LeNet's): the same in half vectors.
    if ow + 4 <= outWidth {
      let upper = top.loadUnaligned(fromByteOffset: 8 * ow, as: SIMD8<Float>.self)
      let lower = bottom.loadUnaligned(fromByteOffset: 8 * ow, as: SIMD8<Float>.self)
      let corner = SIMD4<Float>(repeating: Float(2 * oh * width + 2 * ow)) + lanes.lowHalf
      var maximum = upper.evenHalf
      var best = corner
      @inline(__always) func consider(_ candidate: SIMD4<Float>, _ offset: Float) {
        let larger = candidate .> maximum
        maximum.replace(with: candidate, where: larger)
        best.replace(with: corner + offset, where: larger)
      }
      consider(upper.oddHalf, 1)
      consider(lower.evenHalf, Float(width))
      consider(lower.oddHalf, Float(width + 1))
      out.storeBytes(of: maximum, toByteOffset: 4 * ow, as: SIMD4<Float>.self)
      indices.storeBytes(of: best, toByteOffset: 4 * ow, as: SIMD4<Float>.self)
      ow += 4
    }
    return ow
  }

  /// Backward of row `oh` of a 2×2 stride-2 max pooling: input rows 2·oh and 2·oh + 1 of
  /// `dX` (one channel) get each window's gradient at its recorded argmax and zero elsewhere,
  /// a trailing column included.
  ///
  /// Each window's four corners are compared with its argmax in vectors of eight windows,
  /// then even and odd columns are interleaved into one 16-column store per row. The value
  /// written is `0 + dA`, what the zeroing pass and the add give (a -0 gradient becomes +0),
  /// so the bits are those of the general path.
  @inline(__always)
  func pairedRowBackward(
    _ dX: UnsafeMutablePointer<Float>, oh: Int, gradient: UnsafePointer<Float>, index: UnsafePointer<Float>
  ) {
    let top = UnsafeMutableRawPointer(dX + 2 * oh * width)
    let bottom = top + width * 4
    let dA = UnsafeRawPointer(gradient)
    let at = UnsafeRawPointer(index)
    let lanes = SIMD8<Float>(0, 2, 4, 6, 8, 10, 12, 14)
    let zero = SIMD8<Float>()
    var ow = 0
    while ow + 8 <= outWidth {
      let d = dA.loadUnaligned(fromByteOffset: 4 * ow, as: SIMD8<Float>.self) + zero
      let best = at.loadUnaligned(fromByteOffset: 4 * ow, as: SIMD8<Float>.self)
      let corner = SIMD8<Float>(repeating: Float(2 * oh * width + 2 * ow)) + lanes
      @inline(__always) func share(_ offset: Float) -> SIMD8<Float> {
        zero.replacing(with: d, where: best .== corner + offset)
      }
      top.storeBytes(of: Self.interleave(share(0), share(1)), toByteOffset: 8 * ow, as: SIMD16<Float>.self)
      bottom.storeBytes(
        of: Self.interleave(share(Float(width)), share(Float(width + 1))), toByteOffset: 8 * ow,
        as: SIMD16<Float>.self)
      ow += 8
    }
    // Four more windows (rows of 4 or 12 windows, as LeNet's): the same in half vectors.
    if ow + 4 <= outWidth {
      let zero = SIMD4<Float>()
      let d = dA.loadUnaligned(fromByteOffset: 4 * ow, as: SIMD4<Float>.self) + zero
      let best = at.loadUnaligned(fromByteOffset: 4 * ow, as: SIMD4<Float>.self)
      let corner = SIMD4<Float>(repeating: Float(2 * oh * width + 2 * ow)) + lanes.lowHalf
      @inline(__always) func share(_ offset: Float) -> SIMD4<Float> {
        zero.replacing(with: d, where: best .== corner + offset)
      }
      top.storeBytes(of: Self.interleave(share(0), share(1)), toByteOffset: 8 * ow, as: SIMD8<Float>.self)
      bottom.storeBytes(
        of: Self.interleave(share(Float(width)), share(Float(width + 1))), toByteOffset: 8 * ow,
        as: SIMD8<Float>.self)
      ow += 4
    }
    // The rest one window at a time: zero its four, then store at the argmax. Stores, not
    // selects: which corner wins is data, and the compiler turns selects into branches.
    let upper = dX + 2 * oh * width
    let lower = upper + width
    while ow < outWidth {
      upper[2 * ow] = 0
      upper[2 * ow + 1] = 0
      lower[2 * ow] = 0
      lower[2 * ow + 1] = 0
      dX[Int(index[ow])] = gradient[ow] + 0
      ow += 1
    }
    // A trailing column no window covers (odd W).
    for column in (2 * outWidth)..<width {
      upper[column] = 0
      lower[column] = 0
    }
  }

  /// [e0, o0, e1, o1, e2, o2, e3, o3]: two rows of window corners back in column order.
  @inline(__always)
  static func interleave(_ even: SIMD4<Float>, _ odd: SIMD4<Float>) -> SIMD8<Float> {
    SIMD8(even[0], odd[0], even[1], odd[1], even[2], odd[2], even[3], odd[3])
  }

  /// [e0, o0, e1, o1, …, e7, o7]: two rows of window corners back in column order.
  @inline(__always)
  static func interleave(_ even: SIMD8<Float>, _ odd: SIMD8<Float>) -> SIMD16<Float> {
    SIMD16(
      even[0], odd[0], even[1], odd[1], even[2], odd[2], even[3], odd[3],
      even[4], odd[4], even[5], odd[5], even[6], odd[6], even[7], odd[7])
  }

  /// Index in `image` (one channel, [H, W]) of window (oh, ow)'s first maximum in row-major order.
  ///
  /// Selects rather than branches: which element wins is data, and a
  /// mispredicted branch per element would cost more than the comparison.
  @inline(__always)
  func argmax(_ image: UnsafePointer<Float>, oh: Int, ow: Int) -> Int {
    let corner = oh * strideHeight * width + ow * strideWidth
    var best = corner
    var maximum = image[corner]
    if sizeHeight == 2 && sizeWidth == 2 {
      // The common 2×2 window, straight-line: (0, 1), (1, 0), (1, 1) after (0, 0).
      @inline(__always) func consider(_ candidate: Int) {
        let value = image[candidate]
        let larger = value > maximum
        maximum = larger ? value : maximum
        best = larger ? candidate : best
      }
      consider(corner + 1)
      consider(corner + width)
      consider(corner + width + 1)
      return best
    }
    for i in 0..<sizeHeight {
      let row = corner + i * width
      for j in 0..<sizeWidth {
        let value = image[row + j]
        let larger = value > maximum
        maximum = larger ? value : maximum
        best = larger ? row + j : best
      }
    }
    return best
  }
}

extension PoolingSpec {
  /// A pooling kind: `{"type": KIND, "size": S, "stride": S}`; stored as `size_height`,
  /// `size_width`, `stride_height`, `stride_width`.
  public static var declaration: LayerKind {
    LayerKind(
      Self.self,
      settings: [
        LayerSetting("size", .size(1...(1 << 16)), doc: "Window height × width."),
        LayerSetting(
          "stride", .size(1...(1 << 16)), default: .setting("size"),
          doc: "Steps between windows (default: the window, side by side)."),
      ],
      shape: .spatial,
      summary: { spec, _ in spec.stride == spec.size ? "\(spec.size)" : "\(spec.size) stride \(spec.stride)"
      },
      make: { Self(size: $0.size("size"), stride: $0.size("stride")) },
      values: { [.size($0.size), .size($0.stride)] })
  }
}
