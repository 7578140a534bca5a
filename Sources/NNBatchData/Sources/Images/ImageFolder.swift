import Foundation
import NNBatchCore
import NeuralNet

/// A folder of images listed: each file with its class, in the order samples are numbered.
///
/// A labelled folder has one sub-folder per class; class names, and the files
/// in each class, are sorted by Unicode code point (the order of Python's
/// `sorted()`, which Keras's `image_dataset_from_directory` and torchvision's
/// `ImageFolder` use), so class indices match theirs. Names starting with "."
/// (.DS_Store, editor files) are left out; every other entry must be what its
/// place expects: a class folder at the top, an image file inside one.
package struct ImageFolder: Sendable, Equatable {
  /// The folder (or file, for an inputs-only listing) as given.
  package let root: String
  /// Class names in class-index order (empty for an inputs-only listing).
  package let classes: [String]
  /// Every file's path, class by class.
  package var files: [String]
  /// Every file's class index (into `classes`, or the known labels it was mapped to).
  package var labels: [Int]

  /// Whether `a` sorts before `b` by code point: for valid UTF-8, the order of its bytes.
  static func precedes(_ a: String, _ b: String) -> Bool {
    a.utf8.lexicographicallyPrecedes(b.utf8)
  }

  /// The labelled folder `root`: one sub-folder per class.
  ///
  /// `known` (the training set's labels, for validation and evaluation data)
  /// numbers the classes as training did; a class it does not hold is an error.
  package static func labelled(_ root: String, known: [String]) throws(NNBatchError) -> ImageFolder {
    var classes: [String] = []
    for entry in try entries(root) {
      let path = join(root, entry)
      guard isDirectory(path) else {
        throw NNBatchError(
          .usage,
          "\(root): expected one sub-folder per class, found the file \"\(excerpt(entry))\" at the top; move it into its class folder"
        )
      }
      classes.append(entry)
    }
    guard !classes.isEmpty else {
      throw NNBatchError(.usage, "\(root): expected one sub-folder per class, found none")
    }
    var files: [String] = []
    var labels: [Int] = []
    for (index, name) in classes.enumerated() {
      var label = index
      if !known.isEmpty {
        guard let at = known.firstIndex(of: name) else {
          throw NNBatchError(
            .usage,
            "\(join(root, name)): class \"\(excerpt(name))\" is not one of the model's \(known.count) classes (\(known.prefix(10).map { "\"\(excerpt($0))\"" }.joined(separator: ", "))\(known.count > 10 ? ", ..." : ""))"
          )
        }
        label = at
      }
      let folder = join(root, name)
      for entry in try entries(folder) {
        let path = join(folder, entry)
        guard !isDirectory(path) else {
          throw NNBatchError(
            .usage,
            "\(folder): expected image files in class folder \"\(excerpt(name))\", found the folder \"\(excerpt(entry))\""
          )
        }
        files.append(path)
        labels.append(label)
      }
    }
    guard !files.isEmpty else {
      throw NNBatchError(
        .usage, "\(root): expected at least one image, found \(classes.count) empty class folders")
    }
    return ImageFolder(root: root, classes: known.isEmpty ? classes : known, files: files, labels: labels)
  }

  /// Images to predict on: the file `location`, or every file of a folder and of its sub-folders (one level), sorted.
  package static func inputs(_ location: DataLocation) throws(NNBatchError) -> ImageFolder {
    guard case .folder(let root) = location else {
      return ImageFolder(root: location.path, classes: [], files: [location.path], labels: [0])
    }
    var files: [String] = []
    for entry in try entries(root) {
      let path = join(root, entry)
      guard isDirectory(path) else {
        files.append(path)
        continue
      }
      for inner in try entries(path) {
        let file = join(path, inner)
        guard !isDirectory(file) else {
          throw NNBatchError(.usage, "\(path): expected image files, found the folder \"\(excerpt(inner))\"")
        }
        files.append(file)
      }
    }
    guard !files.isEmpty else { throw NNBatchError(.usage, "\(root): expected image files, found none") }
    return ImageFolder(
      root: root, classes: [], files: files, labels: [Int](repeating: 0, count: files.count))
  }

  /// The entries of `folder` that are not hidden, sorted by code point.
  static func entries(_ folder: String) throws(NNBatchError) -> [String] {
    let names: [String]
    do {
      names = try FileManager.default.contentsOfDirectory(atPath: folder)
    } catch {
      var isFolder: ObjCBool = false
      if !FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder) {
        throw NNBatchError(.usage, "\(folder): no such folder")
      }
      if !isFolder.boolValue { throw NNBatchError(.usage, "\(folder): expected a folder, found a file") }
      throw NNBatchError(.usage, "\(folder): cannot list the folder: \(error.localizedDescription)")
    }
    return names.filter { !$0.hasPrefix(".") }.sorted(by: precedes)
  }

  static func isDirectory(_ path: String) -> Bool {
    var isFolder: ObjCBool = false
    return FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) && isFolder.boolValue
  }

  static func join(_ folder: String, _ name: String) -> String {
    folder.hasSuffix("/") ? folder + name : folder + "/" + name
  }

  /// Whether the folder `path` holds an image (by its first bytes) at the top or in a sub-folder.
  ///
  /// Format detection's test for `predict --input DIR` and `evaluate --data DIR`:
  /// the first file found, in sorted order, decides.
  static func holdsImages(_ path: String) -> Bool {
    guard let top = try? entries(path) else { return false }
    for entry in top {
      let inner = join(path, entry)
      if !isDirectory(inner) { return isImageFile(inner) }
      guard let files = try? entries(inner) else { continue }
      if let first = files.first { return isImageFile(join(inner, first)) }
    }
    return false
  }

  private static func isImageFile(_ path: String) -> Bool {
    guard let head = try? FileHead(path: path), !head.isGzip else { return false }
    return (try? ImageFormat.detect(head.bytes(at: 0, count: 8))) != nil
  }
}
