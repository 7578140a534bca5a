import Checkpoints
import FuzzSupport
import HDF5Store

/// libFuzzer entry point: a checkpoint file, re-sealed, through libhdf5 and the schema decoding.
///
/// The seal (a whole-file checksum in the 512-byte user block) would stop
/// almost every mutation before libhdf5 sees the file, so the harness seals
/// each mutated image first: mutations then reach HDF5's parsing, its own
/// checksums, the format version checks and every entry's decoding. Inputs
/// shorter than the user block get one prepended. libhdf5 1.10.8 itself
/// crashes on some damaged files (SIGSEGV inside the library); tools/fuzz
/// tells those apart from crashes in nnbatch's code and reports them
/// separately (see docs/fuzzing.md).
@_cdecl("LLVMFuzzerTestOneInput")
public func checkpointFuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  var image = fuzzInput(data, size)
  if image.count < FileSeal.userBlockSize {
    image = [UInt8](repeating: 0, count: FileSeal.userBlockSize) + image
  }
  FileSeal.seal(&image)
  let path = writeScratch("checkpoint.h5", image)
  do {
    _ = try CheckpointFile.read(path).checkpoint.fileImage(name: "fuzz.h5")
  } catch {
    _ = "\(error)"
  }
  return 0
}
