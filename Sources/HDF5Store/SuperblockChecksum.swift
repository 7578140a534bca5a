/// Repairs the superblock checksum of images from `H5Fget_file_image`.
///
/// libhdf5 1.10.8 clears the superblock's file-consistency flags in the
/// image it returns (the file is open for writing while the image is taken)
/// but keeps the checksum computed with the flags set, so the image fails
/// its own metadata check when opened. This recomputes the checksum of a
/// version 2 or 3 superblock (Jenkins' lookup3 `hashlittle`, as HDF5 uses)
/// over the bytes as they are. Measured here: the stored checksum equals
/// hashlittle of the superblock with flags = 1.
enum SuperblockChecksum {
  static let signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]

  /// Fixes the checksum in place; throws if the image does not start with a v2/v3 superblock.
  static func repair(_ image: inout [UInt8], at start: Int, name: String) throws {
    guard image.count >= start + 48, Array(image[start..<(start + 8)]) == signature,
      image[start + 8] == 2 || image[start + 8] == 3
    else {
      throw HDF5Error(
        operation: "repair file image", path: name, reason: "no version 2/3 superblock after the user block")
    }
    let offsetSize = Int(image[start + 9])
    // signature, version, offset size, length size, flags, then four addresses.
    let length = 12 + 4 * offsetSize
    guard image.count >= start + length + 4 else {
      throw HDF5Error(operation: "repair file image", path: name, reason: "superblock truncated")
    }
    let checksum = hashLittle(image[start..<(start + length)])
    for i in 0..<4 { image[start + length + i] = UInt8(truncatingIfNeeded: checksum >> (8 * UInt32(i))) }
  }

  /// Bob Jenkins' lookup3 hashlittle with initial value 0.
  static func hashLittle(_ bytes: ArraySlice<UInt8>) -> UInt32 {
    @inline(__always) func rot(_ x: UInt32, _ k: UInt32) -> UInt32 { (x << k) | (x >> (32 - k)) }
    // A zero-padded copy lets the final partial block use the same word reader.
    let padded = Array(bytes) + [UInt8](repeating: 0, count: 12)
    @inline(__always) func word(_ i: Int) -> UInt32 {
      UInt32(padded[i]) | UInt32(padded[i + 1]) << 8 | UInt32(padded[i + 2]) << 16 | UInt32(padded[i + 3])
        << 24
    }
    // lookup3's `mix` and `final` macros are sequences of these steps over a, b, c in turn.
    @inline(__always) func mixStep(_ x: inout UInt32, _ z: inout UInt32, _ y: UInt32, _ k: UInt32) {
      x &-= z
      x ^= rot(z, k)
      z &+= y
    }
    @inline(__always) func finalStep(_ z: inout UInt32, _ y: UInt32, _ k: UInt32) {
      z ^= y
      z &-= rot(y, k)
    }
    var remaining = bytes.count
    var a = 0xDEAD_BEEF &+ UInt32(truncatingIfNeeded: remaining)
    var b = a
    var c = a
    var i = 0
    while remaining > 12 {
      a &+= word(i)
      b &+= word(i + 4)
      c &+= word(i + 8)
      mixStep(&a, &c, b, 4)
      mixStep(&b, &a, c, 6)
      mixStep(&c, &b, a, 8)
      mixStep(&a, &c, b, 16)
      mixStep(&b, &a, c, 19)
      mixStep(&c, &b, a, 4)
      remaining -= 12
      i += 12
    }
    if remaining == 0 { return c }
    a &+= word(i)
    b &+= word(i + 4)
    c &+= word(i + 8)
    finalStep(&c, b, 14)
    finalStep(&a, c, 11)
    finalStep(&b, a, 25)
    finalStep(&c, b, 16)
    finalStep(&a, c, 4)
    finalStep(&b, a, 14)
    finalStep(&c, b, 24)
    return c
  }
}
