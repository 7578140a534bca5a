import HDF5Store

// Typed access to the in-memory tree of a checkpoint file. Every failure
// names the HDF5 path of the entry: "/model/layer_0@units", "/history/loss".

/// A group of the file being decoded, with its path for messages.
struct NodeReader {
  let node: HDF5Node
  /// "/" or "/model/layer_0".
  let path: String

  init(_ node: HDF5Node, path: String = "/") {
    self.node = node
    self.path = path
  }

  /// The path of attribute `name`: "/model@layers", "/@format".
  func attributePath(_ name: String) -> String { "\(path)@\(name)" }

  /// The path of child `name`: "/model/layer_0".
  func childPath(_ name: String) -> String { path == "/" ? "/\(name)" : "\(path)/\(name)" }

  func group(_ name: String) throws -> NodeReader {
    guard let child = node.groups[name] else { throw SchemaError("\(childPath(name)): missing group") }
    return NodeReader(child, path: childPath(name))
  }

  func has(_ name: String) -> Bool { node.attributes[name] != nil }

  private func attribute(_ name: String) throws -> HDF5Attribute {
    guard let value = node.attributes[name] else {
      throw SchemaError("\(attributePath(name)): missing attribute")
    }
    return value
  }

  func string(_ name: String) throws -> String {
    guard case .string(let text) = try attribute(name) else {
      throw SchemaError("\(attributePath(name)): expected a string, found \(try attribute(name).kindName)")
    }
    return text
  }

  func int(_ name: String, min: Int = .min) throws -> Int {
    guard case .integer(let value) = try attribute(name) else {
      throw SchemaError("\(attributePath(name)): expected an integer, found \(try attribute(name).kindName)")
    }
    guard value >= min else {
      throw SchemaError("\(attributePath(name)): expected an integer ≥ \(min), found \(value)")
    }
    return value
  }

  /// A counter: an integer in `0...Checkpoint.maximumCounter`.
  func counter(_ name: String) throws -> Int {
    let value = try int(name)
    guard (0...Checkpoint.maximumCounter).contains(value) else {
      throw SchemaError("\(attributePath(name)): expected \(Checkpoint.counterRangeText), found \(value)")
    }
    return value
  }

  /// A float64 attribute (integers are accepted and converted).
  func double(_ name: String) throws -> Double {
    switch try attribute(name) {
    case .real(let value): return value
    case .integer(let value): return Double(value)
    case .string: throw SchemaError("\(attributePath(name)): expected a number, found a string")
    }
  }

  /// A yes/no attribute stored as 0 or 1 (an integer, or a float in version 1).
  func flag(_ name: String) throws -> Bool {
    let value = try double(name)
    guard value == 0 || value == 1 else {
      throw SchemaError("\(attributePath(name)): expected 0 or 1, found \(value)")
    }
    return value == 1
  }

  /// A string attribute naming a case of `E`; an unknown name is an error, never a default.
  func choice<E: RawRepresentable & CaseIterable>(_ name: String, _: E.Type, what: String) throws -> E
  where E.RawValue == String {
    guard let value = E(rawValue: try choice(name, among: E.allCases.map(\.rawValue), what: what)) else {
      preconditionFailure("\(E.self) has no case \(name)")
    }
    return value
  }

  /// A string attribute that is one of `names`; another name is an error, never a default.
  func choice(_ name: String, among names: [String], what: String) throws -> String {
    let text = try string(name)
    guard names.contains(text) else {
      throw SchemaError(
        "\(attributePath(name)): unknown \(what) \"\(text)\" (this build knows \(names.joined(separator: ", ")))"
      )
    }
    return text
  }

  func hasDataset(_ name: String) -> Bool { node.datasets[name] != nil }

  /// Whether the node has the attribute `name`.
  func hasAttribute(_ name: String) -> Bool { node.attributes[name] != nil }

  private func dataset(_ name: String) throws -> HDF5Dataset {
    guard let dataset = node.datasets[name] else { throw SchemaError("\(childPath(name)): missing dataset") }
    return dataset
  }

  /// A float32 dataset of exactly `shape`.
  func floats(_ name: String, shape: [Int]) throws -> ArraySlice<Float> {
    let dataset = try dataset(name)
    guard case .float32(let values) = dataset.values else {
      throw SchemaError("\(childPath(name)): expected float32 data, found \(dataset.values.numberType)")
    }
    guard dataset.shape == shape else {
      throw SchemaError("\(childPath(name)): has shape \(dataset.shape), expected \(shape)")
    }
    return values
  }

  /// A rank-1 float32 dataset of any length.
  func floatVector(_ name: String) throws -> [Float] {
    let dataset = try dataset(name)
    guard dataset.shape.count == 1 else {
      throw SchemaError("\(childPath(name)): has rank \(dataset.shape.count), expected 1")
    }
    return Array(try floats(name, shape: dataset.shape))
  }

  /// A rank-1 float64 dataset.
  func doubles(_ name: String) throws -> [Double] {
    let dataset = try dataset(name)
    guard dataset.shape.count == 1 else {
      throw SchemaError("\(childPath(name)): has rank \(dataset.shape.count), expected 1")
    }
    guard case .float64(let values) = dataset.values else {
      throw SchemaError("\(childPath(name)): expected float64 data, found \(dataset.values.numberType)")
    }
    return Array(values)
  }

  /// A rank-1 int64 dataset.
  func integers(_ name: String) throws -> [Int64] {
    let dataset = try dataset(name)
    guard case .int64(let values) = dataset.values, dataset.shape.count == 1 else {
      throw SchemaError(
        "\(childPath(name)): expected int64 data of rank 1, found \(dataset.values.numberType) \(dataset.shape)"
      )
    }
    return Array(values)
  }

  /// A uint64 dataset of shape [count].
  func words(_ name: String, count: Int) throws -> [UInt64] {
    let dataset = try dataset(name)
    guard case .uint64(let values) = dataset.values else {
      throw SchemaError("\(childPath(name)): expected uint64 data, found \(dataset.values.numberType)")
    }
    guard dataset.shape == [count] else {
      throw SchemaError("\(childPath(name)): has shape \(dataset.shape), expected [\(count)]")
    }
    return Array(values)
  }
}

extension HDF5Attribute {
  fileprivate var kindName: String {
    switch self {
    case .string: return "a string"
    case .integer: return "an integer"
    case .real: return "a float"
    }
  }
}

extension HDF5Node {
  /// Sets string attribute `name`.
  mutating func set(_ name: String, _ value: String) { attributes[name] = .string(value) }

  /// Sets integer attribute `name`.
  mutating func set(_ name: String, _ value: Int) { attributes[name] = .integer(value) }

  /// Sets float64 attribute `name`.
  mutating func set(_ name: String, _ value: Double) { attributes[name] = .real(value) }

  /// Sets yes/no attribute `name` as the integer 0 or 1.
  mutating func set(_ name: String, _ value: Bool) { attributes[name] = .integer(value ? 1 : 0) }

  /// Adds a rank-1 dataset `name`.
  mutating func put(_ name: String, _ values: [Double]) {
    datasets[name] = HDF5Dataset(shape: [values.count], values: .float64(values[...]))
  }

  /// Adds a rank-1 dataset `name`.
  mutating func put(_ name: String, _ values: [Float]) {
    datasets[name] = HDF5Dataset(shape: [values.count], values: .float32(values[...]))
  }

  /// Adds a rank-1 dataset `name`.
  mutating func put(_ name: String, _ values: [UInt64]) {
    datasets[name] = HDF5Dataset(shape: [values.count], values: .uint64(values[...]))
  }

  /// Adds a rank-1 dataset `name`.
  mutating func put(_ name: String, _ values: [Int64]) {
    datasets[name] = HDF5Dataset(shape: [values.count], values: .int64(values[...]))
  }

  /// Adds float32 dataset `name` of `shape` holding `values` (a slice of a larger buffer, not copied).
  mutating func put(_ name: String, _ values: ArraySlice<Float>, shape: [Int]) {
    datasets[name] = HDF5Dataset(shape: shape, values: .float32(values))
  }
}
