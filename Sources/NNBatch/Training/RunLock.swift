import Foundation
import HDF5Store
import NNBatchCore

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// One run per checkpoint folder: an exclusive `flock` on DIR/.lock, held for the whole run.
///
/// A second run on the same folder fails at once (exit 2) naming the folder
/// and the PID written in the lock file, instead of deleting the first
/// run's temporary file or claiming the same final checkpoint. Because a
/// live writer always holds the lock, a temporary file found by the lock's
/// holder belongs to a writer that is gone, and may be removed.
///
/// The kernel releases the lock when the process ends, however it ends, so
/// a lock file left by a killed run blocks nothing. On release the file is
/// removed while still locked; a run that locked the old file meanwhile
/// notices (its descriptor's inode is no longer the path's) and retries.
/// Read-only commands (inspect, predict, evaluate, plot) take no lock.
///
/// The file is opened with `O_NOFOLLOW`: a symlink (or anything but a file
/// with one name) at DIR/.lock is refused with exit 2, never written through.
package final class RunLock: @unchecked Sendable {
  /// The lock file's name in the checkpoint folder.
  package static let fileName = ".lock"

  /// The lock file.
  package let path: String
  private let descriptor: Int32
  /// The folder, when this run created it (removed again on release if still empty).
  package let createdFolder: String?

  /// Locks `directory` (creating it) or throws a usage error naming the run that holds it.
  ///
  /// With `signals`, the lock (and the folder, if created here) is registered
  /// for removal on a setup-time signal as soon as it is held, before the PID
  /// is written: a signal after the PID is visible always removes both.
  package init(directory: String, signals: StopSignals? = nil) throws(NNBatchError) {
    let created = !FileSystem.exists(directory)
    do {
      try FileSystem.createDirectories(directory)
    } catch {
      throw NNBatchError(.failure, "\(error)")
    }
    path = "\(directory)/\(Self.fileName)"
    createdFolder = created ? directory : nil
    while true {
      // O_NOFOLLOW: a symlink planted at DIR/.lock is refused, never written through.
      let fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o644)
      if fd < 0 && errno == ENOENT {
        // A run that created the folder removed it on ending, just now.
        do {
          try FileSystem.createDirectories(directory)
        } catch {
          throw NNBatchError(.failure, "\(error)")
        }
        continue
      }
      if fd < 0 && errno == ELOOP {
        throw Self.foreign(path, "a symlink")
      }
      guard fd >= 0 else {
        throw NNBatchError(
          .failure, "\(path): cannot open the lock file: \(String(cString: strerror(errno)))")
      }
      // Its PID is written into it: only a file of its own, with no other name, may be.
      var opened = stat()
      guard fstat(fd, &opened) == 0 else {
        let reason = String(cString: strerror(errno))
        close(fd)
        throw NNBatchError(.failure, "\(path): cannot stat the lock file: \(reason)")
      }
      if opened.st_mode & S_IFMT == S_IFREG && opened.st_nlink == 0 {
        close(fd)  // removed by the run that held it, just now
        continue
      }
      guard opened.st_mode & S_IFMT == S_IFREG, opened.st_nlink == 1 else {
        close(fd)
        throw Self.foreign(
          path,
          opened.st_mode & S_IFMT == S_IFREG
            ? "a file with \(opened.st_nlink) hard links" : "not a regular file")
      }
      if flock(fd, LOCK_EX | LOCK_NB) != 0 {
        let reason = errno
        let holder = Self.readPID(fd)
        close(fd)
        guard reason == EWOULDBLOCK else {
          throw NNBatchError(.failure, "\(path): cannot lock: \(String(cString: strerror(reason)))")
        }
        throw NNBatchError(
          .usage,
          "\(directory): another nnbatch run (PID \(holder.map(String.init) ?? "unknown")) is using this checkpoint folder; expected no other run, found its lock \(path). Wait for it to end, or give this run another checkpoint.dir (--checkpoint-dir)"
        )
      }
      // The holder before us may have removed the file after we opened it.
      var current = stat()
      if lstat(path, &current) == 0, opened.st_ino == current.st_ino,
        opened.st_dev == current.st_dev
      {
        descriptor = fd
        break
      }
      close(fd)
    }
    signals?.removeOnSetupExit(file: path, folder: createdFolder)
    let pid = "\(getpid())\n"
    _ = ftruncate(descriptor, 0)
    _ = pid.withCString { pwrite(descriptor, $0, strlen($0), 0) }
  }

  /// The usage error for a `.lock` that nnbatch did not create (`found` says what it is).
  ///
  /// Refused rather than replaced: removing a `.lock` this run does not hold
  /// could remove another run's lock in a race, so no run ever removes one
  /// it has not locked; the user removes this one.
  private static func foreign(_ path: String, _ found: String) -> NNBatchError {
    NNBatchError(
      .usage,
      "\(path): expected the lock file nnbatch creates (a regular file), found \(found); remove it if no nnbatch run is using this folder"
    )
  }

  /// The PID written in an open lock file, if readable.
  private static func readPID(_ fd: Int32) -> Int? {
    var buffer = [UInt8](repeating: 0, count: 32)
    let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
    guard n > 0 else { return nil }
    return Int(
      String(decoding: buffer.prefix(n), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
  }

  deinit {
    // Removed while still locked, then unlocked by close.
    unlink(path)
    if let createdFolder { rmdir(createdFolder) }
    close(descriptor)
  }
}
