// A minimal PNG writer for tests that build image folders: 8-bit grey or RGB,
// filter 0 on every row, stored (uncompressed) deflate blocks, so that no
// compression library is needed and every byte is predictable.

/// A PNG file of `width`×`height` pixels, `channels` (1 grey, 3 RGB) 8-bit samples each, row after row.
public func pngBytes(width: Int, height: Int, channels: Int, pixels: [UInt8]) -> [UInt8] {
  precondition(pixels.count == width * height * channels, "pixel count does not fit the size")
  var raw: [UInt8] = []
  for y in 0..<height {
    raw.append(0)
    raw += pixels[(y * width * channels)..<((y + 1) * width * channels)]
  }
  var zlib: [UInt8] = [0x78, 0x01]
  var offset = 0
  repeat {
    let count = min(65_535, raw.count - offset)
    let final: UInt8 = offset + count == raw.count ? 1 : 0
    zlib += [final, UInt8(count & 255), UInt8(count >> 8), UInt8(~count & 255), UInt8(~count >> 8 & 255)]
    zlib += raw[offset..<(offset + count)]
    offset += count
  } while offset < raw.count
  var a: UInt32 = 1
  var b: UInt32 = 0
  for byte in raw {
    a = (a + UInt32(byte)) % 65_521
    b = (b + a) % 65_521
  }
  zlib += bigEndian((b << 16) | a)
  let header =
    bigEndian(UInt32(width)) + bigEndian(UInt32(height)) + [8, channels == 1 ? 0 : 2, 0, 0, 0]
  return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + pngChunk("IHDR", header)
    + pngChunk("IDAT", zlib) + pngChunk("IEND", [])
}

/// A PNG chunk: length, type, data, CRC-32 of type and data.
public func pngChunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
  let body = Array(type.utf8) + data
  return bigEndian(UInt32(data.count)) + body + bigEndian(crc32(body))
}

private func bigEndian(_ value: UInt32) -> [UInt8] {
  [24, 16, 8, 0].map { UInt8(value >> $0 & 255) }
}

private func crc32(_ bytes: [UInt8]) -> UInt32 {
  var crc: UInt32 = 0xFFFF_FFFF
  for byte in bytes {
    crc ^= UInt32(byte)
    for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
  }
  return ~crc
}
