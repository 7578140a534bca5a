import CHDF5

/// The element types the typed dataset API reads and writes.
public enum HDF5ElementType: String, Sendable {
  /// IEEE 754 binary32.
  case float32
  /// IEEE 754 binary64.
  case float64
  /// Signed 64-bit integer.
  case int64
  /// Unsigned 64-bit integer.
  case uint64

  var nativeType: hid_t {
    switch self {
    case .float32: return nnb_H5T_NATIVE_FLOAT()
    case .float64: return nnb_H5T_NATIVE_DOUBLE()
    case .int64: return nnb_H5T_NATIVE_INT64()
    case .uint64: return nnb_H5T_NATIVE_UINT64()
    }
  }

  var isFloatingPoint: Bool { self == .float32 || self == .float64 }

  /// The number format of this type.
  public var numberType: HDF5NumberType {
    switch self {
    case .float32: return HDF5NumberType(kind: .float, bytes: 4)
    case .float64: return HDF5NumberType(kind: .float, bytes: 8)
    case .int64: return HDF5NumberType(kind: .signedInteger, bytes: 8)
    case .uint64: return HDF5NumberType(kind: .unsignedInteger, bytes: 8)
    }
  }
}

/// The number format of a stored element: its class and width, whatever its byte order in the file.
///
/// Reads convert to the machine's native byte order, so equal numbers give
/// equal bytes whichever machine wrote the file.
public struct HDF5NumberType: Sendable, Hashable, CustomStringConvertible {
  /// The three numeric classes of HDF5.
  public enum Kind: UInt8, Sendable {
    /// IEEE 754 floating point.
    case float = 0x66  // "f"
    /// Two's-complement integer.
    case signedInteger = 0x69  // "i"
    /// Unsigned integer.
    case unsignedInteger = 0x75  // "u"
  }

  /// The class.
  public var kind: Kind
  /// Bytes per element.
  public var bytes: Int

  /// A number format of `kind` and `bytes` bytes.
  public init(kind: Kind, bytes: Int) {
    self.kind = kind
    self.bytes = bytes
  }

  /// "float32", "int16", "uint8", ...
  public var description: String {
    switch kind {
    case .float: return "float\(bytes * 8)"
    case .signedInteger: return "int\(bytes * 8)"
    case .unsignedInteger: return "uint\(bytes * 8)"
    }
  }
}

/// A Swift type that can be stored as an HDF5 dataset element.
public protocol HDF5Element: Sendable, BitwiseCopyable {
  /// The matching HDF5 element type.
  static var hdf5Type: HDF5ElementType { get }
  /// Zero, for allocating read buffers.
  static var zero: Self { get }
}

extension Float: HDF5Element {
  /// binary32.
  public static var hdf5Type: HDF5ElementType { .float32 }
}

extension Double: HDF5Element {
  /// binary64.
  public static var hdf5Type: HDF5ElementType { .float64 }
}

extension Int64: HDF5Element {
  /// 64-bit signed.
  public static var hdf5Type: HDF5ElementType { .int64 }
}

extension UInt64: HDF5Element {
  /// 64-bit unsigned.
  public static var hdf5Type: HDF5ElementType { .uint64 }
}
