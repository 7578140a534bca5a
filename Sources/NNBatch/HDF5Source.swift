import HDF5Store
import NeuralNet

/// The `hdf5` data source: inputs [N, F] and targets [N] or [N, C] from named datasets.
enum HDF5Source {
  static func read(path: String, inputs: String, targets: String) throws(NNBatchError) -> RawData {
    do {
      let file = try HDF5File.openForReading(path: path)
      defer { try? file.close() }  // Read-only: a close error loses nothing.
      let root = try file.root()
      let (x, xShape) = try readDataset(root, inputs, path: path)
      let (t, tShape) = try readDataset(root, targets, path: path)
      guard xShape.count == 2 else {
        throw NNBatchError(
          .usage, "\(path):\(inputs): expected a 2-D dataset [samples, features], found shape \(xShape)")
      }
      guard tShape.count == 1 || tShape.count == 2 else {
        throw NNBatchError(.usage, "\(path):\(targets): expected a 1-D or 2-D dataset, found shape \(tShape)")
      }
      guard tShape[0] == xShape[0] else {
        throw NNBatchError(
          .usage, "\(path):\(targets): expected \(xShape[0]) rows (as \(inputs)), found \(tShape[0])")
      }
      let columns = tShape.count == 2 ? tShape[1] : 1
      return RawData(
        inputs: Matrix(rows: xShape[0], columns: xShape[1], values: x),
        targets: Matrix(rows: tShape[0], columns: columns, values: t), labels: [], classes: nil)
    } catch let error as NNBatchError {
      throw error
    } catch {
      throw NNBatchError(.usage, "\(error)")
    }
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
