/// The value of a scalar attribute: the three kinds the wrapper writes.
public enum HDF5Attribute: Sendable, Hashable {
  /// A fixed-length UTF-8 string.
  case string(String)
  /// A 64-bit signed integer.
  case integer(Int)
  /// A float64.
  case real(Double)
}

/// The values of a dataset, in its stored number format.
///
/// Slices, so that a writer can store parts of one flat buffer (a layer's
/// weights) without copying them.
public enum HDF5Values: Sendable, Equatable {
  /// binary32 values.
  case float32(ArraySlice<Float>)
  /// binary64 values.
  case float64(ArraySlice<Double>)
  /// Signed 64-bit integers.
  case int64(ArraySlice<Int64>)
  /// Unsigned 64-bit integers.
  case uint64(ArraySlice<UInt64>)
  /// Any other numeric format (read only), as native-order bytes.
  case other(HDF5NumberType, [UInt8])

  /// The number format.
  public var numberType: HDF5NumberType {
    switch self {
    case .float32: return HDF5ElementType.float32.numberType
    case .float64: return HDF5ElementType.float64.numberType
    case .int64: return HDF5ElementType.int64.numberType
    case .uint64: return HDF5ElementType.uint64.numberType
    case .other(let type, _): return type
    }
  }

  /// Number of elements.
  public var count: Int {
    switch self {
    case .float32(let v): return v.count
    case .float64(let v): return v.count
    case .int64(let v): return v.count
    case .uint64(let v): return v.count
    case .other(let type, let bytes): return bytes.count / max(type.bytes, 1)
    }
  }

  /// Calls `body` with the values' bytes in native order.
  public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
    switch self {
    case .float32(let v): return try v.withUnsafeBytes(body)
    case .float64(let v): return try v.withUnsafeBytes(body)
    case .int64(let v): return try v.withUnsafeBytes(body)
    case .uint64(let v): return try v.withUnsafeBytes(body)
    case .other(_, let bytes): return try bytes.withUnsafeBytes(body)
    }
  }
}

/// A dataset held in memory: its shape (row-major) and values.
public struct HDF5Dataset: Sendable, Equatable {
  /// Dimensions, outermost first.
  public var shape: [Int]
  /// The elements.
  public var values: HDF5Values

  /// A dataset of `shape` holding `values` (their count must match the shape).
  public init(shape: [Int], values: HDF5Values) {
    precondition(!shape.isEmpty && shape.reduce(1, *) == values.count, "shape does not match the values")
    self.shape = shape
    self.values = values
  }
}

/// A group's contents held in memory: attributes, datasets and sub-groups by name.
///
/// Reading a whole file into a node (`HDF5File.readNode()`) lets a reader
/// verify a digest over everything before it decodes anything, and decode
/// with precise messages; writing a node (`HDF5Group.write(_:)`) stores it
/// with the wrapper's usual guarantees (chunked fletcher32 datasets).
public struct HDF5Node: Sendable, Equatable {
  /// Attributes by name.
  public var attributes: [String: HDF5Attribute] = [:]
  /// Datasets by name.
  public var datasets: [String: HDF5Dataset] = [:]
  /// Sub-groups by name.
  public var groups: [String: HDF5Node] = [:]

  /// An empty group.
  public init() {}

  /// Groups nested deeper than this are refused when reading (a hard-link cycle would never end).
  public static let maximumDepth = 32
}

extension HDF5Group {
  /// Writes `node`'s attributes, datasets and sub-groups into this group, in name order.
  ///
  /// Values of `.other` number formats cannot be written (they only come from reads).
  public func write(_ node: HDF5Node) throws {
    for (name, value) in node.attributes.sorted(by: { $0.key < $1.key }) {
      try setAttribute(name, value)
    }
    for (name, dataset) in node.datasets.sorted(by: { $0.key < $1.key }) {
      let shape = dataset.shape
      switch dataset.values {
      case .float32(let v): try v.withUnsafeBufferPointer { try write($0, shape: shape, name: name) }
      case .float64(let v): try v.withUnsafeBufferPointer { try write($0, shape: shape, name: name) }
      case .int64(let v): try v.withUnsafeBufferPointer { try write($0, shape: shape, name: name) }
      case .uint64(let v): try v.withUnsafeBufferPointer { try write($0, shape: shape, name: name) }
      case .other(let type, _):
        throw HDF5Error(
          operation: "create dataset", path: location(name), reason: "cannot write \(type) data")
      }
    }
    for (name, child) in node.groups.sorted(by: { $0.key < $1.key }) {
      try createGroup(name).write(child)
    }
  }

  /// Reads this group and everything below it into memory.
  public func readNode() throws -> HDF5Node {
    try readNode(depth: 0)
  }

  private func readNode(depth: Int) throws -> HDF5Node {
    guard depth < HDF5Node.maximumDepth else {
      throw HDF5Error(
        operation: "read group", path: "\(file.path):\(path)",
        reason: "nested deeper than \(HDF5Node.maximumDepth) groups")
    }
    var node = HDF5Node()
    for name in try attributeNames() {
      node.attributes[name] = try attribute(name)
    }
    for (name, kind) in try members() {
      switch kind {
      case .group: node.groups[name] = try openGroup(name).readNode(depth: depth + 1)
      case .dataset: node.datasets[name] = try readDataset(name)
      }
    }
    return node
  }
}

extension HDF5File {
  /// Reads the whole file into memory, from the root group down.
  public func readNode() throws -> HDF5Node {
    try root().readNode()
  }
}

extension HDF5Node {
  /// The XXH64 of everything in this tree but the entries at `excluded` paths.
  ///
  /// Entries are groups ("/model"), datasets ("/model/layer_0/weights") and
  /// attributes ("/@format", "/model/layer_0@units"), taken in the order of
  /// their paths' UTF-8 bytes. Each feeds its path (length-prefixed), a
  /// kind byte ("g", "a", "d") and its value: nothing for a group; for an
  /// attribute a type byte ("s", "i", "f") and the string (length-prefixed)
  /// or 8-byte number; for a dataset its number format (class byte "f",
  /// "i", "u" and width), rank, shape and elements. Numbers are
  /// little-endian (element bytes as the machine holds them: little-endian
  /// on every platform nnbatch builds for). Every entry counts, whether or
  /// not the reader understands it.
  public func digest(excluding excluded: Set<String> = []) -> UInt64 {
    var entries: [(path: [UInt8], kind: UInt8, feed: (inout XXH64) -> Void)] = []
    func collect(_ node: HDF5Node, _ path: String) {
      let prefix = path == "/" ? "" : path
      for (name, value) in node.attributes {
        entries.append(
          (
            Array("\(path)@\(name)".utf8), 0x61,
            { hasher in
              switch value {
              case .string(let text):
                hasher.update([UInt8(0x73)])
                hasher.update(text)
              case .integer(let number):
                hasher.update([UInt8(0x69)])
                hasher.update([Int64(number).littleEndian])
              case .real(let number):
                hasher.update([UInt8(0x66)])
                hasher.update([number.bitPattern.littleEndian])
              }
            }
          ))
      }
      for (name, dataset) in node.datasets {
        entries.append(
          (
            Array("\(prefix)/\(name)".utf8), 0x64,
            { hasher in
              let type = dataset.values.numberType
              hasher.update([type.kind.rawValue])
              hasher.update([UInt64(type.bytes), UInt64(dataset.shape.count)].map(\.littleEndian))
              hasher.update(dataset.shape.map { UInt64($0).littleEndian })
              dataset.values.withUnsafeBytes { hasher.update($0) }
            }
          ))
      }
      for (name, child) in node.groups {
        let childPath = "\(prefix)/\(name)"
        entries.append((Array(childPath.utf8), 0x67, { _ in }))
        collect(child, childPath)
      }
    }
    collect(self, "/")
    entries.sort { a, b in
      a.path.lexicographicallyPrecedes(b.path) || (a.path == b.path && a.kind < b.kind)
    }
    var hasher = XXH64()
    for entry in entries where !excluded.contains(String(decoding: entry.path, as: UTF8.self)) {
      hasher.update([UInt64(entry.path.count).littleEndian])
      entry.path.withUnsafeBytes { hasher.update($0) }
      hasher.update([entry.kind])
      entry.feed(&hasher)
    }
    return hasher.finalize()
  }
}
