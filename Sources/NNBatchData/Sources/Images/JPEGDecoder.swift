import CTurboJPEG
import NNBatchCore

/// JPEG through libjpeg-turbo's TurboJPEG API: the only file that calls it; every return code is checked.
///
/// Greyscale JPEGs come out as one channel, the others as RGB (libjpeg's
/// accurate integer IDCT and smooth chroma upsampling, as Pillow decodes).
/// A warning (corrupt data, a truncated file) is an error here: decoding
/// stops at it rather than hand back a partly grey image. Progressive files
/// with an unreasonable number of scans are refused (TJFLAG_LIMITSCANS).
enum JPEGDecoder {
  /// Decodes `bytes` (a whole JPEG file); errors name `path`.
  static func decode(_ bytes: [UInt8], path: String) throws(NNBatchError) -> DecodedImage {
    guard let handle = tjInitDecompress() else {
      let reason = tjGetErrorStr2(nil).map { String(cString: $0) } ?? "unknown error"
      throw NNBatchError(.failure, "\(path): cannot start the JPEG decoder: \(reason) (tjInitDecompress)")
    }
    defer { tjDestroy(handle) }
    func check(_ status: Int32, _ call: String) throws(NNBatchError) {
      guard status != 0 else { return }
      let reason = tjGetErrorStr2(handle).map { String(cString: $0) } ?? "unknown error"
      throw NNBatchError(.usage, "\(path): not a readable JPEG image: \(reason) (\(call))")
    }
    return try bytes.withUnsafeBufferPointer { (buffer) throws(NNBatchError) in
      var width: Int32 = 0
      var height: Int32 = 0
      var subsampling: Int32 = 0
      var colorspace: Int32 = 0
      try check(
        tjDecompressHeader3(
          handle, buffer.baseAddress, UInt(buffer.count), &width, &height, &subsampling, &colorspace),
        "tjDecompressHeader3")
      try ImageLimits.check(width: Int(width), height: Int(height), path: path)
      let grey = colorspace == Int32(TJCS_GRAY.rawValue)
      let channels = grey ? 1 : 3
      var pixels = [UInt8](repeating: 0, count: Int(width) * Int(height) * channels)
      let flags = TJFLAG_ACCURATEDCT | TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS
      let status = pixels.withUnsafeMutableBufferPointer {
        tjDecompress2(
          handle, buffer.baseAddress, UInt(buffer.count), $0.baseAddress, width, 0, height,
          Int32(grey ? TJPF_GRAY.rawValue : TJPF_RGB.rawValue), flags)
      }
      try check(status, "tjDecompress2")
      return DecodedImage(
        width: Int(width), height: Int(height), channels: channels, stride: channels, depth: 8, bytes: pixels)
    }
  }
}
