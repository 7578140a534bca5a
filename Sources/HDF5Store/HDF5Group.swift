import CHDF5

/// What a link in a group points to.
public enum HDF5ObjectKind: Sendable, Hashable {
  /// A group.
  case group
  /// A dataset.
  case dataset
}

/// An open group of an HDF5 file: sub-groups, datasets and attributes.
public final class HDF5Group {
  let id: hid_t
  /// Keeps the file open while the group is used.
  let file: HDF5File
  /// The group's path inside the file ("/model/layer_0").
  public let path: String

  init(id: hid_t, file: HDF5File, path: String) {
    self.id = id
    self.file = file
    self.path = path
  }

  deinit {
    withHDF5 {
      // After a strong file close the id is already gone; that is not an error.
      if H5Iis_valid(id) > 0 { _ = H5Gclose(id) }
      _ = H5Eclear2(nnb_H5E_DEFAULT())
    }
  }

  func childPath(_ name: String) -> String {
    path == "/" ? "/\(name)" : "\(path)/\(name)"
  }

  /// "file:/group/name", for error messages about child `name`.
  func location(_ name: String) -> String { "\(file.path):\(childPath(name))" }

  /// "file:/group@name", for error messages about attribute `name`.
  func attributeLocation(_ name: String) -> String { "\(file.path):\(path)@\(name)" }

  /// Creates the sub-group `name`.
  public func createGroup(_ name: String) throws -> HDF5Group {
    try withHDF5 {
      let child = try checkID(
        H5Gcreate2(id, name, nnb_H5P_DEFAULT(), nnb_H5P_DEFAULT(), nnb_H5P_DEFAULT()),
        "create group", location(name))
      return HDF5Group(id: child, file: file, path: childPath(name))
    }
  }

  /// Opens the existing sub-group `name`.
  public func openGroup(_ name: String) throws -> HDF5Group {
    try withHDF5 {
      guard contains(name) else {
        throw HDF5Error(operation: "open group", path: location(name), reason: "no such group")
      }
      let child = try checkID(H5Gopen2(id, name, nnb_H5P_DEFAULT()), "open group", location(name))
      return HDF5Group(id: child, file: file, path: childPath(name))
    }
  }

  /// Whether a link `name` (group or dataset) exists in this group.
  public func contains(_ name: String) -> Bool {
    withHDF5 {
      let exists = H5Lexists(id, name, nnb_H5P_DEFAULT())
      if exists < 0 { _ = HDF5Library.errorStackMessage() }
      return exists > 0
    }
  }

  /// Names of the links in this group, in name order.
  public func memberNames() throws -> [String] {
    try withHDF5 {
      var info = H5G_info_t()
      try check(H5Gget_info(id, &info), "list group", "\(file.path):\(path)")
      var names: [String] = []
      for index in 0..<info.nlinks {
        let size = H5Lget_name_by_idx(
          id, ".", H5_INDEX_NAME, H5_ITER_INC, index, nil, 0, nnb_H5P_DEFAULT())
        try check(size < 0 ? -1 : 0, "read link name", "\(file.path):\(path)")
        var buffer = [UInt8](repeating: 0, count: Int(size) + 1)
        let written = buffer.withUnsafeMutableBufferPointer { raw in
          raw.withMemoryRebound(to: CChar.self) { chars in
            H5Lget_name_by_idx(
              id, ".", H5_INDEX_NAME, H5_ITER_INC, index, chars.baseAddress, chars.count,
              nnb_H5P_DEFAULT())
          }
        }
        try check(written < 0 ? -1 : 0, "read link name", "\(file.path):\(path)")
        names.append(String(decoding: buffer.prefix(Int(size)), as: UTF8.self))
      }
      return names
    }
  }

  /// The links of this group with what each points to, in name order.
  ///
  /// Anything but groups and datasets (a committed datatype) is an error
  /// naming it, so that readers that walk a file never skip an object silently.
  public func members() throws -> [(name: String, kind: HDF5ObjectKind)] {
    try withHDF5 {
      try memberNames().map { name in
        let object = try checkID(H5Oopen(id, name, nnb_H5P_DEFAULT()), "open object", location(name))
        let type = H5Iget_type(object)
        _ = H5Oclose(object)
        switch type {
        case H5I_GROUP: return (name, .group)
        case H5I_DATASET: return (name, .dataset)
        default:
          throw HDF5Error(
            operation: "open object", path: location(name), reason: "neither a group nor a dataset")
        }
      }
    }
  }
}
