import NNBatchCore
import NeuralNet

// `data.augment`: training-time augmentation of image samples, as the config
// writes it. The run resolves it against the sample shape ([C, H, W]) into
// NeuralNet's `ImageAugmentation`, which the training gather applies; the
// conventions (torchvision's ColorJitter and RandomCrop with zero padding)
// are stated there and in the README.

/// `data.augment` as written: which transforms, with which ranges.
public struct AugmentSettings: Sendable, Equatable {
  /// How far a sample may shift: whole pixels, or a fraction of the height and width.
  public enum Shift: Sendable, Equatable, CustomStringConvertible {
    /// At most this many pixels along each axis.
    case pixels(Int)
    /// At most ⌊fraction · H⌋ rows and ⌊fraction · W⌋ columns.
    case fraction(Double)

    /// As the config writes it.
    public var description: String {
      switch self {
      case .pixels(let n): return "\(n)"
      case .fraction(let f): return "\(f)"
      }
    }
  }

  /// `horizontal_flip`: the probability of a left-right flip (true is 0.5).
  public var horizontalFlip: Double = 0
  /// `shift`: random translation with zero padding; nil: none.
  public var shift: Shift?
  /// `brightness`: range of the brightness factor; nil: none.
  public var brightness: ClosedRange<Double>?
  /// `contrast`: range of the contrast factor; nil: none.
  public var contrast: ClosedRange<Double>?
  /// `clip`: the range jittered values are clipped to; nil: not clipped.
  public var clip: ClosedRange<Double>?

  /// No augmentation.
  public init() {}

  /// Whether any transform is on.
  public var isActive: Bool {
    horizontalFlip > 0 || (shift != nil && shift != .pixels(0)) || brightness != nil || contrast != nil
  }

  /// Each key with its value as text, `none` when absent: what resume compares and `inspect` shows.
  public var entries: [(key: String, value: String)] {
    func range(_ r: ClosedRange<Double>?) -> String {
      r.map { "[\($0.lowerBound), \($0.upperBound)]" } ?? "none"
    }
    return [
      ("horizontal_flip", "\(horizontalFlip)"), ("shift", shift?.description ?? "none"),
      ("brightness", range(brightness)), ("contrast", range(contrast)), ("clip", range(clip)),
    ]
  }
}

extension AugmentSettings {
  /// Reads a `data.augment` object, reporting each bad key with what was expected and found.
  static func decode(_ a: ObjectReader) -> AugmentSettings {
    var settings = AugmentSettings()
    if let v = a.value("horizontal_flip") {
      switch v {
      case .bool(let flip, _): settings.horizontalFlip = flip ? 0.5 : 0
      case .number(let p, _, _) where (0...1).contains(p): settings.horizontalFlip = p
      default:
        a.report("horizontal_flip", "expected true, false or a probability in [0, 1], found \(v.summary)")
      }
    }
    if let v = a.value("shift") {
      if case .number(let s, _, _) = v, v.isInteger, s >= 0, s < 16_777_216 {
        settings.shift = .pixels(Int(s))
      } else if case .number(let f, _, _) = v, f > 0, f < 1 {
        settings.shift = .fraction(f)
      } else {
        a.report(
          "shift",
          "expected whole pixels (an integer ≥ 0) or a fraction of the image's size (a number in (0, 1)), found \(v.summary)"
        )
      }
    }
    settings.brightness = factorRange(a, "brightness")
    settings.contrast = factorRange(a, "contrast")
    if let v = a.value("clip") {
      if let r = numberPair(v), r.0 < r.1 {
        settings.clip = r.0...r.1
        if settings.brightness == nil && settings.contrast == nil {
          a.report("clip", "clips the jitter of brightness or contrast; set one of them, or remove clip")
        }
      } else {
        a.report("clip", "expected [low, high] with low < high (such as [0, 1]), found \(v.summary)")
      }
    }
    a.finish()
    return settings
  }

  /// A jitter key as torchvision's ColorJitter takes it: β gives [max(0, 1 − β), 1 + β]; [low, high] itself.
  private static func factorRange(_ a: ObjectReader, _ key: String) -> ClosedRange<Double>? {
    guard let v = a.value(key) else { return nil }
    if case .number(let beta, _, _) = v, beta >= 0, Float(1 + beta).isFinite {
      return max(0, 1 - beta)...(1 + beta)
    }
    if let r = numberPair(v), r.0 >= 0, r.0 <= r.1, Float(r.1).isFinite {
      return r.0...r.1
    }
    a.report(
      key,
      "expected a number β ≥ 0 (factors in [max(0, 1 − β), 1 + β]) or [low, high] with 0 ≤ low ≤ high, found \(v.summary)"
    )
    return nil
  }

  /// Two finite numbers that a 32-bit float holds, or nil.
  private static func numberPair(_ v: JSONValue) -> (Double, Double)? {
    guard case .array(let items, _) = v, items.count == 2,
      case .number(let low, _, _) = items[0], case .number(let high, _, _) = items[1],
      Float(low).isFinite, Float(high).isFinite
    else { return nil }
    return (low, high)
  }
}

extension Config {
  /// The run's augmentation for samples of `sample` shape; nil when `data.augment` turns nothing on.
  ///
  /// Throws a usage error naming `$.data.augment` when samples are not
  /// images [C, H, W], or `$.data.augment.shift` when the shift is not
  /// smaller than the image.
  public func augmentation(sample: Shape) throws(NNBatchError) -> ImageAugmentation? {
    guard let augment, augment.isActive else { return nil }
    guard sample.rank == 3 else {
      throw NNBatchError(
        .usage,
        "\(file): $.data.augment: expected image samples [C, H, W] (from the source, or data.shape such as [1, 28, 28]), found \(sample)"
      )
    }
    let (channels, height, width) = (sample.dimensions[0], sample.dimensions[1], sample.dimensions[2])
    var rows = 0
    var columns = 0
    switch augment.shift {
    case .pixels(let n)?: (rows, columns) = (n, n)
    case .fraction(let f)?: (rows, columns) = (Int(f * Double(height)), Int(f * Double(width)))
    case nil: break
    }
    guard rows < height, columns < width else {
      throw NNBatchError(
        .usage,
        "\(file): $.data.augment.shift: expected a shift smaller than the image's height \(height) and width \(width), found \(max(rows, columns)) pixels"
      )
    }
    func float(_ r: ClosedRange<Double>?) -> ClosedRange<Float>? {
      r.map { Float($0.lowerBound)...Float($0.upperBound) }
    }
    return ImageAugmentation(
      channels: channels, height: height, width: width, flipProbability: augment.horizontalFlip,
      shiftRows: rows, shiftColumns: columns, brightness: augment.brightness, contrast: augment.contrast,
      clip: float(augment.clip))
  }
}
