/// CRC-32C (Castagnoli), the checksum of TFRecord framing in TensorBoard event files.
///
/// Reflected polynomial 0x82F63B78, initial value and final XOR 0xFFFFFFFF
/// (RFC 3720's iSCSI CRC): `checksum("123456789") == 0xE3069283`.
public enum CRC32C {
  /// One table entry per byte value: the CRC of that byte shifted through eight rounds.
  private static let table: [UInt32] = (0..<256).map { byte in
    var crc = UInt32(byte)
    for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
    return crc
  }

  /// The CRC-32C of `bytes`.
  public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    table.withUnsafeBufferPointer { table in
      for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
    }
    return crc ^ 0xFFFF_FFFF
  }

  /// The CRC-32C of `bytes`.
  public static func checksum(_ bytes: [UInt8]) -> UInt32 {
    bytes.withUnsafeBytes { checksum($0) }
  }

  /// The masked form TFRecord stores: a CRC of data that holds CRCs is itself a poor check,
  /// so the value is rotated right by 15 bits and offset by 0xA282EAD8.
  public static func masked(_ crc: UInt32) -> UInt32 {
    ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
  }
}
