// Quoting a data file's text in one-line messages, for every reader.

/// `text` for a message, cut to its first `limit` characters plus its size when longer.
///
/// A field or a column name from a data file can be megabytes long; an error
/// line quotes its start: `xxxx… (104857600 bytes)`.
package func excerpt(_ text: some StringProtocol, limit: Int = 80) -> String {
  // Up to 4 bytes per character: a longer text needs no count of all its characters.
  guard text.utf8.count > limit else { return String(text) }
  let start = text.prefix(limit)
  guard start.endIndex < text.endIndex else { return String(text) }
  return "\(start)… (\(text.utf8.count) bytes)"
}

/// The bytes of a data file's field as text for a message, cut as `excerpt(_:limit:)` cuts text.
///
/// Only the first bytes are decoded, so a field of 100 MB is never copied whole.
package func excerpt(bytes: some Collection<UInt8>, limit: Int = 80) -> String {
  let head = String(decoding: bytes.prefix(4 * limit + 4), as: UTF8.self)
  let start = head.prefix(limit)
  guard bytes.count > start.utf8.count else { return String(start) }
  return "\(start)… (\(bytes.count) bytes)"
}
