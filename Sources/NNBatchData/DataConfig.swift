import Foundation
import NNBatchCore
import NeuralNet

/// `data` or `data.validation`: a source and how to read it.
public struct DataConfig: Sendable, Equatable {
  /// The source (one of `DataSources.kinds`).
  package var source: any DataSource
  /// classification or regression; inferred from the loss when absent.
  public var task: LearningTask?
  /// `data.stream`, `data.stream_block_rows`, `data.stream_window` (training data only).
  public var stream = StreamSettings()

  /// A data section reading `source`.
  package init(source: any DataSource, task: LearningTask?) {
    self.source = source
    self.task = task
  }

  /// The source's kind as in the config ("csv").
  public var sourceName: String { type(of: source).name }

  /// Whether both read the same source the same way.
  public static func == (a: DataConfig, b: DataConfig) -> Bool {
    a.task == b.task && a.source.isEqual(to: b.source)
  }
}

extension DataConfig {
  /// `data.missing` as the source reads it (only CSV cells can be missing).
  public var missing: MissingPolicy { (source as? CSVSource)?.missing ?? .refuse }

  /// Lets the source read missing cells as `policy` says; false when the source's kind has no missing cells (not CSV).
  package mutating func allowMissing(_ policy: MissingPolicy) -> Bool {
    guard var csv = source as? CSVSource else { return policy.refusesAll }
    csv.missing = policy
    source = csv
    return true
  }
}

extension DataConfig {
  /// `data.categorical`: the feature columns declared categorical (CSV only).
  public var categorical: [String] { (source as? CSVSource)?.categorical ?? [] }

  /// Declares `names` categorical; false when the source's kind has no such columns (not CSV).
  package mutating func declareCategorical(_ names: [String]) -> Bool {
    guard var csv = source as? CSVSource else { return names.isEmpty }
    csv.categorical = names
    source = csv
    return true
  }

  /// Reads categorical cells as indices into a trained model's `categories` (predict, evaluate).
  package mutating func useCategories(_ categories: [Int: [String]]?) {
    guard let categories, var csv = source as? CSVSource else { return }
    csv.knownCategories = categories
    source = csv
  }
}

extension DataConfig {
  /// Decodes a `data` (or `data.validation`) object's source and task.
  ///
  /// The keys shared by both (`source`, `task`) are read here; each kind
  /// reads its own (`DataSource.decode`). A kind that only holds labels
  /// (idx, synthetic) implies the classification task.
  package static func decode(_ d: ObjectReader, seed: UInt64, sink: DiagnosticSink) -> DataConfig? {
    let task = d.choice("task", LearningTask.self, what: "task")
    guard let source = DataSources.decode(d, context: DataSourceContext(seed: seed, sink: sink)) else {
      return nil
    }
    return DataConfig(source: source, task: task ?? type(of: source).impliedTask)
  }
}

extension DataConfig {
  /// Throws unless every data file of this section (at `objectPath` of config `file`) is a regular file this process can open.
  ///
  /// The one place a config's data paths meet the file system before their
  /// sources read them: an error names the config, the key (`$.data.path`,
  /// `$.data.validation.images`, ...) and, for a relative path, the folder it
  /// was resolved against (the current directory), where the bare path of the
  /// source's own error would leave the user guessing which key and which folder.
  package func requireFiles(at objectPath: String, in file: String) throws(NNBatchError) {
    for setting in source.settings {
      guard let path = setting.file else { continue }
      do {
        try requireRegularFile(path)
      } catch {
        let resolved = path.hasPrefix("/") ? "" : " (resolved against \(currentDirectory()))"
        throw NNBatchError(
          error.kind, error.lines.map { "\(file): \(objectPath).\(setting.key): \($0)\(resolved)" })
      }
    }
  }
}

/// The absolute path of the current directory, as relative paths are resolved against it.
private func currentDirectory() -> String {
  let path = FileManager.default.currentDirectoryPath
  return path.isEmpty ? "the current directory, whose path is unknown" : path
}

extension ObjectReader {
  /// A required string key: its value, or nil after reporting it missing or mistyped.
  package func requiredString(_ key: String) -> String? {
    let value = string(key)
    if value == nil && !has(key) { missing(key, "a string") }
    return value
  }

  /// A path key (a file, a folder, a dataset in a file): the one place the config's paths are read.
  ///
  /// The system takes a path up to its first NUL, so `"victim.txt\u0000.csv"`
  /// would name victim.txt: a NUL anywhere is refused, as is an empty path.
  package func path(_ key: String) -> String? {
    guard let path = string(key) else { return nil }
    if path.isEmpty {
      report(key, "expected a path, found an empty string")
      return nil
    }
    if let nul = path.utf8.firstIndex(of: 0) {
      let offset = path.utf8.distance(from: path.utf8.startIndex, to: nul)
      report(key, "expected a path without NUL characters, found one at byte \(offset)")
      return nil
    }
    return path
  }

  /// A required path key (see `path`): its value, or nil after reporting the problem.
  package func requiredPath(_ key: String) -> String? {
    let value = path(key)
    if value == nil && !has(key) { missing(key, "a path") }
    return value
  }
}
