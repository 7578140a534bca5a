import CSpng
import NNBatchCore

/// PNG through libspng: the only file that calls it; every return code is checked.
///
/// Pixels come out as stored, with no gamma correction and the alpha channel
/// (and tRNS transparency) dropped, as Pillow's `convert("RGB")` drops it:
/// grey (with or without alpha) as one channel, everything else (truecolor,
/// palette) as three, 16-bit images at 16 bits, the others at 8.
enum PNGDecoder {
  /// Largest ancillary chunk, and all of them together, held in memory (text, ICC profiles).
  static let chunkLimit = 1 << 20
  static let chunkCacheLimit = 8 << 20

  /// Decodes `bytes` (a whole PNG file); errors name `path`.
  static func decode(_ bytes: [UInt8], path: String) throws(NNBatchError) -> DecodedImage {
    guard let context = spng_ctx_new(0) else {
      throw NNBatchError(.failure, "\(path): cannot start the PNG decoder (spng_ctx_new: out of memory)")
    }
    defer { spng_ctx_free(context) }
    func check(_ status: Int32, _ call: String) throws(NNBatchError) {
      guard status != 0 else { return }
      let reason = spng_strerror(status).map { String(cString: $0) } ?? "error \(status)"
      // Only a failed allocation is the machine's fault; everything else is the file's.
      let kind: NNBatchError.Kind = status == Int32(SPNG_EMEM.rawValue) ? .failure : .usage
      throw NNBatchError(kind, "\(path): not a readable PNG image: \(reason) (\(call))")
    }
    let side = UInt32(ImageLimits.maximumSide)
    try check(spng_set_image_limits(context, side, side), "spng_set_image_limits")
    try check(spng_set_chunk_limits(context, chunkLimit, chunkCacheLimit), "spng_set_chunk_limits")
    return try bytes.withUnsafeBufferPointer { (raw) throws(NNBatchError) -> DecodedImage in
      try check(spng_set_png_buffer(context, raw.baseAddress, raw.count), "spng_set_png_buffer")
      var header = spng_ihdr()
      try check(spng_get_ihdr(context, &header), "spng_get_ihdr")
      let width = Int(header.width)
      let height = Int(header.height)
      try ImageLimits.check(width: width, height: height, path: path)
      let greyAlpha = header.color_type == UInt8(SPNG_COLOR_TYPE_GRAYSCALE_ALPHA.rawValue)
      let grey = greyAlpha || header.color_type == UInt8(SPNG_COLOR_TYPE_GRAYSCALE.rawValue)
      let deep = header.bit_depth == 16
      // libspng converts every color type to RGB8 and RGBA16; its grey formats take plain grey
      // only, and grey with alpha (8 or 16 bits) comes as stored (SPNG_FMT_PNG, host order).
      let (format, stored): (spng_format, Int) =
        switch (grey, deep) {
        case (true, _) where greyAlpha: (SPNG_FMT_PNG, 2)
        case (true, false): (SPNG_FMT_G8, 1)
        case (true, true): (SPNG_FMT_GA16, 2)
        case (false, false): (SPNG_FMT_RGB8, 3)
        case (false, true): (SPNG_FMT_RGBA16, 4)
        }
      var size = 0
      try check(spng_decoded_image_size(context, Int32(format.rawValue), &size), "spng_decoded_image_size")
      let expected = width * height * stored * (deep ? 2 : 1)
      guard size == expected else {
        throw NNBatchError(
          .failure,
          "\(path): the PNG decoder asks for \(size) bytes for \(width)×\(height) pixels, expected \(expected)"
        )
      }
      var pixels = [UInt8](repeating: 0, count: size)
      let status = pixels.withUnsafeMutableBytes {
        spng_decode_image(context, $0.baseAddress, size, Int32(format.rawValue), 0)
      }
      try check(status, "spng_decode_image")
      return DecodedImage(
        width: width, height: height, channels: grey ? 1 : 3, stride: stored, depth: deep ? 16 : 8,
        bytes: pixels)
    }
  }
}
