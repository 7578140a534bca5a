// Training-time augmentation of image samples [C, H, W], applied while a shard's rows are gathered.
//
// One sample x [C, H, W] becomes y [C, H, W]; its random numbers are a pure
// function of (seed, epoch, the sample's position in the epoch's order):
//
//   key = hash(seed, epoch, position)              (SplitMix64 finaliser, as dropout)
//   flip    = uniform24(key, 0) < p                  p = horizontal_flip
//   oy, ox  = ⌊bits(key, 1|2) · (2s + 1) / 2⁶⁴⌋ − s  s = the shift in pixels (per axis)
//   b       = Float(bl + (bh − bl) · uniform53(key, 3))   brightness factor
//   c       = Float(cl + (ch − cl) · uniform53(key, 4))   contrast factor
//
// Colour first, on the whole image (torchvision's ColorJitter, brightness then
// contrast, each clipped when `clip` is set):
//   t = clip(b · x)
//   m = mean over H×W of grey(t)   (C = 3: 0.2989 R + 0.587 G + 0.114 B; else the mean of all C·H·W values;
//                                   in Double, value i into lane i mod 8, lanes added pairwise in order)
//   j = clip(c · t + Float((1 − c) · m))
// then geometry (RandomHorizontalFlip, then RandomCrop of the zero-padded image):
//   f[c][y][x] = flip ? j[c][y][W − 1 − x] : j[c][y][x]
//   y[c][r][q] = f[c][r + oy][q + ox], or 0 where r + oy ∉ [0, H) or q + ox ∉ [0, W)
//
// The geometry is the gather's copy (each output value is one input value or
// a padding 0); the jitter then runs in place on the copied values, which is
// the same arithmetic per value as jittering first. Nothing is allocated.

/// Random horizontal flips, shifts with zero padding and brightness/contrast jitter of [C, H, W] samples.
///
/// Built once per run from `data.augment` and the sample shape; the training
/// gather (`ShardRows`) applies it to each row it copies, keyed by the row's
/// position in the epoch (`PassContext`), so a sample's transform does not
/// depend on threads, shards, processes or resuming. Inference never sees it.
public struct ImageAugmentation: Sendable, Hashable {
  /// Channels of a sample.
  public let channels: Int
  /// Height of a sample.
  public let height: Int
  /// Width of a sample.
  public let width: Int
  /// Probability p of a horizontal flip (0: never).
  public let flipProbability: Double
  /// Largest vertical shift in pixels (0: none).
  public let shiftRows: Int
  /// Largest horizontal shift in pixels (0: none).
  public let shiftColumns: Int
  /// Range [low, high] of the brightness factor; nil: no brightness jitter.
  public let brightness: ClosedRange<Double>?
  /// Range [low, high] of the contrast factor; nil: no contrast jitter.
  public let contrast: ClosedRange<Double>?
  /// Values after each jitter are clipped to this range; nil: not clipped.
  public let clip: ClosedRange<Float>?

  /// An augmentation of samples of `channels` × `height` × `width`.
  public init(
    channels: Int, height: Int, width: Int, flipProbability: Double = 0, shiftRows: Int = 0,
    shiftColumns: Int = 0, brightness: ClosedRange<Double>? = nil, contrast: ClosedRange<Double>? = nil,
    clip: ClosedRange<Float>? = nil
  ) {
    precondition(channels > 0 && height > 0 && width > 0, "augmentation needs a non-empty [C, H, W]")
    precondition(shiftRows >= 0 && shiftRows < height && shiftColumns >= 0 && shiftColumns < width)
    precondition((0...1).contains(flipProbability))
    self.channels = channels
    self.height = height
    self.width = width
    self.flipProbability = flipProbability
    self.shiftRows = shiftRows
    self.shiftColumns = shiftColumns
    self.brightness = brightness
    self.contrast = contrast
    self.clip = clip
  }

  /// Values per sample, C·H·W.
  public var features: Int { channels * height * width }

  /// What one sample drew: whether it is flipped, its crop offset and its jitter factors.
  public struct Draw: Sendable, Hashable {
    /// Flipped left to right.
    public var flip: Bool
    /// Output row r reads row r + rowOffset of the (flipped) image; from −shift to shift.
    public var rowOffset: Int
    /// Output column q reads column q + columnOffset; from −shift to shift.
    public var columnOffset: Int
    /// Brightness factor b (1 without brightness jitter).
    public var brightness: Float
    /// Contrast factor c (1 without contrast jitter).
    public var contrast: Float

    /// A draw with every value given (for tests and tools).
    public init(flip: Bool, rowOffset: Int, columnOffset: Int, brightness: Float, contrast: Float) {
      self.flip = flip
      self.rowOffset = rowOffset
      self.columnOffset = columnOffset
      self.brightness = brightness
      self.contrast = contrast
    }
  }

  /// The key of the random numbers of the sample at `position` of epoch `epoch` in a run seeded with `seed`.
  @inline(__always)
  public static func key(seed: UInt64, epoch: Int, position: Int) -> UInt64 {
    // A constant of its own, so the key never equals a dropout key of the same numbers.
    var h = PassContext.mix(seed ^ 0xBB67_AE85_84CA_A73B)
    h = PassContext.mix(h ^ UInt64(truncatingIfNeeded: epoch))
    return PassContext.mix(h ^ UInt64(truncatingIfNeeded: position))
  }

  /// What the sample with random key `key` draws (each transform from its own unit, so turning one on never changes another's draws).
  @inline(__always)
  public func draw(key: UInt64) -> Draw {
    func offset(_ unit: Int, _ shift: Int) -> Int {
      guard shift > 0 else { return 0 }
      let bits = PassContext.randomBits(key: key, unit: unit)
      return Int(bits.multipliedFullWidth(by: UInt64(2 * shift + 1)).high) - shift
    }
    func factor(_ unit: Int, _ range: ClosedRange<Double>?) -> Float {
      guard let range else { return 1 }
      let u = Double(PassContext.randomBits(key: key, unit: unit) >> 11) * 0x1p-53
      return Float(range.lowerBound + (range.upperBound - range.lowerBound) * u)
    }
    return Draw(
      flip: flipProbability > 0 && PassContext.uniform(key: key, unit: 0) < Float(flipProbability),
      rowOffset: offset(1, shiftRows), columnOffset: offset(2, shiftColumns),
      brightness: factor(3, brightness), contrast: factor(4, contrast))
  }

  /// Writes the augmented `source` (one sample, C·H·W values) to `target` with the draws of `key`.
  public func apply(_ source: UnsafePointer<Float>, to target: UnsafeMutablePointer<Float>, key: UInt64) {
    apply(source, to: target, draw: draw(key: key))
  }

  /// Writes `source` transformed by `draw` to `target` (they must not overlap).
  ///
  /// Geometry first, as plain copies (each output value is one input value
  /// or 0), then the jitter in place on the copied values only: the same
  /// arithmetic per value as jittering the whole image first, in loops
  /// without branches that the compiler vectorises.
  public func apply(_ source: UnsafePointer<Float>, to target: UnsafeMutablePointer<Float>, draw: Draw) {
    let plane = height * width
    let oy = draw.rowOffset
    let ox = draw.columnOffset
    // Output columns q whose source column q + ox lies inside the image, and likewise rows.
    let first = max(0, -ox)
    let end = min(width, width - ox)
    let firstRow = max(0, -oy)
    let endRow = min(height, height - oy)
    for channel in 0..<channels {
      let sourcePlane = source + channel * plane
      let targetPlane = target + channel * plane
      for r in 0..<height {
        let out = targetPlane + r * width
        guard r >= firstRow, r < endRow, first < end else {
          out.update(repeating: 0, count: width)
          continue
        }
        let row = sourcePlane + (r + oy) * width
        if first > 0 { out.update(repeating: 0, count: first) }
        if end < width { (out + end).update(repeating: 0, count: width - end) }
        if draw.flip {
          // f[q + ox] = x[W − 1 − q − ox]
          let mirror = row + (width - 1 - ox)
          for q in first..<end { out[q] = mirror[-q] }
        } else {
          (out + first).update(from: row + first + ox, count: end - first)
        }
      }
    }
    guard brightness != nil || contrast != nil, first < end, firstRow < endRow else { return }
    // Without clip the bounds are ±∞, which leave every finite value as it is.
    let low = clip?.lowerBound ?? -.infinity
    let high = clip?.upperBound ?? .infinity
    let b = draw.brightness
    let c = draw.contrast
    // (1 − c) · m: the contrast's pull towards the grey mean of the brightened image.
    let pull =
      contrast != nil ? Float((1 - Double(c)) * greyMean(source, brightness: b, low: low, high: high)) : 0
    for channel in 0..<channels {
      for r in firstRow..<endRow {
        let values = target + channel * plane + r * width + first
        let count = end - first
        switch (brightness != nil, contrast != nil) {
        case (true, true):
          for q in 0..<count {
            values[q] = min(max(c * min(max(b * values[q], low), high) + pull, low), high)
          }
        case (true, false):
          for q in 0..<count { values[q] = min(max(b * values[q], low), high) }
        default:
          for q in 0..<count { values[q] = min(max(c * values[q] + pull, low), high) }
        }
      }
    }
  }

  /// The grey mean m of clip(b · x) over the image (x itself without brightness), in Double.
  ///
  /// Pixel i's grey value goes to lane i mod 8; the lanes are added as
  /// ((0 + 1) + (2 + 3)) + ((4 + 5) + (6 + 7)). Eight independent sums, not
  /// one chain of dependent adds, in an order fixed by the shape alone.
  private func greyMean(_ source: UnsafePointer<Float>, brightness b: Float, low: Float, high: Float)
    -> Double
  {
    let plane = height * width
    let bright = brightness != nil
    let colour = channels == 3
    let count = colour ? plane : channels * plane
    @inline(__always) func value(_ i: Int) -> Double {
      @inline(__always) func t(_ x: Float) -> Double { Double(bright ? min(max(b * x, low), high) : x) }
      guard colour else { return t(source[i]) }
      return 0.2989 * t(source[i]) + 0.587 * t(source[plane + i]) + 0.114 * t(source[2 * plane + i])
    }
    // Eight scalars, not a SIMD8 subscripted by lane: those subscripts go through memory.
    var (s0, s1, s2, s3, s4, s5, s6, s7) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    var i = 0
    while i + 8 <= count {
      s0 += value(i)
      s1 += value(i + 1)
      s2 += value(i + 2)
      s3 += value(i + 3)
      s4 += value(i + 4)
      s5 += value(i + 5)
      s6 += value(i + 6)
      s7 += value(i + 7)
      i += 8
    }
    // The tail: lane i mod 8 (i is a multiple of 8 here, so the tail fills lanes 0, 1, ...).
    if i < count { s0 += value(i) }
    if i + 1 < count { s1 += value(i + 1) }
    if i + 2 < count { s2 += value(i + 2) }
    if i + 3 < count { s3 += value(i + 3) }
    if i + 4 < count { s4 += value(i + 4) }
    if i + 5 < count { s5 += value(i + 5) }
    if i + 6 < count { s6 += value(i + 6) }
    let sum = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
    return sum / Double(count)
  }
}
