import Foundation
import NNBatchCore
import NeuralNet

#if canImport(Glibc)
import Glibc
#endif

// Random access to a data file's rows, the seam streamed training reads through.
//
//   DataSource --openRows--> RowSource --read(rows, ...)--> inputs [count, F], targets [count, C]
//
// A row source never holds its file in memory: each read is a pread (IDX,
// .npy) or an HDF5 hyperslab. One thread uses a row source at a time (the
// statistics pass, then the prefetch thread).

/// A data file whose row blocks can be read on demand.
package protocol RowSource: AnyObject, Sendable {
  /// Samples in the file.
  var rows: Int { get }
  /// Features per sample.
  var features: Int { get }
  /// Target columns per sample (0 when reading inputs only).
  var targetColumns: Int { get }
  /// Class labels in class-index order (empty: the labels are the indices).
  var labels: [String] { get }
  /// Classes known from the source (IDX), else nil.
  var classes: Int? { get }
  /// One sample's shape when the source knows it, else nil.
  var sampleShape: Shape? { get }
  /// Rows per block the file reads best in (an HDF5 chunk), or nil.
  var preferredBlockRows: Int? { get }
  /// The file, for messages.
  var name: String { get }
  /// Bytes one sample's inputs take in the file.
  var inputBytesPerRow: Int { get }

  /// The column that names each row in predictions ("path" for image files), or nil when rows are unnamed.
  var rowNameColumn: String? { get }
  /// The names of rows `range` (their files), or nil.
  func rowNames(_ range: Range<Int>) -> [String]?

  /// Reads rows `range` as Float: inputs into [range.count, features], targets into [range.count, targetColumns].
  func read(_ range: Range<Int>, inputs: UnsafeMutablePointer<Float>, targets: UnsafeMutablePointer<Float>?)
    throws(NNBatchError)

  /// Reads the inputs of `runs` (in file order) into their rows of `buffer` [≥ rows, features]; returns the reads made.
  func read(runs: [RowRun], into buffer: Matrix) throws(NNBatchError) -> Int
}

extension RowSource {
  /// No label names unless the file has them: targets are class indices or values.
  package var labels: [String] { [] }
  /// Classes are not known from the file unless it says.
  package var classes: Int? { nil }
  /// No preferred block size unless the format has one: any row range is one read.
  package var preferredBlockRows: Int? { nil }
  /// Rows are unnamed: a file of rows has no name for each.
  package var rowNameColumn: String? { nil }
  /// No row names.
  package func rowNames(_ range: Range<Int>) -> [String]? { nil }

  /// One read per run: a pread for IDX and .npy, a hyperslab for HDF5.
  ///
  /// For HDF5 one H5Dread of the union of a window's runs (H5S_SELECT_OR)
  /// was measured 15× slower than a read per run (docs/streaming.md).
  package func read(runs: [RowRun], into buffer: Matrix) throws(NNBatchError) -> Int {
    for run in runs { try read(run.rows, inputs: buffer.row(run.bufferRow), targets: nil) }
    return runs.count
  }
}

/// An element type of a raw row file, and how it becomes a Float.
package enum RowElement: Sendable, Equatable {
  /// Unsigned bytes scaled to [0, 1] (IDX images).
  case unitByte
  /// Little-endian numbers as they are (.npy).
  case float32, float64, int8, uint8, int16, int32, int64

  /// Bytes per element.
  package var size: Int {
    switch self {
    case .unitByte, .int8, .uint8: 1
    case .int16: 2
    case .float32, .int32: 4
    case .float64, .int64: 8
    }
  }
}

/// The rows of a fixed-width binary file (IDX, .npy), read with pread.
///
/// Rows are `rowElements` elements of one type, stored from `dataOffset`
/// on, one after the other.
package final class RowFile: Sendable {
  /// The file, for messages.
  package let path: String
  /// Rows in the file.
  package let rows: Int
  /// Elements per row.
  package let rowElements: Int
  /// Their type.
  package let element: RowElement
  /// Where row 0 starts.
  package let dataOffset: Int
  /// Bytes of one row in the file.
  package var rowBytes: Int { rowElements * element.size }
  private let descriptor: Int32
  private let watch: FileWatch

  /// Opens `path`, whose data (rows × rowElements of `element`) starts at `dataOffset`.
  ///
  /// The caller has checked the header against the file's size.
  package init(path: String, rows: Int, rowElements: Int, element: RowElement, dataOffset: Int)
    throws(NNBatchError)
  {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else {
      throw dataFileError(path, "cannot open")
    }
    self.path = path
    self.rows = rows
    self.rowElements = rowElements
    self.element = element
    self.dataOffset = dataOffset
    descriptor = fd
    do {
      watch = try FileWatch(path: path, descriptor: fd)
    } catch {
      close(fd)
      throw error
    }
  }

  deinit { close(descriptor) }

  /// Reads rows `range` as Float into `destination` [range.count, rowElements].
  ///
  /// Values that are finite as Double but not as Float are refused, with the
  /// row and column (1-based row, 0-based column, as the other messages).
  package func read(_ range: Range<Int>, into destination: UnsafeMutablePointer<Float>) throws(NNBatchError) {
    precondition(range.lowerBound >= 0 && range.upperBound <= rows, "rows outside the file")
    let count = range.count * rowElements
    guard count > 0 else { return }
    let bytes = count * element.size
    let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 8)
    defer { raw.deallocate() }
    var filled = 0
    let start = dataOffset + range.lowerBound * rowElements * element.size
    while filled < bytes {
      let n = pread(descriptor, raw + filled, bytes - filled, off_t(start + filled))
      if n < 0 && errno == EINTR { continue }
      guard n >= 0 else {
        throw dataFileError(path, "cannot read")
      }
      guard n > 0 else {
        throw NNBatchError(
          .usage,
          "\(path): byte \(start + filled): expected \(bytes - filled) more bytes of rows \(range), found the end of the file (it shrank while being read)"
        )
      }
      filled += n
    }
    // What was read counts only if the file is still the one the run checked.
    try watch.check()
    switch element {
    case .unitByte:
      let s = raw.assumingMemoryBound(to: UInt8.self)
      for i in 0..<count { destination[i] = Float(s[i]) / 255 }
    case .uint8:
      let s = raw.assumingMemoryBound(to: UInt8.self)
      for i in 0..<count { destination[i] = Float(s[i]) }
    case .int8:
      let s = raw.assumingMemoryBound(to: Int8.self)
      for i in 0..<count { destination[i] = Float(s[i]) }
    case .int16:
      for i in 0..<count {
        destination[i] = Float(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)))
      }
    case .int32:
      for i in 0..<count {
        destination[i] = Float(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)))
      }
    case .int64:
      for i in 0..<count {
        destination[i] = Float(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)))
      }
    case .float32:
      for i in 0..<count {
        destination[i] = Float(
          bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
      }
    case .float64:
      for i in 0..<count {
        let v = Double(
          bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))
        let f = Float(v)
        if v.isFinite && !f.isFinite {
          throw NNBatchError(
            .usage,
            "\(path): sample \(range.lowerBound + i / rowElements + 1), column \(i % rowElements): expected a value finite as a 32-bit float, found \(v)"
          )
        }
        destination[i] = f
      }
    }
  }
}

/// A row source read front to back in blocks: the `SampleReader` of a streamed file (predict, statistics).
package final class StreamedSamples: SampleReader {
  private let source: any RowSource
  private let inputsOnly: Bool
  private var position = 0

  /// Reads `source` from its first row; `inputsOnly` drops the targets (predict).
  package init(_ source: any RowSource, inputsOnly: Bool = false) {
    self.source = source
    self.inputsOnly = inputsOnly
  }

  /// Features per sample.
  package var features: Int { source.features }
  /// Target columns per sample.
  package var targetColumns: Int { inputsOnly ? 0 : source.targetColumns }
  /// Class labels in class-index order.
  package var labels: [String] { source.labels }
  /// Classes known from the source.
  package var classes: Int? { source.classes }
  /// One sample's shape, when the source knows it.
  package var sampleShape: Shape? { source.sampleShape }
  /// The column naming each row, when the source names rows.
  package var rowNameColumn: String? { source.rowNameColumn }

  /// The next rows, read from disk.
  package func next(maxRows: Int) throws(NNBatchError) -> SampleBlock? {
    precondition(maxRows > 0, "next(maxRows:) needs a positive block size")
    guard position < source.rows else { return nil }
    let count = min(maxRows, source.rows - position)
    let inputs = Matrix(rows: count, columns: source.features)  // [count, F]
    let targets = inputsOnly ? nil : Matrix(rows: count, columns: source.targetColumns)  // [count, C]
    try source.read(
      position..<(position + count), inputs: inputs.storage.pointer, targets: targets?.storage.pointer)
    var block = SampleBlock(inputs: inputs, targets: targets)
    block.names = source.rowNames(position..<(position + count))
    position += count
    return block
  }
}
