import FuzzSupport
import NNBatch

/// libFuzzer entry point: a config's text through JSON parsing and every validation check.
///
/// Any input must end in a config or an `NNBatchError`, never a trap. Bytes
/// that are not UTF-8 are decoded with replacement characters (as `Config.load`
/// refuses them before parsing, the parser only ever sees valid text).
@_cdecl("LLVMFuzzerTestOneInput")
public func configFuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  let text = String(decoding: fuzzInput(data, size), as: UTF8.self)
  do {
    _ = try Config.parse(text: text, file: "fuzz.json")
  } catch {
    // Refusals are the expected outcome; their text is built to check it can be.
    _ = error.description
  }
  return 0
}
