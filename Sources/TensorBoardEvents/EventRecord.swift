/// TFRecord framing, the container of TensorBoard event files.
///
/// Each record is: its length as a little-endian UInt64, the masked CRC-32C of
/// those 8 bytes (UInt32 LE), the data, the masked CRC-32C of the data (UInt32 LE).
public enum EventRecord {
  /// Bytes a record adds around its data.
  public static let overhead = 16

  /// Appends `data` framed as one record to `output`.
  public static func append(_ data: [UInt8], to output: inout [UInt8]) {
    let start = output.count
    appendLittleEndian(UInt64(data.count), to: &output)
    let lengthCRC = output.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[start...])) }
    appendLittleEndian(CRC32C.masked(lengthCRC), to: &output)
    output.append(contentsOf: data)
    appendLittleEndian(CRC32C.masked(CRC32C.checksum(data)), to: &output)
  }

  /// The data of every record in `bytes`, each CRC checked.
  ///
  /// A truncated last record (a writer killed mid-write) ends the list, as in
  /// TensorBoard's reader; a CRC mismatch throws.
  public static func records(in bytes: [UInt8]) throws(EventRecordError) -> [[UInt8]] {
    var records: [[UInt8]] = []
    var offset = 0
    while bytes.count - offset >= 12 {
      let header = Array(bytes[offset..<offset + 8])
      guard readLittleEndian(bytes, at: offset + 8) == CRC32C.masked(CRC32C.checksum(header)) else {
        throw EventRecordError(offset: offset, what: "length")
      }
      let length = header.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
      let start = offset + 12
      guard length <= UInt64(bytes.count - start), bytes.count - start - Int(length) >= 4 else { break }
      let end = start + Int(length)
      let data = Array(bytes[start..<end])
      guard readLittleEndian(bytes, at: end) == CRC32C.masked(CRC32C.checksum(data)) else {
        throw EventRecordError(offset: offset, what: "data")
      }
      records.append(data)
      offset = end + 4
    }
    return records
  }

  private static func appendLittleEndian<T: FixedWidthInteger>(_ value: T, to output: inout [UInt8]) {
    for i in 0..<(T.bitWidth / 8) { output.append(UInt8(truncatingIfNeeded: value >> (8 * i))) }
  }

  private static func readLittleEndian(_ bytes: [UInt8], at offset: Int) -> UInt32 {
    (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[offset + $1]) << (8 * $1) }
  }
}

/// A record whose CRC does not match its bytes.
public struct EventRecordError: Error, CustomStringConvertible, Sendable {
  /// Byte offset of the record's start.
  public let offset: Int
  /// Which CRC failed: "length" or "data".
  public let what: String

  /// One line naming the record's offset.
  public var description: String { "record at byte \(offset): \(what) CRC mismatch" }
}
