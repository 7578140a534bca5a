import NNBatchCore

// NumPy's .npy format (versions 1.0, 2.0, 3.0):
//
//   "\x93NUMPY" major minor  header_len (UInt16 LE for v1, UInt32 LE for v2/v3)
//   header: a Python dict literal, e.g. {'descr': '<f4', 'fortran_order': False, 'shape': (60000, 784), }
//           padded with spaces and ended by '\n' (ASCII; UTF-8 in v3)
//   data:   product(shape) elements, C order, from 6 + 2 + 2|4 + header_len on
//
// Only what nnbatch can read is accepted: C order, little-endian (or
// one-byte) float32, float64, int8, uint8, int16, int32, int64.

/// A parsed .npy header: element type, shape, where the data starts.
package struct NpyHeader: Sendable, Equatable {
  /// The element type.
  package var element: RowElement
  /// The array's shape (rank ≥ 1).
  package var shape: [Int]
  /// Where the data starts.
  package var dataOffset: Int
  /// Elements in the array (checked product of `shape`).
  package var count: Int

  /// The longest header read (NumPy writes a few hundred bytes; a hostile v2 header may claim 4 GB).
  package static let maxHeaderLength = 1 << 16

  private static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]

  /// Whether `bytes` (a file's first bytes) start with the .npy magic.
  package static func hasMagic(_ bytes: [UInt8]) -> Bool { bytes.starts(with: magic) }

  /// How many bytes `parse` needs from the front of the file, once the first 12 are known.
  package static func headerEnd(_ prefix: [UInt8], path: String) throws(NNBatchError) -> Int {
    guard prefix.count >= 10, hasMagic(prefix) else {
      throw NNBatchError(
        .usage, "\(path): expected the .npy magic \\x93NUMPY and a version, found \(prefix.count) bytes")
    }
    let major = prefix[6]
    switch major {
    case 1:
      return 10 + (Int(prefix[8]) | Int(prefix[9]) << 8)
    case 2, 3:
      guard prefix.count >= 12 else {
        throw NNBatchError(.usage, "\(path): .npy header truncated (\(prefix.count) bytes)")
      }
      let length = Int(prefix[8]) | Int(prefix[9]) << 8 | Int(prefix[10]) << 16 | Int(prefix[11]) << 24
      guard length <= maxHeaderLength else {
        throw NNBatchError(
          .usage,
          "\(path): byte 8: expected a .npy header of at most \(maxHeaderLength) bytes, found a length of \(length)"
        )
      }
      return 12 + length
    default:
      throw NNBatchError(.usage, "\(path): byte 6: expected .npy format version 1, 2 or 3, found \(major)")
    }
  }

  /// Parses the header at the front of `bytes` (which hold at least `headerEnd` bytes) of a file of `fileSize` bytes.
  package static func parse(_ bytes: [UInt8], fileSize: Int, path: String) throws(NNBatchError) -> NpyHeader {
    let end = try headerEnd(Array(bytes.prefix(12)), path: path)
    let textStart = bytes[6] == 1 ? 10 : 12
    guard bytes.count >= end, end <= fileSize else {
      throw NNBatchError(
        .usage,
        "\(path): .npy header truncated: expected \(end) header bytes, found \(min(bytes.count, fileSize))")
    }
    var parser = DictParser(bytes: Array(bytes[textStart..<end]), path: path, base: textStart)
    let dict = try parser.parseDict()
    for key in dict.keys where !["descr", "fortran_order", "shape"].contains(key) {
      throw NNBatchError(.usage, "\(path): .npy header: unexpected key '\(excerpt(key))'")
    }
    guard case .string(let descr)? = dict["descr"] else {
      throw NNBatchError(.usage, "\(path): .npy header: expected 'descr' as a string such as '<f4'")
    }
    guard case .bool(let fortran)? = dict["fortran_order"] else {
      throw NNBatchError(.usage, "\(path): .npy header: expected 'fortran_order' as True or False")
    }
    guard case .tuple(let shape)? = dict["shape"] else {
      throw NNBatchError(.usage, "\(path): .npy header: expected 'shape' as a tuple of integers")
    }
    let element = try elementType(descr, path: path)
    guard !shape.isEmpty else {
      throw NNBatchError(
        .usage, "\(path): .npy header: expected an array of rank ≥ 1, found a scalar (shape ())")
    }
    if fortran && shape.filter({ $0 != 1 }).count > 1 {
      throw NNBatchError(
        .usage,
        "\(path): .npy header: expected C order (fortran_order False), found Fortran order; save it with numpy.ascontiguousarray"
      )
    }
    guard let count = checkedProduct(shape),
      let bytesNeeded = checkedProduct([count, element.size])
    else {
      throw NNBatchError(
        .usage,
        "\(path): .npy header: shape \(shape) needs more bytes than any file holds (the product overflows)")
    }
    guard fileSize - end == bytesNeeded else {
      throw NNBatchError(
        .usage,
        "\(path): byte \(end): .npy shape \(shape) of \(descr) needs \(bytesNeeded) data bytes, found \(fileSize - end)"
      )
    }
    return NpyHeader(element: element, shape: shape, dataOffset: end, count: count)
  }

  /// The element type of a `descr` string.
  private static func elementType(_ descr: String, path: String) throws(NNBatchError) -> RowElement {
    let known: [String: RowElement] = [
      "<f4": .float32, "<f8": .float64, "|i1": .int8, "|u1": .uint8, "<i1": .int8, "<u1": .uint8,
      "<i2": .int16, "<i4": .int32, "<i8": .int64,
    ]
    if let element = known[descr] { return element }
    if descr.hasPrefix(">") {
      throw NNBatchError(
        .usage,
        "\(path): .npy header: expected little-endian data, found big-endian '\(excerpt(descr))'; convert it with array.astype(array.dtype.newbyteorder('<'))"
      )
    }
    throw NNBatchError(
      .usage,
      "\(path): .npy header: expected 'descr' one of <f4, <f8, |i1, |u1, <i2, <i4, <i8, found '\(excerpt(descr))'"
    )
  }
}

/// A value of the .npy header's dict.
private enum PyValue: Equatable {
  case string(String)
  case bool(Bool)
  case tuple([Int])
}

/// The small subset of Python literal syntax a .npy header uses.
private struct DictParser {
  let bytes: [UInt8]
  let path: String
  /// Where `bytes` start in the file (for positions in messages).
  let base: Int
  var i = 0

  init(bytes: [UInt8], path: String, base: Int) {
    self.bytes = bytes
    self.path = path
    self.base = base
  }

  private func fail(_ expected: String) -> NNBatchError {
    let found = i < bytes.count ? "'\(Character(Unicode.Scalar(bytes[i])))'" : "the end of the header"
    return NNBatchError(
      .usage, "\(path): byte \(base + i): .npy header: expected \(expected), found \(found)")
  }

  private mutating func skipSpace() {
    while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 }
  }

  private mutating func expect(_ c: Character) throws(NNBatchError) {
    skipSpace()
    guard i < bytes.count, bytes[i] == c.asciiValue else { throw fail("'\(c)'") }
    i += 1
  }

  private mutating func peek(_ c: Character) -> Bool {
    skipSpace()
    return i < bytes.count && bytes[i] == c.asciiValue
  }

  mutating func parseDict() throws(NNBatchError) -> [String: PyValue] {
    try expect("{")
    var dict: [String: PyValue] = [:]
    while !peek("}") {
      let key = try parseString()
      try expect(":")
      let value = try parseValue()
      guard dict.updateValue(value, forKey: key) == nil else {
        throw NNBatchError(.usage, "\(path): .npy header: key '\(excerpt(key))' appears twice")
      }
      if peek(",") { i += 1 } else { break }
    }
    try expect("}")
    skipSpace()
    guard i == bytes.count else { throw fail("only spaces after the dict") }
    return dict
  }

  private mutating func parseString() throws(NNBatchError) -> String {
    skipSpace()
    guard i < bytes.count, bytes[i] == UInt8(ascii: "'") || bytes[i] == UInt8(ascii: "\"") else {
      throw fail("a quoted string")
    }
    let quote = bytes[i]
    i += 1
    let start = i
    while i < bytes.count, bytes[i] != quote {
      // Escapes never occur in the keys and type strings nnbatch reads.
      guard bytes[i] != UInt8(ascii: "\\"), bytes[i] >= 0x20, bytes[i] < 0x7F else {
        throw fail("a plain ASCII string")
      }
      i += 1
    }
    guard i < bytes.count else { throw fail("a closing quote") }
    let text = String(decoding: bytes[start..<i], as: UTF8.self)
    i += 1
    return text
  }

  private mutating func parseValue() throws(NNBatchError) -> PyValue {
    skipSpace()
    guard i < bytes.count else { throw fail("a value") }
    switch bytes[i] {
    case UInt8(ascii: "'"), UInt8(ascii: "\""):
      return .string(try parseString())
    case UInt8(ascii: "T"), UInt8(ascii: "F"):
      for (word, value) in [("True", true), ("False", false)] where bytes[i...].starts(with: Array(word.utf8))
      {
        i += word.utf8.count
        return .bool(value)
      }
      throw fail("True or False")
    case UInt8(ascii: "("):
      i += 1
      var values: [Int] = []
      while !peek(")") {
        values.append(try parseInt())
        if peek(",") { i += 1 } else { break }
      }
      try expect(")")
      return .tuple(values)
    default:
      throw fail("a string, True, False or a tuple")
    }
  }

  private mutating func parseInt() throws(NNBatchError) -> Int {
    skipSpace()
    var value = 0
    let start = i
    while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39 {
      let (times, o1) = value.multipliedReportingOverflow(by: 10)
      let (sum, o2) = times.addingReportingOverflow(Int(bytes[i] - 0x30))
      guard !o1 && !o2 else { throw fail("a dimension of at most \(Int.max)") }
      value = sum
      i += 1
    }
    // Python 2 era files write long dimensions as "3L".
    if i > start, i < bytes.count, bytes[i] == UInt8(ascii: "L") { i += 1 }
    guard i > start else { throw fail("a non-negative integer") }
    return value
  }
}
