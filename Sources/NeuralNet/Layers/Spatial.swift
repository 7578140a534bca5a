// What the spatial layers (Conv2D, MaxPool2D, AvgPool2D, global pooling) share: window
// sizes, padding, and the check that an input is an image.
//
// Images are channels first: one sample is [C, H, W] row-major, so value
// (c, h, w) of sample n sits at ((n·C + c)·H + h)·W + w.

/// A height and a width: a kernel, a pooling window or a stride.
public struct Size2D: Sendable, Hashable, CustomStringConvertible, ExpressibleByIntegerLiteral {
  /// Rows (the H axis).
  public var height: Int
  /// Columns (the W axis).
  public var width: Int

  /// `height` × `width`.
  public init(_ height: Int, _ width: Int) {
    self.height = height
    self.width = width
  }

  /// A square `size` × `size`, as a config's single number means.
  public init(integerLiteral size: Int) {
    self.init(size, size)
  }

  /// `5×5`, `3×1`.
  public var description: String { "\(height)×\(width)" }

  /// Both sides ≥ 1.
  var isPositive: Bool { height > 0 && width > 0 }
}

/// How a convolution treats the image's border.
public enum Padding: String, Sendable, Hashable, CaseIterable {
  /// No padding: only windows that lie wholly inside the image;
  /// output ⌊(H − kh) / sh⌋ + 1 (trailing rows a stride skips are unused).
  case valid
  /// Zero padding so that the output is ⌈H / sh⌉ × ⌈W / sw⌉.
  ///
  /// The padding needed, max((OH − 1)·sh + kh − H, 0) rows, is split with
  /// the smaller half on top and the extra row at the bottom (likewise the
  /// extra column on the right), as TensorFlow and Keras do; PyTorch's
  /// `padding="same"` agrees for stride 1.
  case same
}

/// One image's geometry: C channels of H × W.
struct ImageShape: Hashable {
  var channels: Int
  var height: Int
  var width: Int

  /// The image shape of `input`, or the refusal a spatial layer gives.
  init(_ input: Shape, kind: String) throws(LayerShapeError) {
    guard input.rank == 3 else {
      let hint =
        input.rank == 1
        ? "a spatial layer like \(kind) cannot follow a flatten, dense or global pooling layer"
        : "a single-channel image is [1, height, width]"
      throw LayerShapeError(
        expected: "an image [channels, height, width] (rank 3), found rank \(input.rank); \(hint)")
    }
    channels = input.dimensions[0]
    height = input.dimensions[1]
    width = input.dimensions[2]
  }

  /// The image shape of `input` for a global pooling layer (a mean or maximum over each
  /// channel's plane), or the refusal: it needs at least one channel, row and column.
  init(global input: Shape, kind: String) throws(LayerShapeError) {
    try self.init(input, kind: kind)
    guard channels > 0, height > 0, width > 0 else {
      throw LayerShapeError(expected: "an image with at least one channel, row and column, found \(input)")
    }
  }

  /// Floats per image.
  var elements: Int { channels * height * width }

  /// H·W: one channel of one image.
  var plane: Int { height * width }
}

/// Short vector loops for the spatial layers' copies and sums, in explicit 8-float vectors.
///
/// Their runs are short (a row of an output, 8 to a few hundred floats) and
/// their pointers may alias as far as the compiler knows, so plain loops
/// stay scalar; explicit vectors make them a load and a store per 8 floats.
/// Sums go through 8 fixed lanes, so their bits depend only on the values.
enum ShortVectors {
  /// target[0 ..< count] = source[0 ..< count].
  @inline(__always)
  static func copy(_ source: UnsafePointer<Float>, to target: UnsafeMutablePointer<Float>, count: Int) {
    let s = UnsafeRawPointer(source)
    let t = UnsafeMutableRawPointer(target)
    var i = 0
    while i + 8 <= count {
      t.storeBytes(
        of: s.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self), toByteOffset: i * 4,
        as: SIMD8<Float>.self)
      i += 8
    }
    while i < count {
      target[i] = source[i]
      i += 1
    }
  }

  /// target[0 ..< count] = source[0 ..< count] + scalar, then values below 0 set to 0 if `relu`.
  ///
  /// The ReLU zeroes exactly what `Activation.relu`'s vectors zero (values
  /// below 0; NaN stays), so fusing it into the copy saves a pass, not a result.
  @inline(__always)
  static func copy(
    _ source: UnsafePointer<Float>, adding scalar: Float, to target: UnsafeMutablePointer<Float>, count: Int,
    relu: Bool
  ) {
    let s = UnsafeRawPointer(source)
    let t = UnsafeMutableRawPointer(target)
    let vector = SIMD8<Float>(repeating: scalar)
    var i = 0
    while i + 8 <= count {
      var v = s.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) + vector
      if relu { v.replace(with: 0, where: v .< 0) }
      t.storeBytes(of: v, toByteOffset: i * 4, as: SIMD8<Float>.self)
      i += 8
    }
    while i < count {
      let v = source[i] + scalar
      target[i] = relu && v < 0 ? 0 : v
      i += 1
    }
  }

  /// target[0 ..< count] += source[0 ..< count].
  @inline(__always)
  static func add(_ source: UnsafePointer<Float>, to target: UnsafeMutablePointer<Float>, count: Int) {
    let s = UnsafeRawPointer(source)
    let t = UnsafeMutableRawPointer(target)
    var i = 0
    while i + 8 <= count {
      let sum =
        t.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
        + s.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
      t.storeBytes(of: sum, toByteOffset: i * 4, as: SIMD8<Float>.self)
      i += 8
    }
    while i < count {
      target[i] += source[i]
      i += 1
    }
  }

  /// Σ values[0 ..< count] in 8 fixed lanes, then the tail in order.
  @inline(__always)
  static func sum(_ values: UnsafePointer<Float>, count: Int) -> Float {
    let v = UnsafeRawPointer(values)
    var lanes = SIMD8<Float>()
    var i = 0
    while i + 8 <= count {
      lanes += v.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
      i += 8
    }
    var total = lanes.sum()
    while i < count {
      total += values[i]
      i += 1
    }
    return total
  }
}
