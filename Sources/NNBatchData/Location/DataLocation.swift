import Foundation
import NNBatchCore

/// Where a file data source's samples are: one file, or a folder of files.
///
/// `predict --input`, `evaluate --data` and format detection take a location,
/// not a path, so a source that reads a folder (one image per file, say) is
/// one new kind that recognizes folders (`FileDataSource.recognize(folder:)`)
/// plus its line in `DataSources.kinds`; the commands need no change.
package enum DataLocation: Sendable, Equatable, CustomStringConvertible {
  /// A file (or a path that names nothing yet: reading it says so).
  case file(String)
  /// A directory.
  case folder(String)

  /// The location `path` names: a folder when it is a directory, else a file.
  package init(_ path: String) {
    var isDirectory: ObjCBool = false
    let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
    self = exists && isDirectory.boolValue ? .folder(path) : .file(path)
  }

  /// The path as given.
  package var path: String {
    switch self {
    case .file(let path), .folder(let path): path
    }
  }

  /// The path, for messages.
  package var description: String { path }
}
