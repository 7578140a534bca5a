import NNBatchCore

/// The registry of data source kinds: the one list that names them all.
///
/// Config decoding, "unknown data source" messages, `--format` and format
/// detection all go through it, so a new kind is its file plus one line here.
package enum DataSources {
  /// Every kind, in the order messages list them.
  package static var kinds: [any DataSource.Type] {
    [
      InlineSource.self, CSVSource.self, IDXSource.self, HDF5Source.self, NpySource.self,
      ImageFolderSource.self, SyntheticSource.self, MemorySource.self,
    ]
  }

  /// The kinds' config names ("inline", "csv", ...).
  package static var names: [String] { kinds.map { $0.name } }

  /// The kinds that are file formats: what `predict` and `evaluate --data FILE` read.
  package static var fileFormats: [any FileDataSource.Type] {
    kinds.compactMap { $0 as? any FileDataSource.Type }
  }

  /// The file formats' names for `--format` ("csv", "idx", "hdf5").
  package static var formatNames: [String] { fileFormats.map { $0.name } }

  /// The help of `--format` (predict, evaluate).
  package static var formatHelp: String {
    "Data file format: \(formatNames.joined(separator: ", ")) (default: detected from the file's content)."
  }

  /// Decodes `keys` (a `data` object) as the kind its `source` names.
  ///
  /// An unknown name is reported at `source` with the known names and a
  /// "did you mean" guess, and the object's other keys are not judged.
  static func decode(_ keys: ObjectReader, context: DataSourceContext) -> (any DataSource)? {
    guard let name = keys.string("source") else {
      if !keys.has("source") { keys.missing("source", "one of \(names.joined(separator: ", "))") }
      keys.ignoreUnreadKeys()
      return nil
    }
    guard let kind = kinds.first(where: { $0.name == name }) else {
      var message = "unknown data source \"\(name)\"; expected one of \(names.joined(separator: ", "))"
      if let guess = suggestion(for: name, among: names) { message += " (did you mean \"\(guess)\"?)" }
      keys.report("source", message)
      keys.ignoreUnreadKeys()
      return nil
    }
    return kind.decode(keys, context: context)
  }

  /// The file format `--format name` selects.
  package static func format(named name: String) throws(NNBatchError) -> any FileDataSource.Type {
    if let kind = fileFormats.first(where: { $0.name == name }) { return kind }
    var message =
      "--format: unknown format \"\(name)\"; expected one of \(formatNames.joined(separator: ", "))"
    if let guess = suggestion(for: name, among: formatNames) { message += " (did you mean \"\(guess)\"?)" }
    throw NNBatchError(.usage, message)
  }

  /// The format of the data at `location`: the strongest match, magic numbers first.
  ///
  /// A folder is offered to the kinds that read folders; when none claims it,
  /// it is read as a file, which says what is wrong with it.
  package static func format(of location: DataLocation) throws(NNBatchError) -> any FileDataSource.Type {
    if let kind = try folderFormat(location) { return kind }
    let path = location.path
    let head = try FileHead(path: path)
    var best: (kind: any FileDataSource.Type, match: FormatMatch)?
    for kind in fileFormats {
      guard let match = try kind.recognize(head) else { continue }
      if best.map({ match > $0.match }) ?? true { best = (kind, match) }
    }
    if let best { return best.kind }
    let names = fileFormats.map { $0.formatName }
    let list =
      names.count > 1
      ? names.dropLast().joined(separator: ", ") + " or " + (names.last ?? "") : names.joined()
    throw NNBatchError(.usage, "\(path): not \(list) (\(head.summary)); pass --format")
  }

  /// The kind that reads `location` when it is a folder some kind claims, else nil (a file, or a folder none reads).
  package static func folderFormat(_ location: DataLocation) throws(NNBatchError) -> (
    any FileDataSource.Type
  )? {
    guard case .folder(let path) = location else { return nil }
    var best: (kind: any FileDataSource.Type, match: FormatMatch)?
    for kind in fileFormats {
      guard let match = try kind.recognize(folder: path) else { continue }
      if best.map({ match > $0.match }) ?? true { best = (kind, match) }
    }
    return best?.kind
  }

  /// The format to read `location` as: `format` when given (by name), else detected from its content.
  package static func resolve(_ location: DataLocation, format: String?) throws(NNBatchError)
    -> ResolvedFormat
  {
    if let format { return ResolvedFormat(kind: try self.format(named: format), detected: false) }
    return ResolvedFormat(kind: try self.format(of: location), detected: true)
  }
}

/// A file format chosen for a `predict` or `evaluate` input, and how it was chosen.
package struct ResolvedFormat {
  /// The format's source kind.
  package var kind: any FileDataSource.Type
  /// Whether it was detected from the file's content (else given by `--format`).
  package var detected: Bool

  /// How the format was chosen: "detected from the file's content" or "as --format idx says".
  package var origin: String {
    detected ? "detected from the file's content" : "as --format \(kind.name) says"
  }

  /// How the file was read, for messages: "read as IDX, detected from the file's content; ...".
  package var note: String {
    "read as \(kind.formatName), \(origin)\(detected ? "; pass --format to override" : "")"
  }

  /// Runs `body`; its errors say which format the file was read as, and why.
  package func reading<T>(_ body: () throws(NNBatchError) -> T) throws(NNBatchError) -> T {
    do {
      return try body()
    } catch {
      throw NNBatchError(error.kind, error.lines.map { "\($0) (\(note))" })
    }
  }
}
