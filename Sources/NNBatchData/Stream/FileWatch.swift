import HDF5Store
import NNBatchCore

/// A streamed file's identity when it was opened, compared again after every block read.
///
/// A stream reads a file for the whole run, long after its header and size
/// were checked. A file truncated meanwhile reads as zeros in libhdf5 (past
/// the end of file) and as short reads elsewhere; one rewritten in place or
/// renamed over reads as other data. Either way the rows read no longer
/// belong to the run, so every format's reader checks after each read that
/// the path still names the same file, with the same size and modification
/// time, and refuses the read (exit 2) otherwise. The trainer saves the
/// steps done before it fails (docs/streaming.md).
package struct FileWatch: Sendable {
  /// The file, for messages.
  package let path: String
  private let opened: FileSystem.Identity

  /// Watches `path` as it is now.
  package init(path: String) throws(NNBatchError) {
    self.path = path
    do {
      opened = try FileSystem.identity(path)
    } catch {
      throw NNBatchError(.usage, "\(error)")
    }
  }

  /// Watches the file open as `descriptor` (what the reads will see), named by `path`.
  package init(path: String, descriptor: Int32) throws(NNBatchError) {
    self.path = path
    do {
      opened = try FileSystem.identity(descriptor: descriptor, path: path)
    } catch {
      throw NNBatchError(.failure, "\(error)")
    }
  }

  /// Throws when `path` no longer names the file as it was opened; call it after a read, to vouch for what was read.
  package func check() throws(NNBatchError) {
    let now: FileSystem.Identity
    do {
      now = try FileSystem.identity(path)
    } catch {
      throw NNBatchError(
        .usage,
        "\(path): the file changed while being read (\(error.reason)); expected it unchanged for the whole run: restore it and resume with --resume"
      )
    }
    guard now != opened else { return }
    throw NNBatchError(
      .usage,
      "\(path): the file changed while being read (\(now.changes(since: opened))); expected it unchanged for the whole run: restore it and resume with --resume"
    )
  }
}
