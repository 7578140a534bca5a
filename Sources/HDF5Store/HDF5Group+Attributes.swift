import CHDF5

extension HDF5Group {
  /// Sets string attribute `name` (UTF-8, fixed length).
  public func setAttribute(_ name: String, _ value: String) throws {
    try withHDF5 {
      let target = attributeLocation(name)
      let bytes = Array(value.utf8)
      let type = try checkID(H5Tcopy(nnb_H5T_C_S1()), "copy string type", target)
      defer { Close.datatype(type) }
      try check(H5Tset_size(type, max(bytes.count, 1)), "set string size", target)
      try check(H5Tset_strpad(type, H5T_STR_NULLPAD), "set string padding", target)
      try check(H5Tset_cset(type, H5T_CSET_UTF8), "set string encoding", target)
      let space = try checkID(H5Screate(H5S_SCALAR), "create dataspace", target)
      defer { Close.dataspace(space) }
      try writeAttribute(name, type: type, space: space, target: target) { attribute in
        var padded = bytes.isEmpty ? [0] : bytes
        return H5Awrite(attribute, type, &padded)
      }
    }
  }

  /// Sets 64-bit integer attribute `name`.
  public func setAttribute(_ name: String, _ value: Int) throws {
    try writeScalar(name, Int64(value))
  }

  /// Sets float64 attribute `name`.
  public func setAttribute(_ name: String, _ value: Double) throws {
    try writeScalar(name, value)
  }

  /// Sets attribute `name` to a value of any of the three attribute kinds.
  public func setAttribute(_ name: String, _ value: HDF5Attribute) throws {
    switch value {
    case .string(let text): try setAttribute(name, text)
    case .integer(let number): try setAttribute(name, number)
    case .real(let number): try setAttribute(name, number)
    }
  }

  private func writeScalar<T: HDF5Element>(_ name: String, _ value: T) throws {
    try withHDF5 {
      let target = attributeLocation(name)
      let space = try checkID(H5Screate(H5S_SCALAR), "create dataspace", target)
      defer { Close.dataspace(space) }
      let type = T.hdf5Type.nativeType
      try writeAttribute(name, type: type, space: space, target: target) { attribute in
        withUnsafeBytes(of: value) { H5Awrite(attribute, type, $0.baseAddress) }
      }
    }
  }

  private func writeAttribute(
    _ name: String, type: hid_t, space: hid_t, target: String, write: (hid_t) -> herr_t
  ) throws {
    let attribute = try checkID(
      H5Acreate2(id, name, type, space, nnb_H5P_DEFAULT(), nnb_H5P_DEFAULT()),
      "create attribute", target)
    let status = write(attribute)
    let message = status < 0 ? HDF5Library.errorStackMessage() : nil
    try Close.attribute(attribute, target)
    if let message {
      throw HDF5Error(operation: "write attribute", path: target, reason: message)
    }
  }

  /// Names of this group's attributes, in name order.
  public func attributeNames() throws -> [String] {
    try withHDF5 {
      final class Collector {
        var names: [String] = []
      }
      let collector = Collector()
      var index: hsize_t = 0
      let status = withExtendedLifetime(collector) {
        H5Aiterate2(
          id, H5_INDEX_NAME, H5_ITER_INC, &index,
          { _, name, _, clientData in
            guard let name, let clientData else { return -1 }
            Unmanaged<Collector>.fromOpaque(clientData).takeUnretainedValue().names.append(
              String(cString: name))
            return 0
          }, Unmanaged.passUnretained(collector).toOpaque())
      }
      try check(status, "list attributes", "\(file.path):\(path)")
      return collector.names
    }
  }

  /// Whether attribute `name` exists on this group.
  public func hasAttribute(_ name: String) -> Bool {
    withHDF5 {
      let exists = H5Aexists(id, name)
      if exists < 0 { _ = HDF5Library.errorStackMessage() }
      return exists > 0
    }
  }

  /// Reads attribute `name` as whichever kind it is: string, integer or float.
  public func attribute(_ name: String) throws -> HDF5Attribute {
    let typeClass = try withAttribute(name) { _, type, _ in H5Tget_class(type) }
    switch typeClass {
    case H5T_STRING: return .string(try stringAttribute(name))
    case H5T_INTEGER: return .integer(try intAttribute(name))
    case H5T_FLOAT: return .real(try doubleAttribute(name))
    default:
      throw HDF5Error(
        operation: "read attribute", path: attributeLocation(name),
        reason: "expected a string, integer or float, found another type")
    }
  }

  /// Reads string attribute `name`.
  public func stringAttribute(_ name: String) throws -> String {
    try withAttribute(name) { attribute, type, target in
      guard H5Tget_class(type) == H5T_STRING, H5Tis_variable_str(type) == 0 else {
        throw HDF5Error(
          operation: "read attribute", path: target, reason: "expected a fixed-length string")
      }
      let size = H5Tget_size(type)
      var buffer = [UInt8](repeating: 0, count: size + 1)
      try check(H5Aread(attribute, type, &buffer), "read attribute", target)
      let end = buffer.firstIndex(of: 0) ?? size
      guard let text = String(validating: buffer[..<end], as: UTF8.self) else {
        throw HDF5Error(operation: "read attribute", path: target, reason: "not valid UTF-8")
      }
      return text
    }
  }

  /// Reads integer attribute `name`.
  public func intAttribute(_ name: String) throws -> Int {
    Int(try readScalar(name, Int64.self))
  }

  /// Reads float64 attribute `name`.
  public func doubleAttribute(_ name: String) throws -> Double {
    try readScalar(name, Double.self)
  }

  private func readScalar<T: HDF5Element>(_ name: String, _: T.Type) throws -> T {
    try withAttribute(name) { attribute, type, target in
      let typeClass = H5Tget_class(type)
      let expected = T.hdf5Type.isFloatingPoint ? H5T_FLOAT : H5T_INTEGER
      guard typeClass == expected else {
        throw HDF5Error(
          operation: "read attribute", path: target,
          reason: "expected \(T.hdf5Type.rawValue), found another type")
      }
      var value = T.zero
      let status = withUnsafeMutableBytes(of: &value) {
        H5Aread(attribute, T.hdf5Type.nativeType, $0.baseAddress)
      }
      try check(status, "read attribute", target)
      return value
    }
  }

  /// Opens scalar attribute `name` and its datatype for `body`, closing both after.
  ///
  /// Attributes holding arrays are refused: the readers above fill a single value.
  private func withAttribute<T>(_ name: String, _ body: (hid_t, hid_t, String) throws -> T) throws -> T {
    try withHDF5 {
      let target = attributeLocation(name)
      guard hasAttribute(name) else {
        throw HDF5Error(operation: "read attribute", path: target, reason: "no such attribute")
      }
      let attribute = try checkID(H5Aopen(id, name, nnb_H5P_DEFAULT()), "open attribute", target)
      defer { _ = H5Aclose(attribute) }
      let space = try checkID(H5Aget_space(attribute), "read attribute dataspace", target)
      let points = H5Sget_simple_extent_npoints(space)
      Close.dataspace(space)
      guard points == 1 else {
        throw HDF5Error(
          operation: "read attribute", path: target, reason: "expected one value, found \(points)")
      }
      let type = try checkID(H5Aget_type(attribute), "read attribute type", target)
      defer { Close.datatype(type) }
      return try body(attribute, type, target)
    }
  }
}
