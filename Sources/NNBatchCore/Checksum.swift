/// The text nnbatch stores a 64-bit checksum as: "xxh64:" and 16 lowercase hex digits.
///
/// Checkpoint contents (`/@checksum`), data fingerprints (`/data@fingerprint`)
/// and the file seal all write their XXH64 digests this way.
package func checksumText(_ digest: UInt64) -> String {
  let hex = String(digest, radix: 16)
  return "xxh64:" + String(repeating: "0", count: 16 - hex.count) + hex
}
