import HDF5Store
import NNBatchCore
import NeuralNet

/// An HDF5 inputs dataset [N, F] and targets dataset [N] or [N, C], read by hyperslabs of rows.
///
/// Both datasets stay open for the run (libhdf5's chunk cache lives across
/// reads). libhdf5 is not thread-safe here; `HDF5Store` serialises every call.
package final class HDF5Rows: RowSource, @unchecked Sendable {
  // @unchecked: the readers are used by one thread at a time (the
  // statistics pass, then the prefetch thread), and libhdf5 calls are
  // serialised by HDF5Store's lock.
  private let x: HDF5RowReader
  private let t: HDF5RowReader?
  private let watch: FileWatch
  /// The file.
  package let name: String

  private init(name: String, x: HDF5RowReader, t: HDF5RowReader?, watch: FileWatch) {
    self.name = name
    self.x = x
    self.t = t
    self.watch = watch
  }

  /// Samples in the file.
  package var rows: Int { x.rows }
  /// Features per sample.
  package var features: Int { x.columns }
  /// Target columns per sample (0: inputs only).
  package var targetColumns: Int { t?.columns ?? 0 }
  /// Flat samples.
  package var sampleShape: Shape? { nil }
  /// A chunk's rows: reading a whole chunk per block decodes each chunk once.
  package var preferredBlockRows: Int? { x.chunkRows }

  /// Opens `inputs` (and `targets` unless nil) of `path`.
  package static func open(path: String, inputs: String, targets: String?) throws(NNBatchError) -> HDF5Rows {
    try requireRegularFile(path)
    // Taken before libhdf5 reads a byte: a change after this is caught by the first read's check.
    let watch = try FileWatch(path: path)
    do {
      let x = try HDF5RowReader(path: path, dataset: inputs)
      guard x.shape.count == 2, x.rows > 0, x.columns > 0 else {
        throw NNBatchError(
          .usage,
          "\(path):\(inputs): expected a 2-D dataset [samples, features] of at least one sample and one feature, found shape \(x.shape)"
        )
      }
      try checkStored(x, inputs, path: path)
      var t: HDF5RowReader?
      if let targets {
        let reader = try HDF5RowReader(path: path, dataset: targets)
        guard reader.rows == x.rows, reader.columns > 0 else {
          throw NNBatchError(
            .usage, "\(path):\(targets): expected \(x.rows) rows (as \(inputs)), found shape \(reader.shape)")
        }
        try checkStored(reader, targets, path: path)
        t = reader
      }
      return HDF5Rows(name: path, x: x, t: t, watch: watch)
    } catch let error as NNBatchError {
      throw error
    } catch {
      throw NNBatchError(.usage, "\(error)")
    }
  }

  /// Refuses a dataset that declares far more than the file stores.
  ///
  /// A chunked dataset can declare petabytes and store nothing (unwritten
  /// chunks read as fill values): streaming it would read zeros for ever.
  /// Compression can shrink real data a lot, but not below 1/1024 of it here.
  private static func checkStored(_ reader: HDF5RowReader, _ name: String, path: String) throws(NNBatchError)
  {
    guard let declared = checkedProduct(reader.shape + [reader.elementBytes]) else {
      throw NNBatchError(
        .usage,
        "\(path):\(name): dataset \(name) of shape \(reader.shape) needs more than any file holds (the product overflows)"
      )
    }
    if declared / 1024 > reader.storedBytes {
      throw NNBatchError(
        .usage,
        "\(path):\(name): dataset \(name) of shape \(reader.shape) needs \(declared) bytes but the file stores \(reader.storedBytes) of it (chunks never written); expected a dataset whose data is in the file"
      )
    }
  }

  /// Bytes of one sample's inputs in the file.
  package var inputBytesPerRow: Int { x.columns * x.elementBytes }

  /// Reads a hyperslab of each dataset, then checks that the file is still the one opened.
  ///
  /// libhdf5 reads past a truncated file's end as zeros without an error, so
  /// the check after the read is what refuses such rows.
  package func read(
    _ range: Range<Int>, inputs: UnsafeMutablePointer<Float>, targets: UnsafeMutablePointer<Float>?
  ) throws(NNBatchError) {
    do {
      try x.read(start: range.lowerBound, count: range.count, into: inputs)
      if let targets, let t { try t.read(start: range.lowerBound, count: range.count, into: targets) }
    } catch {
      // A read error on a file that changed is best explained by the change.
      try watch.check()
      throw NNBatchError(.usage, "\(error)")
    }
    try watch.check()
  }
}

extension HDF5Source {
  /// Both datasets, read by hyperslabs.
  package func openRows(task: LearningTask) throws(NNBatchError) -> (any RowSource)? {
    try HDF5Rows.open(path: path, inputs: inputs, targets: targets)
  }
}
