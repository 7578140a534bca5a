import HDF5Store
import NeuralNet

/// The `hdf5` data source: inputs [N, F] and targets [N] or [N, C] from named datasets.
enum HDF5Source {
  static func read(path: String, inputs: String, targets: String) throws(NNBatchError) -> RawData {
    try withRoot(path) { root in
      let x = try readInputs(root, inputs, path: path)
      let (t, tShape) = try readDataset(root, targets, path: path)
      guard tShape.count == 1 || tShape.count == 2 else {
        throw NNBatchError(.usage, "\(path):\(targets): expected a 1-D or 2-D dataset, found shape \(tShape)")
      }
      guard tShape[0] == x.rows else {
        throw NNBatchError(
          .usage, "\(path):\(targets): expected \(x.rows) rows (as \(inputs)), found \(tShape[0])")
      }
      let columns = tShape.count == 2 ? tShape[1] : 1
      return RawData(
        inputs: x, targets: Matrix(rows: tShape[0], columns: columns, values: t), labels: [], classes: nil)
    }
  }

  /// Only the inputs dataset [samples, features] of `path` (for predict).
  static func readInputs(path: String, dataset: String) throws(NNBatchError) -> Matrix {
    try withRoot(path) { root in try readInputs(root, dataset, path: path) }
  }

  /// Runs `body` on the root group of `path` opened for reading; errors become usage errors.
  private static func withRoot<T>(_ path: String, _ body: (HDF5Group) throws -> T) throws(NNBatchError) -> T {
    do {
      let file = try HDF5File.openForReading(path: path)
      defer { try? file.close() }  // Read-only: a close error loses nothing.
      return try body(file.root())
    } catch let error as NNBatchError {
      throw error
    } catch {
      throw NNBatchError(.usage, "\(error)")
    }
  }

  private static func readInputs(_ root: HDF5Group, _ name: String, path: String) throws -> Matrix {
    let (x, shape) = try readDataset(root, name, path: path)
    guard shape.count == 2 else {
      throw NNBatchError(
        .usage, "\(path):\(name): expected a 2-D dataset [samples, features], found shape \(shape)")
    }
    return Matrix(rows: shape[0], columns: shape[1], values: x)
  }

  private static func readDataset(_ root: HDF5Group, _ name: String, path: String) throws -> ([Float], [Int])
  {
    // Walk "/a/b/c": open groups, then read the dataset from the last one.
    var parts = name.split(separator: "/").map(String.init)
    guard let leaf = parts.popLast() else {
      throw NNBatchError(.usage, "\(path): empty dataset name")
    }
    var group = root
    for part in parts { group = try group.openGroup(part) }
    guard group.contains(leaf) else {
      throw NNBatchError(.usage, "\(path): no dataset \(name)")
    }
    let (values, shape) = try group.read(Float.self, name: leaf)
    return (values, shape)
  }
}
