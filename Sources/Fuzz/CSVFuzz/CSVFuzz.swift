import FuzzSupport
import NNBatchData
import NeuralNet

/// libFuzzer entry point: a CSV file through format detection, the scanner and the CSV reader.
///
/// The first byte chooses the reading options (header: yes, no or detect;
/// delimiter: comma, semicolon or tab; task: classification or regression;
/// targets: last column or the column named "y"; training or `predict`'s
/// inputs-only reading); the rest is the file.
@_cdecl("LLVMFuzzerTestOneInput")
public func csvFuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  let input = fuzzInput(data, size)
  guard let options = input.first else { return 0 }
  let path = writeScratch("data.csv", input.dropFirst())
  let header: Bool? = [true, false, nil][Int(options & 3) % 3]
  let delimiter: Character = [",", ";", "\t", ","][Int(options >> 2 & 3)]
  let task: LearningTask = options & 16 == 0 ? .classification : .regression
  let targets: [ColumnRef] = options & 32 == 0 ? [.index(-1)] : [.name("y")]
  do {
    _ = try DataSources.format(of: .file(path))
    if options & 64 == 0 {
      let source = CSVSource(path: path, header: header, delimiter: delimiter, targets: targets, ignore: [])
      _ = try DataLoader.read(DataConfig(source: source, task: task), task: task)
    } else {
      _ = try CSVSource.openInputs(.file(path), InputRequest(header: header)).readAll()
    }
  } catch {
    _ = error.description
  }
  return 0
}
