import FuzzSupport
import NNBatchData

/// libFuzzer entry point: an image file through format detection, the PNG and JPEG decoders, and the resize.
///
/// The first byte chooses what the decoded image becomes: 1 or 3 channels
/// (bit 0), and its size, 1 to 8 pixels a side (bits 1-3 height, 4-6
/// width), so that channel conversion and both directions of the resize
/// run on whatever the decoders accept. The file goes through the same path
/// training reads it by (`ImageShape.decode`: read, detect, decode, write).
@_cdecl("LLVMFuzzerTestOneInput")
public func imageFuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  let input = fuzzInput(data, size)
  guard let mode = input.first else { return 0 }
  let path = writeScratch("image", input.dropFirst())
  let shape = ImageShape(
    channels: mode & 1 == 0 ? 1 : 3, height: Int(mode >> 1 & 7) + 1, width: Int(mode >> 4 & 7) + 1)
  let output = UnsafeMutablePointer<Float>.allocate(capacity: shape.features)
  defer { output.deallocate() }
  do {
    _ = try DataSources.format(of: .file(path))
    try shape.decode(path, into: output)
    for i in 0..<shape.features where !(output[i] >= 0 && output[i] <= 1) {
      fatalError("pixel \(i) out of [0, 1]: \(output[i])")
    }
  } catch {
    _ = error.description
  }
  return 0
}
