/// A fixed-size, 64-byte aligned, zero-initialised `Float` buffer.
///
/// Training touches millions of floats per step, so buffers are allocated
/// once when a run is set up and then reused: no step allocates. Workers
/// write disjoint ranges of a buffer, which is why the type is
/// `@unchecked Sendable`: callers, not the type, guarantee exclusivity
/// (the shard plan and the reducer's parameter ranges never overlap).
public final class FloatBuffer: @unchecked Sendable {
  /// The first element; valid for `count` elements until `self` is freed.
  public let pointer: UnsafeMutablePointer<Float>
  /// Number of elements.
  public let count: Int

  /// Allocates `count` zeroed floats.
  public init(count: Int) {
    precondition(count >= 0, "FloatBuffer count must not be negative")
    self.count = count
    // Allocate at least one element so `pointer` is always valid.
    let raw = UnsafeMutableRawPointer.allocate(
      byteCount: max(count, 1) * MemoryLayout<Float>.stride, alignment: 64)
    pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
    pointer.initialize(repeating: 0, count: max(count, 1))
  }

  /// Allocates a buffer holding a copy of `values`.
  public convenience init(_ values: [Float]) {
    self.init(count: values.count)
    values.withUnsafeBufferPointer { source in
      guard let base = source.baseAddress else { return }
      pointer.update(from: base, count: values.count)
    }
  }

  deinit {
    UnsafeMutableRawPointer(pointer).deallocate()
  }

  /// The elements as a buffer pointer (no copy).
  public var buffer: UnsafeMutableBufferPointer<Float> {
    UnsafeMutableBufferPointer(start: pointer, count: count)
  }

  /// A copy of the elements as an array.
  public var array: [Float] { Array(buffer) }

  /// Element access, bounds-checked; for tests and setup, not hot loops.
  public subscript(index: Int) -> Float {
    get {
      precondition(index >= 0 && index < count, "index out of range")
      return pointer[index]
    }
    set {
      precondition(index >= 0 && index < count, "index out of range")
      pointer[index] = newValue
    }
  }

  /// Sets every element to zero.
  public func zero() {
    pointer.update(repeating: 0, count: count)
  }

  /// Copies `values` into the buffer; counts must match.
  public func assign(_ values: [Float]) {
    precondition(values.count == count, "assign: count mismatch")
    values.withUnsafeBufferPointer { source in
      guard let base = source.baseAddress else { return }
      pointer.update(from: base, count: count)
    }
  }

  /// Copies the contents of `other`; counts must match.
  public func assign(_ other: FloatBuffer) {
    precondition(other.count == count, "assign: count mismatch")
    pointer.update(from: other.pointer, count: count)
  }

  /// True when both buffers hold the same bits (NaNs with equal payloads too).
  public func bitwiseEqual(_ other: FloatBuffer) -> Bool {
    guard count == other.count else { return false }
    for index in 0..<count where pointer[index].bitPattern != other.pointer[index].bitPattern {
      return false
    }
    return true
  }
}

/// A row-major matrix of `Float`: `rows` samples (or inputs) by `columns`.
public final class Matrix: @unchecked Sendable {
  /// Number of rows.
  public let rows: Int
  /// Number of columns (elements per row).
  public let columns: Int
  /// The `rows × columns` elements, row after row.
  public let storage: FloatBuffer

  /// A zeroed `rows × columns` matrix.
  public init(rows: Int, columns: Int) {
    precondition(rows >= 0 && columns >= 0, "Matrix dimensions must not be negative")
    self.rows = rows
    self.columns = columns
    storage = FloatBuffer(count: rows * columns)
  }

  /// A matrix holding `values` (row-major, `rows × columns` of them).
  public convenience init(rows: Int, columns: Int, values: [Float]) {
    precondition(
      values.count == rows * columns, "Matrix: expected \(rows * columns) values, found \(values.count)")
    self.init(rows: rows, columns: columns)
    storage.assign(values)
  }

  /// A matrix from nested rows, which must all have the same length.
  public convenience init(_ nested: [[Float]]) {
    let columns = nested.first?.count ?? 0
    precondition(nested.allSatisfy { $0.count == columns }, "Matrix: ragged rows")
    self.init(rows: nested.count, columns: columns, values: nested.flatMap { $0 })
  }

  /// Pointer to the first element of `row`.
  @inline(__always)
  public func row(_ row: Int) -> UnsafeMutablePointer<Float> {
    storage.pointer + row * columns
  }

  /// Element at (`row`, `column`), bounds-checked.
  public subscript(row: Int, column: Int) -> Float {
    get {
      precondition(row >= 0 && row < rows && column >= 0 && column < columns, "index out of range")
      return storage.pointer[row * columns + column]
    }
    set {
      precondition(row >= 0 && row < rows && column >= 0 && column < columns, "index out of range")
      storage.pointer[row * columns + column] = newValue
    }
  }

  /// The rows as nested arrays (copies; for small matrices and tests).
  public var nested: [[Float]] {
    (0..<rows).map { r in Array(UnsafeBufferPointer(start: row(r), count: columns)) }
  }
}
