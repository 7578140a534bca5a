import Foundation
import NNBatchCore

#if canImport(Glibc)
import Glibc
#endif

/// Streams the records of a CSV file held in memory as bytes.
///
/// Fields are handed out as slices of the file's bytes (quoted fields are
/// unescaped into a scratch buffer), one record at a time, so a file of
/// hundreds of MB is held once as bytes and once as the parsed matrix,
/// never as text. RFC 4180: quotes, doubled quotes, CRLF; blank lines skipped.
enum CSVScanner {
  /// Calls `onRecord(line, fields)` for every non-blank record, in order.
  static func scan(
    path: String, bytes: [UInt8], delimiter: UInt8,
    onRecord: (Int, [ArraySlice<UInt8>]) throws(NNBatchError) -> Void
  ) throws(NNBatchError) {
    var line = 1
    var index = 0
    let count = bytes.count
    var fields: [ArraySlice<UInt8>] = []
    var recordLine = 1
    var quoted: [[UInt8]] = []
    let quote = UInt8(ascii: "\"")
    let newline = UInt8(ascii: "\n")
    let carriage = UInt8(ascii: "\r")
    // Skip a UTF-8 byte-order mark.
    if count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF { index = 3 }
    while index <= count {
      if index < count && bytes[index] == quote {
        let startLine = line
        index += 1
        var unescaped: [UInt8] = []
        var closed = false
        while index < count {
          let b = bytes[index]
          if b == quote {
            if index + 1 < count && bytes[index + 1] == quote {
              unescaped.append(quote)
              index += 2
              continue
            }
            index += 1
            closed = true
            break
          }
          if b == newline { line += 1 }
          unescaped.append(b)
          index += 1
        }
        if !closed {
          throw NNBatchError(.usage, "\(path):\(startLine): unterminated quoted field")
        }
        quoted.append(unescaped)
        fields.append(quoted[quoted.count - 1][...])
        if index < count && bytes[index] != delimiter && bytes[index] != newline
          && bytes[index] != carriage
        {
          throw NNBatchError(
            .usage,
            "\(path):\(line): expected a delimiter or end of line after a quoted field, found '\(Character(UnicodeScalar(bytes[index])))'"
          )
        }
      } else {
        let start = index
        while index < count && bytes[index] != delimiter && bytes[index] != newline {
          index += 1
        }
        var end = index
        if end > start && bytes[end - 1] == carriage { end -= 1 }
        fields.append(bytes[start..<end])
      }
      if index < count && bytes[index] == carriage { index += 1 }
      if index < count && bytes[index] == delimiter {
        index += 1
        continue
      }
      let atEnd = index >= count
      if !atEnd { index += 1 }  // the newline
      let blank = fields.count == 1 && fields[0].isEmpty
      if !blank { try onRecord(recordLine, fields) }
      fields.removeAll(keepingCapacity: true)
      quoted.removeAll(keepingCapacity: true)
      line += 1
      recordLine = line
      if atEnd { break }
    }
  }
}

/// Parses a decimal number from raw bytes, or nil if the field is not one.
@inline(__always)
func parseNumber(_ field: ArraySlice<UInt8>) -> Double? {
  var start = field.startIndex
  var end = field.endIndex
  while start < end && (field[start] == 0x20 || field[start] == 0x09) { start += 1 }
  while end > start && (field[end - 1] == 0x20 || field[end - 1] == 0x09) { end -= 1 }
  let length = end - start
  guard length > 0 && length < 64 else { return nil }
  return withUnsafeTemporaryAllocation(of: CChar.self, capacity: length + 1) { buffer in
    for i in 0..<length { buffer[i] = CChar(bitPattern: field[start + i]) }
    buffer[length] = 0
    guard let base = buffer.baseAddress else { return nil }
    var stop: UnsafeMutablePointer<CChar>?
    let value = strtod(base, &stop)
    guard let stop, stop == base + length else { return nil }
    return value
  }
}
