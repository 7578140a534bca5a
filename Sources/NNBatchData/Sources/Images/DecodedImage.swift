import NNBatchCore

// One image file to one sample: bytes -> format by magic -> decoder -> pixels
// -> channels converted -> resized -> [C, H, W] floats in [0, 1].

/// The image formats nnbatch decodes, told apart by their first bytes (never by the file's name).
package enum ImageFormat: String, Sendable, CaseIterable {
  /// PNG: 89 50 4E 47 0D 0A 1A 0A.
  case png = "PNG"
  /// JPEG: FF D8 FF.
  case jpeg = "JPEG"

  /// The format of a file starting with `head`, or nil.
  package static func detect(_ head: some Collection<UInt8>) -> ImageFormat? {
    if head.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
    if head.starts(with: [0xFF, 0xD8, 0xFF]) { return .jpeg }
    return nil
  }

  /// The name of an image format nnbatch recognizes but does not decode, for messages ("GIF"), else nil.
  static func unsupported(_ head: [UInt8]) -> String? {
    func at(_ offset: Int, _ text: String) -> Bool {
      head.count >= offset + text.utf8.count
        && Array(head[offset..<(offset + text.utf8.count)]) == Array(text.utf8)
    }
    if at(0, "GIF87a") || at(0, "GIF89a") { return "GIF" }
    if at(0, "BM") { return "BMP" }
    if at(0, "RIFF") && at(8, "WEBP") { return "WebP" }
    if head.starts(with: [0x49, 0x49, 0x2A, 0x00]) || head.starts(with: [0x4D, 0x4D, 0x00, 0x2A]) {
      return "TIFF"
    }
    if at(4, "ftypavif") || at(4, "ftypheic") { return "AVIF/HEIF" }
    return nil
  }
}

/// The decoders' limits, so that a hostile file cannot make nnbatch allocate without bound.
package enum ImageLimits {
  /// Largest width or height accepted.
  package static let maximumSide = 16_384
  /// Largest pixel count accepted (32 Mi: 8192×4096).
  package static let maximumPixels = 1 << 25

  /// Throws unless a `width`×`height` image is within the limits.
  static func check(width: Int, height: Int, path: String) throws(NNBatchError) {
    guard width >= 1, height >= 1 else {
      throw NNBatchError(
        .usage, "\(path): expected an image of at least 1×1 pixels, found \(width)×\(height)")
    }
    guard width <= maximumSide, height <= maximumSide, width * height <= maximumPixels else {
      throw NNBatchError(
        .usage,
        "\(path): expected an image of at most \(maximumSide) pixels a side and \(maximumPixels) pixels in all, found \(width)×\(height)"
      )
    }
  }
}

/// An image as its decoder gave it: rows of interleaved samples, 8 or 16 bits (host order).
package struct DecodedImage: Sendable {
  /// Pixels per row.
  package let width: Int
  /// Rows.
  package let height: Int
  /// Colour channels: 1 (grey) or 3 (RGB).
  package let channels: Int
  /// Samples stored per pixel (the colour channels, then an alpha channel that is ignored).
  package let stride: Int
  /// Bits per sample: 8 or 16.
  package let depth: Int
  /// The samples, `stride` per pixel, row after row.
  package let bytes: [UInt8]

  /// Decodes the whole file `bytes` by its magic bytes; errors name `path`.
  package static func decode(_ bytes: [UInt8], path: String) throws(NNBatchError) -> DecodedImage {
    switch ImageFormat.detect(bytes.prefix(8)) {
    case .png: return try PNGDecoder.decode(bytes, path: path)
    case .jpeg: return try JPEGDecoder.decode(bytes, path: path)
    case nil:
      let head = Array(bytes.prefix(16))
      if bytes.isEmpty {
        throw NNBatchError(.usage, "\(path): expected a PNG or JPEG image, found an empty file")
      }
      if let other = ImageFormat.unsupported(head) {
        throw NNBatchError(
          .usage, "\(path): expected a PNG or JPEG image, found \(other), which nnbatch does not decode")
      }
      let hex = head.prefix(8).map {
        String($0, radix: 16).count == 1 ? "0\(String($0, radix: 16))" : String($0, radix: 16)
      }
      throw NNBatchError(
        .usage,
        "\(path): expected a PNG or JPEG image (by its first bytes), found first bytes \(hex.joined(separator: " "))"
      )
    }
  }

  /// The image as channels-first floats in [0, 1], converted to `channels` and resized to `height`×`width`.
  ///
  /// Grey to RGB repeats the grey value; RGB to grey is ITU-R BT.601 luma,
  /// L = 0.299 R + 0.587 G + 0.114 B, in floating point (Pillow's
  /// `convert("L")` uses the same weights but rounds to 8 bits). A size that
  /// differs is resampled by `ImageResize.bilinear`. `output` holds
  /// channels × height × width floats.
  package func write(
    channels target: Int, height outHeight: Int, width outWidth: Int, into output: UnsafeMutablePointer<Float>
  ) {
    precondition(target == 1 || target == 3, "channels must be 1 or 3")
    let pixels = width * height
    let same = outHeight == height && outWidth == width
    // The converted planes at the decoded size: straight into the output when no resize follows.
    let planes = same ? output : UnsafeMutablePointer<Float>.allocate(capacity: target * pixels)
    defer { if !same { planes.deallocate() } }
    bytes.withUnsafeBytes { raw in
      // A division, not a product with 1/255: the floats IDX files give for the same bytes.
      let maximum: Float = depth == 16 ? 65535 : 255
      func sample(_ pixel: Int, _ channel: Int) -> Float {
        let index = pixel * stride + channel
        return depth == 16
          ? Float(raw.load(fromByteOffset: 2 * index, as: UInt16.self)) / maximum
          : Float(raw[index]) / maximum
      }
      switch (channels, target) {
      case (1, 1), (3, 3):
        for c in 0..<target {
          let plane = planes + c * pixels
          for p in 0..<pixels { plane[p] = sample(p, c) }
        }
      case (1, 3):
        for p in 0..<pixels { planes[p] = sample(p, 0) }
        (planes + pixels).update(from: planes, count: pixels)
        (planes + 2 * pixels).update(from: planes, count: pixels)
      default:
        for p in 0..<pixels {
          planes[p] = 0.299 * sample(p, 0) + 0.587 * sample(p, 1) + 0.114 * sample(p, 2)
        }
      }
    }
    guard !same else { return }
    for c in 0..<target {
      ImageResize.bilinear(
        planes + c * pixels, height: height, width: width, into: output + c * outHeight * outWidth,
        height: outHeight, width: outWidth)
    }
  }
}

/// The one resize of image planes.
package enum ImageResize {
  /// Resamples one plane by half-pixel bilinear interpolation without antialiasing.
  ///
  /// Output pixel centre y maps to source coordinate (y + 0.5)·inH/outH − 0.5,
  /// clamped to [0, inH − 1]; the value interpolates the two nearest source
  /// rows (and columns likewise). This is PyTorch's `interpolate(mode="bilinear",
  /// align_corners=False, antialias=False)` and TensorFlow's `resize(method="bilinear")`
  /// (Keras's default), computed in Float.
  package static func bilinear(
    _ input: UnsafePointer<Float>, height inHeight: Int, width inWidth: Int,
    into output: UnsafeMutablePointer<Float>, height outHeight: Int, width outWidth: Int
  ) {
    func taps(_ out: Int, _ count: Int) -> [(Int, Int, Float)] {
      let scale = Float(count) / Float(out)
      return (0..<out).map { i in
        let position = min(max((Float(i) + 0.5) * scale - 0.5, 0), Float(count - 1))
        let low = Int(position)
        return (low, min(low + 1, count - 1), position - Float(low))
      }
    }
    let rows = taps(outHeight, inHeight)
    let columns = taps(outWidth, inWidth)
    for (y, (y0, y1, wy)) in rows.enumerated() {
      let top = input + y0 * inWidth
      let bottom = input + y1 * inWidth
      let out = output + y * outWidth
      for (x, (x0, x1, wx)) in columns.enumerated() {
        let upper = top[x0] + (top[x1] - top[x0]) * wx
        let lower = bottom[x0] + (bottom[x1] - bottom[x0]) * wx
        out[x] = upper + (lower - upper) * wy
      }
    }
  }
}
