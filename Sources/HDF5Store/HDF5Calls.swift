// Every raw libhdf5 call goes through this file's helpers, which check the
// return code and turn HDF5's error stack into a Swift error. Raw ids
// (hid_t) stay internal: they never appear in the public API.
import CHDF5
import Foundation
import NNBatchCore

/// Serialises all use of libhdf5, which Debian builds without thread safety.
///
/// Recursive because high-level operations (save a checkpoint) call
/// lower-level ones (write a dataset) while holding it.
let hdf5Lock = NSRecursiveLock()

/// Runs `body` holding the HDF5 lock.
func withHDF5<T>(_ body: () throws -> T) rethrows -> T {
  hdf5Lock.lock()
  defer { hdf5Lock.unlock() }
  HDF5Library.initialize()
  return try body()
}

enum HDF5Library {
  /// Opens the library once and silences its stderr error dump.
  static let initialized: Bool = {
    let opened = H5open() >= 0
    _ = nnb_silence_errors()
    return opened
  }()

  static func initialize() {
    _ = initialized
  }

  /// The messages of the current HDF5 error stack, innermost last, joined.
  static func errorStackMessage() -> String {
    final class Collector {
      var messages: [String] = []
    }
    let collector = Collector()
    let status = withExtendedLifetime(collector) {
      H5Ewalk2(
        nnb_H5E_DEFAULT(), H5E_WALK_DOWNWARD,
        { _, description, clientData in
          guard let description, let clientData else { return 0 }
          let collector = Unmanaged<Collector>.fromOpaque(clientData).takeUnretainedValue()
          var text = ""
          if let desc = description.pointee.desc { text = String(cString: desc) }
          if let function = description.pointee.func_name {
            text += " (\(String(cString: function)))"
          }
          collector.messages.append(text)
          return 0
        }, Unmanaged.passUnretained(collector).toOpaque())
    }
    _ = H5Eclear2(nnb_H5E_DEFAULT())
    if status < 0 || collector.messages.isEmpty { return "HDF5 reported an error" }
    // Outermost first reads best ("unable to open file: ... file signature
    // not found"); the innermost entry holds the root cause (an errno text).
    var seen = Set<String>()
    let unique = collector.messages.filter { seen.insert($0).inserted }
    if unique.count <= 3 { return unique.joined(separator: ": ") }
    return (unique.prefix(2) + ["…"] + unique.suffix(1)).joined(separator: ": ")
  }
}

/// Throws when `status` (an herr_t) is negative.
func check(_ status: herr_t, _ operation: String, _ path: String) throws {
  if status < 0 {
    throw HDF5Error(operation: operation, path: path, reason: HDF5Library.errorStackMessage())
  }
}

/// Returns `id` when it is a valid identifier, throws otherwise.
func checkID(_ id: hid_t, _ operation: String, _ path: String) throws -> hid_t {
  if id < 0 {
    throw HDF5Error(operation: operation, path: path, reason: HDF5Library.errorStackMessage())
  }
  return id
}

/// The shape and number format (nil for strings, compounds, ...) of an open dataset.
///
/// A hostile file can declare dimensions past Int.max, or whose product is:
/// such a shape is an error, never a trap.
func datasetLayout(_ dataset: hid_t, _ target: String) throws -> (shape: [Int], number: HDF5NumberType?) {
  let space = try checkID(H5Dget_space(dataset), "read dataspace", target)
  defer { Close.dataspace(space) }
  let rank = H5Sget_simple_extent_ndims(space)
  try check(rank < 0 ? -1 : 0, "read rank", target)
  var dims = [hsize_t](repeating: 0, count: Int(rank))
  try check(H5Sget_simple_extent_dims(space, &dims, nil) < 0 ? -1 : 0, "read shape", target)
  let type = try checkID(H5Dget_type(dataset), "read datatype", target)
  defer { Close.datatype(type) }
  let size = H5Tget_size(type)
  var number: HDF5NumberType?
  switch H5Tget_class(type) {
  case H5T_FLOAT:
    number = HDF5NumberType(kind: .float, bytes: size)
  case H5T_INTEGER:
    number = HDF5NumberType(
      kind: H5Tget_sign(type) == H5T_SGN_NONE ? .unsignedInteger : .signedInteger, bytes: size)
  default:
    number = nil
  }
  // A hostile file can declare dimensions past Int.max, or whose product is.
  let shape = dims.compactMap { Int(exactly: $0) }
  guard shape.count == dims.count, checkedProduct(shape) != nil else {
    throw HDF5Error(
      operation: "read shape", path: target,
      reason: "expected a dataspace of at most \(Int.max) elements, found dimensions \(dims)")
  }
  return (shape, number)
}

/// Closes short-lived identifiers and reports a failing close.
enum Close {
  static func dataspace(_ id: hid_t) { _ = H5Sclose(id) }
  static func datatype(_ id: hid_t) { _ = H5Tclose(id) }
  static func plist(_ id: hid_t) { _ = H5Pclose(id) }
  static func dataset(_ id: hid_t, _ path: String) throws {
    try check(H5Dclose(id), "close dataset", path)
  }
  static func attribute(_ id: hid_t, _ path: String) throws {
    try check(H5Aclose(id), "close attribute", path)
  }
}
