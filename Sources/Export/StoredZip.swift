// A zip archive of stored (uncompressed) entries: what a .keras file is.
//
// Layout (APPNOTE.TXT 4.3.6): per entry a local file header (30 bytes + name)
// and its data; then a central directory record per entry (46 bytes + name);
// then the end-of-central-directory record (22 bytes). Integers are
// little-endian. Method 0 (stored), CRC-32 from zlib, sizes < 4 GiB
// (no ZIP64: an export that large is refused).
import CZlib

/// Builds a zip archive of stored entries in memory.
struct StoredZip {
  private var bytes: [UInt8] = []
  private var directory: [UInt8] = []
  private var count = 0

  /// Why an archive cannot be written without ZIP64.
  struct TooLarge: Error, CustomStringConvertible {
    /// The entry that does not fit.
    var name: String
    /// One line.
    var description: String { "\(name): the archive would pass 4 GiB, which needs ZIP64 (not written)" }
  }

  /// Appends entry `name` holding `data`, dated 1980-01-01 00:00 as Keras dates its own JSON entries.
  mutating func add(_ name: String, _ data: [UInt8]) throws(TooLarge) {
    let offset = bytes.count
    let nameCount = name.utf8.count
    // Every offset and size the archive writes is 32-bit: this entry's local header
    // (30 bytes + name) and data, and the directory with its record after them.
    let directoryAfter = directory.count + 46 + nameCount + 22
    guard data.count < Int(UInt32.max),
      offset + 30 + nameCount + data.count + directoryAfter < Int(UInt32.max)
    else {
      throw TooLarge(name: name)
    }
    let crc = data.withUnsafeBufferPointer { buffer -> UInt32 in
      // zlib's crc32 takes a UInt32 length: the guard above keeps it in range.
      UInt32(crc32(0, buffer.baseAddress, uInt(buffer.count)))
    }
    let nameBytes = Array(name.utf8)
    let dosTime: UInt16 = 0
    let dosDate: UInt16 = (0 << 9) | (1 << 5) | 1  // 1980-01-01
    // Local file header.
    bytes.append(le32: 0x0403_4b50)
    bytes.append(le16: 20)  // version needed: 2.0
    bytes.append(le16: 0x0800)  // flags: UTF-8 names
    bytes.append(le16: 0)  // method: stored
    bytes.append(le16: dosTime)
    bytes.append(le16: dosDate)
    bytes.append(le32: crc)
    bytes.append(le32: UInt32(data.count))  // compressed size
    bytes.append(le32: UInt32(data.count))  // uncompressed size
    bytes.append(le16: UInt16(nameBytes.count))
    bytes.append(le16: 0)  // extra field length
    bytes += nameBytes
    bytes += data
    // Central directory record.
    directory.append(le32: 0x0201_4b50)
    directory.append(le16: 0x0314)  // made by: Unix, 2.0
    directory.append(le16: 20)
    directory.append(le16: 0x0800)
    directory.append(le16: 0)
    directory.append(le16: dosTime)
    directory.append(le16: dosDate)
    directory.append(le32: crc)
    directory.append(le32: UInt32(data.count))
    directory.append(le32: UInt32(data.count))
    directory.append(le16: UInt16(nameBytes.count))
    directory.append(le16: 0)  // extra
    directory.append(le16: 0)  // comment
    directory.append(le16: 0)  // disk number
    directory.append(le16: 0)  // internal attributes
    directory.append(le32: 0o100644 << 16)  // external attributes: a regular file, rw-r--r--
    directory.append(le32: UInt32(offset))
    directory += nameBytes
    count += 1
  }

  /// The finished archive.
  func archive() -> [UInt8] {
    var out = bytes
    out += directory
    out.append(le32: 0x0605_4b50)
    out.append(le16: 0)  // this disk
    out.append(le16: 0)  // disk with the directory
    out.append(le16: UInt16(count))
    out.append(le16: UInt16(count))
    out.append(le32: UInt32(directory.count))
    out.append(le32: UInt32(bytes.count))
    out.append(le16: 0)  // comment length
    return out
  }
}

extension [UInt8] {
  fileprivate mutating func append(le16 value: UInt16) {
    append(UInt8(value & 0xff))
    append(UInt8(value >> 8))
  }

  fileprivate mutating func append(le32 value: UInt32) {
    for shift in stride(from: 0, to: 32, by: 8) { append(UInt8((value >> UInt32(shift)) & 0xff)) }
  }
}
