import FuzzSupport
import NNBatchData

/// A valid labels file for one image of label 0 (the images file is the one fuzzed).
private let oneLabel: [UInt8] = [0, 0, 8, 1, 0, 0, 0, 1, 0]
/// A valid images file of one 1×1 image (when the labels file is the one fuzzed).
private let oneImage: [UInt8] = [0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 128]

/// libFuzzer entry point: an IDX file, plain or gzipped, through detection and the IDX reader.
///
/// The first byte chooses how the rest is used: as the images file written
/// plain, gzipped by the harness (so mutations reach the header inside a valid
/// gzip stream), or raw (mutations hit the gzip layer when the seed is
/// gzipped); or as the labels file next to a valid images file. The reader
/// checks every header field against the file's size before allocating.
@_cdecl("LLVMFuzzerTestOneInput")
public func idxFuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  let input = fuzzInput(data, size)
  guard let mode = input.first else { return 0 }
  let payload = Array(input.dropFirst())
  let images: String
  let labels: String
  switch mode & 3 {
  case 0, 2:
    images = writeScratch("images.idx", payload)
    labels = writeScratch("labels.idx", oneLabel)
  case 1:
    images = writeScratchGzipped("images.idx.gz", payload)
    labels = writeScratch("labels.idx", oneLabel)
  default:
    images = writeScratch("images.idx", oneImage)
    labels =
      mode & 4 == 0 ? writeScratch("labels.idx", payload) : writeScratchGzipped("labels.idx.gz", payload)
  }
  do {
    _ = try DataSources.format(of: .file(mode & 3 == 3 ? labels : images))
    if mode & 8 == 0 {
      let source = IDXSource(images: images, labels: labels)
      _ = try DataLoader.read(DataConfig(source: source, task: .classification), task: .classification)
    } else {
      _ = try IDXSource.openInputs(.file(images), InputRequest()).readAll()
    }
  } catch {
    _ = error.description
  }
  return 0
}
