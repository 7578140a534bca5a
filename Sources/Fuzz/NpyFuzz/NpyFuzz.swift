import FuzzSupport
import NNBatchData

/// A valid targets file: one int64 label 0.
private let oneTarget: [UInt8] = npy(
  "{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }", [0, 0, 0, 0, 0, 0, 0, 0])
/// A valid features file: one sample of one float32 feature (1.0).
private let oneSample: [UInt8] = npy(
  "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1), }", [0, 0, 0x80, 0x3F])

/// A version 1.0 .npy file of `header` and `data`.
private func npy(_ header: String, _ data: [UInt8]) -> [UInt8] {
  var text = Array(header.utf8)
  while (10 + text.count + 1) % 64 != 0 { text.append(0x20) }
  text.append(0x0A)
  return [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, UInt8(text.count & 0xFF), UInt8(text.count >> 8)] + text
    + data
}

/// libFuzzer entry point: a .npy file through detection, the header parser and the row reader.
///
/// The first byte chooses how the rest is used: as the features file next to
/// a valid targets file (read whole, or streamed block by block as training
/// and predict read it), or as the targets file next to a valid features file.
@_cdecl("LLVMFuzzerTestOneInput")
public func npyFuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  let input = fuzzInput(data, size)
  guard let mode = input.first else { return 0 }
  let payload = Array(input.dropFirst())
  let fuzzTargets = mode & 1 == 1
  let features = writeScratch("x.npy", fuzzTargets ? oneSample : payload)
  let targets = writeScratch("y.npy", fuzzTargets ? payload : oneTarget)
  do {
    _ = try DataSources.format(of: .file(fuzzTargets ? targets : features))
    let source = NpySource(features: features, targets: targets)
    switch mode >> 1 & 3 {
    case 0:
      _ = try DataLoader.read(DataConfig(source: source, task: .regression), task: .regression)
    case 1:
      if let rows = try source.openRows(task: .regression) {
        let reader = StreamedSamples(rows)
        while let block = try reader.next(maxRows: 3) { _ = block.inputs.rows }
      }
    default:
      _ = try NpySource.openInputs(.file(features), InputRequest()).readAll()
    }
  } catch {
    _ = error.description
  }
  return 0
}
